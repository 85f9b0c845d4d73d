//! Starts the provider binary the way Terraform does (magic cookie, protocol
//! list, AutoMTLS client certificate), checks the handshake line, and connects a
//! real tonic client over mutual TLS. Shared by the protocol and provider tests.

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use hyper_util::rt::TokioIo;
use rootmail::proto::plugin::grpc_controller_client::GrpcControllerClient;
use rootmail::proto::plugin::grpc_stdio_client::GrpcStdioClient;
use rootmail::proto::tfplugin6::provider_client::ProviderClient;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, BufReader};
use tokio::process::{Child, Command};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::health_client::HealthClient;

/// What Terraform puts in `TF_PLUGIN_MAGIC_COOKIE`.
pub const MAGIC_COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// How long a start may take before the test fails.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);

/// Variables of the test's own environment that would change how the plugin starts.
const PLUGIN_ENV: [&str; 9] = [
    "TF_PLUGIN_MAGIC_COOKIE",
    "PLUGIN_PROTOCOL_VERSIONS",
    "PLUGIN_CLIENT_CERT",
    "PLUGIN_MIN_PORT",
    "PLUGIN_MAX_PORT",
    "PLUGIN_UNIX_SOCKET_DIR",
    "TF_LOG",
    "TF_LOG_PROVIDER",
    "TF_REATTACH_PROVIDERS",
];

pub use crate::provider_binary;

/// The binary with a clean plugin environment (no cookie) and piped stdio.
pub fn provider_command() -> Command {
    let mut command = Command::new(provider_binary());
    for name in PLUGIN_ENV {
        command.env_remove(name);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// The aws-lc-rs provider: go-plugin's keys are ECDSA P-521, which ring lacks.
fn crypto() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A client certificate made the way go-plugin's host makes it: ECDSA P-521,
/// self-signed CA, CN/SAN localhost.
pub struct ClientIdentity {
    pub cert_pem: String,
    pub cert_der: CertificateDer<'static>,
    key_pkcs8: Vec<u8>,
}

impl ClientIdentity {
    pub fn generate() -> Self {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
            KeyUsagePurpose,
        };
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).expect("P-521 key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_string()]).expect("certificate params");
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "HashiCorp");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::KeyAgreement,
            KeyUsagePurpose::KeyCertSign,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ClientAuth,
            ExtendedKeyUsagePurpose::ServerAuth,
        ];
        let cert = params.self_signed(&key).expect("self-signed certificate");
        Self {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            key_pkcs8: key.serialize_der(),
        }
    }

    fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_pkcs8.clone()))
    }
}

/// The fields of go-plugin's handshake line.
#[derive(Debug, Clone)]
pub struct Handshake {
    pub core_version: u32,
    pub protocol_version: u32,
    pub network: String,
    pub address: String,
    pub protocol: String,
    /// The server certificate (DER), empty without AutoMTLS.
    pub server_cert_der: Vec<u8>,
}

/// Parses `CORE|PROTO|NETWORK|ADDRESS|grpc|CERT` as go-plugin's client does.
pub fn parse_handshake(line: &str) -> Result<Handshake, String> {
    let parts: Vec<&str> = line.trim_end_matches(['\r', '\n']).split('|').collect();
    if parts.len() != 6 {
        return Err(format!("expected 6 fields, got {}: {line:?}", parts.len()));
    }
    let number = |s: &str| s.parse::<u32>().map_err(|e| format!("{s:?}: {e}"));
    let server_cert_der = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(parts[5])
        .map_err(|e| format!("certificate field is not unpadded base64: {e}"))?;
    Ok(Handshake {
        core_version: number(parts[0])?,
        protocol_version: number(parts[1])?,
        network: parts[2].to_string(),
        address: parts[3].to_string(),
        protocol: parts[4].to_string(),
        server_cert_der,
    })
}

