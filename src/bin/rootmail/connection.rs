//! Where the pool lives and how to sign in: one global flag per
//! setting that is neither secret nor read only from the environment (the
//! same table the provider's schema comes from), turned into a
//! `Settings` that falls back to the same environment variables.
//! Secrets are never flags (they would land in shell history); they come
//! only from the environment, and [`scrub_secrets`] blanks them out of
//! anything printed.

use std::time::Duration;

use anyhow::Context;
use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rootmail::aws::OrganizationsReader;
use rootmail::azure::Waiting;
use rootmail::graph::GraphReader;
use rootmail::safe_text;
use rootmail::settings::{Setting, SettingKind, Settings, ADDRESS_SOURCE, SETTINGS};
use rootmail::store::{AliasPool, StoreConfig};
use tokio::sync::watch;

const HEADING: &str = "Connection (secrets only from environment variables)";

/// The settings a flag can give. `address_source` says what claims hand
/// out, and the CLI claims nothing.
fn flag_settings() -> impl Iterator<Item = &'static Setting> {
    SETTINGS
        .iter()
        .copied()
        .filter(|s| !s.is_secret() && !s.environment_only && **s != ADDRESS_SOURCE)
}

/// The explicit settings the connection flags gave (accepted before or
/// after the subcommand); everything left unset falls back to the
/// environment in `Settings::resolve`.
#[derive(Debug, Clone, Default)]
pub struct ConnectionArgs {
    settings: Settings,
}

/// The flag for `setting`: `--storage-account NAME`, or `--use-cli` for a
/// boolean, which only ever turns something on, so an absent flag leaves
/// the environment in charge.
fn flag(setting: &'static Setting) -> Arg {
    let vars: Vec<&str> = setting.all_env().collect();
    let arg = Arg::new(setting.name)
        .long(setting.name.replace('_', "-"))
        .help(format!("{} [env: {}]", setting.summary, vars.join(", ")))
        .help_heading(HEADING)
        .global(true);
    match setting.kind() {
        SettingKind::Flag => arg.action(ArgAction::SetTrue),
        SettingKind::Text | SettingKind::Secret | SettingKind::Path | SettingKind::Seconds => arg
            .value_name(setting.value_name)
            .value_parser(clap::value_parser!(String)),
    }
}

impl Args for ConnectionArgs {
    fn augment_args(cmd: Command) -> Command {
        flag_settings().fold(cmd, |cmd, s| cmd.arg(flag(s)))
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for ConnectionArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut settings = Settings::default();
        for setting in flag_settings() {
            if setting.kind() == SettingKind::Flag {
                if matches.get_flag(setting.name) {
                    setting.set_flag(&mut settings, true);
                }
            } else if let Some(value) = matches.get_one::<String>(setting.name) {
                setting
                    .set(&mut settings, value)
                    .map_err(|e| clap::Error::raw(clap::error::ErrorKind::ValueValidation, e))?;
            }
        }
        Ok(ConnectionArgs { settings })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl ConnectionArgs {
    /// Resolves the settings with the process environment and builds the
    /// client (no request is sent yet). Ctrl-C cancels in-flight requests.
    pub fn connect(&self) -> anyhow::Result<AliasPool> {
        let config = StoreConfig::resolve(&self.settings, &|name| std::env::var(name).ok())
            .context("cannot tell which table to use")?;
        let connection = &config.connection;
        tracing::info!(
            endpoint = %connection.endpoint,
            table = %connection.table,
            partition_key = %connection.partition_key,
            credential = %connection.credential.kind(),
            "connecting to the alias pool"
        );
        let pool = AliasPool::connect(&config).context("cannot set up the table client")?;
        let cancel = pool.cancellation();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        });
        tokio::spawn(show_waiting(pool.waiting()));
        Ok(pool)
    }
}

impl ConnectionArgs {
    /// A Microsoft Graph reader on the same settings: the Azure AD
    /// credential among them, the cloud, proxy, CA and retry budget.
    pub fn graph(&self) -> anyhow::Result<GraphReader> {
        GraphReader::from_settings(&self.settings, &|name| std::env::var(name).ok())
            .context("cannot set up the Microsoft Graph client for --exchange")
    }

