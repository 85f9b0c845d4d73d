//! The HTTP clients every request of this crate goes through: the legacy
//! table client's and the identity crate's (token endpoints, GitHub and Azure
//! DevOps OIDC endpoints, managed identity). Both are built here so a
//! corporate network works the same everywhere: `SSL_CERT_FILE` adds CA
//! certificates to the system's, and `HTTPS_PROXY` / `HTTP_PROXY` /
//! `NO_PROXY` (read by reqwest from the environment) apply to every client.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::error::AzureError;
use crate::settings::{ConfigError, CA_FILE};

/// The clients for the two SDK generations, sharing one network setup.
#[derive(Debug, Clone)]
pub struct HttpClients {
    /// For `azure_data_tables` (legacy `azure_core` 0.21).
    pub(crate) legacy: Arc<dyn azure_core_legacy::HttpClient>,
    /// For `azure_identity` 1.x, our own token requests, and the readers of
    /// other services (Microsoft Graph, AWS): honours the proxy settings.
    pub modern: reqwest::Client,
    /// Like `modern` but never through a proxy: for the managed identity
    /// endpoints, which are link-local (IMDS) or on this host (App Service).
    pub direct: reqwest::Client,
}

/// How long connecting to any endpoint may take before the attempt fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl HttpClients {
    /// Builds both clients; `ca_file` (from `SSL_CERT_FILE`) holds one or more
    /// PEM certificates trusted in addition to the system's roots.
    pub fn new(ca_file: Option<&Path>) -> Result<HttpClients, AzureError> {
        let pem = match ca_file {
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                AzureError::from(ConfigError::new(
                    &CA_FILE,
                    format!(
                        "cannot read the CA certificates in SSL_CERT_FILE ({}): {e}",
                        path.display()
                    ),
                ))
            })?),
            None => None,
        };
        let bad_pem = |path: Option<&Path>| {
            AzureError::from(ConfigError::new(
                &CA_FILE,
                format!(
                    "SSL_CERT_FILE ({}) holds no PEM certificate that can be used",
                    path.map(|p| p.display().to_string()).unwrap_or_default()
                ),
            ))
        };

        // The legacy SDK's own client disables idle pooling for a hyper issue; keep that.
        let mut legacy = reqwest_legacy::ClientBuilder::new()
            .pool_max_idle_per_host(0)
            .connect_timeout(CONNECT_TIMEOUT);
        let mut modern = reqwest::ClientBuilder::new()
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none());
        let mut direct = reqwest::ClientBuilder::new()
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if let Some(pem) = &pem {
            let old =
                reqwest_legacy::Certificate::from_pem_bundle(pem).map_err(|_| bad_pem(ca_file))?;
            let new = reqwest::Certificate::from_pem_bundle(pem).map_err(|_| bad_pem(ca_file))?;
            if old.is_empty() || new.is_empty() {
                return Err(bad_pem(ca_file));
            }
            // The TLS stacks read SSL_CERT_FILE themselves *instead of* the
            // system's roots; name both explicitly so the file adds to them.
            let mut roots = system_roots();
            roots.extend(new);
            for cert in old.into_iter().chain(system_roots_legacy()) {
                legacy = legacy.add_root_certificate(cert);
            }
            modern = modern.tls_certs_only(roots.clone());
            direct = direct.tls_certs_only(roots);
        }
        let legacy = legacy.build().map_err(|e| {
            ConfigError::general(format!("cannot set up the HTTP client for the table: {e}"))
        })?;
        let identity_error = |e: reqwest::Error| {
            AzureError::from(ConfigError::general(format!(
                "cannot set up the HTTP client for Azure AD: {e}"
            )))
        };
        Ok(HttpClients {
            legacy: Arc::new(legacy),
            modern: modern.build().map_err(identity_error)?,
            direct: direct.build().map_err(identity_error)?,
        })
    }

    /// The modern client as the identity crate's transport.
    pub(crate) fn identity_transport(&self) -> azure_core::http::Transport {
        azure_core::http::Transport::new(Arc::new(self.modern.clone()))
    }
}

/// Hosts that are loopback by construction: 127.0.0.0/8, ::1 and the name
/// `localhost` itself. Other names under `.localhost` are not trusted: only
/// the resolver decides where they go, and plain http to them would carry
/// credentials wherever that is.
pub(crate) fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => {
            name.trim_end_matches('.').eq_ignore_ascii_case("localhost")
        }
        None => false,
    }
}

