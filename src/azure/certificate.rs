//! Signing in with a client certificate: Entra ID takes a client assertion
//! (RFC 7523) instead of a secret, a JWT signed RS256 with the certificate's
//! private key. Its header names the certificate by thumbprint (`x5t`, the
//! base64url SHA-1 of the DER certificate, and `x5t#S256`, its SHA-256); its
//! claims are `aud` = the token endpoint, `iss` = `sub` = the client id, a
//! unique `jti`, and `nbf`/`iat`/`exp`. A new assertion is signed for every
//! exchange, so none is ever sent twice.
//!
//! The certificate comes as a PFX/PKCS#12 archive (with or without a
//! password) or as PEM with an unencrypted private key, from a file or as
//! base64 content; it is read once, when settings resolve. A leaf: the
//! credentials hold one, and `token` signs its requests with it.

use std::sync::Arc;

use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use time::OffsetDateTime;

/// How long one assertion is valid; it is used at once.
const ASSERTION_LIFETIME: i64 = 600;

/// A client certificate and its RSA private key, ready to sign assertions.
/// `Debug` shows the thumbprint only.
#[derive(Clone)]
pub struct ClientCertificate {
    key: Arc<RsaKeyPair>,
    /// base64url SHA-1 of the DER certificate (`x5t`).
    x5t: String,
    /// base64url SHA-256 of the DER certificate (`x5t#S256`).
    x5t_s256: String,
    subject: String,
    not_after: OffsetDateTime,
}

impl PartialEq for ClientCertificate {
    fn eq(&self, other: &Self) -> bool {
        self.x5t_s256 == other.x5t_s256
    }
}

impl Eq for ClientCertificate {}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("subject", &self.subject)
            .field("x5t", &self.x5t)
            .finish_non_exhaustive()
    }
}

/// Why a certificate cannot be used. Messages never hold key material or
/// the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("is neither a PFX/PKCS#12 archive nor PEM")]
    Unreadable,
    #[error("cannot be opened with this password (a wrong client_certificate_password, or none given for a protected archive)")]
    WrongPassword,
    #[error("holds no private key with its certificate")]
    NoKeyPair,
    #[error("holds a private key that is not an RSA key of 2048 to 8192 bits (Entra ID takes RSA certificates)")]
    NotRsa,
    #[error("holds an encrypted PEM private key; use a PFX/PKCS#12 archive with a password, or an unencrypted key")]
    EncryptedPem,
    #[error("holds a private key that does not belong to its certificate")]
    KeyMismatch,
    #[error("holds a certificate that cannot be parsed")]
    BadCertificate,
    #[error("holds a certificate ({subject}) that expired on {not_after}; upload a new one to the app registration")]
    Expired { subject: String, not_after: String },
    #[error("is not base64")]
    NotBase64,
}

impl ClientCertificate {
    /// Reads a PFX/PKCS#12 archive or PEM (certificate and private key).
    pub fn from_bytes(
        bytes: &[u8],
        password: Option<&str>,
    ) -> Result<ClientCertificate, CertificateError> {
        let text_start = bytes
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(0);
        let (cert_der, key) = if bytes[text_start..].starts_with(b"-----BEGIN") {
            from_pem(bytes)?
        } else {
            from_pkcs12(bytes, password.unwrap_or_default())?
        };
        ClientCertificate::new(&cert_der, key)
    }