/// How to start the plugin.
#[derive(Debug, Clone)]
pub struct Launch {
    /// `PLUGIN_PROTOCOL_VERSIONS`.
    pub protocol_versions: String,
    /// Extra environment (e.g. `TF_LOG_PROVIDER`, `PLUGIN_MIN_PORT`).
    pub envs: Vec<(String, String)>,
}

impl Default for Launch {
    fn default() -> Self {
        Self {
            protocol_versions: "5,6".to_string(),
            envs: Vec::new(),
        }
    }
}

impl Launch {
    pub fn env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.envs.push((name.to_string(), value.into()));
        self
    }
}

/// Collects a child's pipe into a string as it arrives.
fn drain<R: AsyncRead + Unpin + Send + 'static>(reader: R) -> Arc<Mutex<String>> {
    let collected = Arc::new(Mutex::new(String::new()));
    let sink = collected.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut s = sink.lock().expect("lock");
            s.push_str(&line);
            s.push('\n');
        }
    });
    collected
}

/// A running provider process with an mTLS channel to it.
pub struct PluginProcess {
    pub child: Child,
    pub handshake: Handshake,
    pub identity: ClientIdentity,
    pub channel: Channel,
    /// From spawning the process to reading its handshake line.
    pub handshake_elapsed: Duration,
    /// From spawning the process to an established mTLS channel.
    pub connected_elapsed: Duration,
    pub spawned_at: Instant,
    stdout_after_handshake: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl PluginProcess {
    /// Starts the binary like Terraform 1.x does and connects over mTLS.
    pub async fn start() -> Self {
        Self::start_with(Launch::default()).await
    }

    pub async fn start_with(launch: Launch) -> Self {
        let identity = ClientIdentity::generate();
        let mut command = provider_command();
        command
            .env("TF_PLUGIN_MAGIC_COOKIE", MAGIC_COOKIE)
            .env("PLUGIN_PROTOCOL_VERSIONS", &launch.protocol_versions)
            .env("PLUGIN_CLIENT_CERT", &identity.cert_pem);
        for (name, value) in &launch.envs {
            command.env(name, value);
        }
        let spawned_at = Instant::now();
        let mut child = command.spawn().expect("spawn the provider binary");
        let stderr = drain(child.stderr.take().expect("stderr piped"));
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout piped"));
        let mut line = String::new();
        let read = tokio::time::timeout(HANDSHAKE_TIMEOUT, stdout.read_line(&mut line)).await;
        let handshake_elapsed = spawned_at.elapsed();
        match read {
            Ok(Ok(n)) if n > 0 => {}
            other => {
                let status = child.try_wait().ok().flatten();
                panic!(
                    "no handshake line from the provider ({other:?}, exit {status:?}); stderr:\n{}",
                    stderr.lock().expect("lock")
                );
            }
        }
        let handshake = parse_handshake(&line).unwrap_or_else(|e| panic!("bad handshake: {e}"));
        let stdout_after_handshake = drain(stdout.into_inner());
        let channel = connect(&handshake, Some(&identity))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "mTLS connection to {} failed: {e:?}; stderr:\n{}",
                    handshake.address,
                    stderr.lock().expect("lock")
                )
            });
        let connected_elapsed = spawned_at.elapsed();
        Self {
            child,
            handshake,
            identity,
            channel,
            handshake_elapsed,
            connected_elapsed,
            spawned_at,
            stdout_after_handshake,
            stderr,
        }
    }

    pub fn provider(&self) -> ProviderClient<Channel> {
        ProviderClient::new(self.channel.clone())
    }

    pub fn controller(&self) -> GrpcControllerClient<Channel> {
        GrpcControllerClient::new(self.channel.clone())
    }

    pub fn stdio(&self) -> GrpcStdioClient<Channel> {
        GrpcStdioClient::new(self.channel.clone())
    }

    pub fn health(&self) -> HealthClient<Channel> {
        HealthClient::new(self.channel.clone())
    }

    /// Everything the provider wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("lock").clone()
    }

    /// Waits (up to 5 s) until stderr contains `needle`; logs arrive
    /// asynchronously, so a check right after an event can race them.
    pub async fn stderr_eventually_contains(&self, needle: &str) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if self.stderr().contains(needle) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// What the provider wrote to stdout after its handshake line (should be nothing).
    pub fn stdout_after_handshake(&self) -> String {
        self.stdout_after_handshake.lock().expect("lock").clone()
    }

    /// Waits for the process to exit, or `None` after `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }

    /// Calls `GRPCController.Shutdown` as Terraform does when it is done, and
    /// returns the exit status (panics if the process does not exit in 5 s).
    pub async fn shutdown(mut self) -> ExitStatus {
        self.controller()
            .shutdown(rootmail::proto::plugin::Empty {})
            .await
            .unwrap_or_else(|e| panic!("Shutdown failed: {e}; stderr:\n{}", self.stderr()));
        match self.wait_exit(Duration::from_secs(5)).await {
            Some(status) => status,
            None => panic!(
                "provider still running 5 s after Shutdown; stderr:\n{}",
                self.stderr()
            ),
        }
    }
}

