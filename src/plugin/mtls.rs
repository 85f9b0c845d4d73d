//! AutoMTLS: the host passes its own certificate in `PLUGIN_CLIENT_CERT`; the
//! plugin answers with a fresh self-signed certificate (announced in the
//! handshake line) and accepts only connections that present exactly the host's
//! certificate.
//!
//! go-plugin's certificates are self-signed CA certificates used as leaves, which
//! WebPKI path validation rejects (a CA used as an end entity), and its keys are
//! ECDSA P-521. So the client is checked by pinning its DER bytes, and handshake
//! signatures are checked by `signatures` (P-521 in pure Rust). All else
//! (randomness, key exchange, our own key) uses ring: aws-lc, which could do
//! P-521, seeds its random generator from CPU jitter on first use, which costs
//! ~50 ms at every start.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyUsagePurpose, SerialNumber,
};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName as TlsName, SignatureScheme};

use super::PluginError;

/// The name go-plugin hosts expect the plugin's certificate to carry.
const SERVER_NAME: &str = "localhost";
/// go-plugin's certificates live 262980 hours (30 years).
const VALIDITY: time::Duration = time::Duration::hours(262_980);

/// The plugin's TLS identity and the configuration that pins the host's certificate.
pub(crate) struct ServerTls {
    certificate_der: CertificateDer<'static>,
    config: Arc<rustls::ServerConfig>,
}

impl ServerTls {
    /// Generates the plugin's certificate and a TLS 1.2+ server configuration
    /// that requires the client certificate given in PEM.
    pub(crate) fn for_client_pem(client_pem: &str) -> Result<Self, PluginError> {
        let client_certificates = parse_client_certificates(client_pem)?;
        let (certificate_der, key_der) = generate_certificate()?;
        let provider = Arc::new(crypto_provider());
        let verifier = Arc::new(PinnedClientCertificate {
            expected: client_certificates,
            provider: provider.clone(),
        });
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| PluginError::Tls(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![certificate_der.clone()], key_der)
            .map_err(|e| PluginError::Tls(e.to_string()))?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Self {
            certificate_der,
            config: Arc::new(config),
        })
    }

    /// The DER certificate announced in the handshake line.
    pub(crate) fn certificate_der(&self) -> &[u8] {
        self.certificate_der.as_ref()
    }

    /// The acceptor that runs the TLS handshake on accepted connections.
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.clone())
    }
}

/// Every certificate in `PLUGIN_CLIENT_CERT`, each checked to be a
/// well-formed X.509 certificate. Anything else in the value (text outside
/// the PEM blocks, a key, a block that does not decode) is refused at start,
/// rather than serving on a socket no client could ever reach.
fn parse_client_certificates(pem: &str) -> Result<Vec<CertificateDer<'static>>, PluginError> {
    use rustls::pki_types::pem::SectionKind;
    let junk = |what: String| PluginError::ClientCert(what);
    let mut inside = false;
    for (n, line) in pem.lines().enumerate() {
        let line = line.trim();
        if line.starts_with("-----BEGIN ") {
            inside = true;
        } else if line.starts_with("-----END ") {
            inside = false;
        } else if !inside && !line.is_empty() {
            return Err(junk(format!("line {} is outside any PEM block", n + 1)));
        }
    }
    let mut certificates = Vec::new();
    for (n, section) in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem.as_bytes()).enumerate() {
        let (kind, der) = section.map_err(|e| junk(format!("PEM block {}: {e}", n + 1)))?;
        if kind != SectionKind::Certificate {
            return Err(junk(format!(
                "PEM block {} is a {kind:?}, not a CERTIFICATE",
                n + 1
            )));
        }
        let certificate = CertificateDer::from(der);
        webpki::EndEntityCert::try_from(&certificate).map_err(|e| {
            junk(format!(
                "PEM block {} is not an X.509 certificate: {e}",
                n + 1
            ))
        })?;
        certificates.push(certificate);
    }
    if certificates.is_empty() {
        return Err(junk("no CERTIFICATE block found".to_owned()));
    }
    Ok(certificates)
}

/// ring, with the host signature algorithms of [`super::signatures`] (P-521).
fn crypto_provider() -> CryptoProvider {
    CryptoProvider {
        signature_verification_algorithms: super::signatures::HOST_SIGNATURES,
        ..rustls::crypto::ring::default_provider()
    }
}

/// The plugin's P-256 key, held by ring. rcgen would pick aws-lc for its own keys
/// whenever that feature is on anywhere in the build, and aws-lc's first random
/// number costs ~50 ms of CPU jitter sampling.
struct CertificateKey {
    pair: ring::signature::EcdsaKeyPair,
    pkcs8: Vec<u8>,
    rng: ring::rand::SystemRandom,
}

