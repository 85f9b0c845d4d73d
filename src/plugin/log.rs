//! Logs as go-plugin hosts read them: one JSON object per line on stderr in
//! hclog's shape (`@level`, `@message`, `@module`, `@timestamp` and the event's
//! fields), so `TF_LOG=debug` shows them with their fields. The level comes from
//! `TF_LOG_PROVIDER`, else `TF_LOG`, like Terraform's own provider logs.

use std::io::Write;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::FilterExt;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// The crates whose logs are this provider's own (library and binary).
const OWN_TARGETS: [&str; 2] = ["rootmail", "terraform_provider_rootmail"];

/// hclog's timestamp layout: microseconds, UTC, `Z`.
const TIMESTAMP_FORMAT: &[time::format_description::FormatItem<'static>] = time::macros::format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
);

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("could not install the log subscriber: {0}")]
pub struct LogInitError(String);

/// Reads a Terraform log level (`TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`, `OFF`,
/// any case). `JSON` and unknown non-empty values mean trace, as in Terraform.
pub fn parse_level(value: &str) -> Option<LevelFilter> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    Some(match value.to_ascii_lowercase().as_str() {
        "trace" | "json" => LevelFilter::TRACE,
        "debug" => LevelFilter::DEBUG,
        "info" => LevelFilter::INFO,
        "warn" | "warning" => LevelFilter::WARN,
        "error" => LevelFilter::ERROR,
        "off" => LevelFilter::OFF,
        _ => LevelFilter::TRACE,
    })
}

/// The level set by `TF_LOG_PROVIDER` or `TF_LOG`, or `default`.
pub fn level_from_env(default: LevelFilter) -> LevelFilter {
    ["TF_LOG_PROVIDER", "TF_LOG"]
        .iter()
        .find_map(|name| std::env::var(name).ok().and_then(|v| parse_level(&v)))
        .unwrap_or(default)
}

/// Installs the global subscriber: this provider's events at `level`, other
/// crates' (hyper, h2, rustls, the Azure SDK) at `level` but never more verbose
/// than warn, all as hclog JSON lines on stderr with credentials blanked
/// (see [`crate::redact`]).
pub fn init(module: &str, level: LevelFilter) -> Result<(), LogInitError> {
    let filter = OWN_TARGETS
        .iter()
        .fold(Targets::new(), |targets, own| {
            targets.with_target(*own, level)
        })
        .with_default(std::cmp::min(level, LevelFilter::WARN));
    tracing_subscriber::registry()
        .with(
            HclogLayer::new(module, crate::redact::Redacting(std::io::stderr))
                .with_filter(filter.and(crate::redact::log_caps())),
        )
        .try_init()
        .map_err(|e| LogInitError(e.to_string()))
}

/// A `tracing` layer writing hclog JSON lines to `W`.
pub struct HclogLayer<W> {
    module: String,
    make_writer: W,
}

impl<W> HclogLayer<W>
where
    W: for<'w> MakeWriter<'w> + 'static,
{
    /// A layer naming its lines `module` (e.g. `provider.rootmail`).
    pub fn new(module: &str, make_writer: W) -> Self {
        Self {
            module: module.to_string(),
            make_writer,
        }
    }

    fn module_for(&self, target: &str) -> String {
        let crate_name = target.split("::").next().unwrap_or(target);
        if OWN_TARGETS.contains(&crate_name) {
            self.module.clone()
        } else {
            format!("{}.{crate_name}", self.module)
        }
    }
}

/// The fields recorded on a span, kept in its extensions.
struct SpanFields(Map<String, Value>);

/// Collects fields as JSON values; `message` is kept apart as `@message`.
struct JsonVisitor<'a> {
    fields: &'a mut Map<String, Value>,
}

impl JsonVisitor<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        let name = field.name();
        // Keys starting with '@' belong to hclog; keep user fields from clobbering them.
        let key = if name == "message" {
            "@message".to_string()
        } else if let Some(stripped) = name.strip_prefix('@') {
            stripped.to_string()
        } else {
            name.to_string()
        };
        self.fields.insert(key, value);
    }
}