    /// An AWS Organizations reader on the same proxy, CA and retry budget,
    /// signed in through the standard AWS credential chain.
    pub async fn organizations(&self) -> anyhow::Result<OrganizationsReader> {
        OrganizationsReader::from_settings(&self.settings, &|name| std::env::var(name).ok())
            .await
            .context("cannot set up the AWS Organizations client for --aws")
    }
}

/// While requests wait to try the table again, a spinner on stderr says for
/// what (attempt, reason, time against the budget); nothing when stderr is
/// not a terminal (indicatif draws nothing there).
async fn show_waiting(mut waiting: watch::Receiver<Option<Waiting>>) {
    let mut spinner: Option<ProgressBar> = None;
    while waiting.changed().await.is_ok() {
        let now = waiting.borrow_and_update().clone();
        match now {
            Some(w) => {
                let bar = spinner.get_or_insert_with(|| {
                    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
                        bar.set_style(style);
                    }
                    bar.enable_steady_tick(Duration::from_millis(120));
                    bar
                });
                bar.set_message(waiting_text(&w));
            }
            None => {
                if let Some(bar) = spinner.take() {
                    bar.finish_and_clear();
                }
            }
        }
    }
}

/// "waiting for the table service: attempt 3 failed (connection refused);
/// failing for 4 s of at most 60 s".
fn waiting_text(w: &Waiting) -> String {
    format!(
        "waiting for the table service: attempt {} failed ({}); failing for {} s of at most {} s",
        w.attempt,
        safe_text::for_message(&w.reason),
        w.failing_for.as_secs(),
        w.budget.as_secs()
    )
}

/// The part of `--help` about the environment: where secrets come from, and
/// the variables read only from there.
pub fn environment_help() -> String {
    let list = |title: &str, only: fn(&Setting) -> bool| {
        let mut text = format!("{title}\n");
        for setting in SETTINGS.iter().filter(|s| only(s)) {
            let vars: Vec<&str> = setting.all_env().collect();
            text.push_str(&format!("  {}: {}\n", setting.summary, vars.join(", ")));
        }
        text
    };
    format!(
        "{}{}Every connection flag falls back to the variables it names.",
        list(
            "Secrets are read only from environment variables, never from flags:",
            Setting::is_secret
        ),
        list("Also read from the environment only:", |s| s
            .environment_only),
    )
}

/// Environment variables whose values are secrets (AWS's too).
fn secret_variables() -> impl Iterator<Item = &'static str> {
    SETTINGS
        .iter()
        .filter(|s| s.is_secret())
        .flat_map(|s| s.all_env())
        .chain(rootmail::aws::SECRET_VARIABLES.iter().copied())
}

/// Replaces every secret found in the environment (whole values, the key and
/// SAS parts of a connection string, a SAS signature, and their URL-encoded
/// forms) with `<redacted>`.
pub fn scrub_secrets(text: &str) -> String {
    let values: Vec<String> = secret_variables()
        .filter_map(|name| std::env::var(name).ok())
        .collect();
    scrub_with(text, &values)
}

