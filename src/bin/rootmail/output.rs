//! Everything the commands print, in one place: aligned tables for people,
//! CSV and JSON for scripts, times, and the escaping that keeps table values
//! (which can hold anything) from driving the terminal or a spreadsheet.

use std::io::Write;

use rootmail::safe_text;
use rootmail::store::AliasRow;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Columns separated by two spaces, each as wide as its widest cell;
/// cells are printed as given (escape them first).
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    /// Columns from this one on are numbers, aligned right.
    numbers_from: usize,
    min_width: usize,
}

impl Table {
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
            numbers_from: headers.len(),
            min_width: 0,
        }
    }

    /// Aligns the columns from `first` on to the right, each at least
    /// `min_width` wide.
    pub fn numbers_from(mut self, first: usize, min_width: usize) -> Table {
        self.numbers_from = first;
        self.min_width = min_width;
        self
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn write(&self, out: &mut impl Write) -> std::io::Result<()> {
        let mut widths: Vec<usize> = vec![self.min_width; self.headers.len()];
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                if i >= self.numbers_from {
                    line.push_str(&format!("{cell:>w$}"));
                } else {
                    line.push_str(&format!("{cell:<w$}"));
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// `rows` as CSV with a header line; cells a spreadsheet would run as a
/// formula are defused.
pub fn write_csv(
    out: &mut impl Write,
    headers: &[&str],
    rows: &[Vec<String>],
) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(headers)?;
    for row in rows {
        w.write_record(
            row.iter()
                .map(|cell| safe_text::csv_cell(cell).into_owned()),
        )?;
    }
    w.flush()?;
    Ok(())
}

/// Pretty JSON (compact should pretty printing ever fail).
pub fn json_text(doc: &Value) -> String {
    serde_json::to_string_pretty(doc).unwrap_or_else(|_| doc.to_string())
}

/// A table value for the terminal: control characters shown escaped.
pub fn cell(text: &str) -> String {
    safe_text::for_terminal(text).into_owned()
}

/// An RFC 3339 time, or empty.
pub fn format_time(t: Option<OffsetDateTime>) -> String {
    t.and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_default()
}

/// The status shown for a row: its own, or `unusable` for one a claim
/// could take by its status but never hands out (as `pool stats` counts it).
pub fn status_text(r: &AliasRow, now: OffsetDateTime) -> &'static str {
    match r.unusable_reason(now) {
        Some(_) => "unusable",
        None => r.status.as_str(),
    }
}

/// Where a row's address comes from: `alias` (Exchange) or `minted`.
pub fn source_text(r: &AliasRow) -> &'static str {
    if r.minted {
        "minted"
    } else {
        "alias"
    }
}

/// A row as JSON; the claim token only when asked (it is enough to release
/// the alias, so listings leave it out).
pub fn row_json(r: &AliasRow, with_token: bool) -> Value {
    let now = OffsetDateTime::now_utc();
    let mut v = json!({
        "id": r.id,
        "email": r.email,
        "status": status_text(r, now),
        "source": source_text(r),
        "in_use": r.in_use,
        "owner": r.owner,
        "root_mailbox": r.root_mailbox,
        "aws_account_id": r.aws_account_id,
        "purpose": r.purpose,
        "claimed_at": r.claimed_at.map(|t| format_time(Some(t))),
        "reusable_after": r.reusable_after.map(|t| format_time(Some(t))),
        "has_claim_token": r.claim_token.is_some(),
        "stale_claim_token": r.has_stale_claim_token(),
        "used_by_account": Some(r.used_by.as_str())
            .filter(|a| !a.is_empty())
            .or(r.used_by_account()),
        "freed_from_account": Some(r.freed_from.as_str()).filter(|a| !a.is_empty()),
        "retired_reason": r.retired_reason,
        "unusable_reason": r.unusable_reason(now),
    });
    if with_token {
        v["claim_token"] = json!(r.claim_token.as_ref().map(|t| t.as_str()));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(table: &Table) -> String {
        let mut out = Vec::new();
        table.write(&mut out).expect("write");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let mut t = Table::new(&["NAME", "NOTE"]);
        t.row(vec!["ünïcode".into(), "".into()]);
        t.row(vec!["a".into(), "long note".into()]);
        assert_eq!(text(&t), "NAME     NOTE\nünïcode\na        long note\n");
    }

    #[test]
    fn number_columns_align_right() {
        let mut t = Table::new(&["MAILBOX", "FREE"]).numbers_from(1, 7);
        t.row(vec!["m".into(), "12".into()]);
        assert_eq!(text(&t), "MAILBOX     FREE\nm             12\n");
    }
}