/// Accepts exactly the certificate from the handshake line, for `localhost`.
#[derive(Debug)]
struct PinnedServerCertificate {
    expected: Vec<u8>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedServerCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() != self.expected.as_slice() {
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ));
        }
        let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_name(&parsed, server_name)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A TLS client configuration trusting only `server_cert_der`, presenting
/// `identity` (or no certificate at all).
pub fn tls_client_config(
    server_cert_der: &[u8],
    identity: Option<&ClientIdentity>,
) -> rustls::ClientConfig {
    let provider = crypto();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedServerCertificate {
            expected: server_cert_der.to_vec(),
            provider,
        }));
    let mut config = match identity {
        Some(id) => builder
            .with_client_auth_cert(vec![id.cert_der.clone()], id.key_der())
            .expect("client certificate"),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    config
}

trait Duplex: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Duplex for T {}

async fn dial(network: &str, address: &str) -> std::io::Result<Box<dyn Duplex>> {
    match network {
        "tcp" => {
            let stream = tokio::net::TcpStream::connect(address).await?;
            // As Go's net package (and so Terraform) does; otherwise Nagle and
            // delayed ACKs add ~40 ms to the first call.
            stream.set_nodelay(true)?;
            Ok(Box::new(stream))
        }
        "unix" => Ok(Box::new(tokio::net::UnixStream::connect(address).await?)),
        other => Err(std::io::Error::other(format!("unknown network {other}"))),
    }
}

/// Opens a gRPC channel to the plugin: mTLS when the handshake carries a
/// certificate, plaintext h2c otherwise (debug mode).
pub async fn connect(
    handshake: &Handshake,
    identity: Option<&ClientIdentity>,
) -> Result<Channel, tonic::transport::Error> {
    let network = handshake.network.clone();
    let address = handshake.address.clone();
    let tls = if handshake.server_cert_der.is_empty() {
        None
    } else {
        Some(tokio_rustls::TlsConnector::from(Arc::new(
            tls_client_config(&handshake.server_cert_der, identity),
        )))
    };
    let connector = tower::service_fn(move |_uri: tonic::codegen::http::Uri| {
        let (network, address, tls) = (network.clone(), address.clone(), tls.clone());
        async move {
            let stream = dial(&network, &address).await?;
            let io: Box<dyn Duplex> = match tls {
                None => stream,
                Some(tls) => {
                    let name = ServerName::try_from("localhost").expect("server name");
                    Box::new(tls.connect(name, stream).await?)
                }
            };
            Ok::<_, std::io::Error>(TokioIo::new(io))
        }
    });
    Endpoint::from_static("http://localhost")
        .connect_timeout(Duration::from_secs(10))
        .connect_with_connector(connector)
        .await
}