fn scrub_with(text: &str, secret_values: &[String]) -> String {
    let mut needles: Vec<String> = Vec::new();
    for value in secret_values {
        needles.push(value.clone());
        // Parts of a connection string or a SAS query: `AccountKey=…`, `sig=…`.
        for part in value.split([';', '&', '?']) {
            if let Some((name, v)) = part.split_once('=') {
                let name = name.trim();
                if matches!(name, "AccountKey" | "SharedAccessSignature" | "sig") {
                    needles.push(v.to_owned());
                }
            }
        }
    }
    let mut all: Vec<String> = Vec::new();
    for n in needles {
        let n = n.trim().to_owned();
        // Very short values would blank out ordinary words; no real key is this short.
        if n.len() < 6 {
            continue;
        }
        let encoded: String = url::form_urlencoded::byte_serialize(n.as_bytes()).collect();
        all.push(n);
        all.push(encoded);
    }
    // Longest first, so a whole value goes before a part of it.
    all.sort_by_key(|n| std::cmp::Reverse(n.len()));
    all.dedup();
    let mut out = text.to_owned();
    for n in &all {
        if out.contains(n.as_str()) {
            out = out.replace(n.as_str(), "<redacted>");
        }
    }
    // Credential values wherever they appear (`sig=`, `AccountKey=`, bearer
    // tokens, …): URLs in error chains encode a SAS signature in ways that
    // exact matching cannot foresee.
    rootmail::redact::redact_credentials(&out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rootmail::settings::RetryBudget;

    #[test]
    fn scrubs_whole_values_parts_and_encoded_forms() {
        let secrets = vec![
            "AccountName=a;AccountKey=S3cr3t+Key/xyz==;EndpointSuffix=x".to_owned(),
            "sv=2020&sig=AbC+dEf/ghi%3D".to_owned(),
        ];
        let text = "failed: key S3cr3t+Key/xyz== and S3cr3t%2BKey%2Fxyz%3D%3D, \
                    url https://a/?sv=2020&sig=AbC+dEf/ghi%3D done";
        let out = scrub_with(text, &secrets);
        assert!(!out.contains("S3cr3t"), "{out}");
        assert!(!out.contains("AbC"), "{out}");
        assert!(out.contains("done"));
    }

    #[test]
    fn signatures_in_urls_are_blanked_however_encoded() {
        let text = "url (http://h/t()?sv=1&sig=FAKEsig+SECRET%2Fvalue%3D): refused; \
                    AccountKey=abc; sig=<redacted>";
        let out = scrub_with(text, &[]);
        assert!(!out.contains("FAKEsig") && !out.contains("abc"), "{out}");
        assert!(out.contains("sv=1&sig=<redacted>): refused"), "{out}");
        assert!(out.ends_with("sig=<redacted>"), "{out}");
    }

    #[test]
    fn short_values_are_left_alone() {
        assert_eq!(scrub_with("a b c", &["a".to_owned()]), "a b c");
    }

    #[test]
    fn every_secret_variable_is_scrubbed() {
        let vars: Vec<&str> = secret_variables().collect();
        for name in [
            "ARM_ACCESS_KEY",
            "ARM_OIDC_REQUEST_TOKEN",
            "SYSTEM_ACCESSTOKEN",
        ] {
            assert!(vars.contains(&name), "{name}");
        }
        assert!(!vars.contains(&"ARM_TENANT_ID"));
    }

    fn parse(args: &[&str]) -> Settings {
        let cmd = ConnectionArgs::augment_args(Command::new("rootmail"));
        let matches = cmd.try_get_matches_from(args).expect("flags");
        ConnectionArgs::from_arg_matches(&matches)
            .expect("settings")
            .settings
    }

    #[test]
    fn flags_only_turn_things_on_and_secrets_are_no_flags() {
        let s = parse(&[
            "rootmail",
            "--storage-account",
            "acct",
            "--use-cli",
            "--oidc-token-file-path",
            "/var/run/token",
            "--retry-timeout-seconds",
            "5",
        ]);
        assert_eq!(s.account.as_deref(), Some("acct"));
        assert_eq!(s.use_cli, Some(true));
        assert_eq!(s.use_emulator, None);
        assert_eq!(s.oidc_token_file_path, Some("/var/run/token".into()));
        assert_eq!(
            s.retry,
            Some(RetryBudget::for_total(Duration::from_secs(5)))
        );
        let cmd = ConnectionArgs::augment_args(Command::new("rootmail"));
        let m = cmd
            .try_get_matches_from(["rootmail", "--retry-timeout-seconds", "5m"])
            .expect("flags");
        let err = ConnectionArgs::from_arg_matches(&m).expect_err("not whole seconds");
        assert!(err.to_string().contains("whole number of seconds"), "{err}");
        let cmd = ConnectionArgs::augment_args(Command::new("rootmail"));
        assert!(cmd
            .try_get_matches_from(["rootmail", "--access-key", "k"])
            .is_err());
        assert_eq!(parse(&["rootmail"]), Settings::default());
    }
}
