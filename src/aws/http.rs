//! The AWS SDK's HTTP client, made of the crate's own reqwest clients: the SDK
//! then reaches Organizations, STS and the credential endpoints through the
//! same proxy settings and trusted CAs as every Azure request, and its own
//! hyper/TLS stack (and a second crypto library) stays out of the build.

use std::fmt;
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

use crate::azure::is_permanent_network_error;

/// Hands the SDK's requests to reqwest.
#[derive(Clone)]
pub(crate) struct ReqwestHttpClient {
    /// Honours `HTTPS_PROXY`/`NO_PROXY` and `SSL_CERT_FILE`.
    proxied: reqwest::Client,
    /// The same without a proxy, for the instance and container credential
    /// endpoints, which are link-local and never behind a proxy.
    direct: reqwest::Client,
    /// One attempt's limit, from the caller's connect and read timeouts
    /// (the instance metadata client asks for a second each).
    attempt_timeout: Option<Duration>,
}

impl fmt::Debug for ReqwestHttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReqwestHttpClient")
    }
}

impl ReqwestHttpClient {
    pub(crate) fn new(proxied: reqwest::Client, direct: reqwest::Client) -> ReqwestHttpClient {
        ReqwestHttpClient {
            proxied,
            direct,
            attempt_timeout: None,
        }
    }
}

impl HttpClient for ReqwestHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let attempt_timeout = match (settings.connect_timeout(), settings.read_timeout()) {
            (None, None) => None,
            (connect, read) => Some(connect.unwrap_or_default() + read.unwrap_or_default()),
        };
        SharedHttpConnector::new(ReqwestHttpClient {
            attempt_timeout,
            ..self.clone()
        })
    }
}

impl HttpConnector for ReqwestHttpClient {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = if is_metadata_endpoint(request.uri()) {
            self.direct.clone()
        } else {
            self.proxied.clone()
        };
        let timeout = self.attempt_timeout;
        HttpConnectorFuture::new(async move { send(&client, request, timeout).await })
    }
}

async fn send(
    client: &reqwest::Client,
    request: HttpRequest,
    timeout: Option<Duration>,
) -> Result<HttpResponse, ConnectorError> {
    let method = reqwest::Method::from_bytes(request.method().as_bytes())
        .map_err(|e| ConnectorError::user(e.into()))?;
    // Organizations, STS and the credential endpoints send small bodies
    // held in memory; a streaming body would be an SDK change to notice.
    let body = request.body().bytes().map(<[u8]>::to_vec).ok_or_else(|| {
        ConnectorError::user("a streaming request body is not supported by this client".into())
    })?;
    let mut builder = client.request(method, request.uri());
    for (name, value) in request.headers() {
        builder = builder.header(name, value);
    }
    if let Some(timeout) = timeout {
        builder = builder.timeout(timeout);
    }
    let response = builder.body(body).send().await.map_err(connector_error)?;
    let status = StatusCode::try_from(response.status().as_u16())
        .map_err(|e| ConnectorError::other(e.into(), None))?;
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let bytes = response.bytes().await.map_err(connector_error)?;
    let mut out = HttpResponse::new(status, SdkBody::from(bytes));
    for (name, value) in headers {
        out.headers_mut().append(name, value);
    }
    Ok(out)
}

/// Timeouts and failed connections are what the SDK's retry strategy
/// retries; a name that does not resolve or a certificate that does not
/// verify is not worth waiting for.
fn connector_error(e: reqwest::Error) -> ConnectorError {
    if is_permanent_network_error(&e) {
        ConnectorError::other(e.into(), None)
    } else if e.is_timeout() {
        ConnectorError::timeout(e.into())
    } else if e.is_connect() || e.is_request() || e.is_body() {
        ConnectorError::io(e.into())
    } else {
        ConnectorError::other(e.into(), None)
    }
}

/// The EC2 instance metadata service and the ECS/EKS container credential
/// endpoints (IPv4 and IPv6).
fn is_metadata_endpoint(uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_link_local(),
        Some(url::Host::Ipv6(ip)) => {
            let s = ip.segments();
            s[0] == 0xfd00 && s[1] == 0x0ec2
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_endpoints_bypass_the_proxy() {
        for uri in [
            "http://169.254.169.254/latest/api/token",
            "http://169.254.170.2/v2/credentials/x",
            "http://169.254.170.23/v1/credentials",
            "http://[fd00:ec2::254]/latest/api/token",
        ] {
            assert!(is_metadata_endpoint(uri), "{uri}");
        }
        for uri in [
            "https://organizations.us-east-1.amazonaws.com/",
            "https://sts.eu-west-1.amazonaws.com/",
            "http://127.0.0.1:5000/",
            "not a url",
        ] {
            assert!(!is_metadata_endpoint(uri), "{uri}");
        }
    }
}
