//! The files `rootmail pool import` reads: a CSV of addresses (and
//! mailboxes) or a saved Exchange `EmailAddresses` export, in UTF-8 or
//! UTF-16, parsed into the aliases to add and the lines that cannot be.

use std::collections::HashSet;

use anyhow::Context;
use rootmail::store::address::{check_aws_email, normalize_email};

use crate::address::check_address;

pub const FORMATS_HELP: &str = "\
Accepted input (one record per line; empty lines and lines starting with # are ignored):
  aws_1@company.com                        one address per line (needs --mailbox)
  aws_1@company.com,comp003@company.com    address,mailbox (a header line `address,mailbox` is fine)
  {SMTP:comp003@company.com, smtp:aws_1@company.com, smtp:aws_2@company.com}
                                           Exchange `EmailAddresses`, as printed or exported
  SMTP:comp003@company.com                 ... or one proxy address per line
  smtp:aws_1@company.com
From an Exchange export, every secondary `smtp:` address is imported. The primary
`SMTP:` address is the mailbox itself and is never imported; it is also used as the
mailbox of the record's aliases (else --mailbox, else the file's only primary address).
Other proxy kinds (X500:, SIP:, SPO:) are skipped. UTF-8 and UTF-16 files are read.
Addresses already in the table (compared without regard to case) are skipped, so
running the same import twice adds nothing the second time. Addresses are stored in
lower case (AWS compares them without regard to case). Addresses AWS would refuse as a
root e-mail are reported with their line number and not imported: AWS takes 6-64
characters of 7-bit ASCII with exactly one @, and no whitespace or any of
\" ' ( ) < [ ] : ; , \\ | % & before the @.

Examples:
  rootmail pool import --create-table new/aliases.csv
  rootmail pool import --mailbox comp003@company.com --domain company.com addresses.txt";

/// One alias found in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub line: usize,
    pub address: String,
    pub mailbox: String,
}

/// A line (or one address on it) that cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub line: usize,
    pub text: String,
    pub reason: String,
}

/// What the parser made of a file.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    pub entries: Vec<Entry>,
    pub invalid: Vec<Invalid>,
    pub skipped: Skipped,
}

/// Addresses left out on purpose.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Primary `SMTP:` addresses (the mailboxes themselves).
    pub primary: usize,
    /// Proxy addresses of other kinds (X500:, SIP:, …).
    pub other_kinds: usize,
    /// Valid addresses outside `--domain`.
    pub other_domain: usize,
}

impl Skipped {
    /// What was skipped, for the import's summary.
    pub fn describe(&self) -> Vec<String> {
        let mut parts = Vec::new();
        if self.primary > 0 {
            parts.push(format!(
                "{} primary SMTP: (the mailbox itself)",
                self.primary
            ));
        }
        if self.other_kinds > 0 {
            parts.push(format!("{} non-SMTP proxy addresses", self.other_kinds));
        }
        if self.other_domain > 0 {
            parts.push(format!("{} outside --domain", self.other_domain));
        }
        parts
    }
}

