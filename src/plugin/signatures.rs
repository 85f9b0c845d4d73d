//! The handshake signatures the plugin accepts from its host's certificate.
//!
//! go-plugin's AutoMTLS client keys are ECDSA P-521, which ring cannot verify.
//! RustCrypto's `p521` verifies them in pure Rust; ring covers the other curves a
//! future host might use. aws-lc could do P-521 too, but its random generator seeds
//! itself from CPU jitter on first use, which every provider start would pay for.

use p521::ecdsa::signature::Verifier;
use p521::ecdsa::{Signature, VerifyingKey};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::SignatureScheme;
use rustls_pki_types::{
    alg_id, AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm,
};
use webpki::ring as ring_algs;

/// ECDSA over P-521 with SHA-512 (TLS scheme `ecdsa_secp521r1_sha512`, which is
/// what Go signs with for a P-521 key in TLS 1.2 and 1.3 alike).
#[derive(Debug)]
struct EcdsaP521Sha512;

impl SignatureVerificationAlgorithm for EcdsaP521Sha512 {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        let key = VerifyingKey::from_sec1_bytes(public_key).map_err(|_| InvalidSignature)?;
        let signature = Signature::from_der(signature).map_err(|_| InvalidSignature)?;
        key.verify(message, &signature)
            .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ECDSA_P521
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ECDSA_SHA512
    }
}

static ECDSA_P521_SHA512: &dyn SignatureVerificationAlgorithm = &EcdsaP521Sha512;

/// P-521 from `p521`; P-256, P-384 and Ed25519 from ring. No RSA: go-plugin hosts
/// never use it, and the client certificate is pinned byte for byte anyway.
pub(crate) static HOST_SIGNATURES: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: &[
        ECDSA_P521_SHA512,
        ring_algs::ECDSA_P256_SHA256,
        ring_algs::ECDSA_P256_SHA384,
        ring_algs::ECDSA_P384_SHA256,
        ring_algs::ECDSA_P384_SHA384,
        ring_algs::ED25519,
    ],
    mapping: &[
        (SignatureScheme::ECDSA_NISTP521_SHA512, &[ECDSA_P521_SHA512]),
        // In TLS 1.2 the scheme does not fix the curve; in TLS 1.3 it does.
        (
            SignatureScheme::ECDSA_NISTP384_SHA384,
            &[ring_algs::ECDSA_P384_SHA384, ring_algs::ECDSA_P256_SHA384],
        ),
        (
            SignatureScheme::ECDSA_NISTP256_SHA256,
            &[ring_algs::ECDSA_P256_SHA256, ring_algs::ECDSA_P384_SHA256],
        ),
        (SignatureScheme::ED25519, &[ring_algs::ED25519]),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{KeyPair, SigningKey, PKCS_ECDSA_P521_SHA512};

    #[test]
    fn a_p521_signature_like_go_plugins_verifies_and_a_changed_one_does_not() {
        // The tests build rcgen with aws-lc, which makes P-521 keys like Terraform's.
        let key = KeyPair::generate_for(&PKCS_ECDSA_P521_SHA512).expect("P-521 key");
        let message = b"TLS 1.3, client CertificateVerify";
        let signature = key.sign(message).expect("signature");
        let verify =
            |m: &[u8], s: &[u8]| ECDSA_P521_SHA512.verify_signature(key.public_key_raw(), m, s);
        assert!(verify(message, &signature).is_ok());
        assert!(verify(b"another message", &signature).is_err());
        let mut flipped = signature.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(verify(message, &flipped).is_err());
        assert!(verify(message, b"not DER").is_err());
        assert!(ECDSA_P521_SHA512
            .verify_signature(b"not a point", message, &signature)
            .is_err());
    }

    #[test]
    fn every_scheme_offered_has_an_algorithm() {
        assert!(HOST_SIGNATURES
            .supported_schemes()
            .contains(&SignatureScheme::ECDSA_NISTP521_SHA512));
        for (_, algorithms) in HOST_SIGNATURES.mapping {
            assert!(!algorithms.is_empty());
        }
    }
}
