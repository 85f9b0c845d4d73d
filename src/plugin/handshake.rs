//! The text contract between go-plugin host and plugin: the magic cookie, the
//! protocol version negotiation, the port range, the one handshake line on
//! stdout, and the `TF_REATTACH_PROVIDERS` value printed in debug mode.

use std::io::Write;
use std::ops::RangeInclusive;

use base64::Engine;

use super::PluginError;

/// Environment variable Terraform sets so the plugin knows it was started by a host.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
/// The value Terraform puts in [`MAGIC_COOKIE_KEY`] (a UX check, not a secret).
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// go-plugin's own protocol version, the first field of the handshake line.
pub const CORE_PROTOCOL_VERSION: u32 = 1;
/// The Terraform plugin protocol (major) version this provider speaks.
pub const PROTOCOL_VERSION: u32 = 6;

/// Fails with the human explanation unless the host's cookie is present.
pub(crate) fn check_magic_cookie(value: Option<&str>) -> Result<(), PluginError> {
    match value {
        Some(v) if v == MAGIC_COOKIE_VALUE => Ok(()),
        _ => Err(PluginError::NotLaunchedByHost),
    }
}

/// Picks protocol 6 from the host's comma-separated `PLUGIN_PROTOCOL_VERSIONS`.
///
/// A host that sends no list predates negotiation; go-plugin then serves its only
/// version, and so do we. Entries that are not numbers are skipped, as go-plugin does.
pub fn negotiate_protocol(offered: Option<&str>) -> Result<u32, PluginError> {
    let Some(list) = offered.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(PROTOCOL_VERSION);
    };
    let speaks_ours = list
        .split(',')
        .filter_map(|v| v.trim().parse::<u32>().ok())
        .any(|v| v == PROTOCOL_VERSION);
    if speaks_ours {
        Ok(PROTOCOL_VERSION)
    } else {
        Err(PluginError::UnsupportedProtocol {
            offered: list.to_string(),
        })
    }
}

/// The loopback ports the plugin may listen on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortRange {
    /// Any free port the kernel picks.
    Any,
    /// The first free port of this range.
    Within(RangeInclusive<u16>),
}

impl PortRange {
    /// Reads `PLUGIN_MIN_PORT` / `PLUGIN_MAX_PORT`. Neither set: any port; a
    /// missing bound defaults to 1 or 65535.
    pub fn from_env_values(min: Option<&str>, max: Option<&str>) -> Result<Self, PluginError> {
        let parse = |name: &str, value: Option<&str>| -> Result<Option<u16>, PluginError> {
            match value.map(str::trim).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => v.parse::<u16>().map(Some).map_err(|_| {
                    PluginError::PortRange(format!("{name}={v:?} is not a port number"))
                }),
            }
        };
        let min = parse("PLUGIN_MIN_PORT", min)?;
        let max = parse("PLUGIN_MAX_PORT", max)?;
        if min.is_none() && max.is_none() {
            return Ok(PortRange::Any);
        }
        let (min, max) = (min.unwrap_or(1).max(1), max.unwrap_or(u16::MAX));
        if min > max {
            return Err(PluginError::PortRange(format!(
                "PLUGIN_MIN_PORT ({min}) is greater than PLUGIN_MAX_PORT ({max})"
            )));
        }
        Ok(PortRange::Within(min..=max))
    }
}

/// `CORE|PROTOCOL|NETWORK|ADDRESS|grpc|CERT`, where CERT is the server's DER
/// certificate in unpadded standard base64, or empty without AutoMTLS.
pub(crate) fn handshake_line(
    protocol: u32,
    network: &str,
    address: &str,
    server_cert_der: Option<&[u8]>,
) -> String {
    let cert = server_cert_der
        .map(|der| base64::engine::general_purpose::STANDARD_NO_PAD.encode(der))
        .unwrap_or_default();
    format!("{CORE_PROTOCOL_VERSION}|{protocol}|{network}|{address}|grpc|{cert}")
}

/// The `TF_REATTACH_PROVIDERS` JSON value for a debug-mode server: the same
/// process under every address given (a CLI ignores addresses it does not use).
pub(crate) fn reattach_json(
    provider_addresses: &[String],
    protocol: u32,
    pid: u32,
    network: &str,
    address: &str,
) -> String {
    let entry = serde_json::json!({
        "Protocol": "grpc",
        "ProtocolVersion": protocol,
        "Pid": pid,
        "Test": true,
        "Addr": { "Network": network, "String": address },
    });
    let mut providers = serde_json::Map::new();
    for a in provider_addresses {
        providers.insert(a.clone(), entry.clone());
    }
    serde_json::Value::Object(providers).to_string()
}

