//! The alias row: the table's columns, how an [`AliasRow`] is read from an
//! entity, and how its [`AliasStatus`] is derived so that old rows (written
//! by the legacy setup script, without our extra columns) are understood.

use std::fmt;

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::error::StoreError;
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

/// Where an alias stands, derived from its columns.
///
/// `retired`, `quarantined` and `unroutable` come from the `status` column;
/// otherwise a row is free exactly when `in_use` is false, which is also how
/// older tools read it, except that a minted row keeps `in_use = true` when
/// it is free (so older tools never hand it out) and `status` says `free`.
/// A claimed row without a claim token was claimed by an older tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AliasStatus {
    Free,
    Claimed,
    Quarantined,
    Retired,
    /// Its mailbox does not have the address (found by `rootmail audit
    /// --exchange`): mail to it bounces, so it is never handed out. Kept
    /// `in_use = true` so that older tools skip it too.
    Unroutable,
}

impl AliasStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AliasStatus::Free => status_value::FREE,
            AliasStatus::Claimed => status_value::CLAIMED,
            AliasStatus::Quarantined => status_value::QUARANTINED,
            AliasStatus::Retired => status_value::RETIRED,
            AliasStatus::Unroutable => status_value::UNROUTABLE,
        }
    }

    /// Parses `free`, `claimed`, `quarantined`, `retired` or `unroutable`.
    pub fn parse(text: &str) -> Option<AliasStatus> {
        match text {
            status_value::FREE => Some(AliasStatus::Free),
            status_value::CLAIMED => Some(AliasStatus::Claimed),
            status_value::QUARANTINED => Some(AliasStatus::Quarantined),
            status_value::RETIRED => Some(AliasStatus::Retired),
            status_value::UNROUTABLE => Some(AliasStatus::Unroutable),
            _ => None,
        }
    }
}

impl fmt::Display for AliasStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a row is out of the pool although no one holds it and it is not
/// quarantined or retired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Unusable {
    /// AWS would refuse its address.
    AddressRefused,
    /// An AWS account used it, and AWS never frees a root address.
    UsedByAccount,
    /// Its mailbox does not have the address (marked by `rootmail audit`).
    Unroutable,
}

impl Unusable {
    pub fn as_str(self) -> &'static str {
        match self {
            Unusable::AddressRefused => "address_aws_refuses",
            Unusable::UsedByAccount => "used_by_aws_account",
            Unusable::Unroutable => "unroutable",
        }
    }
}

/// The random value a claim writes to its row. Carrying it is not
/// ownership on its own (see [`Claim`]): the old function app rewrites rows
/// whole and keeps it when it hands the row to someone else.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClaimToken(String);

impl ClaimToken {
    /// A fresh random token.
    pub fn generate() -> ClaimToken {
        ClaimToken(uuid::Uuid::new_v4().to_string())
    }

    /// Wraps a token read back from Terraform state. Empty strings are not tokens.
    pub fn new(value: impl Into<String>) -> Option<ClaimToken> {
        let value = value.into();
        if value.trim().is_empty() {
            None
        } else {
            Some(ClaimToken(value))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClaimToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not a credential, but enough to release an alias: keep it out of logs.
        f.write_str("ClaimToken(<redacted>)")
    }
}

/// One alias as read from the table.
#[derive(Debug, Clone, PartialEq)]
pub struct AliasRow {
    pub partition_key: String,
    /// The RowKey (a GUID), the alias's stable id.
    pub id: String,
    /// The alias address (`aws_mail`).
    pub email: String,
    pub in_use: bool,
    /// Who asked for it (`user_mail`); empty when free.
    pub owner: String,
    /// The shared mailbox that receives its mail.
    pub root_mailbox: String,
    /// The AWS account using it; empty until linked.
    pub aws_account_id: String,
    /// Free text about what it is for.
    pub purpose: String,
    /// The token of the current claim; `None` when free or when an older
    /// tool claimed it.
    pub claim_token: Option<ClaimToken>,
    /// The idempotency key the claim was made with, if any.
    pub claim_key: Option<String>,
    /// True while a claim made with `claim_key` has not been handed to its
    /// caller: only such a claim may be resumed by that key.
    pub claim_pending: bool,
    /// When this provider claimed it (millisecond precision).
    pub claimed_at: Option<OffsetDateTime>,
    /// When a quarantine ends.
    pub reusable_after: Option<OffsetDateTime>,
    pub status: AliasStatus,
    /// The AWS account that used the alias (`used_by_account`), kept after
    /// unlinking; empty when none was recorded.
    pub used_by: String,
    /// Why the row was retired, if this store retired it.
    pub retired_reason: String,
    /// The used account whose e-mail was changed away from this address
    /// (`freed_from_account`); empty when none was stated.
    pub freed_from: String,
    /// Why the row is unroutable, if the audit marked it so.
    pub unroutable_reason: String,
    /// Minted on demand for a minting mailbox (`minted`), not an Exchange alias.
    pub minted: bool,
    pub(crate) etag: String,
    pub(crate) columns: Columns,
}

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
    /// The row's ETag when it was read (changes on every write).
    pub fn etag(&self) -> &str {
        &self.etag
    }

    /// True when a quarantined row's waiting time is over.
    pub fn quarantine_over(&self, now: OffsetDateTime) -> bool {
        self.status == AliasStatus::Quarantined && self.reusable_after.is_some_and(|t| t <= now)
    }

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

    /// The AWS account AWS binds this address to: the recorded use, or for
    /// rows written before that column existed, the current link; none once
    /// that account's e-mail was changed away from it (`freed_from`).
    pub fn used_by_account(&self) -> Option<&str> {
        [self.used_by.as_str(), self.aws_account_id.as_str()]
            .into_iter()
            .find(|a| !a.trim().is_empty() && *a != self.freed_from)
    }

