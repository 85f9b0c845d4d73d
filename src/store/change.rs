//! [`RowChange`]: one change to an alias row, stated once and used twice —
//! as the JSON Merge body sent to the table and as the in-memory copy of the
//! row handed back after the write — so the two cannot drift apart.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::row::{col, put_time, to_millis, AliasRow, AliasStatus, ClaimToken};
use crate::azure::table::Entity;

/// The columns one write sets; `None` leaves a column as it is. For the
/// token and the key, `Some(None)` clears the column (writes `""`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RowChange {
    pub in_use: Option<bool>,
    pub status: Option<AliasStatus>,
    /// `user_mail`.
    pub owner: Option<String>,
    pub purpose: Option<String>,
    pub aws_account_id: Option<String>,
    /// `used_by_account`.
    pub used_by: Option<String>,
    pub retired_reason: Option<String>,
    /// `freed_from_account`.
    pub freed_from: Option<String>,
    pub unroutable_reason: Option<String>,
    pub claim_token: Option<Option<ClaimToken>>,
    pub claim_key: Option<Option<String>>,
    pub claimed_at: Option<OffsetDateTime>,
    pub reusable_after: Option<OffsetDateTime>,
    /// `claim_pending`: set by a keyed claim, cleared once it is handed over.
    pub claim_pending: Option<bool>,
}

impl RowChange {
    /// A new claim with `token` made at `now`; the caller adds owner,
    /// purpose, key and pending as its operation has them.
    pub fn claim(token: &ClaimToken, now: OffsetDateTime) -> RowChange {
        RowChange {
            in_use: Some(true),
            status: Some(AliasStatus::Claimed),
            claim_token: Some(Some(token.clone())),
            claimed_at: Some(to_millis(now)),
            ..RowChange::default()
        }
    }

    /// True when the write would set nothing (no request needed).
    pub fn is_empty(&self) -> bool {
        *self == RowChange::default()
    }

    /// The Merge body: exactly the columns this change sets.
    pub fn body(&self) -> Entity {
        let mut body = Map::new();
        let mut text = |name: &str, value: &Option<String>| {
            if let Some(v) = value {
                body.insert(name.into(), v.clone().into());
            }
        };
        text(col::USER_MAIL, &self.owner);
        text(col::PURPOSE, &self.purpose);
        text(col::AWS_ACCOUNT_ID, &self.aws_account_id);
        text(col::USED_BY_ACCOUNT, &self.used_by);
        text(col::RETIRED_REASON, &self.retired_reason);
        text(col::FREED_FROM_ACCOUNT, &self.freed_from);
        text(col::UNROUTABLE_REASON, &self.unroutable_reason);
        text(
            col::CLAIM_TOKEN,
            &self.claim_token.as_ref().map(|t| {
                t.as_ref()
                    .map(|t| t.as_str().to_owned())
                    .unwrap_or_default()
            }),
        );
        text(
            col::CLAIM_KEY,
            &self
                .claim_key
                .as_ref()
                .map(|k| k.clone().unwrap_or_default()),
        );
        if let Some(status) = self.status {
            body.insert(col::STATUS.into(), status.as_str().into());
        }
        if let Some(in_use) = self.in_use {
            body.insert(col::IN_USE.into(), Value::Bool(in_use));
        }
        if let Some(pending) = self.claim_pending {
            body.insert(col::CLAIM_PENDING.into(), Value::Bool(pending));
        }
        if let Some(t) = self.claimed_at {
            put_time(&mut body, col::CLAIMED_AT, t);
        }
        if let Some(t) = self.reusable_after {
            put_time(&mut body, col::REUSABLE_AFTER, t);
        }
        body
    }

    /// Writes this change over `entity` (a whole row about to be replaced):
    /// a column it sets loses any type annotation it had.
    pub fn merge_into(&self, entity: &mut Entity) {
        let body = self.body();
        for name in body.keys().filter(|k| !k.ends_with("@odata.type")) {
            entity.remove(&format!("{name}@odata.type"));
        }
        entity.extend(body);
    }

    /// `row` as it is once this change was merged into it, with ETag `etag`.
    pub fn applied_to(&self, row: &AliasRow, etag: String) -> AliasRow {
        let mut row = row.clone();
        let set = |field: &mut String, value: &Option<String>| {
            if let Some(v) = value {
                field.clone_from(v);
            }
        };
        set(&mut row.owner, &self.owner);
        set(&mut row.purpose, &self.purpose);
        set(&mut row.aws_account_id, &self.aws_account_id);
        set(&mut row.used_by, &self.used_by);
        set(&mut row.retired_reason, &self.retired_reason);
        set(&mut row.freed_from, &self.freed_from);
        set(&mut row.unroutable_reason, &self.unroutable_reason);
        if let Some(token) = &self.claim_token {
            row.claim_token.clone_from(token);
        }
        if let Some(key) = &self.claim_key {
            // An empty key is no key, as when the row is read.
            row.claim_key = key.clone().filter(|k| !k.is_empty());
        }
        if let Some(status) = self.status {
            row.status = status;
        }
        if let Some(in_use) = self.in_use {
            row.in_use = in_use;
        }
        if let Some(pending) = self.claim_pending {
            row.claim_pending = pending;
        }
        if let Some(t) = self.claimed_at {
            row.claimed_at = Some(to_millis(t));
        }
        if let Some(t) = self.reusable_after {
            row.reusable_after = Some(to_millis(t));
        }
        // Every column as read, if kept, changes too: a release decided on
        // them later must see this write.
        row.columns = row.columns.merged(&self.body());
        row.etag = etag;
        row
    }

