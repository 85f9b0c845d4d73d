//! [`SeenRow`]: a row exactly as one read saw it while it carried a claim
//! token, kept by the caller (Terraform's private state) so that a later
//! release writes it with one ETag-conditional write and no read of its own.
//!
//! The ETag proves the row is still exactly this version when the write lands
//! (the service refuses it with 412 otherwise), and this version carried the
//! claim's token, so the token check of a careful release holds without
//! reading again. Every column is kept, because a plain release replaces the
//! whole row with the legacy columns and other tools' columns as they were.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::row::{col, AliasRow, ClaimToken};
use crate::azure::table::Entity;

/// Format marker, so a later layout is never misread as this one.
const FORMAT: u32 = 1;

/// A row as read while a claim token held it: its ETag and its columns.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenRow {
    #[serde(rename = "v")]
    format: u32,
    etag: String,
    /// SHA-256 (hex) of the token the row carried; the token itself stays
    /// where it is already kept (the state's sensitive `claim_token`).
    token_sha256: String,
    /// Every column as read (type annotations included), without the
    /// service's metadata and without `claim_token`.
    columns: Map<String, Value>,
}

impl std::fmt::Debug for SeenRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeenRow")
            .field("row_key", &self.columns.get(col::ROW_KEY))
            .field("etag", &self.etag)
            .finish_non_exhaustive()
    }
}

impl SeenRow {
    /// The row as `row` was read, if it carries `token` and the read
    /// returned every column (a point read does; see [`AliasPool::get`]).
    ///
    /// [`AliasPool::get`]: super::AliasPool::get
    pub fn of(row: &AliasRow, token: &ClaimToken) -> Option<SeenRow> {
        let entity = row.columns.get()?;
        SeenRow::of_entity(entity, row.etag(), token)
    }

    /// The row as read (entity and ETag), if it carries `token`.
    pub(crate) fn of_entity(entity: &Entity, etag: &str, token: &ClaimToken) -> Option<SeenRow> {
        let carried = entity.get(col::CLAIM_TOKEN).and_then(Value::as_str);
        if etag.is_empty() || etag == "*" || carried != Some(token.as_str()) {
            return None;
        }
        let columns = entity
            .iter()
            .filter(|(k, _)| {
                !k.starts_with("odata.")
                    && k.as_str() != "Timestamp"
                    && k.as_str() != "Timestamp@odata.type"
                    && k.as_str() != col::CLAIM_TOKEN
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Some(SeenRow {
            format: FORMAT,
            etag: etag.to_owned(),
            token_sha256: digest(token),
            columns,
        })
    }

    /// True when this is the seen row of `alias_id` while `token` held it,
    /// in this format (anything else only means "read again").
    pub fn usable_for(&self, alias_id: &str, token: &ClaimToken) -> bool {
        self.format == FORMAT
            && !self.etag.is_empty()
            && self.etag != "*"
            && self.alias_id() == alias_id
            && self.held_by(token)
    }

    /// The alias id (row key) of the row.
    pub fn alias_id(&self) -> &str {
        self.columns
            .get(col::ROW_KEY)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The ETag the read saw.
    pub fn etag(&self) -> &str {
        &self.etag
    }

    /// True when this version of the row carried `token`.
    pub fn held_by(&self, token: &ClaimToken) -> bool {
        self.token_sha256 == digest(token)
    }

    /// The row and its entity as read (the token put back), for building
    /// the release exactly as a careful release does after its own read.
    pub(crate) fn read(&self, token: &ClaimToken) -> Option<(Entity, AliasRow)> {
        if !self.held_by(token) {
            return None;
        }
        let mut entity = self.columns.clone();
        entity.insert(col::CLAIM_TOKEN.into(), token.as_str().into());
        let row = AliasRow::from_entity(&entity, Some(&self.etag)).ok()?;
        Some((entity, row))
    }
}

fn digest(token: &ClaimToken) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, token.as_str().as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entity(token: &str) -> Entity {
        match json!({
            "odata.etag": "W/\"1\"", "odata.metadata": "m", "Timestamp": "t",
            "Timestamp@odata.type": "Edm.DateTime",
            "PartitionKey": "root", "RowKey": "r1", "aws_mail": "a@b.co", "in_use": true,
            "claim_token": token, "legacy_note": "kept", "n@odata.type": "Edm.Int64", "n": "5"
        }) {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn keeps_every_column_but_metadata_and_the_token() {
        let token = ClaimToken::generate();
        let seen = SeenRow::of_entity(&entity(token.as_str()), "W/\"1\"", &token).expect("held");
        let bytes = serde_json::to_vec(&seen).expect("json");
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(token.as_str()), "the token is not copied");
        assert!(!text.contains("odata.metadata") && !text.contains("Timestamp"));
        assert!(text.contains("legacy_note") && text.contains("n@odata.type"));
        let back: SeenRow = serde_json::from_slice(&bytes).expect("round trip");
        assert_eq!(back, seen);
        assert_eq!(back.alias_id(), "r1");
        assert!(back.usable_for("r1", &token));
        assert!(!back.usable_for("r2", &token));
        assert!(!back.usable_for("r1", &ClaimToken::generate()));
        let (entity, row) = back.read(&token).expect("same token");
        assert_eq!(entity.get("claim_token"), Some(&json!(token.as_str())));
        assert!(row.held_by(&token));
        assert_eq!(row.etag(), "W/\"1\"");
        assert!(back.read(&ClaimToken::generate()).is_none());
    }

    #[test]
    fn only_a_row_carrying_the_token_is_kept() {
        let token = ClaimToken::generate();
        let other = ClaimToken::generate();
        assert!(SeenRow::of_entity(&entity(other.as_str()), "W/\"1\"", &token).is_none());
        assert!(SeenRow::of_entity(&entity(token.as_str()), "*", &token).is_none());
        assert!(SeenRow::of_entity(&entity(token.as_str()), "", &token).is_none());
    }

    #[test]
    fn another_format_is_not_used() {
        let token = ClaimToken::generate();
        let seen = SeenRow::of_entity(&entity(token.as_str()), "W/\"1\"", &token).expect("held");
        let mut v: Value = serde_json::to_value(&seen).expect("json");
        v["v"] = json!(2);
        let later: SeenRow = serde_json::from_value(v).expect("same fields");
        assert!(!later.usable_for("r1", &token));
        assert!(serde_json::from_slice::<SeenRow>(b"{}").is_err());
    }
}
