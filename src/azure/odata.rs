//! OData `$filter` construction. Every value that goes into a filter or an
//! entity key literal passes through [`quote`], the one place where a `'` is
//! doubled, so user-provided strings can never change a filter's meaning.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Escapes a string for use inside an OData single-quoted literal: every `'`
/// becomes `''`. This is the only escaping function of the store.
pub fn escape_literal(value: &str) -> String {
    value.replace('\'', "''")
}

/// A complete quoted string literal: `'` + escaped value + `'`.
pub fn quote(value: &str) -> String {
    format!("'{}'", escape_literal(value))
}

/// `column eq 'value'`, with the value escaped.
pub fn eq_str(column: &'static str, value: &str) -> String {
    format!("{column} eq {}", quote(value))
}

/// `column ge 'value'` (string order), with the value escaped.
pub fn ge_str(column: &'static str, value: &str) -> String {
    format!("{column} ge {}", quote(value))
}

/// `column gt 'value'` (string order), with the value escaped.
pub fn gt_str(column: &'static str, value: &str) -> String {
    format!("{column} gt {}", quote(value))
}

/// `column lt 'value'` (string order), with the value escaped.
pub fn lt_str(column: &'static str, value: &str) -> String {
    format!("{column} lt {}", quote(value))
}

/// `column eq true|false`.
pub fn eq_bool(column: &'static str, value: bool) -> String {
    format!("{column} eq {value}")
}

/// `column le datetime'…'` (UTC, second precision is enough for quarantine).
pub fn le_datetime(column: &'static str, value: OffsetDateTime) -> String {
    let text = value
        .to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned());
    // A formatted timestamp contains no quote, but route it through the same
    // escaping anyway so there is exactly one way values enter a filter.
    format!("{column} le datetime'{}'", escape_literal(&text))
}

/// Joins clauses with `and`, each in parentheses.
pub fn and_all<I: IntoIterator<Item = String>>(clauses: I) -> String {
    joined(clauses, " and ")
}

/// Joins clauses with `or`, each in parentheses (callers keep to the
/// service's limit of 15 comparisons per filter).
pub fn or_any<I: IntoIterator<Item = String>>(clauses: I) -> String {
    joined(clauses, " or ")
}

fn joined<I: IntoIterator<Item = String>>(clauses: I, operator: &str) -> String {
    clauses
        .into_iter()
        .map(|c| format!("({c})"))
        .collect::<Vec<_>>()
        .join(operator)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_doubled() {
        assert_eq!(escape_literal("o'brien"), "o''brien");
        assert_eq!(quote("''"), "''''''");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn hostile_value_stays_inside_its_literal() {
        let hostile = "' or in_use eq false or '";
        let filter = eq_str("user_mail", hostile);
        assert_eq!(filter, "user_mail eq ''' or in_use eq false or '''");
        // Scan the literal: after the opening quote, quotes only ever appear in
        // doubled pairs until the single closing quote at the very end.
        let literal = filter.strip_prefix("user_mail eq ").expect("prefix");
        assert!(literal.starts_with('\'') && literal.ends_with('\''));
        let inner = &literal[1..literal.len() - 1];
        let mut chars = inner.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                assert_eq!(chars.next(), Some('\''), "lone quote would end the literal");
            }
        }
    }

    #[test]
    fn unicode_and_other_characters_pass_unchanged() {
        let v = "zoë@例え.jp \\ \" ) ( % & # ?";
        assert_eq!(escape_literal(v), v);
    }

    #[test]
    fn clauses_are_parenthesised() {
        let f = and_all([eq_str("a", "x"), eq_bool("in_use", false)]);
        assert_eq!(f, "(a eq 'x') and (in_use eq false)");
    }

    #[test]
    fn datetime_literal_is_rfc3339_utc() {
        let t = OffsetDateTime::from_unix_timestamp(0).expect("epoch");
        assert_eq!(
            le_datetime("reusable_after", t),
            "reusable_after le datetime'1970-01-01T00:00:00Z'"
        );
    }
}