/// Decodes a file's bytes: UTF-8 (with or without BOM) or UTF-16 with BOM, as
/// Windows PowerShell writes with `>` / `Out-File`.
pub fn decode(bytes: &[u8]) -> anyhow::Result<String> {
    let utf16 = |be: bool| -> anyhow::Result<String> {
        let units: Vec<u16> = bytes[2..]
            .chunks(2)
            .filter(|c| c.len() == 2)
            .map(|c| {
                if be {
                    u16::from_be_bytes([c[0], c[1]])
                } else {
                    u16::from_le_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16(&units).context("the file is not valid UTF-16")
    };
    match bytes {
        [0xFF, 0xFE, ..] => utf16(false),
        [0xFE, 0xFF, ..] => utf16(true),
        [0xEF, 0xBB, 0xBF, rest @ ..] => {
            String::from_utf8(rest.to_vec()).context("the file is not valid UTF-8")
        }
        _ => String::from_utf8(bytes.to_vec())
            .context("the file is not valid UTF-8 (or UTF-16 with a byte order mark)"),
    }
}

/// Parses the text of an import file. `default_mailbox` is `--mailbox`,
/// `domain` is `--domain`.
pub fn parse(text: &str, default_mailbox: Option<&str>, domain: Option<&str>) -> Parsed {
    let lines: Vec<&str> = text.lines().collect();
    // The file's only primary address names the mailbox for exports written
    // one proxy address per line.
    let primaries: HashSet<String> = lines
        .iter()
        .filter(|l| is_exchange_line(l))
        .flat_map(|l| proxy_tokens(l))
        .filter_map(|(kind, addr)| (kind == ProxyKind::Primary).then(|| addr.to_lowercase()))
        .collect();
    let file_primary = (primaries.len() == 1)
        .then(|| {
            lines
                .iter()
                .flat_map(|l| proxy_tokens(l))
                .find(|(k, _)| *k == ProxyKind::Primary)
                .map(|(_, a)| a)
        })
        .flatten();

    let mut parsed = Parsed::default();
    let mut seen_content = false;
    for (index, raw) in lines.iter().enumerate() {
        let line_no = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let first = !seen_content;
        seen_content = true;
        if is_exchange_line(line) {
            parse_exchange_line(
                &mut parsed,
                line_no,
                line,
                default_mailbox,
                file_primary.as_deref(),
                domain,
            );
        } else {
            parse_csv_line(&mut parsed, line_no, line, first, default_mailbox, domain);
        }
    }
    parsed
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProxyKind {
    Primary,
    Secondary,
    Other,
}

fn is_exchange_line(line: &str) -> bool {
    proxy_tokens(line).next().is_some()
}

/// The `prefix:value` proxy addresses on a line, however they are wrapped
/// (`{…}` lists, quotes, commas, semicolons, spaces).
fn proxy_tokens(line: &str) -> impl Iterator<Item = (ProxyKind, String)> + '_ {
    line.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '{' | '}' | '"' | '[' | ']'))
        .filter_map(|token| {
            let (prefix, value) = token.split_once(':')?;
            let known = [
                "smtp", "x500", "x400", "sip", "spo", "eum", "notes", "gwise",
            ];
            if !known.iter().any(|k| prefix.eq_ignore_ascii_case(k)) {
                return None;
            }
            let kind = if prefix == "SMTP" {
                ProxyKind::Primary
            } else if prefix.eq_ignore_ascii_case("smtp") {
                ProxyKind::Secondary
            } else {
                ProxyKind::Other
            };
            Some((kind, value.to_owned()))
        })
}

fn parse_exchange_line(
    parsed: &mut Parsed,
    line_no: usize,
    line: &str,
    default_mailbox: Option<&str>,
    file_primary: Option<&str>,
    domain: Option<&str>,
) {
    let tokens: Vec<(ProxyKind, String)> = proxy_tokens(line).collect();
    let line_primary = tokens
        .iter()
        .find(|(k, _)| *k == ProxyKind::Primary)
        .map(|(_, a)| a.as_str());
    let mailbox = line_primary.or(default_mailbox).or(file_primary);
    for (kind, address) in &tokens {
        match kind {
            ProxyKind::Primary => parsed.skipped.primary += 1,
            ProxyKind::Other => parsed.skipped.other_kinds += 1,
            ProxyKind::Secondary => {
                let Some(mailbox) = mailbox else {
                    parsed.invalid.push(Invalid {
                        line: line_no,
                        text: address.clone(),
                        reason: "cannot tell its mailbox: the export has no single primary \
                                 SMTP: address; pass --mailbox"
                            .to_owned(),
                    });
                    continue;
                };
                add_entry(parsed, line_no, address, mailbox, domain);
            }
        }
    }
}

fn parse_csv_line(
    parsed: &mut Parsed,
    line_no: usize,
    line: &str,
    first: bool,
    default_mailbox: Option<&str>,
    domain: Option<&str>,
) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(line.as_bytes());
    let record = match reader.records().next() {
        Some(Ok(r)) => r,
        Some(Err(e)) => {
            parsed.invalid.push(Invalid {
                line: line_no,
                text: line.to_owned(),
                reason: format!("not a CSV line: {e}"),
            });
            return;
        }
        None => return,
    };
    // Spreadsheets sometimes put a space before a quoted field, which CSV
    // then keeps verbatim: strip stray quotes too.
    let fields: Vec<&str> = record
        .iter()
        .map(|f| f.trim().trim_matches('"').trim())
        .collect();
    let fields: Vec<&str> = match fields.iter().rposition(|f| !f.is_empty()) {
        Some(last) => fields[..=last].to_vec(),
        None => return,
    };
    if first && fields.iter().all(|f| !f.contains('@')) {
        return; // a header line such as `address,mailbox`
    }
    if fields.len() > 2 {
        parsed.invalid.push(Invalid {
            line: line_no,
            text: line.to_owned(),
            reason: "expected `address` or `address,mailbox`".to_owned(),
        });
        return;
    }
    let address = fields[0];
    let mailbox = fields.get(1).copied().filter(|m| !m.is_empty());
    match mailbox.or(default_mailbox) {
        Some(mailbox) => add_entry(parsed, line_no, address, mailbox, domain),
        None => parsed.invalid.push(Invalid {
            line: line_no,
            text: line.to_owned(),
            reason: "no mailbox: add a mailbox column or pass --mailbox".to_owned(),
        }),
    }
}