    /// True when `row` shows this change (for telling whether a write whose
    /// answer was lost landed). A token decides on its own: nobody else
    /// writes ours. Otherwise every column set must hold its value.
    pub fn shows_in(&self, row: &AliasRow) -> bool {
        if let Some(Some(token)) = &self.claim_token {
            return row.carries(token);
        }
        let same =
            |field: &String, value: &Option<String>| value.as_ref().is_none_or(|v| v == field);
        same(&row.owner, &self.owner)
            && same(&row.purpose, &self.purpose)
            && same(&row.aws_account_id, &self.aws_account_id)
            && same(&row.used_by, &self.used_by)
            && same(&row.retired_reason, &self.retired_reason)
            && same(&row.freed_from, &self.freed_from)
            && self
                .claim_token
                .as_ref()
                .is_none_or(|_| row.claim_token.is_none())
            && self.status.is_none_or(|s| row.status == s)
            && self.in_use.is_none_or(|u| row.in_use == u)
            && self.claim_pending.is_none_or(|p| row.claim_pending == p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claimed_row() -> (Entity, AliasRow) {
        let Value::Object(entity) = json!({
            "PartitionKey": "root", "RowKey": "a1", "id": "a1",
            "aws_mail": "aws_a1@example.com", "in_use": true, "user_mail": "old@example.com",
            "root_mailbox": "box@example.com", "aws_account_id": "", "purpose": "p",
            "claim_token": "t-old", "claim_key": "k", "status": "claimed",
        }) else {
            unreachable!()
        };
        let row = AliasRow::from_entity(&entity, Some("e1")).expect("row");
        (entity, row)
    }

    /// The in-memory copy equals what a read of the merged row gives, every
    /// column included.
    fn assert_copy_matches_table(change: &RowChange) {
        let (mut entity, _) = claimed_row();
        let row = AliasRow::from_full_entity(&entity, Some("e1")).expect("full row");
        entity.extend(change.body());
        let read = AliasRow::from_full_entity(&entity, Some("e2")).expect("merged row");
        let copy = change.applied_to(&row, "e2".into());
        assert_eq!(copy, read, "{change:?}");
        assert_eq!(copy.columns.get(), read.columns.get(), "{change:?}");
        assert!(change.shows_in(&read), "{change:?}");
    }

    #[test]
    fn body_and_copy_agree() {
        let now = OffsetDateTime::now_utc();
        let token = ClaimToken::generate();
        assert_copy_matches_table(&RowChange {
            owner: Some("new@example.com".into()),
            purpose: Some("q".into()),
            claim_key: Some(Some("k2".into())),
            aws_account_id: Some(String::new()),
            ..RowChange::claim(&token, now)
        });
        assert_copy_matches_table(&RowChange {
            claim_key: Some(None),
            ..RowChange::claim(&token, now)
        });
        assert_copy_matches_table(&RowChange {
            aws_account_id: Some("123456789012".into()),
            used_by: Some("123456789012".into()),
            ..RowChange::default()
        });
        assert_copy_matches_table(&RowChange {
            in_use: Some(true),
            status: Some(AliasStatus::Quarantined),
            claim_token: Some(None),
            claim_key: Some(None),
            used_by: Some(String::new()),
            reusable_after: Some(now + time::Duration::days(90)),
            ..RowChange::default()
        });
        assert_copy_matches_table(&RowChange {
            used_by: Some("123456789012".into()),
            freed_from: Some("123456789012".into()),
            ..RowChange::default()
        });
        assert_copy_matches_table(&RowChange {
            in_use: Some(true),
            status: Some(AliasStatus::Retired),
            claim_token: Some(None),
            claim_key: Some(None),
            retired_reason: Some("retired on request".into()),
            ..RowChange::default()
        });
    }

    #[test]
    fn a_row_without_the_change_does_not_show_it() {
        let (_, row) = claimed_row();
        let token = ClaimToken::generate();
        assert!(!RowChange::claim(&token, OffsetDateTime::now_utc()).shows_in(&row));
        let update = RowChange {
            purpose: Some("other".into()),
            ..RowChange::default()
        };
        assert!(!update.shows_in(&row));
        assert!(RowChange::default().is_empty() && !update.is_empty());
    }

    #[test]
    fn merged_over_a_whole_row_drops_stale_annotations() {
        let Value::Object(mut entity) = json!({
            "in_use": "true", "in_use@odata.type": "Edm.String", "other": 1
        }) else {
            unreachable!()
        };
        RowChange {
            in_use: Some(false),
            ..RowChange::default()
        }
        .merge_into(&mut entity);
        assert_eq!(Value::Object(entity), json!({"in_use": false, "other": 1}));
    }
}
