//! Table values on their way to a terminal, a spreadsheet or a Terraform
//! diagnostic. A table is written by other tools too, so its values are not
//! trusted: an escape sequence in an owner field could rewrite a terminal,
//! and a cell starting with `=` becomes a formula in a spreadsheet.

use std::borrow::Cow;

/// Characters that change how text is shown rather than being shown:
/// C0 controls, DEL, C1 controls, and the bidirectional overrides and
/// isolates that reorder what a reader sees.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// `text` with every unsafe character written out as an escape (`\x1b`,
/// `\u{202e}`), so it shows on one line and changes nothing on screen.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    escape(text, |_| false)
}

/// Like [`for_terminal`] but keeps line breaks and tabs: for multi-line
/// messages (diagnostics, errors) that quote table values.
pub fn for_message(text: &str) -> Cow<'_, str> {
    escape(text, |c| c == '\n' || c == '\t')
}

fn escape(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(|c| is_unsafe(c) && !keep(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !is_unsafe(c) || keep(c) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    Cow::Owned(out)
}

/// A CSV cell that no spreadsheet reads as a formula: a value starting with
/// `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'` (the
/// usual neutralisation, shown as text by spreadsheet programs).
pub fn csv_cell(value: &str) -> Cow<'_, str> {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{value}")),
        _ => Cow::Borrowed(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_text_shows_escapes_instead_of_running_them() {
        assert_eq!(
            for_terminal("a\u{1b}[2J\u{1b}]0;x\u{7}b"),
            "a\\x1b[2J\\x1b]0;x\\x07b"
        );
        assert_eq!(for_terminal("line\nbreak\r"), "line\\x0abreak\\x0d");
        assert_eq!(for_terminal("\u{9b}31m"), "\\x9b31m");
        assert_eq!(for_terminal("evil\u{202e}gnp.exe"), "evil\\u{202e}gnp.exe");
        assert!(matches!(
            for_terminal("plain ünïcode@x.com"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn messages_keep_lines_but_not_escapes() {
        assert_eq!(
            for_message("first\n\tsecond \u{1b}[31mred"),
            "first\n\tsecond \\x1b[31mred"
        );
    }

    #[test]
    fn formula_cells_are_neutralised() {
        for v in ["=HYPERLINK(\"x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(csv_cell(v), format!("'{v}"));
        }
        for v in ["", "aws_1@company.com", "123456789012", "a=b"] {
            assert_eq!(csv_cell(v), v);
        }
    }
}
