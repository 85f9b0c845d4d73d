//! How a row is stored: the column names, the `$select` list, and reading an
//! [`AliasRow`] from a table entity (old rows, without our columns, included).

use std::fmt;

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::super::error::StoreError;
use super::{AliasRow, AliasStatus, ClaimToken};
use crate::azure::keys::check_key;

/// An alias id is its row key: refuse what Azure Table storage forbids in keys.
pub(crate) fn check_alias_id(id: &str) -> Result<(), StoreError> {
    check_key(id).map_err(|reason| StoreError::InvalidInput {
        field: "alias id",
        reason,
    })
}

/// Column names. The first eight are the legacy layout; the rest are added by
/// this provider and are absent on rows older tools wrote.
pub mod col {
    pub const PARTITION_KEY: &str = "PartitionKey";
    pub const ROW_KEY: &str = "RowKey";
    pub const ID: &str = "id";
    pub const AWS_MAIL: &str = "aws_mail";
    pub const IN_USE: &str = "in_use";
    pub const USER_MAIL: &str = "user_mail";
    pub const ROOT_MAILBOX: &str = "root_mailbox";
    pub const AWS_ACCOUNT_ID: &str = "aws_account_id";
    pub const CLAIM_TOKEN: &str = "claim_token";
    pub const CLAIM_KEY: &str = "claim_key";
    pub const CLAIMED_AT: &str = "claimed_at";
    pub const PURPOSE: &str = "purpose";
    pub const STATUS: &str = "status";
    pub const REUSABLE_AFTER: &str = "reusable_after";
    /// The AWS account that used the alias; unlinking leaves it, because AWS
    /// keeps the address bound to that account for good.
    pub const USED_BY_ACCOUNT: &str = "used_by_account";
    /// Why a row was retired (e.g. which account used it).
    pub const RETIRED_REASON: &str = "retired_reason";
    /// The account in `used_by_account` once its primary e-mail was changed
    /// away from this address (stated by whoever released it): AWS no longer
    /// binds the address to it, and the use stays recorded.
    pub const FREED_FROM_ACCOUNT: &str = "freed_from_account";
    /// Why a row is unroutable (its mailbox does not have the address).
    pub const UNROUTABLE_REASON: &str = "unroutable_reason";
    /// True while a claim made with a claim key has not been handed to its
    /// caller (see `pool::keyed`); absent or false on every other row.
    pub const CLAIM_PENDING: &str = "claim_pending";
    /// True on a row minted on demand (a plus address of a minting mailbox,
    /// see `store::minting`); absent on every other row.
    pub const MINTED: &str = "minted";
}

/// The values written to the `status` column.
pub(crate) mod status_value {
    pub const FREE: &str = "free";
    pub const CLAIMED: &str = "claimed";
    pub const QUARANTINED: &str = "quarantined";
    pub const RETIRED: &str = "retired";
    pub const UNROUTABLE: &str = "unroutable";
    /// A minting mailbox's registration (in its own partition, never an alias).
    pub const MINTING_MAILBOX: &str = "minting_mailbox";
}

/// The `$select` list used when reading rows: all columns the store understands.
pub(crate) const SELECT_ALL_KNOWN: &str = "PartitionKey,RowKey,id,aws_mail,in_use,user_mail,\
root_mailbox,aws_account_id,claim_token,claim_key,claimed_at,purpose,status,reusable_after,\
used_by_account,retired_reason,freed_from_account,unroutable_reason,claim_pending,minted";

/// Every column of a row as a read without `$select` returned it, kept
/// beside the typed fields so that a release can later be decided and
/// written without reading again (see `SeenRow`). Not part of the row's
/// value: two reads of one version compare equal however they were made.
/// Never printed (it holds the claim token).
#[derive(Clone, Default)]
pub(crate) struct Columns(Option<std::sync::Arc<Map<String, Value>>>);

impl Columns {
    pub(crate) fn get(&self) -> Option<&Map<String, Value>> {
        self.0.as_deref()
    }

