//! Plan-time checks shared by the resources and data sources: e-mail shape,
//! lengths, control characters, enum values. Unknown values pass; they are
//! checked again when known.

use crate::tfplugin::{Attribute, Block, Diagnostic, Diagnostics, Schema, Value};

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

/// A plan-time check of one attribute, declared beside the attribute in a
/// schema (see [`CheckedSchema`]) so the attribute's name is written once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// An e-mail address.
    Email,
    /// Free text: not empty, at most `max` characters, no control characters.
    Text { max: usize },
    /// One of a few values (a serde enum's `model::variants`).
    OneOf(&'static [&'static str]),
    /// A whole number within `min..=max`.
    Range { min: i64, max: i64 },
    /// A 12-digit AWS account id.
    AwsAccountId,
}

impl Check {
    /// Adds to `d` what is wrong with `attr` in `config`. Null and unknown
    /// values pass; they are checked again when known.
    pub fn apply(self, config: &Value, attr: &str, d: &mut Diagnostics) {
        let value = config.attr(attr);
        if value.is_null() || value.is_unknown() {
            return;
        }
        if let Some((summary, detail)) = self.problem(attr, value) {
            d.push(Diagnostic::error(summary, detail).at_attr(attr));
        }
    }

    fn problem(self, attr: &str, value: &Value) -> Option<(&'static str, String)> {
        if let Check::Range { min, max } = self {
            return match value.as_i64() {
                Some(n) if (min..=max).contains(&n) => None,
                _ => Some((
                    "Invalid number",
                    format!("`{attr}` must be a whole number from {min} to {max}."),
                )),
            };
        }
        let s = value.as_str()?;
        let chars = s.chars().count();
        match self {
            Check::Email if !is_email(s) => Some((
                "Invalid e-mail address",
                format!("`{attr}` must be an e-mail address such as `team@company.com` (at most {MAX_EMAIL} characters); got {:?}.", shorten(s)),
            )),
            Check::Text { .. } if s.trim().is_empty() => Some((
                "Empty value",
                format!("`{attr}` must not be empty; remove it or give a value."),
            )),
            Check::Text { max } if chars > max => Some((
                "Value too long",
                format!("`{attr}` may be at most {max} characters; it has {chars}."),
            )),
            Check::Text { .. } if s.chars().any(char::is_control) => Some((
                "Control characters in value",
                format!("`{attr}` must not contain control characters such as newlines or tabs."),
            )),
            Check::OneOf(allowed) if !allowed.contains(&s) => Some((
                "Invalid value",
                format!("`{attr}` must be one of {}; got {:?}.", code_list(allowed), shorten(s)),
            )),
            Check::AwsAccountId if !is_aws_account_id(s) => Some((
                "Invalid AWS account id",
                format!("`{attr}` must be exactly 12 digits, as in `123456789012`; got {:?}.", shorten(s)),
            )),
            _ => None,
        }
    }
}

/// A schema whose attributes carry their [`Check`]s: `validate` runs them, so
/// an attribute's name and its rules are written once, in the schema.
#[derive(Debug, Clone, Default)]
pub struct CheckedSchema {
    block: Block,
    version: i64,
    checks: Vec<(String, Check)>,
}

impl CheckedSchema {
    /// Starts from a block (its description, and attributes without checks).
    pub fn new(block: Block) -> Self {
        CheckedSchema {
            block,
            ..Self::default()
        }
    }

    /// Adds an attribute without checks.
    pub fn attribute(mut self, attribute: Attribute) -> Self {
        self.block = self.block.attribute(attribute);
        self
    }

    /// Adds an attribute and the check its configured value must pass.
    pub fn checked(mut self, attribute: Attribute, check: Check) -> Self {
        self.checks.push((attribute.name.clone(), check));
        self.attribute(attribute)
    }

    /// Sets the schema version.
    pub fn version(mut self, version: i64) -> Self {
        self.version = version;
        self
    }

    /// The schema Terraform sees.
    pub fn schema(&self) -> Schema {
        Schema::new(self.block.clone()).with_version(self.version)
    }

    /// Runs every attribute's checks on `config`.
    pub fn validate(&self, config: &Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        for (name, check) in &self.checks {
            check.apply(config, name, &mut d);
        }
        d
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

    #[test]
    fn a_checked_schema_runs_each_attributes_check_at_that_attribute() {
        use crate::tfplugin::{AttributePath, Type};
        let checked = CheckedSchema::new(Block::new())
            .checked(Attribute::optional("owner", Type::String), Check::Email)
            .checked(
                Attribute::optional("days", Type::Number),
                Check::Range { min: 1, max: 10 },
            )
            .attribute(Attribute::optional("free", Type::String));
        assert_eq!(checked.schema().block.attributes.len(), 3);
        let config = Value::object([
            ("owner", Value::from("not-an-address")),
            ("days", Value::from(11i64)),
            ("free", Value::from("anything")),
        ]);
        let d = checked.validate(&config);
        let paths: Vec<_> = d.0.iter().map(|d| d.path.clone()).collect();
        assert_eq!(
            paths,
            [
                Some(AttributePath::attr("owner")),
                Some(AttributePath::attr("days"))
            ]
        );
        let unknown = Value::object([("owner", Value::Unknown), ("days", Value::Unknown)]);
        assert!(checked.validate(&unknown).is_empty());
    }
}
