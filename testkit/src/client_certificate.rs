//! Client certificates as Entra ID sees them: test certificates (RSA, as a
//! PFX/PKCS#12 archive with a password and as PEM) made in Rust, and the
//! checks the Entra ID stand-in (`azure_ad`) makes on a certificate
//! assertion: the header's thumbprint names a certificate registered for the
//! client, the RS256 signature verifies against it, the certificate is
//! within its validity, `aud` is the token endpoint, `iss` = `sub` = the
//! client id, the assertion is within `nbf`..`exp`, and its `jti` was never
//! seen before.

use std::collections::HashSet;

use base64::Engine as _;

use crate::azure_ad::now;

/// A test client certificate in the forms users hand it over.
pub struct TestCertificate {
    /// The certificate, DER (what an app registration holds).
    pub der: Vec<u8>,
    /// Certificate and unencrypted private key, PEM.
    pub pem: String,
    /// The private key alone, PEM (a secret: for leak checks).
    pub key_pem: String,
    /// A PFX/PKCS#12 archive of both, protected by `password`.
    pub pfx: Vec<u8>,
    pub password: String,
}

impl TestCertificate {
    /// A fresh RSA certificate valid from two days ago for `days_left` more
    /// days (negative: expired).
    pub fn new(days_left: i64) -> TestCertificate {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("RSA key");
        let mut params = rcgen::CertificateParams::new(vec!["rootmail-ci".to_owned()])
            .expect("certificate params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "rootmail pipeline");
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(2);
        params.not_after = now + time::Duration::days(days_left);
        let cert = params.self_signed(&key).expect("certificate");
        let der = cert.der().to_vec();
        let password = format!("pfx-{}", uuid::Uuid::new_v4().simple());
        let chain = p12_keystore::PrivateKeyChain::new(
            b"rootmail-test".to_vec(),
            p12_keystore::PrivateKey::from_der(&key.serialize_der()).expect("PKCS#8 key"),
            [p12_keystore::Certificate::from_der(&der).expect("certificate")],
        );
        let mut store = p12_keystore::KeyStore::new();
        store.add_entry(
            "rootmail",
            p12_keystore::KeyStoreEntry::PrivateKeyChain(chain),
        );
        let pfx = store.writer(&password).write().expect("PFX");
        TestCertificate {
            pem: format!("{}{}", cert.pem(), key.serialize_pem()),
            key_pem: key.serialize_pem(),
            der,
            pfx,
            password,
        }
    }

    /// The PFX as `ARM_CLIENT_CERTIFICATE` holds it.
    pub fn pfx_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.pfx)
    }
}

fn b64url(part: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .ok()
}

fn json_part(part: &str) -> Option<serde_json::Value> {
    serde_json::from_slice(&b64url(part)?).ok()
}

/// The `x5t` of an assertion's header, when it has one (a certificate assertion).
pub fn x5t_of(assertion: &str) -> Option<String> {
    let header = json_part(assertion.split('.').next()?)?;
    header.get("x5t")?.as_str().map(str::to_owned)
}

fn thumbprint(algorithm: &'static ring::digest::Algorithm, der: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ring::digest::digest(algorithm, der))
}

/// Checks a certificate assertion as Entra ID does; `Err` is the AADSTS
/// message it would answer with.
pub fn verify(
    assertion: &str,
    client_id: &str,
    token_endpoint: &str,
    registered: &[Vec<u8>],
    seen_jti: &mut HashSet<String>,
) -> Result<(), String> {
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err("AADSTS50027: JWT token is invalid or malformed.".into());
    };
    let header = json_part(header).ok_or("AADSTS50027: malformed header")?;
    let claims = json_part(claims).ok_or("AADSTS50027: malformed claims")?;
    let signature = b64url(signature).ok_or("AADSTS50027: malformed signature")?;
    if header["alg"] != "RS256" {
        return Err("AADSTS5002730: the assertion must be signed with RS256".into());
    }
    let x5t = header["x5t"].as_str().unwrap_or_default();
    let der = registered
        .iter()
        .find(|der| thumbprint(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der) == x5t)
        .ok_or(
            "AADSTS700027: The certificate with identifier used to sign the client assertion is \
             not registered on application.",
        )?;
    if let Some(s256) = header["x5t#S256"].as_str() {
        if s256 != thumbprint(&ring::digest::SHA256, der) {
            return Err("AADSTS700027: x5t#S256 does not match the certificate".into());
        }
    }
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|_| "registered certificate unreadable")?;
    let validity = cert.validity();
    if now() < validity.not_before.timestamp() || now() >= validity.not_after.timestamp() {
        return Err(
            "AADSTS700027: The certificate used to sign the client assertion is expired.".into(),
        );
    }
    let key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        cert.public_key().subject_public_key.data.to_vec(),
    );
    let signed = &assertion[..assertion.rfind('.').unwrap_or(0)];
    key.verify(signed.as_bytes(), &signature)
        .map_err(|_| "AADSTS700027: Client assertion contains an invalid signature.")?;
    if claims["aud"] != token_endpoint {
        return Err(format!(
            "AADSTS700212: the assertion's audience must be the token endpoint {token_endpoint}"
        ));
    }
    if claims["iss"] != client_id || claims["sub"] != client_id {
        return Err("AADSTS700211: iss and sub must be the client id".into());
    }
    let (nbf, exp) = (claims["nbf"].as_i64(), claims["exp"].as_i64());
    match (nbf, exp) {
        (Some(nbf), Some(exp)) if nbf <= now() + 60 && now() < exp && exp - nbf <= 3600 => {}
        _ => {
            return Err("AADSTS700024: Client assertion is not within its valid time range.".into())
        }
    }
    let jti = claims["jti"].as_str().unwrap_or_default();
    if jti.is_empty() || !seen_jti.insert(jti.to_owned()) {
        return Err("AADSTS700025: the client assertion's jti was already used".into());
    }
    Ok(())
}