    /// These columns once `body` was merged into them (none stay none).
    pub(crate) fn merged(&self, body: &Map<String, Value>) -> Columns {
        Columns(self.0.as_ref().map(|all| {
            let mut all = Map::clone(all);
            all.extend(body.clone());
            std::sync::Arc::new(all)
        }))
    }
}

impl PartialEq for Columns {
    fn eq(&self, _: &Columns) -> bool {
        true
    }
}

impl fmt::Debug for Columns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(c) => write!(f, "Columns(all {})", c.len()),
            None => f.write_str("Columns(selected)"),
        }
    }
}

impl AliasRow {
    /// Like [`AliasRow::from_entity`] for an entity read with every column
    /// (no `$select`): the row also keeps them (see [`Columns`]).
    pub(crate) fn from_full_entity(
        entity: &Map<String, Value>,
        etag: Option<&str>,
    ) -> Result<AliasRow, String> {
        let mut row = AliasRow::from_entity(entity, etag)?;
        row.columns = Columns(Some(std::sync::Arc::new(entity.clone())));
        Ok(row)
    }

    /// Reads a row from an entity as the service returns it (JSON with
    /// `odata.etag`, or with the ETag given separately for point reads).
    pub(crate) fn from_entity(
        entity: &Map<String, Value>,
        etag: Option<&str>,
    ) -> Result<AliasRow, String> {
        let etag = match etag {
            Some(e) => e.to_owned(),
            None => entity
                .get("odata.etag")
                .and_then(Value::as_str)
                .ok_or("entity without odata.etag")?
                .to_owned(),
        };
        let partition_key = str_col(entity, col::PARTITION_KEY);
        let id = str_col(entity, col::ROW_KEY);
        if id.is_empty() {
            return Err("entity without RowKey".to_owned());
        }
        let in_use = bool_col(entity, col::IN_USE);
        let minted = bool_col(entity, col::MINTED);
        let status_text = str_col(entity, col::STATUS);
        let status = match AliasStatus::parse(&status_text) {
            Some(AliasStatus::Retired) => AliasStatus::Retired,
            Some(AliasStatus::Quarantined) => AliasStatus::Quarantined,
            // Whatever `in_use` says: a tool that reset it does not make the
            // address reach a mailbox.
            Some(AliasStatus::Unroutable) => AliasStatus::Unroutable,
            // Only this store releases a minted row, keeping in_use = true.
            Some(AliasStatus::Free) if minted => AliasStatus::Free,
            _ if in_use => AliasStatus::Claimed,
            _ => AliasStatus::Free,
        };
        Ok(AliasRow {
            partition_key,
            id,
            email: str_col(entity, col::AWS_MAIL),
            in_use,
            owner: str_col(entity, col::USER_MAIL),
            root_mailbox: str_col(entity, col::ROOT_MAILBOX),
            aws_account_id: str_col(entity, col::AWS_ACCOUNT_ID),
            purpose: str_col(entity, col::PURPOSE),
            claim_token: ClaimToken::new(str_col(entity, col::CLAIM_TOKEN)),
            claim_key: Some(str_col(entity, col::CLAIM_KEY)).filter(|k| !k.is_empty()),
            claim_pending: bool_col(entity, col::CLAIM_PENDING),
            claimed_at: time_col(entity, col::CLAIMED_AT),
            reusable_after: time_col(entity, col::REUSABLE_AFTER),
            status,
            used_by: str_col(entity, col::USED_BY_ACCOUNT),
            retired_reason: str_col(entity, col::RETIRED_REASON),
            freed_from: str_col(entity, col::FREED_FROM_ACCOUNT),
            unroutable_reason: str_col(entity, col::UNROUTABLE_REASON),
            minted,
            etag,
            columns: Columns::default(),
        })
    }
}