    /// Why a claim must not hand this row out even though it is claimable by
    /// status: an address AWS refuses, or a free alias an account already
    /// used (AWS never gives a root address back). `None` when it may go out.
    pub fn handout_refusal(&self) -> Option<String> {
        self.refusal().map(|(_, why)| why)
    }

    fn refusal(&self) -> Option<(Unusable, String)> {
        if let Err(problem) = super::address::check_aws_email(&self.email) {
            return Some((
                Unusable::AddressRefused,
                format!("its address is not one AWS accepts: {problem}"),
            ));
        }
        if self.status == AliasStatus::Free {
            if let Some(account) = self.used_by_account() {
                return Some((
                    Unusable::UsedByAccount,
                    format!("AWS account {account} used it, and AWS never frees a root address"),
                ));
            }
        }
        None
    }

    /// Why a row a claim could take by its status (free, or its quarantine
    /// is over) is still never handed out ([`AliasRow::handout_refusal`]),
    /// or why an unroutable row is out of the pool; `None` for every other
    /// row. The pool's counts, the CLI's listing and the claim all sort
    /// rows with it, so they agree.
    pub fn unusable(&self, now: OffsetDateTime) -> Option<(Unusable, String)> {
        if self.status == AliasStatus::Unroutable {
            let why = match self.unroutable_reason.trim() {
                "" => "unroutable: its mailbox does not have the address".to_owned(),
                why => format!("unroutable: {why}"),
            };
            return Some((Unusable::Unroutable, why));
        }
        let claimable = self.status == AliasStatus::Free || self.quarantine_over(now);
        claimable.then(|| self.refusal()).flatten()
    }

    /// The text of [`AliasRow::unusable`].
    pub fn unusable_reason(&self, now: OffsetDateTime) -> Option<String> {
        self.unusable(now).map(|(_, why)| why)
    }

    /// True for a free row that still carries a claim token: an older tool
    /// released it keeping this provider's columns (it rewrites rows whole),
    /// or a release was cut short. Nobody holds it.
    pub fn has_stale_claim_token(&self) -> bool {
        self.status == AliasStatus::Free && self.claim_token.is_some()
    }

    /// True when this row carries exactly this token: enough to tell that a
    /// write of ours landed, never enough for ownership (see [`AliasRow::holds`]).
    pub fn carries(&self, token: &ClaimToken) -> bool {
        self.claim_token.as_ref() == Some(token)
    }

    /// The claim this row carries as it is now, if it is claimed with a token.
    pub fn claim(&self) -> Option<Claim> {
        Some(Claim {
            token: self.claim_token.clone()?,
            owner: self.owner.clone(),
            claimed_at: self.claimed_at,
        })
        .filter(|_| self.status == AliasStatus::Claimed)
    }

    /// THE ownership predicate, used by every read, release, update and link
    /// of a held alias: the row is claimed and carries the claim's token,
    /// owner and claim time exactly as its holder last saw them.
    pub fn holds(&self, claim: &Claim) -> bool {
        self.not_held_because(claim).is_none()
    }

    /// Why [`AliasRow::holds`] is false for `claim`, if it is.
    pub fn not_held_because(&self, claim: &Claim) -> Option<NotHeldReason> {
        if self.status != AliasStatus::Claimed {
            Some(NotHeldReason::Status(self.status))
        } else if !self.carries(&claim.token) {
            Some(NotHeldReason::Token)
        } else if self.owner != claim.owner {
            Some(NotHeldReason::Owner {
                now: self.owner.clone(),
            })
        } else if self.claimed_at != claim.claimed_at {
            Some(NotHeldReason::ClaimedAt {
                now: self.claimed_at,
            })
        } else {
            None
        }
    }
}

/// One claim as its holder last saw it: the token it wrote, and the owner
/// and claim time the row showed. A row is held by the claim only while all
/// three are unchanged and the row is claimed, because the old function app
/// rewrites rows whole: when it releases an alias and hands it to someone
/// else, the row keeps our token but gets a new owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub token: ClaimToken,
    /// `user_mail` as last seen.
    pub owner: String,
    /// `claimed_at` as last seen.
    pub claimed_at: Option<OffsetDateTime>,
}

/// Why a row is not held by a claim (see [`AliasRow::holds`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotHeldReason {
    /// It is not claimed any more (released, quarantined or retired).
    Status(AliasStatus),
    /// It carries another claim's token, or none.
    Token,
    /// Its owner changed: re-issued by another tool.
    Owner { now: String },
    /// Its claim time changed: claimed anew.
    ClaimedAt { now: Option<OffsetDateTime> },
}

impl fmt::Display for NotHeldReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotHeldReason::Status(s) => write!(f, "it is {s} now"),
            NotHeldReason::Token => f.write_str("it carries another claim's token"),
            NotHeldReason::Owner { now } if now.is_empty() => {
                f.write_str("its owner was cleared (it was released by another tool)")
            }
            NotHeldReason::Owner { now } => write!(
                f,
                "it was handed to `{now}` by another tool (its owner changed)"
            ),
            NotHeldReason::ClaimedAt { now } => write!(
                f,
                "it was claimed anew (claim time now {})",
                now.and_then(|t| t.format(&Rfc3339).ok())
                    .unwrap_or_else(|| "(none)".to_owned())
            ),
        }
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

    #[test]
    fn claim_token_debug_is_redacted() {
        let t = ClaimToken::generate();
        assert!(!format!("{t:?}").contains(t.as_str()));
        assert_eq!(ClaimToken::new("  "), None);
    }
}
