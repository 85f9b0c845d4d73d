//! What counts as an e-mail address or a domain here: the plain
//! `local@domain.tld` shape Exchange accepts for SMTP proxy addresses, strict
//! enough that nothing odd ends up in the table or in a PowerShell string.

/// Checks `text` is a plain address; the error says what is wrong.
pub fn check_address(text: &str) -> Result<(), String> {
    if text.len() > 254 {
        return Err("longer than 254 characters".to_owned());
    }
    let Some((local, domain)) = text.split_once('@') else {
        return Err("no `@`".to_owned());
    };
    if local.is_empty() || local.len() > 64 {
        return Err("the part before `@` must be 1-64 characters".to_owned());
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err("misplaced `.` before `@`".to_owned());
    }
    if let Some(c) = local
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '\'')))
    {
        return Err(format!("character `{c}` is not allowed before `@`"));
    }
    check_domain(domain)
}

/// Checks `text` is a DNS domain with at least two labels.
pub fn check_domain(text: &str) -> Result<(), String> {
    if text.is_empty() || text.len() > 253 {
        return Err("the domain must be 1-253 characters".to_owned());
    }
    let labels: Vec<&str> = text.split('.').collect();
    if labels.len() < 2 {
        return Err(format!("`{text}` is not a domain (no `.`)"));
    }
    for label in labels {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok {
            return Err(format!("`{text}` is not a valid domain"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_addresses() {
        for a in [
            "aws_0b9e3a8c-1d2e-4f50-9a1b-2c3d4e5f6a7b@company.com",
            "comp003@company.com",
            "o'brien+x@sub.example.co.uk",
        ] {
            assert_eq!(check_address(a), Ok(()), "{a}");
        }
    }

    #[test]
    fn refuses_odd_ones() {
        for a in [
            "",
            "no-at.company.com",
            "@company.com",
            "a@company",
            "a b@company.com",
            "a\"b@company.com",
            "a$b@company.com",
            "a@-x.com",
            "a..b@x.com",
            "a@x..com",
        ] {
            assert!(check_address(a).is_err(), "{a}");
        }
    }
}
