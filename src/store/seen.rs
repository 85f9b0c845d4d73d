//! [`SeenRow`]: a row exactly as one read saw it while a claim held it,
//! kept by the caller (Terraform's private state) so that a later release
//! writes it with one ETag-conditional write and no read of its own.
//!
//! The ETag proves the row is still exactly this version when the write lands
//! (the service refuses it with 412 otherwise), and this version was held by
//! the claim ([`AliasRow::holds`]), so the ownership check of a careful
//! release holds without reading again. Every column is kept, because a
//! plain release replaces the whole row with the legacy columns and other
//! tools' columns as they were.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::row::{col, AliasRow, Claim, ClaimToken};
use crate::azure::table::Entity;

/// Format marker, so a later layout is never misread as this one.
const FORMAT: u32 = 1;

/// A row as read while a claim held it: its ETag and its columns.
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
    /// The row as `row` was read, if `claim` holds it and the read
    /// returned every column (a point read does; see [`AliasPool::get`]).
    ///
    /// [`AliasPool::get`]: super::AliasPool::get
    pub fn of(row: &AliasRow, claim: &Claim) -> Option<SeenRow> {
        let entity = row.columns.get()?;
        SeenRow::of_entity(entity, row.etag(), claim)
    }

    /// The row as read (entity and ETag), if `claim` holds it.
    pub(crate) fn of_entity(entity: &Entity, etag: &str, claim: &Claim) -> Option<SeenRow> {
        let held = AliasRow::from_entity(entity, Some(etag)).is_ok_and(|r| r.holds(claim));
        if etag.is_empty() || etag == "*" || !held {
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
            token_sha256: digest(&claim.token),
            columns,
        })
    }

    /// True when this is the seen row of `alias_id` while `claim` held it,
    /// in this format (anything else only means "read again").
    pub fn usable_for(&self, alias_id: &str, claim: &Claim) -> bool {
        self.format == FORMAT
            && !self.etag.is_empty()
            && self.etag != "*"
            && self.alias_id() == alias_id
            && self.read(claim).is_some()
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

    /// The row and its entity as read (the token put back), if `claim`
    /// held that version: for building the release exactly as a careful
    /// release does after its own read.
    pub(crate) fn read(&self, claim: &Claim) -> Option<(Entity, AliasRow)> {
        if self.token_sha256 != digest(&claim.token) {
            return None;
        }
        let mut entity = self.columns.clone();
        entity.insert(col::CLAIM_TOKEN.into(), claim.token.as_str().into());
        let row = AliasRow::from_entity(&entity, Some(&self.etag)).ok()?;
        Some((entity, row)).filter(|(_, row)| row.holds(claim))
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
            "user_mail": "o@b.co", "claimed_at": "2026-01-01T00:00:00.123Z",
            "claim_token": token, "legacy_note": "kept", "n@odata.type": "Edm.Int64", "n": "5"
        }) {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    /// The claim that holds `entity(token)`.
    fn claim(token: &ClaimToken) -> Claim {
        let row = AliasRow::from_entity(&entity(token.as_str()), Some("e")).expect("row");
        Claim {
            token: token.clone(),
            ..row.claim().expect("claimed")
        }
    }

    #[test]
    fn keeps_every_column_but_metadata_and_the_token() {
        let token = ClaimToken::generate();
        let claim = claim(&token);
        let seen = SeenRow::of_entity(&entity(token.as_str()), "W/\"1\"", &claim).expect("held");
        let bytes = serde_json::to_vec(&seen).expect("json");
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(token.as_str()), "the token is not copied");
        assert!(!text.contains("odata.metadata") && !text.contains("Timestamp"));
        assert!(text.contains("legacy_note") && text.contains("n@odata.type"));
        let back: SeenRow = serde_json::from_slice(&bytes).expect("round trip");
        assert_eq!(back, seen);
        assert_eq!(back.alias_id(), "r1");
        assert!(back.usable_for("r1", &claim));
        assert!(!back.usable_for("r2", &claim));
        assert!(!back.usable_for("r1", &self::claim(&ClaimToken::generate())));
        let (entity, row) = back.read(&claim).expect("same claim");
        assert_eq!(entity.get("claim_token"), Some(&json!(token.as_str())));
        assert!(row.holds(&claim));
        assert_eq!(row.etag(), "W/\"1\"");
        assert!(back.read(&self::claim(&ClaimToken::generate())).is_none());
    }

    #[test]
    fn only_a_row_the_whole_claim_holds_is_kept_or_used() {
        let token = ClaimToken::generate();
        let claim = claim(&token);
        let other = ClaimToken::generate();
        assert!(SeenRow::of_entity(&entity(other.as_str()), "W/\"1\"", &claim).is_none());
        assert!(SeenRow::of_entity(&entity(token.as_str()), "*", &claim).is_none());
        assert!(SeenRow::of_entity(&entity(token.as_str()), "", &claim).is_none());
        // The token alone is not ownership: another owner or claim time is
        // a row re-issued by another tool.
        let reissued = Claim {
            owner: "someone@b.co".into(),
            ..claim.clone()
        };
        assert!(SeenRow::of_entity(&entity(token.as_str()), "W/\"1\"", &reissued).is_none());
        let seen = SeenRow::of_entity(&entity(token.as_str()), "W/\"1\"", &claim).expect("held");
        assert!(!seen.usable_for("r1", &reissued));
        let reclaimed = Claim {
            claimed_at: None,
            ..claim.clone()
        };
        assert!(!seen.usable_for("r1", &reclaimed));
        let mut free = entity(token.as_str());
        free.insert("in_use".into(), json!(false));
        assert!(SeenRow::of_entity(&free, "W/\"1\"", &claim).is_none());
    }

    #[test]
    fn another_format_is_not_used() {
        let token = ClaimToken::generate();
        let claim = claim(&token);
        let seen = SeenRow::of_entity(&entity(token.as_str()), "W/\"1\"", &claim).expect("held");
        let mut v: Value = serde_json::to_value(&seen).expect("json");
        v["v"] = json!(2);
        let later: SeenRow = serde_json::from_value(v).expect("same fields");
        assert!(!later.usable_for("r1", &claim));
        assert!(serde_json::from_slice::<SeenRow>(b"{}").is_err());
    }
}
