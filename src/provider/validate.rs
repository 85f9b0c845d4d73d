//! Plan-time checks shared by the resources and data sources: e-mail shape,
//! lengths, control characters, enum values. Unknown values pass; they are
//! checked again when known.

use crate::tfplugin::{Diagnostic, Diagnostics, Value};

/// Longest e-mail address accepted (RFC 5321's path limit).
pub const MAX_EMAIL: usize = 254;

/// True when `s` looks like `local@domain.tld` with nothing odd in it.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    let ok_chars = |p: &str| {
        p.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._%+-".contains(c))
    };
    !local.is_empty()
        && local.len() <= 64
        && ok_chars(local)
        && !local.starts_with('.')
        && !local.ends_with('.')
        && domain.contains('.')
        && domain.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && s.len() <= MAX_EMAIL
}

/// An optional or required e-mail attribute.
pub fn email(config: &Value, attr: &str, d: &mut Diagnostics) {
    if let Some(s) = config.attr(attr).as_str() {
        if !is_email(s) {
            d.push(
                Diagnostic::error(
                    "Invalid e-mail address",
                    format!("`{attr}` must be an e-mail address such as `team@company.com` (at most {MAX_EMAIL} characters); got {:?}.", shorten(s)),
                )
                .at_attr(attr),
            );
        }
    }
}

/// A free-text attribute: not empty, bounded, no control characters.
pub fn text(config: &Value, attr: &str, max: usize, d: &mut Diagnostics) {
    if let Some(s) = config.attr(attr).as_str() {
        if s.trim().is_empty() {
            d.push(
                Diagnostic::error(
                    "Empty value",
                    format!("`{attr}` must not be empty; remove it or give a value."),
                )
                .at_attr(attr),
            );
        } else if s.chars().count() > max {
            d.push(
                Diagnostic::error(
                    "Value too long",
                    format!(
                        "`{attr}` may be at most {max} characters; it has {}.",
                        s.chars().count()
                    ),
                )
                .at_attr(attr),
            );
        } else if s.chars().any(char::is_control) {
            d.push(
                Diagnostic::error(
                    "Control characters in value",
                    format!(
                        "`{attr}` must not contain control characters such as newlines or tabs."
                    ),
                )
                .at_attr(attr),
            );
        }
    }
}

/// A string attribute restricted to a few values.
pub fn one_of(config: &Value, attr: &str, allowed: &[&str], d: &mut Diagnostics) {
    if let Some(s) = config.attr(attr).as_str() {
        if !allowed.contains(&s) {
            let list = code_list(allowed);
            d.push(
                Diagnostic::error(
                    "Invalid value",
                    format!("`{attr}` must be one of {list}; got {:?}.", shorten(s)),
                )
                .at_attr(attr),
            );
        }
    }
}

/// A whole-number attribute within bounds.
pub fn int_range(config: &Value, attr: &str, min: i64, max: i64, d: &mut Diagnostics) {
    let v = config.attr(attr);
    if v.is_null() || v.is_unknown() {
        return;
    }
    match v.as_i64() {
        Some(n) if (min..=max).contains(&n) => {}
        _ => d.push(
            Diagnostic::error(
                "Invalid number",
                format!("`{attr}` must be a whole number from {min} to {max}."),
            )
            .at_attr(attr),
        ),
    }
}

/// A 12-digit AWS account id.
pub fn aws_account_id(config: &Value, attr: &str, d: &mut Diagnostics) {
    if let Some(s) = config.attr(attr).as_str() {
        if !is_aws_account_id(s) {
            d.push(
                Diagnostic::error(
                    "Invalid AWS account id",
                    format!(
                        "`{attr}` must be exactly 12 digits, as in `123456789012`; got {:?}.",
                        shorten(s)
                    ),
                )
                .at_attr(attr),
            );
        }
    }
}

/// True for exactly 12 ASCII digits.
pub fn is_aws_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Names as Markdown code, comma-separated: `` `a`, `b` ``.
pub fn code_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Long or odd input is cut for messages so diagnostics stay readable.
fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(80).collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in [
            "a@b.co",
            "aws_0f1e@company.com",
            "first.last+tag@sub.example.org",
        ] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@b",
            "@b.com",
            "a@.com",
            "a b@c.com",
            "a@b..com",
            "' or in_use eq false or '@x.com",
            "a@b.com\n",
            ".a@b.com",
            &format!("{}@b.com", "x".repeat(300)),
        ] {
            assert!(!is_email(bad), "{bad:?}");
        }
    }

    #[test]
    fn account_ids() {
        assert!(is_aws_account_id("123456789012"));
        for bad in [
            "12345678901",
            "1234567890123",
            "12345678901a",
            "",
            "١٢٣٤٥٦٧٨٩٠١٢",
        ] {
            assert!(!is_aws_account_id(bad), "{bad}");
        }
    }
}