/// What debug mode prints on stdout: what to export, and how to stop.
pub(crate) fn debug_banner(reattach_json: &str) -> String {
    format!(
        "Provider started in debug mode. To make Terraform use this process, \
         export this in the shell that runs terraform:\n\n\
         \tTF_REATTACH_PROVIDERS='{reattach_json}'\n\n\
         Press Ctrl-C to stop the provider.\n"
    )
}

/// Writes `text` to stdout and flushes, so the host sees it at once.
pub(crate) fn write_stdout(text: &str) -> Result<(), PluginError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(PluginError::Stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_must_match_exactly() {
        assert!(check_magic_cookie(Some(MAGIC_COOKIE_VALUE)).is_ok());
        assert!(matches!(
            check_magic_cookie(None),
            Err(PluginError::NotLaunchedByHost)
        ));
        assert!(check_magic_cookie(Some("d602")).is_err());
        let message = PluginError::NotLaunchedByHost.to_string();
        assert!(message.contains("Terraform") && message.contains("--debug"));
    }

    #[test]
    fn negotiation_picks_six_or_refuses() {
        assert_eq!(negotiate_protocol(Some("5,6")).ok(), Some(6));
        assert_eq!(negotiate_protocol(Some("6")).ok(), Some(6));
        assert_eq!(negotiate_protocol(Some(" 6 , 7")).ok(), Some(6));
        assert_eq!(negotiate_protocol(Some("x,6")).ok(), Some(6));
        assert_eq!(negotiate_protocol(None).ok(), Some(6));
        assert_eq!(negotiate_protocol(Some("")).ok(), Some(6));
        match negotiate_protocol(Some("4,5")) {
            Err(PluginError::UnsupportedProtocol { offered }) => assert_eq!(offered, "4,5"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn port_range_from_env() {
        assert_eq!(
            PortRange::from_env_values(None, None).ok(),
            Some(PortRange::Any)
        );
        assert_eq!(
            PortRange::from_env_values(Some("10000"), Some("10010")).ok(),
            Some(PortRange::Within(10000..=10010))
        );
        assert_eq!(
            PortRange::from_env_values(Some("10000"), None).ok(),
            Some(PortRange::Within(10000..=65535))
        );
        assert_eq!(
            PortRange::from_env_values(None, Some("2000")).ok(),
            Some(PortRange::Within(1..=2000))
        );
        assert!(PortRange::from_env_values(Some("20"), Some("10")).is_err());
        assert!(PortRange::from_env_values(Some("abc"), None).is_err());
        assert!(PortRange::from_env_values(None, Some("70000")).is_err());
    }

    #[test]
    fn handshake_line_shape() {
        assert_eq!(
            handshake_line(6, "tcp", "127.0.0.1:1234", None),
            "1|6|tcp|127.0.0.1:1234|grpc|"
        );
        // One byte encodes to two characters without "==" padding.
        assert_eq!(
            handshake_line(6, "unix", "/tmp/plugin1", Some(&[0xff])),
            "1|6|unix|/tmp/plugin1|grpc|/w"
        );
    }

    #[test]
    fn reattach_value_is_terraform_shaped() {
        let addresses = [
            "registry.terraform.io/a/b".to_string(),
            "registry.opentofu.org/a/b".to_string(),
        ];
        let json = reattach_json(&addresses, 6, 42, "tcp", "127.0.0.1:9");
        let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(
            value[&addresses[0]], value[&addresses[1]],
            "one process, both hosts"
        );
        let entry = &value["registry.terraform.io/a/b"];
        assert_eq!(entry["Protocol"], "grpc");
        assert_eq!(entry["ProtocolVersion"], 6);
        assert_eq!(entry["Pid"], 42);
        assert_eq!(entry["Test"], true);
        assert_eq!(entry["Addr"]["Network"], "tcp");
        assert_eq!(entry["Addr"]["String"], "127.0.0.1:9");
        assert!(debug_banner(&json).contains(&format!("TF_REATTACH_PROVIDERS='{json}'")));
    }
}
