//! The minting mailboxes compared with Exchange Online: a registration whose
//! mailbox Exchange does not have, or whose mailbox lacks the address its
//! minted addresses extend (`prefix@domain`), makes every address minted for
//! it bounce. Graph cannot tell whether plus addressing is on in the tenant
//! (only `Get-OrganizationConfig` can): the registration records that the
//! admin checked it, and the docs say how.

use std::collections::HashMap;

use super::super::address::normalize_email;
use super::super::minting::MintingMailbox;
use super::exchange::Mailbox;
use super::{Finding, FindingKind};

/// The findings about `registrations` among the `mailboxes` Exchange has
/// (every registration's mailbox was read).
pub(super) fn findings(registrations: &[MintingMailbox], mailboxes: &[Mailbox]) -> Vec<Finding> {
    let by_name: HashMap<String, &Mailbox> = mailboxes
        .iter()
        .map(|m| (normalize_email(&m.name), m))
        .collect();
    let mut out = Vec::new();
    for r in registrations {
        let Some(mailbox) = by_name.get(&r.mailbox) else {
            continue; // not read (an audit compared with mailboxes read before)
        };
        let base = r.base_address();
        let problem = match &mailbox.addresses {
            None => format!(
                "minting mailbox {} does not exist in Exchange (no user object has the name or \
                 address): every address minted for it ({}+<id>@{}) bounces; create the mailbox \
                 or stop minting for it (rootmail pool remove-minting-mailbox {})",
                r.mailbox, r.prefix, r.domain, r.mailbox
            ),
            Some(a) if !a.has(&base) => format!(
                "minting mailbox {} does not have {base}, the address its minted addresses \
                 ({}+<id>@{}) extend: they bounce; add it (Set-Mailbox -EmailAddresses \
                 @{{add='smtp:{base}'}}) or register the mailbox again with a prefix it has",
                r.mailbox, r.prefix, r.domain
            ),
            Some(_) => continue,
        };
        out.push(Finding {
            kind: FindingKind::MintingMailboxMissing,
            email: r.mailbox.clone(),
            row: None,
            account_id: String::new(),
            mailbox: r.mailbox.clone(),
            message: problem,
            fix: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::exchange::MailboxAddresses;
    use super::*;

    #[test]
    fn a_missing_minting_mailbox_and_one_without_its_base_address_are_found() {
        let reg = |m: &str, prefix: Option<&str>| MintingMailbox::new(m, prefix, "").expect("ok");
        let has = |name: &str, secondary: &[&str]| Mailbox {
            name: name.to_owned(),
            addresses: Some(MailboxAddresses {
                primary: Some(name.to_owned()),
                secondary: secondary.iter().map(|s| s.to_string()).collect(),
                total: 1 + secondary.len(),
            }),
        };
        let mailboxes = [
            Mailbox {
                name: "gone@company.com".into(),
                addresses: None,
            },
            has("AWS@company.com", &[]),
            has("box@company.com", &["root@company.com"]),
            has("other@company.com", &[]),
        ];
        let found = findings(
            &[
                reg("gone@company.com", None),
                reg("aws@company.com", None),
                reg("box@company.com", Some("root")),
                reg("other@company.com", Some("nope")),
            ],
            &mailboxes,
        );
        let got: Vec<(&str, bool)> = found
            .iter()
            .map(|f| (f.email.as_str(), f.message.contains("does not exist")))
            .collect();
        assert_eq!(
            got,
            [("gone@company.com", true), ("other@company.com", false)]
        );
        assert!(found
            .iter()
            .all(|f| f.kind == FindingKind::MintingMailboxMissing));
        assert!(
            found[1].message.contains("nope@company.com"),
            "{}",
            found[1].message
        );
    }
}
