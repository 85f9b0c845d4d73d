//! Which addresses AWS accepts as an account's root e-mail, and how this
//! store compares them. From the Organizations API reference for
//! CreateAccount: 6 to 64 characters of 7-bit ASCII, exactly one `@`, and a
//! local part without whitespace or any of `" ' ( ) < [ ] : ; , \ | % &`.
//! AWS compares addresses without regard to case, so this store keeps them
//! in lower case and looks them up case-insensitively.

/// Characters AWS refuses in the part before `@`.
pub const FORBIDDEN_IN_LOCAL_PART: &[char] = &[
    '"', '\'', '(', ')', '<', '[', ']', ':', ';', ',', '\\', '|', '%', '&',
];

/// Shortest and longest address AWS accepts.
pub const AWS_EMAIL_LENGTH: std::ops::RangeInclusive<usize> = 6..=64;

/// Checks that AWS would take `email` as a root e-mail address; the error
/// says which rule it breaks.
pub fn check_aws_email(email: &str) -> Result<(), String> {
    if let Some(c) = email.chars().find(|c| !c.is_ascii()) {
        return Err(format!(
            "character {c:?} is not 7-bit ASCII (AWS accepts only ASCII addresses)"
        ));
    }
    if let Some(c) = email.chars().find(|c| c.is_ascii_control()) {
        return Err(format!("control character {c:?}"));
    }
    let len = email.len();
    if !AWS_EMAIL_LENGTH.contains(&len) {
        return Err(format!(
            "{len} characters; AWS accepts {} to {}",
            AWS_EMAIL_LENGTH.start(),
            AWS_EMAIL_LENGTH.end()
        ));
    }
    let ats = email.matches('@').count();
    if ats != 1 {
        return Err(format!("{ats} `@` signs; AWS needs exactly one"));
    }
    let (local, domain) = email.split_once('@').unwrap_or_default();
    if local.is_empty() {
        return Err("nothing before `@`".to_owned());
    }
    if local.chars().any(char::is_whitespace) {
        return Err("whitespace before `@`".to_owned());
    }
    if let Some(c) = local.chars().find(|c| FORBIDDEN_IN_LOCAL_PART.contains(c)) {
        return Err(format!("character `{c}` before `@` (AWS refuses it there)"));
    }
    if domain.chars().any(char::is_whitespace) {
        return Err("whitespace in the domain".to_owned());
    }
    let labels_ok = domain.split('.').count() >= 2 && domain.split('.').all(|l| !l.is_empty());
    if !labels_ok {
        return Err(format!("`{domain}` is not a domain"));
    }
    Ok(())
}

/// The form addresses are stored and compared in.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

/// For a plus address `local+tag@domain`, the address it extends
/// (`local@domain`, lower case); `None` for any other address. Exchange
/// Online delivers a plus address to the object that has the address
/// without the tag (on by default since 2022; a tenant can turn it off with
/// `Set-OrganizationConfig -DisablePlusAddressInRecipients`, which Graph
/// cannot tell).
pub fn plus_base(address: &str) -> Option<String> {
    let address = normalize_email(address);
    let (local, domain) = address.rsplit_once('@')?;
    let (base, tag) = local.split_once('+')?;
    (!base.is_empty() && !tag.is_empty() && !domain.is_empty()).then(|| format!("{base}@{domain}"))
}

/// True when two addresses are the same for AWS.
pub fn same_email(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// Names the row keys of addresses this tool inserts (a version 5 UUID's namespace).
const ADDRESS_ROW_NAMESPACE: uuid::Uuid = uuid::uuid!("5d0f3b8e-6c1a-4f5e-9b7d-2a4c8e1f0b36");

/// The row key a row this tool inserts for `address` gets (an audit's
/// import, a minted address): a version 5 (name-based) UUID of the address in
/// lower case, as the seed's row keys are GUIDs, so two inserts of one
/// address pick the same key and the table keeps the first.
pub fn address_row_key(address: &str) -> String {
    let mut named = ADDRESS_ROW_NAMESPACE.as_bytes().to_vec();
    named.extend_from_slice(normalize_email(address).as_bytes());
    // RFC 9562 §5.5: SHA-1 of namespace and name, its first 16 bytes.
    let hash = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &named);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash.as_ref()[..16]);
    uuid::Builder::from_sha1_bytes(bytes)
        .into_uuid()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_aws_accepts() {
        for a in [
            "a@b.co",
            "aws_0b9e3a8c-1d2e-4f50-9a1b-2c3d4e5f6a7b@company.com",
            "root+prod@company.com",
            "x.y-z_1!#$*=?^`{}~/@sub.company.com",
        ] {
            assert_eq!(check_aws_email(a), Ok(()), "{a}");
        }
    }

    #[test]
    fn a_plus_address_extends_the_address_without_its_tag() {
        assert_eq!(
            plus_base("AWS+x1@Company.com").as_deref(),
            Some("aws@company.com")
        );
        assert_eq!(
            plus_base("a+b+c@company.com").as_deref(),
            Some("a@company.com")
        );
        for none in ["aws@company.com", "+x@company.com", "aws+@company.com"] {
            assert_eq!(plus_base(none), None, "{none}");
        }
    }

    #[test]
    fn refuses_each_rule() {
        let long = format!("{}@company.com", "a".repeat(53));
        assert_eq!(long.len(), 65);
        let mut cases = vec![
            ("a@b.c".to_owned(), "characters"),
            (long, "characters"),
            ("jörg@company.com".to_owned(), "ASCII"),
            ("a@b@company.com".to_owned(), "`@` signs"),
            ("abc.company.com".to_owned(), "`@` signs"),
            ("@company.com".to_owned(), "nothing before"),
            ("a b@company.com".to_owned(), "whitespace"),
            ("a\tb@company.com".to_owned(), "control"),
            ("ab@company".to_owned(), "not a domain"),
        ];
        for c in FORBIDDEN_IN_LOCAL_PART {
            cases.push((format!("a{c}b@company.com"), "before `@`"));
        }
        for (a, why) in cases {
            let err = check_aws_email(&a).expect_err(&a);
            assert!(err.contains(why), "{a}: {err}");
        }
    }

    #[test]
    fn compares_without_case() {
        assert_eq!(normalize_email(" Aws_1@Company.COM "), "aws_1@company.com");
        assert!(same_email("AWS_1@company.com", "aws_1@COMPANY.com"));
    }
}