/// True when retrying cannot help a request that failed with `e`: the
/// name does not resolve, or the server's certificate does not verify.
/// Waiting out a budget on those only delays the message.
pub(crate) fn is_permanent_network_error(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(err) = source {
        if err.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
            {
                return true;
            }
        }
        // The HTTP stack wraps both in boxed errors the chain does not
        // always let us downcast through: hyper-util names a resolver
        // failure "dns error", rustls a certificate it rejects "invalid
        // peer certificate: …".
        let text = err.to_string();
        if text == "dns error" || text.starts_with("invalid peer certificate") {
            return true;
        }
        source = err.source();
    }
    false
}

/// A URL a bearer credential is sent to: https, or plain http to a
/// loopback host (see [`is_loopback`]); `Err` says why not, without the URL's
/// query (which may carry parameters of the request).
pub(crate) fn check_credential_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text.trim()).map_err(|e| format!("is not a URL ({e})"))?;
    let host = url.host_str().unwrap_or_default().to_owned();
    match url.scheme() {
        "https" if !host.is_empty() => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(format!(
            "is plain http to `{host}`, which would send a token in clear text; use \
             https:// (plain http is accepted only for 127.0.0.1, ::1 and localhost)"
        )),
        other => Err(format!("must be an https:// URL, not {other}://")),
    }
}

/// Where Linux distributions (and macOS) keep the system's CA bundle.
const SYSTEM_BUNDLES: [&str; 6] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
    "/usr/local/share/certs/ca-root-nss.crt",
];

fn system_bundle() -> Option<Vec<u8>> {
    SYSTEM_BUNDLES.iter().find_map(|p| std::fs::read(p).ok())
}

/// The system's CA certificates (none if no bundle is found).
fn system_roots() -> Vec<reqwest::Certificate> {
    system_bundle()
        .and_then(|pem| reqwest::Certificate::from_pem_bundle(&pem).ok())
        .unwrap_or_default()
}

fn system_roots_legacy() -> Vec<reqwest_legacy::Certificate> {
    system_bundle()
        .and_then(|pem| reqwest_legacy::Certificate::from_pem_bundle(&pem).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_do_not_resolve_and_rejected_certificates_are_not_retried() {
        let tls = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert!(is_permanent_network_error(&tls));
        #[derive(Debug)]
        struct Wrapped(std::io::Error);
        impl std::fmt::Display for Wrapped {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("client error (Connect)")
            }
        }
        impl std::error::Error for Wrapped {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let dns = Wrapped(std::io::Error::other("dns error"));
        assert!(is_permanent_network_error(&dns));
        let refused = Wrapped(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(
            !is_permanent_network_error(&refused),
            "a server that is down may come back"
        );
    }

    #[test]
    fn only_loopback_by_construction_may_use_plain_http() {
        for ok in [
            "https://token.actions.example/x?a=b",
            "http://127.0.0.1:8080/t",
            "http://127.9.8.7/t",
            "http://[::1]:9/t",
            "http://localhost/t",
            "http://LOCALHOST./t",
        ] {
            check_credential_url(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "http://ado.example/oidc",
            "http://evil.localhost/t",
            "http://localhost.example.com/t",
            "http://10.0.0.1/t",
            "http://[::ffff:127.0.0.1]/t",
            "ftp://127.0.0.1/t",
            "not a url",
        ] {
            assert!(check_credential_url(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn a_file_without_certificates_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").expect("write");
        let err = HttpClients::new(Some(&path)).expect_err("no certs");
        assert!(err.to_string().contains("SSL_CERT_FILE"), "{err}");
        let err = HttpClients::new(Some(&dir.path().join("missing"))).expect_err("missing");
        assert!(err.to_string().contains("cannot read"), "{err}");
        HttpClients::new(None).expect("system roots only");
    }

    #[test]
    fn the_system_bundle_is_found_here() {
        // SSL_CERT_FILE adds to these; on a machine without a bundle it would
        // be the only trust anchor, so make sure the lookup works where we test.
        assert!(system_roots().len() > 10, "no system CA bundle found");
        assert_eq!(system_roots().len(), system_roots_legacy().len());
    }
}