fn str_col(entity: &Map<String, Value>, name: &str) -> String {
    match entity.get(name) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// `in_use` is a boolean in the documented layout; accept the string forms
/// some scripts write too, so such rows are not mistaken for free ones.
fn bool_col(entity: &Map<String, Value>, name: &str) -> bool {
    match entity.get(name) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.eq_ignore_ascii_case("false") && !s.is_empty(),
        Some(Value::Number(n)) => n.as_i64() != Some(0),
        _ => false,
    }
}

fn time_col(entity: &Map<String, Value>, name: &str) -> Option<OffsetDateTime> {
    entity
        .get(name)
        .and_then(Value::as_str)
        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
}

/// Truncates to whole milliseconds, the precision stored by this provider, so
/// a value returned after a write equals the value a later read gives.
pub(crate) fn to_millis(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    let nanos = t.nanosecond();
    t.replace_nanosecond(nanos - nanos % 1_000_000).unwrap_or(t)
}

/// Inserts a `DateTime` property (millisecond precision) with its type
/// annotation; returns the value as stored.
pub(crate) fn put_time(
    body: &mut Map<String, Value>,
    name: &str,
    t: OffsetDateTime,
) -> OffsetDateTime {
    let t = to_millis(t);
    let text = t
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned());
    body.insert(format!("{name}@odata.type"), Value::from("Edm.DateTime"));
    body.insert(name.to_owned(), Value::from(text));
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entity(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn legacy_rows_derive_free_and_claimed() {
        let free =
            entity(json!({"PartitionKey":"root","RowKey":"a","in_use":false,"odata.etag":"e"}));
        let row = AliasRow::from_entity(&free, None).expect("row");
        assert_eq!(row.status, AliasStatus::Free);
        assert_eq!(row.claim_token, None);
        let taken =
            entity(json!({"PartitionKey":"root","RowKey":"a","in_use":true,"user_mail":"x"}));
        let row = AliasRow::from_entity(&taken, Some("e2")).expect("row");
        assert_eq!(row.status, AliasStatus::Claimed);
        assert_eq!(row.etag(), "e2");
    }

    #[test]
    fn status_column_wins_for_retired_and_quarantined() {
        let retired =
            entity(json!({"RowKey":"a","in_use":false,"status":"retired","odata.etag":"e"}));
        assert_eq!(
            AliasRow::from_entity(&retired, None).expect("row").status,
            AliasStatus::Retired
        );
        let q = entity(json!({"RowKey":"a","in_use":true,"status":"quarantined",
            "reusable_after":"2000-01-01T00:00:00Z","odata.etag":"e"}));
        let row = AliasRow::from_entity(&q, None).expect("row");
        assert_eq!(row.status, AliasStatus::Quarantined);
        assert!(row.quarantine_over(OffsetDateTime::now_utc()));
        // A released row keeps status "free" while in_use=false.
        let freed = entity(json!({"RowKey":"a","in_use":true,"status":"free","odata.etag":"e"}));
        assert_eq!(
            AliasRow::from_entity(&freed, None).expect("row").status,
            AliasStatus::Claimed,
            "in_use=true always means not free, whatever the status column says"
        );
    }

    #[test]
    fn unroutable_stays_unroutable_whatever_in_use_says() {
        for in_use in [true, false] {
            let e = entity(json!({"RowKey":"a","in_use":in_use,"status":"unroutable",
                "unroutable_reason":"mailbox m@x.com does not have it","odata.etag":"e"}));
            let row = AliasRow::from_entity(&e, None).expect("row");
            assert_eq!(row.status, AliasStatus::Unroutable);
            let why = row
                .unusable_reason(OffsetDateTime::now_utc())
                .expect("unusable");
            assert!(why.contains("m@x.com"), "{why}");
        }
    }

    #[test]
    fn string_in_use_is_not_mistaken_for_free() {
        let s = entity(json!({"RowKey":"a","in_use":"True","odata.etag":"e"}));
        assert_eq!(
            AliasRow::from_entity(&s, None).expect("row").status,
            AliasStatus::Claimed
        );
    }
}