    /// Reads base64 content (as `ARM_CLIENT_CERTIFICATE` holds it).
    pub fn from_base64(
        text: &str,
        password: Option<&str>,
    ) -> Result<ClientCertificate, CertificateError> {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|_| CertificateError::NotBase64)?;
        ClientCertificate::from_bytes(&bytes, password)
    }

    fn new(cert_der: &[u8], key: RsaKeyPair) -> Result<ClientCertificate, CertificateError> {
        let (_, cert) = x509_parser::parse_x509_certificate(cert_der)
            .map_err(|_| CertificateError::BadCertificate)?;
        let public = cert.public_key().subject_public_key.data.as_ref();
        if public != key.public().as_ref() {
            return Err(CertificateError::KeyMismatch);
        }
        let not_after = OffsetDateTime::from_unix_timestamp(cert.validity().not_after.timestamp())
            .map_err(|_| CertificateError::BadCertificate)?;
        let subject = cert.subject().to_string();
        if not_after <= OffsetDateTime::now_utc() {
            return Err(CertificateError::Expired {
                subject,
                not_after: not_after.date().to_string(),
            });
        }
        let b64 = |digest: ring::digest::Digest| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
        };
        Ok(ClientCertificate {
            key: Arc::new(key),
            x5t: b64(ring::digest::digest(
                &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
                cert_der,
            )),
            x5t_s256: b64(ring::digest::digest(&ring::digest::SHA256, cert_der)),
            subject,
            not_after,
        })
    }

    /// The SHA-1 thumbprint as Entra ID shows it (base64url, `x5t`).
    pub fn thumbprint(&self) -> &str {
        &self.x5t
    }

    /// When the certificate expires.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// A fresh assertion for `client_id` at `token_endpoint`.
    pub fn assertion(&self, client_id: &str, token_endpoint: &str) -> Result<String, String> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let header = serde_json::json!({
            "alg": "RS256",
            "typ": "JWT",
            "x5t": self.x5t,
            "x5t#S256": self.x5t_s256,
        });
        let claims = serde_json::json!({
            "aud": token_endpoint,
            "iss": client_id,
            "sub": client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
        });
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let signing_input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "cannot sign the client assertion".to_owned())?;
        Ok(format!("{signing_input}.{}", b64(&signature)))
    }
}

fn rsa_key(der: &[u8], pkcs8: bool) -> Result<RsaKeyPair, CertificateError> {
    let key = if pkcs8 {
        RsaKeyPair::from_pkcs8(der)
    } else {
        RsaKeyPair::from_der(der)
    };
    key.map_err(|_| CertificateError::NotRsa)
}

fn from_pkcs12(bytes: &[u8], password: &str) -> Result<(Vec<u8>, RsaKeyPair), CertificateError> {
    use p12_keystore::error::Error;
    let store = p12_keystore::KeyStore::from_pkcs12(
        bytes,
        password,
        p12_keystore::Pkcs12ImportPolicy::Strict,
    )
    .map_err(|e| match e {
        Error::MacError(_) | Error::UnpadError | Error::Pkcs5Error(_) => {
            CertificateError::WrongPassword
        }
        _ => CertificateError::Unreadable,
    })?;
    let (_, chain) = store
        .private_key_chain()
        .ok_or(CertificateError::NoKeyPair)?;
    // The chain starts with the key's own certificate.
    let cert = chain.certs().first().ok_or(CertificateError::NoKeyPair)?;
    let key = rsa_key(chain.key().as_der(), true)?;
    Ok((cert.as_der().to_vec(), key))
}

