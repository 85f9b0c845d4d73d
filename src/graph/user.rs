//! A mailbox as Graph describes it: the user object of a user or shared
//! mailbox, and the addresses its `proxyAddresses` hold.

use serde::Deserialize;

/// The properties the reader asks for (`$select`); `proxyAddresses` is not
/// among the ones Graph returns by default.
pub(crate) const SELECT: &str = "id,mail,userPrincipalName,proxyAddresses";

/// A user object with its addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GraphUser {
    pub id: String,
    pub mail: Option<String>,
    pub user_principal_name: String,
    /// Every address Exchange routes to the object: `SMTP:` (the primary),
    /// `smtp:` (secondary), and other kinds (`X500:`, `SIP:`, `SPO:`).
    pub proxy_addresses: Vec<String>,
}

/// One e-mail address of a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpAddress {
    pub address: String,
    /// `SMTP:` (upper case) marks the primary address, the one mail is sent from.
    pub primary: bool,
}

impl SmtpAddress {
    /// Reads one `proxyAddresses` entry; `None` for kinds other than SMTP.
    /// The prefix's case is what tells primary from secondary.
    pub fn parse(entry: &str) -> Option<SmtpAddress> {
        let (kind, address) = entry.split_once(':')?;
        if !kind.eq_ignore_ascii_case("smtp") || address.trim().is_empty() {
            return None;
        }
        Some(SmtpAddress {
            address: address.trim().to_owned(),
            primary: kind == "SMTP",
        })
    }
}

impl GraphUser {
    /// The SMTP addresses, primary and secondary.
    pub fn smtp_addresses(&self) -> Vec<SmtpAddress> {
        self.proxy_addresses
            .iter()
            .filter_map(|e| SmtpAddress::parse(e))
            .collect()
    }

    /// The primary SMTP address, else `mail`.
    pub fn primary_address(&self) -> Option<String> {
        self.smtp_addresses()
            .into_iter()
            .find(|a| a.primary)
            .map(|a| a.address)
            .or_else(|| self.mail.clone().filter(|m| !m.is_empty()))
    }

    /// True when this object receives mail for `address` (case ignored).
    pub fn has_address(&self, address: &str) -> bool {
        self.smtp_addresses()
            .iter()
            .any(|a| a.address.eq_ignore_ascii_case(address))
            || self
                .mail
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case(address))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_prefixes_tell_primary_from_secondary() {
        let user: GraphUser = serde_json::from_str(
            r#"{"id":"1","mail":"Box@Company.com","userPrincipalName":"box@company.onmicrosoft.com",
                "proxyAddresses":["SMTP:Box@Company.com","smtp:AWS_1@company.com","X500:/o=x","sip:box@company.com","smtp:"]}"#,
        )
        .expect("user");
        let addresses = user.smtp_addresses();
        assert_eq!(
            addresses,
            [
                SmtpAddress {
                    address: "Box@Company.com".into(),
                    primary: true
                },
                SmtpAddress {
                    address: "AWS_1@company.com".into(),
                    primary: false
                },
            ]
        );
        assert_eq!(user.primary_address().as_deref(), Some("Box@Company.com"));
        assert!(user.has_address("aws_1@COMPANY.com"));
        assert!(!user.has_address("box@company.onmicrosoft.com"));
        let bare: GraphUser = serde_json::from_str(r#"{"id":"2","mail":null}"#).expect("bare");
        assert_eq!(bare.primary_address(), None);
    }
}