fn add_entry(
    parsed: &mut Parsed,
    line_no: usize,
    address: &str,
    mailbox: &str,
    domain: Option<&str>,
) {
    // AWS's own rule first: its reasons are the ones a user can act on.
    if let Err(reason) = check_aws_email(address).and_then(|()| check_address(address)) {
        parsed.invalid.push(Invalid {
            line: line_no,
            text: address.to_owned(),
            reason,
        });
        return;
    }
    if let Err(reason) = check_address(mailbox) {
        parsed.invalid.push(Invalid {
            line: line_no,
            text: mailbox.to_owned(),
            reason: format!("mailbox: {reason}"),
        });
        return;
    }
    if let Some(d) = domain {
        let in_domain = address
            .rsplit_once('@')
            .is_some_and(|(_, ad)| ad.eq_ignore_ascii_case(d));
        if !in_domain {
            parsed.skipped.other_domain += 1;
            return;
        }
    }
    // AWS compares addresses without regard to case; the pool keeps them lower case.
    parsed.entries.push(Entry {
        line: line_no,
        address: normalize_email(address),
        mailbox: normalize_email(mailbox),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addresses(p: &Parsed) -> Vec<(&str, &str)> {
        p.entries
            .iter()
            .map(|e| (e.address.as_str(), e.mailbox.as_str()))
            .collect()
    }

    #[test]
    fn csv_with_header_mailbox_column_and_default() {
        let text = "address,mailbox\n\
                    a@company.com,comp001@company.com\n\
                    \"b@company.com\" , \"comp002@company.com\"\n\
                    c@company.com\n\
                    # a comment\n\
                    \n\
                    not-an-address,comp001@company.com\n\
                    d@company.com,comp001@company.com,extra\n";
        let p = parse(text, Some("def@company.com"), None);
        assert_eq!(
            addresses(&p),
            vec![
                ("a@company.com", "comp001@company.com"),
                ("b@company.com", "comp002@company.com"),
                ("c@company.com", "def@company.com"),
            ]
        );
        assert_eq!(p.invalid.len(), 2);
        assert_eq!(p.invalid[0].line, 7);
        assert_eq!(p.invalid[1].line, 8);
    }

    #[test]
    fn no_mailbox_anywhere_is_invalid() {
        let p = parse("a@company.com\n", None, None);
        assert!(p.entries.is_empty());
        assert!(p.invalid[0].reason.contains("--mailbox"));
    }

    #[test]
    fn exchange_list_keeps_secondaries_and_takes_mailbox_from_primary() {
        let text = "EmailAddresses\n\
            {smtp:aws_1@company.com, SMTP:comp003@company.com, X500:/o=Org/cn=x, \
             smtp:aws_2@company.com, SPO:SPO_abc@SPO_def}\n";
        let p = parse(text, None, None);
        assert_eq!(
            addresses(&p),
            vec![
                ("aws_1@company.com", "comp003@company.com"),
                ("aws_2@company.com", "comp003@company.com"),
            ]
        );
        assert_eq!(p.skipped.primary, 1);
        assert_eq!(p.skipped.other_kinds, 2);
        assert!(p.invalid.is_empty(), "{:?}", p.invalid);
    }

    #[test]
    fn exchange_one_per_line_uses_the_files_primary_and_domain_filter() {
        let text = "SMTP:comp003@company.com\nsmtp:aws_1@company.com\n\
                    smtp:comp003@tenant.onmicrosoft.com\nsmtp:aws_2@company.com\n";
        let p = parse(text, None, Some("company.com"));
        assert_eq!(
            addresses(&p),
            vec![
                ("aws_1@company.com", "comp003@company.com"),
                ("aws_2@company.com", "comp003@company.com"),
            ]
        );
        assert_eq!(p.skipped.other_domain, 1);
    }

    #[test]
    fn exchange_without_primary_needs_mailbox() {
        let p = parse("smtp:aws_1@company.com\n", None, None);
        assert_eq!(p.invalid.len(), 1);
        let p = parse("smtp:aws_1@company.com\n", Some("m@company.com"), None);
        assert_eq!(addresses(&p), vec![("aws_1@company.com", "m@company.com")]);
    }

    #[test]
    fn decodes_utf16_and_bom() {
        let mut bytes = vec![0xFF, 0xFE];
        for u in "smtp:a@b.com\r\n".encode_utf16() {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(decode(&bytes).expect("utf16"), "smtp:a@b.com\r\n");
        assert_eq!(decode(b"\xEF\xBB\xBFx").expect("utf8"), "x");
        assert!(decode(b"\xC3").is_err());
    }
}