fn from_pem(bytes: &[u8]) -> Result<(Vec<u8>, RsaKeyPair), CertificateError> {
    use rustls_pki_types::pem::{PemObject, SectionKind};
    let mut certs = Vec::new();
    let mut key = None;
    for item in <(SectionKind, Vec<u8>)>::pem_slice_iter(bytes) {
        let (kind, der) = item.map_err(|_| CertificateError::Unreadable)?;
        match kind {
            SectionKind::Certificate => certs.push(der),
            SectionKind::PrivateKey if key.is_none() => key = Some(rsa_key(&der, true)?),
            SectionKind::RsaPrivateKey if key.is_none() => key = Some(rsa_key(&der, false)?),
            SectionKind::EcPrivateKey => return Err(CertificateError::NotRsa),
            _ => {}
        }
    }
    if key.is_none() && bytes.windows(9).any(|w| w == b"ENCRYPTED") {
        return Err(CertificateError::EncryptedPem);
    }
    let key = key.ok_or(CertificateError::NoKeyPair)?;
    // The certificate of this key, wherever it is in the file.
    let cert = certs
        .into_iter()
        .find(|der| {
            x509_parser::parse_x509_certificate(der).is_ok_and(|(_, c)| {
                c.public_key().subject_public_key.data.as_ref() == key.public().as_ref()
            })
        })
        .ok_or(CertificateError::KeyMismatch)?;
    Ok((cert, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rsa_pem(not_after_days: i64) -> (String, String) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("rsa key");
        let mut params =
            rcgen::CertificateParams::new(vec!["rootmail-test".to_owned()]).expect("params");
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(2);
        params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(not_after_days);
        let cert = params.self_signed(&key).expect("cert");
        (cert.pem(), key.serialize_pem())
    }

    fn decode(part: &str) -> serde_json::Value {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .expect("base64url");
        serde_json::from_slice(&bytes).expect("json")
    }

    #[test]
    fn a_pem_certificate_signs_assertions_entra_id_accepts() {
        let (cert, key) = rsa_pem(30);
        let both = format!("{key}{cert}");
        let certificate = ClientCertificate::from_bytes(both.as_bytes(), None).expect("pem");
        let a = certificate
            .assertion("client-1", "https://login.example/t/oauth2/v2.0/token")
            .expect("signed");
        let b = certificate.assertion("client-1", "x").expect("signed");
        let parts: Vec<&str> = a.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header = decode(parts[0]);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["x5t"], certificate.thumbprint());
        let claims = decode(parts[1]);
        assert_eq!(claims["aud"], "https://login.example/t/oauth2/v2.0/token");
        assert_eq!(
            (claims["iss"].clone(), claims["sub"].clone()),
            ("client-1".into(), "client-1".into())
        );
        assert_ne!(
            claims["jti"],
            decode(b.split('.').nth(1).expect("claims"))["jti"]
        );
        // The signature verifies with the certificate's public key.
        let der = rustls_pki_types::pem::PemObject::from_pem_slice(cert.as_bytes())
            .map(|c: rustls_pki_types::CertificateDer<'static>| c.to_vec())
            .expect("der");
        let (_, parsed) = x509_parser::parse_x509_certificate(&der).expect("x509");
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            parsed.public_key().subject_public_key.data.to_vec(),
        );
        let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[2])
            .expect("signature");
        public
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .expect("valid signature");
        assert!(!format!("{certificate:?}").contains("PRIVATE"));
    }

    #[test]
    fn unusable_certificates_are_named() {
        let (cert, key) = rsa_pem(-1);
        let err = ClientCertificate::from_bytes(format!("{cert}{key}").as_bytes(), None)
            .expect_err("expired");
        assert!(matches!(err, CertificateError::Expired { .. }), "{err}");
        let (other_cert, _) = rsa_pem(30);
        let (_, key) = rsa_pem(30);
        let err = ClientCertificate::from_bytes(format!("{other_cert}{key}").as_bytes(), None)
            .expect_err("mismatch");
        assert_eq!(err, CertificateError::KeyMismatch);
        assert_eq!(
            ClientCertificate::from_bytes(b"\x30\x03garbage", Some("pw")).expect_err("junk"),
            CertificateError::Unreadable
        );
        assert_eq!(
            ClientCertificate::from_base64("not base64!", None).expect_err("b64"),
            CertificateError::NotBase64
        );
        let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("ec");
        let ec_cert = rcgen::CertificateParams::new(vec!["x".to_owned()])
            .expect("params")
            .self_signed(&ec)
            .expect("cert");
        let err = ClientCertificate::from_bytes(
            format!("{}{}", ec_cert.pem(), ec.serialize_pem()).as_bytes(),
            None,
        )
        .expect_err("ec");
        assert_eq!(err, CertificateError::NotRsa);
    }
}
