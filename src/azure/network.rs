//! The HTTP clients every request of this crate goes through: the legacy
//! table client's and the identity crate's (token endpoints, GitHub and Azure
//! DevOps OIDC endpoints, managed identity). Both are built here so a
//! corporate network works the same everywhere: `SSL_CERT_FILE` adds CA
//! certificates to the system's, and `HTTPS_PROXY` / `HTTP_PROXY` /
//! `NO_PROXY` (read by reqwest from the environment) apply to every client.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

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
    pub fn new(ca_file: Option<&Path>) -> Result<HttpClients, ConfigError> {
        let pem = match ca_file {
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                ConfigError::new(
                    &CA_FILE,
                    format!(
                        "cannot read the CA certificates in SSL_CERT_FILE ({}): {e}",
                        path.display()
                    ),
                )
            })?),
            None => None,
        };
        let bad_pem = |path: Option<&Path>| {
            ConfigError::new(
                &CA_FILE,
                format!(
                    "SSL_CERT_FILE ({}) holds no PEM certificate that can be used",
                    path.map(|p| p.display().to_string()).unwrap_or_default()
                ),
            )
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
            ConfigError::general(format!("cannot set up the HTTP client for Azure AD: {e}"))
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

/// What a request that failed without an answer says about the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Trouble {
    /// Another attempt may well work (a connection refused or reset, a
    /// timeout); a short reason, without the request's URL.
    Transient(String),
    /// The host name does not resolve; what the resolver said.
    NameNotResolved(String),
    /// The TLS handshake failed, most often on the server's certificate;
    /// what the TLS library said.
    Certificate(String),
}

/// Words of resolvers for a lookup that failed for now, not for good.
const TRY_AGAIN: [&str; 2] = ["temporary failure", "try again"];

/// Words of TLS libraries (rustls, OpenSSL) for a certificate they refused.
const BAD_CERTIFICATE: [&str; 7] = [
    "invalid peer certificate",
    "certificate verify failed",
    "unable to get local issuer certificate",
    "self signed certificate",
    "self-signed certificate",
    "certificate has expired",
    "hostname mismatch",
];

/// What a failed request's error (with its chain of causes) says: whether
/// retrying can help, and why not. Waiting out a budget on a name that does
/// not resolve or a certificate that does not verify only delays the message.
pub(crate) fn trouble(error: &(dyn std::error::Error + 'static)) -> Trouble {
    let mut texts = Vec::new();
    let mut io_kinds = Vec::new();
    let mut tls = false;
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = next {
        texts.push(e.to_string());
        tls |= e.downcast_ref::<rustls::Error>().is_some();
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            io_kinds.push(io.kind());
            tls |= io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some());
        }
        next = e.source();
    }
    let lower: Vec<String> = texts.iter().map(|t| t.to_ascii_lowercase()).collect();
    let any = |words: &[&str]| lower.iter().any(|t| words.iter().any(|w| t.contains(w)));
    // The innermost cause says what happened without the request's URL.
    let innermost = texts
        .iter()
        .rev()
        .find(|t| !t.trim().is_empty())
        .cloned()
        .unwrap_or_default();
    // The HTTP stacks wrap these in boxed errors the chain does not always
    // let us downcast through: hyper-util names a resolver failure
    // "dns error", rustls a certificate it rejects "invalid peer certificate".
    if any(&["dns error", "failed to lookup address"]) {
        return if any(&TRY_AGAIN) {
            Trouble::Transient(format!("the name did not resolve for now ({innermost})"))
        } else {
            Trouble::NameNotResolved(innermost)
        };
    }
    if tls || any(&BAD_CERTIFICATE) {
        let detail = texts
            .iter()
            .rev()
            .find(|t| t.to_ascii_lowercase().contains("certificate"))
            .cloned()
            .unwrap_or(innermost);
        return Trouble::Certificate(detail);
    }
    use std::io::ErrorKind;
    let reason = if io_kinds.contains(&ErrorKind::ConnectionRefused) || any(&["connection refused"])
    {
        "connection refused".to_owned()
    } else if io_kinds.contains(&ErrorKind::ConnectionReset) || any(&["connection reset"]) {
        "connection reset".to_owned()
    } else if io_kinds.contains(&ErrorKind::TimedOut) || any(&["timed out"]) {
        "connection timed out".to_owned()
    } else {
        innermost
    };
    Trouble::Transient(reason)
}

/// True when retrying cannot help a request that failed with `e`: the
/// name does not resolve, or the server's certificate does not verify.
pub(crate) fn is_permanent_network_error(e: &(dyn std::error::Error + 'static)) -> bool {
    !matches!(trouble(e), Trouble::Transient(_))
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

    #[derive(Debug)]
    struct Chain(&'static str, Option<Box<Chain>>);

    impl std::fmt::Display for Chain {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Chain {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1
                .as_deref()
                .map(|c| c as &(dyn std::error::Error + 'static))
        }
    }

    fn chain(texts: &[&'static str]) -> Chain {
        let mut it = texts.iter().rev();
        let mut c = Chain(it.next().copied().unwrap_or(""), None);
        for t in it {
            c = Chain(t, Some(Box::new(c)));
        }
        c
    }

    #[test]
    fn failures_say_whether_retrying_can_help_without_the_url() {
        let url = "error sending request for url (https://x.table.core.windows.net/t()?$filter=a)";
        let dns = chain(&[
            url,
            "client error (Connect)",
            "dns error",
            "failed to lookup address information: Name or service not known",
        ]);
        assert!(
            matches!(trouble(&dns), Trouble::NameNotResolved(d) if !d.contains("$filter")),
            "{:?}",
            trouble(&dns)
        );
        let again = chain(&[
            url,
            "dns error",
            "failed to lookup address information: Temporary failure in name resolution",
        ]);
        assert!(matches!(trouble(&again), Trouble::Transient(_)));
        let openssl = chain(&[
            url,
            "client error (Connect)",
            "error:0A000086:SSL routines:tls_post_process_server_certificate:certificate \
             verify failed:ssl/statem/statem_clnt.c:2091: (unable to get local issuer \
             certificate)",
        ]);
        assert!(matches!(trouble(&openssl), Trouble::Certificate(_)));
        let closed = chain(&[url, "connection closed before message completed"]);
        assert_eq!(
            trouble(&closed),
            Trouble::Transient("connection closed before message completed".into())
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