impl CertificateKey {
    fn generate() -> Result<Self, PluginError> {
        let algorithm = &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING;
        let rng = ring::rand::SystemRandom::new();
        let failed = |what: &str| PluginError::Tls(format!("could not {what} the certificate key"));
        let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(algorithm, &rng)
            .map_err(|_| failed("generate"))?;
        let pair = ring::signature::EcdsaKeyPair::from_pkcs8(algorithm, pkcs8.as_ref(), &rng)
            .map_err(|_| failed("load"))?;
        Ok(CertificateKey {
            pair,
            pkcs8: pkcs8.as_ref().to_vec(),
            rng,
        })
    }
}

impl rcgen::PublicKeyData for CertificateKey {
    fn der_bytes(&self) -> &[u8] {
        ring::signature::KeyPair::public_key(&self.pair).as_ref()
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

impl rcgen::SigningKey for CertificateKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.pair
            .sign(&self.rng, msg)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| rcgen::Error::RingUnspecified)
    }
}

/// A self-signed certificate shaped like go-plugin's: CN and SAN `localhost`, CA
/// flag, signing and key-agreement usages, client and server auth.
fn generate_certificate() -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), PluginError>
{
    let tls_err = |e: rcgen::Error| PluginError::Tls(e.to_string());
    let key = CertificateKey::generate()?;
    let mut params = CertificateParams::new(vec![SERVER_NAME.to_string()]).map_err(tls_err)?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, SERVER_NAME);
    // go-plugin's generated certificates carry this organization; mirror them.
    name.push(DnType::OrganizationName, "HashiCorp");
    params.distinguished_name = name;
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
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::seconds(30);
    params.not_after = now + VALIDITY;
    let mut serial = [0u8; 16];
    rand::Rng::fill(&mut rand::rng(), &mut serial[..]);
    serial[0] &= 0x7f; // keep the DER integer positive
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    let certificate = params.self_signed(&key).map_err(tls_err)?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.pkcs8.clone()));
    Ok((certificate.der().clone(), key_der))
}

/// Accepts exactly the host's client certificates, byte for byte.
#[derive(Debug)]
struct PinnedClientCertificate {
    expected: Vec<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for PinnedClientCertificate {
    fn root_hint_subjects(&self) -> &[TlsName] {
        // No hints: a Go client then offers its only certificate unconditionally.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if self
            .expected
            .iter()
            .any(|pinned| pinned.as_ref() == end_entity.as_ref())
        {
            Ok(ClientCertVerified::assertion())
        } else {
            tracing::warn!("refused a TLS client whose certificate is not the host's");
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificate_is_localhost_and_fresh() {
        let (first, _) = generate_certificate().expect("certificate");
        let (second, _) = generate_certificate().expect("certificate");
        assert_ne!(first.as_ref(), second.as_ref(), "each start gets a new key");
        // The SAN dNSName "localhost" appears verbatim in the DER.
        let der = first.as_ref();
        assert!(der.windows(9).any(|w| w == b"localhost"));
    }

    #[test]
    fn client_pem_must_be_a_certificate() {
        assert!(matches!(
            ServerTls::for_client_pem("not a certificate").map(|_| ()),
            Err(PluginError::ClientCert(_))
        ));
    }

    fn pem(der: &CertificateDer<'_>) -> String {
        use base64::Engine as _;
        let body = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect();
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn every_certificate_given_is_pinned_and_junk_is_refused() {
        let (first, _) = generate_certificate().expect("certificate");
        let (second, _) = generate_certificate().expect("certificate");
        let (other, _) = generate_certificate().expect("certificate");
        let both = format!("{}{}", pem(&first), pem(&second));
        let pinned = parse_client_certificates(&both).expect("two certificates");
        assert_eq!(pinned.len(), 2);
        let verifier = PinnedClientCertificate {
            expected: pinned,
            provider: Arc::new(crypto_provider()),
        };
        let now = UnixTime::now();
        assert!(verifier.verify_client_cert(&first, &[], now).is_ok());
        assert!(verifier.verify_client_cert(&second, &[], now).is_ok());
        assert!(verifier.verify_client_cert(&other, &[], now).is_err());

        let junk_cases = [
            "junk".to_owned(),
            format!("junk before\n{}", pem(&first)),
            format!("{}trailing junk\n", pem(&first)),
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
                .to_owned(),
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n".to_owned(),
            format!(
                "{}-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
                pem(&first)
            ),
        ];
        for junk in junk_cases {
            let err = parse_client_certificates(&junk).expect_err(&junk);
            assert!(matches!(err, PluginError::ClientCert(_)), "{junk}: {err:?}");
        }
    }

    #[test]
    fn only_the_pinned_certificate_passes() {
        let (pinned, _) = generate_certificate().expect("certificate");
        let (other, _) = generate_certificate().expect("certificate");
        let verifier = PinnedClientCertificate {
            expected: vec![pinned.clone()],
            provider: Arc::new(crypto_provider()),
        };
        let now = UnixTime::now();
        assert!(verifier.verify_client_cert(&pinned, &[], now).is_ok());
        assert!(verifier.verify_client_cert(&other, &[], now).is_err());
        assert!(verifier
            .supported_verify_schemes()
            .contains(&SignatureScheme::ECDSA_NISTP521_SHA512));
    }
}
