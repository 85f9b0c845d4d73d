//! The parts of a storage connection string.

use super::{EMULATOR_ACCOUNT, EMULATOR_ENDPOINT, EMULATOR_KEY};
use crate::secret::SecretString;
use crate::settings::{parse_bool, ConfigError, CONNECTION_STRING};

/// The parts of a connection string the store uses.
pub(crate) struct ParsedConnectionString {
    pub account: Option<String>,
    pub key: Option<SecretString>,
    pub sas: Option<SecretString>,
    pub table_endpoint: Option<String>,
    pub use_development_storage: bool,
}

impl ParsedConnectionString {
    pub(crate) fn parse(text: &str) -> Result<ParsedConnectionString, ConfigError> {
        let mut out = ParsedConnectionString {
            account: None,
            key: None,
            sas: None,
            table_endpoint: None,
            use_development_storage: false,
        };
        let mut protocol = "https".to_owned();
        let mut suffix = "core.windows.net".to_owned();
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            // Values (keys, SAS) may contain '=', so split at the first one only.
            let (name, value) = part.split_once('=').ok_or_else(|| {
                ConfigError::new(
                    &CONNECTION_STRING,
                    "connection string has a part without `=`",
                )
            })?;
            match name.trim() {
                "AccountName" => out.account = Some(value.to_owned()),
                "AccountKey" => out.key = Some(SecretString::new(value)),
                "SharedAccessSignature" => out.sas = Some(SecretString::new(value)),
                "TableEndpoint" => {
                    out.table_endpoint = Some(value.trim_end_matches('/').to_owned())
                }
                "DefaultEndpointsProtocol" => protocol = value.to_owned(),
                "EndpointSuffix" => suffix = value.to_owned(),
                "UseDevelopmentStorage" => {
                    out.use_development_storage = parse_bool(value).unwrap_or(false)
                }
                _ => {}
            }
        }
        if out.use_development_storage {
            out.account
                .get_or_insert_with(|| EMULATOR_ACCOUNT.to_owned());
            out.key
                .get_or_insert_with(|| SecretString::new(EMULATOR_KEY));
            out.table_endpoint
                .get_or_insert_with(|| EMULATOR_ENDPOINT.to_owned());
        }
        if out.table_endpoint.is_none() {
            if let Some(a) = &out.account {
                out.table_endpoint = Some(format!("{protocol}://{a}.table.{suffix}"));
            }
        }
        if out.key.is_none() && out.sas.is_none() {
            return Err(ConfigError::new(
                &CONNECTION_STRING,
                "connection string has neither AccountKey nor SharedAccessSignature",
            ));
        }
        Ok(out)
    }
}
