//! Signing in with a client certificate: a new client assertion, signed
//! with the certificate ([`ClientCertificate::assertion`]), for every token
//! request, handed to `azure_identity`'s client assertion credential.

use azure_identity::ClientAssertion;

use super::super::certificate::ClientCertificate;

/// Signs a new assertion for every token request.
#[derive(Debug)]
pub(crate) struct CertificateAssertion {
    pub certificate: ClientCertificate,
    pub client_id: String,
    pub token_endpoint: String,
}

#[async_trait::async_trait]
impl ClientAssertion for CertificateAssertion {
    async fn secret(
        &self,
        _options: Option<azure_core::http::ClientMethodOptions<'_>>,
    ) -> azure_core::Result<String> {
        self.certificate
            .assertion(&self.client_id, &self.token_endpoint)
            .map_err(|m| {
                azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, m)
            })
    }
}