impl Visit for JsonVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, serde_json::json!(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::from(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, Value::from(format!("{value:?}")));
    }
}

impl<S, W> Layer<S> for HclogLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Map::new();
        attrs.record(&mut JsonVisitor {
            fields: &mut fields,
        });
        span.extensions_mut().insert(SpanFields(fields));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(SpanFields(fields)) = extensions.get_mut::<SpanFields>() {
            values.record(&mut JsonVisitor { fields });
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        let mut line = Map::new();
        line.insert(
            "@level".to_string(),
            Value::from(metadata.level().as_str().to_ascii_lowercase()),
        );
        line.insert("@message".to_string(), Value::from(""));
        line.insert(
            "@module".to_string(),
            Value::from(self.module_for(metadata.target())),
        );
        let timestamp = time::OffsetDateTime::now_utc()
            .format(TIMESTAMP_FORMAT)
            .unwrap_or_default();
        line.insert("@timestamp".to_string(), Value::from(timestamp));

        // Outer spans first, so inner spans and the event itself win on clashes.
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(fields)) = span.extensions().get::<SpanFields>() {
                    for (key, value) in fields {
                        if key != "@message" {
                            line.insert(key.clone(), value.clone());
                        }
                    }
                }
            }
        }
        event.record(&mut JsonVisitor { fields: &mut line });

        let mut bytes = match serde_json::to_vec(&Value::Object(line)) {
            Ok(bytes) => bytes,
            Err(_) => return,
        };
        bytes.push(b'\n');
        // One write per line so concurrent events do not interleave mid-line.
        let _ = self.make_writer.make_writer().write_all(&bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Captured {
        type Writer = Captured;
        fn make_writer(&'w self) -> Self::Writer {
            self.clone()
        }
    }

    fn capture(f: impl FnOnce()) -> Vec<Value> {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::registry()
            .with(HclogLayer::new("provider.rootmail", captured.clone()));
        tracing::subscriber::with_default(subscriber, f);
        let bytes = captured.0.lock().expect("lock").clone();
        String::from_utf8(bytes)
            .expect("utf-8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect()
    }

    #[test]
    fn lines_have_hclog_shape_and_fields() {
        let lines = capture(|| {
            let span = tracing::info_span!("rpc", tf_rpc = "GetProviderSchema");
            let _entered = span.enter();
            tracing::debug!(count = 3, ok = true, "served schema");
        });
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        assert_eq!(line["@level"], "debug");
        assert_eq!(line["@message"], "served schema");
        assert_eq!(line["@module"], "provider.rootmail");
        assert_eq!(line["count"], 3);
        assert_eq!(line["ok"], true);
        assert_eq!(line["tf_rpc"], "GetProviderSchema");
        let stamp = line["@timestamp"].as_str().expect("timestamp string");
        // go-plugin parses "2006-01-02T15:04:05.000000Z07:00".
        assert_eq!(stamp.len(), "2026-11-21T15:04:05.000000Z".len());
        assert!(stamp.ends_with('Z') && stamp.as_bytes()[19] == b'.');
    }

    #[test]
    fn levels_from_terraform_names() {
        assert_eq!(parse_level("DEBUG"), Some(LevelFilter::DEBUG));
        assert_eq!(parse_level("warn"), Some(LevelFilter::WARN));
        assert_eq!(parse_level("JSON"), Some(LevelFilter::TRACE));
        assert_eq!(parse_level("1"), Some(LevelFilter::TRACE));
        assert_eq!(parse_level("off"), Some(LevelFilter::OFF));
        assert_eq!(parse_level(" "), None);
    }

    #[test]
    fn foreign_crates_get_a_sub_module() {
        let layer = HclogLayer::new("provider.rootmail", std::io::sink);
        assert_eq!(
            layer.module_for("rootmail::store::claim"),
            "provider.rootmail"
        );
        assert_eq!(layer.module_for("h2::codec"), "provider.rootmail.h2");
    }
}
