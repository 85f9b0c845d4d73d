//! [`AliasPool`]: the operations on the pool — claim, release, update, link,
//! adopt, look up, list, stats and seeding — with the safety rules of the
//! design: every ownership change is an ETag-conditional Merge, only the
//! holder of a claim token may change a claimed row, and anything not free
//! keeps `in_use = true` so older tools never hand it out.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rand::seq::SliceRandom;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use super::address::{normalize_email, same_email};
use super::client::{into_store, Continuation, Entity, Fail, TableIo, Write};
use super::conditional::Written;
use super::config::{validate_key, StoreConfig};
use super::error::StoreError;
use super::odata::{and_all, eq_bool, eq_str, ge_str, le_datetime, lt_str, or_any};
use super::row::{
    col, put_time, status_value, AliasRow, AliasStatus, ClaimToken, SELECT_ALL_KNOWN,
};

/// Quarantine length when none is given: AWS keeps a closed account's root
/// address reserved for 90 days.
pub const DEFAULT_QUARANTINE_DAYS: u32 = 90;

/// How often a conditional write on one row is retried after HTTP 412 before
/// giving up with [`StoreError::Contended`].
pub(super) const MAX_WRITE_ATTEMPTS: u32 = 8;

/// Upper bound on candidate pages one claim walks through (each lost page
/// means other claimers won, so this is only a guard against a livelock).
const MAX_CLAIM_ROUNDS: u32 = 1000;

/// Longest accepted owner/purpose/mailbox/e-mail text (the table allows 64 KiB).
const MAX_TEXT: usize = 1024;

/// What to claim.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimRequest {
    /// Who asks for it; written to `user_mail`.
    pub owner: String,
    /// Free text about what it is for.
    pub purpose: String,
    /// Only take an alias of this shared mailbox (`root_mailbox`).
    pub mailbox: Option<String>,
    /// Idempotency key: a claim with a key that already holds an alias returns
    /// it (one extra query). It makes a retried claim safe; two claims with the
    /// same key running at the same moment are not merged into one.
    pub claim_key: Option<String>,
}

/// A successful claim.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedAlias {
    pub alias: AliasRow,
    /// Keep this: release, update and link need it.
    pub token: ClaimToken,
    /// True when an existing claim was returned (same `claim_key`, or adopting
    /// a row that already had a token) instead of a new one being made.
    pub existing: bool,
}

/// What happens to an alias on release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReleasePolicy {
    /// The safe default: free again if no AWS account ever used the alias,
    /// otherwise retired with the account recorded (AWS never gives a root
    /// address back, not even after the account is closed).
    #[default]
    RetireIfUsed,
    /// Free again at once (`in_use = false`, owner/account/purpose/token
    /// cleared), even if an account used it: the caller asserts the address is
    /// free in AWS again (that account's e-mail was changed).
    Release,
    /// Kept out of circulation for `days` (stays `in_use = true`), then only
    /// this provider hands it out again.
    Quarantine { days: u32 },
    /// Never handed out again.
    Retire,
}

impl ReleasePolicy {
    /// Quarantine for [`DEFAULT_QUARANTINE_DAYS`].
    pub fn quarantine() -> ReleasePolicy {
        ReleasePolicy::Quarantine {
            days: DEFAULT_QUARANTINE_DAYS,
        }
    }
}

/// The result of a release. Not holding the alias any more is an outcome,
/// not an error: releasing twice is fine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseOutcome {
    Released,
    Quarantined {
        reusable_after: OffsetDateTime,
    },
    Retired,
    /// The row no longer carries this token (already released, or taken over);
    /// nothing was changed.
    NotHeld {
        status: AliasStatus,
    },
    /// The row does not exist; nothing was changed.
    Missing,
}

/// Changes to a held alias; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AliasUpdate {
    pub owner: Option<String>,
    pub purpose: Option<String>,
}

/// Which alias a link/unlink targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkTarget {
    /// An alias held by this claim.
    Claim { alias_id: String, token: ClaimToken },
    /// Any claimed alias by address (for aliases claimed by older tools).
    Email(String),
    /// Exactly this version of a row, as read and shown: one write
    /// conditional on `etag`, refused with [`StoreError::Changed`] otherwise.
    Shown { alias_id: String, etag: String },
}

/// Filters for [`AliasPool::list`]; all set fields must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AliasFilter {
    pub owner: Option<String>,
    pub mailbox: Option<String>,
    pub status: Option<AliasStatus>,
}

/// Taking over an alias that is already in use (for `terraform import`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdoptRequest {
    pub email: String,
    /// New owner; `None` keeps `user_mail` as it is.
    pub owner: Option<String>,
    /// New purpose; `None` keeps it.
    pub purpose: Option<String>,
}

/// Counts per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounts {
    pub total: u64,
    pub free: u64,
    pub claimed: u64,
    pub quarantined: u64,
    pub retired: u64,
    /// Quarantined rows whose waiting time is over (claimable again).
    pub quarantine_over: u64,
    /// Free rows (counted in `free`) that a claim does not hand out: an AWS
    /// account used them, or AWS would refuse their address.
    pub unusable: u64,
}

impl StatusCounts {
    fn add(&mut self, row: &AliasRow, now: OffsetDateTime) {
        self.total += 1;
        match row.status {
            AliasStatus::Free => {
                self.free += 1;
                if row.handout_refusal().is_some() {
                    self.unusable += 1;
                }
            }
            AliasStatus::Claimed => self.claimed += 1,
            AliasStatus::Quarantined => {
                self.quarantined += 1;
                if row.quarantine_over(now) {
                    self.quarantine_over += 1;
                }
            }
            AliasStatus::Retired => self.retired += 1,
        }
    }
}

/// Pool statistics, overall and per shared mailbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub all: StatusCounts,
    pub by_mailbox: BTreeMap<String, StatusCounts>,
}

/// A row in exactly the legacy setup script's layout (only its columns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyRow {
    /// RowKey and `id` (a GUID).
    pub id: String,
    pub aws_mail: String,
    pub in_use: bool,
    pub user_mail: String,
    pub root_mailbox: String,
    pub aws_account_id: String,
}

impl LegacyRow {
    /// A free alias `aws_<guid>@domain` for `mailbox`, as the setup script makes them.
    pub fn free(mailbox: &str, domain: &str) -> LegacyRow {
        let id = uuid::Uuid::new_v4().to_string();
        LegacyRow {
            aws_mail: format!("aws_{id}@{domain}"),
            id,
            in_use: false,
            user_mail: String::new(),
            root_mailbox: mailbox.to_owned(),
            aws_account_id: String::new(),
        }
    }
}

/// The alias pool in one Azure table partition. Cheap to clone; clones share
/// the HTTP client, the request counter and the cancellation token.
#[derive(Debug, Clone)]
pub struct AliasPool {
    pub(super) io: Arc<TableIo>,
    pub(super) page_size: u32,
    pub(super) conflicts: Arc<AtomicU64>,
}

impl AliasPool {
    /// Builds the client. No request is sent until the first operation.
    pub fn connect(config: &StoreConfig) -> Result<AliasPool, StoreError> {
        AliasPool::connect_with_cancellation(config, CancellationToken::new())
    }

    /// Like [`AliasPool::connect`]; cancelling `cancel` makes every in-flight
    /// and later operation stop with [`StoreError::Cancelled`].
    pub fn connect_with_cancellation(
        config: &StoreConfig,
        cancel: CancellationToken,
    ) -> Result<AliasPool, StoreError> {
        Ok(AliasPool {
            io: Arc::new(TableIo::new(config, cancel)?),
            page_size: config.claim_page_size.clamp(1, 1000),
            conflicts: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The token that cancels this pool's operations (e.g. on StopProvider).
    pub fn cancellation(&self) -> CancellationToken {
        self.io.cancel.clone()
    }

    /// HTTP requests sent so far by this pool and its clones (every retry counts).
    pub fn request_count(&self) -> u64 {
        self.io.request_count()
    }

    /// Conditional writes that lost a race (HTTP 412) so far.
    pub fn conflict_count(&self) -> u64 {
        self.conflicts.load(Ordering::Relaxed)
    }

    pub fn table_name(&self) -> &str {
        &self.io.table_name
    }

    pub fn partition_key(&self) -> &str {
        &self.io.partition_key
    }

    /// Creates the table if missing; `true` when it was created.
    pub async fn ensure_table(&self) -> Result<bool, StoreError> {
        self.io.create_table().await
    }

    // ----- claim ---------------------------------------------------------

    /// Claims one free alias (or one whose quarantine is over), ETag-conditionally.
    ///
    /// Candidates come a page at a time (`$filter`/`$top`/`$select`) and are
    /// tried in random order so concurrent claimers rarely pick the same row;
    /// a lost race (412) moves on to the next candidate, and a used-up page is
    /// fetched again. Truly free rows are preferred over expired quarantines.
    pub async fn claim(&self, request: &ClaimRequest) -> Result<ClaimedAlias, StoreError> {
        check_text("owner", &request.owner)?;
        check_text("purpose", &request.purpose)?;
        if let Some(m) = &request.mailbox {
            check_text("mailbox", m)?;
        }
        if let Some(key) = &request.claim_key {
            check_text("claim_key", key)?;
            if key.is_empty() {
                return Err(StoreError::InvalidInput {
                    field: "claim_key",
                    reason: "must not be empty".to_owned(),
                });
            }
            if let Some(existing) = self.find_claim_by_key(key).await? {
                return Ok(existing);
            }
        }
        let token = ClaimToken::generate();
        let now = OffsetDateTime::now_utc();
        // Mailboxes are e-mail addresses, compared without regard to case, and
        // `$filter` cannot fold case: ask for the given and the lower-case
        // spelling first, and only when that finds nothing, for any mailbox,
        // matched in `claim_from`.
        let mailbox_passes = match &request.mailbox {
            None => vec![None],
            Some(m) => {
                let mut spellings = vec![eq_str(col::ROOT_MAILBOX, m)];
                let lower = normalize_email(m);
                if lower != *m {
                    spellings.push(eq_str(col::ROOT_MAILBOX, &lower));
                }
                vec![Some(or_any(spellings)), None]
            }
        };
        for mailbox_clause in mailbox_passes {
            if let Some(claimed) = self
                .claim_pass(mailbox_clause, request, &token, now)
                .await?
            {
                return Ok(claimed);
            }
        }
        Err(StoreError::PoolExhausted {
            table: self.io.table_name.clone(),
            mailbox: request.mailbox.clone(),
        })
    }

    /// One walk over free rows, then over expired quarantines.
    async fn claim_pass(
        &self,
        mailbox_clause: Option<String>,
        request: &ClaimRequest,
        token: &ClaimToken,
        now: OffsetDateTime,
    ) -> Result<Option<ClaimedAlias>, StoreError> {
        let mut base = vec![eq_str(col::PARTITION_KEY, &self.io.partition_key)];
        base.extend(mailbox_clause);
        let free = {
            let mut c = base.clone();
            c.push(eq_bool(col::IN_USE, false));
            c
        };
        let quarantine_over = {
            let mut c = base;
            c.push(eq_str(col::STATUS, status_value::QUARANTINED));
            c.push(le_datetime(col::REUSABLE_AFTER, now));
            c
        };
        // Each claimer starts reading at a random point of the (GUID) key space
        // and wraps around, so concurrent claimers look at different rows
        // instead of all fighting over the first page.
        let start = uuid::Uuid::new_v4().to_string();
        for (clauses, wanted) in [
            (free, AliasStatus::Free),
            (quarantine_over, AliasStatus::Quarantined),
        ] {
            for segment in [ge_str(col::ROW_KEY, &start), lt_str(col::ROW_KEY, &start)] {
                let mut c = clauses.clone();
                c.push(segment);
                if let Some(claimed) = self
                    .claim_from(&and_all(c), wanted, request, token, now)
                    .await?
                {
                    return Ok(Some(claimed));
                }
            }
        }
        Ok(None)
    }

    /// Walks the candidates of one filter until a claim succeeds or none are left.
    async fn claim_from(
        &self,
        filter: &str,
        wanted: AliasStatus,
        request: &ClaimRequest,
        token: &ClaimToken,
        now: OffsetDateTime,
    ) -> Result<Option<ClaimedAlias>, StoreError> {
        let mut from: Option<Continuation> = None;
        for _ in 0..MAX_CLAIM_ROUNDS {
            let (page, next) = self
                .io
                .query_page(
                    filter,
                    Some(SELECT_ALL_KNOWN),
                    Some(self.page_size),
                    from.as_ref(),
                )
                .await?;
            let mut candidates: Vec<AliasRow> = page
                .iter()
                .filter_map(|e| AliasRow::from_entity(e, None).ok())
                .filter(|r| {
                    request
                        .mailbox
                        .as_deref()
                        .is_none_or(|m| same_email(m, &r.root_mailbox))
                })
                // An address AWS refuses, or one an account already used,
                // would make CreateAccount fail later: never hand it out.
                .filter(|r| match r.handout_refusal() {
                    None => true,
                    Some(why) => {
                        tracing::warn!(alias_id = %r.id, "claim skipped an alias: {why}");
                        false
                    }
                })
                .filter(|r| match wanted {
                    AliasStatus::Free => r.status == AliasStatus::Free,
                    _ => r.quarantine_over(now),
                })
                .collect();
            if candidates.is_empty() {
                // Nothing usable here; the service may still have more pages.
                match next {
                    Some(n) => {
                        from = Some(n);
                        continue;
                    }
                    None => return Ok(None),
                }
            }
            candidates.shuffle(&mut rand::rng());
            for candidate in &candidates {
                if let Some(claimed) = self.claim_row(candidate, request, token).await? {
                    return Ok(Some(claimed));
                }
            }
            // Every candidate was taken by someone else: ask again from the same
            // place; those rows are no longer free, so the pool has moved on.
        }
        Err(StoreError::Contended {
            alias_id: "(any free alias)".to_owned(),
            attempts: MAX_CLAIM_ROUNDS,
        })
    }

    /// Claims exactly this row if it has not changed since it was read (its
    /// ETag still matches) and is claimable; `Ok(None)` when another writer
    /// got there first.
    pub async fn try_claim_alias(
        &self,
        row: &AliasRow,
        request: &ClaimRequest,
    ) -> Result<Option<ClaimedAlias>, StoreError> {
        check_text("owner", &request.owner)?;
        check_text("purpose", &request.purpose)?;
        let claimable =
            row.status == AliasStatus::Free || row.quarantine_over(OffsetDateTime::now_utc());
        if !claimable {
            return Err(StoreError::WrongStatus {
                alias_id: row.id.clone(),
                status: row.status,
                reason: "only free aliases (or ones whose quarantine is over) can be claimed",
            });
        }
        self.claim_row(row, request, &ClaimToken::generate()).await
    }

    pub(super) async fn claim_row(
        &self,
        row: &AliasRow,
        request: &ClaimRequest,
        token: &ClaimToken,
    ) -> Result<Option<ClaimedAlias>, StoreError> {
        let (body, claimed_at) = claim_body(row, request, token, OffsetDateTime::now_utc());
        let written = self
            .write_row(row, &body, Write::Merge, "claim alias", |now| {
                now.held_by(token)
            })
            .await?;
        Ok(match written {
            Written::Applied(etag) => {
                let claimed = claimed_alias(row, request, token, claimed_at, etag);
                tracing::debug!(alias_id = %claimed.alias.id, "claimed alias");
                Some(claimed)
            }
            // A timed-out or cancelled attempt was ours: the caller gets it.
            Written::Landed(current) => Some(ClaimedAlias {
                alias: *current,
                token: token.clone(),
                existing: false,
            }),
            Written::Changed | Written::Missing => None,
        })
    }

    async fn find_claim_by_key(&self, key: &str) -> Result<Option<ClaimedAlias>, StoreError> {
        let filter = and_all([
            eq_str(col::PARTITION_KEY, &self.io.partition_key),
            eq_str(col::CLAIM_KEY, key),
        ]);
        let rows = self.io.query_all(&filter, Some(SELECT_ALL_KNOWN)).await?;
        let found = rows
            .iter()
            .filter_map(|e| AliasRow::from_entity(e, None).ok())
            .filter(|r| r.status == AliasStatus::Claimed && r.claim_key.as_deref() == Some(key))
            .find_map(|r| {
                r.claim_token.clone().map(|token| ClaimedAlias {
                    alias: r,
                    token,
                    existing: true,
                })
            });
        Ok(found)
    }

    // ----- reads ---------------------------------------------------------

    /// Point read by id (one round trip); `None` when absent.
    pub async fn get(&self, alias_id: &str) -> Result<Option<AliasRow>, StoreError> {
        validate_key("alias id", alias_id)?;
        match self.io.get(alias_id).await? {
            None => Ok(None),
            Some((entity, etag)) => AliasRow::from_entity(&entity, Some(&etag))
                .map(Some)
                .map_err(|m| protocol("read alias", m)),
        }
    }

    /// The row exactly as stored (all columns, including ones other tools
    /// wrote), without OData metadata; `None` when absent.
    pub async fn get_raw(&self, alias_id: &str) -> Result<Option<Map<String, Value>>, StoreError> {
        validate_key("alias id", alias_id)?;
        Ok(self.io.get(alias_id).await?.map(|(mut entity, _)| {
            entity.retain(|k, _| !k.starts_with("odata.") && !k.ends_with("@odata.type"));
            entity
        }))
    }

    /// The alias with this address, compared without regard to case as AWS
    /// does. `$filter` cannot fold case, so the address is asked for as given
    /// and in lower case (how imports store it); only when both miss are the
    /// addresses of the partition read to find an older mixed-case row.
    pub async fn find_by_email(&self, email: &str) -> Result<Option<AliasRow>, StoreError> {
        check_text("email", email)?;
        let email = email.trim();
        let lower = normalize_email(email);
        let mut wanted = vec![eq_str(col::AWS_MAIL, email)];
        if lower != email {
            wanted.push(eq_str(col::AWS_MAIL, &lower));
        }
        let mut rows = self
            .query_rows(and_all([
                eq_str(col::PARTITION_KEY, &self.io.partition_key),
                or_any(wanted),
            ]))
            .await?;
        if rows.is_empty() {
            rows = self.find_by_email_scan(email).await?;
        }
        match rows.len() {
            0 => Ok(None),
            1 => Ok(rows.into_iter().next()),
            count => Err(StoreError::DuplicateEmail {
                table: self.io.table_name.clone(),
                email: email.to_owned(),
                count,
            }),
        }
    }

    /// Every row whose address equals `email` in any case, by reading only
    /// the row keys and addresses of the partition.
    async fn find_by_email_scan(&self, email: &str) -> Result<Vec<AliasRow>, StoreError> {
        let keys = self
            .io
            .query_all(
                &eq_str(col::PARTITION_KEY, &self.io.partition_key),
                Some("PartitionKey,RowKey,aws_mail"),
            )
            .await?;
        let mut rows = Vec::new();
        for e in &keys {
            let address = e.get(col::AWS_MAIL).and_then(Value::as_str).unwrap_or("");
            let key = e.get(col::ROW_KEY).and_then(Value::as_str).unwrap_or("");
            if same_email(address, email) && !key.is_empty() {
                if let Some(row) = self.get(key).await? {
                    rows.push(row);
                }
            }
        }
        Ok(rows)
    }

    /// Aliases linked to this AWS account (normally at most one).
    pub async fn find_by_account_id(
        &self,
        aws_account_id: &str,
    ) -> Result<Vec<AliasRow>, StoreError> {
        check_text("aws_account_id", aws_account_id)?;
        self.query_rows(and_all([
            eq_str(col::PARTITION_KEY, &self.io.partition_key),
            eq_str(col::AWS_ACCOUNT_ID, aws_account_id),
        ]))
        .await
    }

    /// All aliases matching the filter (follows continuation pages).
    pub async fn list(&self, filter: &AliasFilter) -> Result<Vec<AliasRow>, StoreError> {
        // Owner and mailbox are e-mail addresses, compared without regard to
        // case; `$filter` cannot fold case, so they are matched here.
        let mut clauses = vec![eq_str(col::PARTITION_KEY, &self.io.partition_key)];
        if let Some(o) = &filter.owner {
            check_text("owner", o)?;
        }
        if let Some(m) = &filter.mailbox {
            check_text("mailbox", m)?;
        }
        match filter.status {
            Some(AliasStatus::Free) => clauses.push(eq_bool(col::IN_USE, false)),
            Some(AliasStatus::Quarantined) => {
                clauses.push(eq_str(col::STATUS, status_value::QUARANTINED))
            }
            Some(AliasStatus::Retired) => clauses.push(eq_str(col::STATUS, status_value::RETIRED)),
            Some(AliasStatus::Claimed) => clauses.push(eq_bool(col::IN_USE, true)),
            None => {}
        }
        let rows = self.query_rows(and_all(clauses)).await?;
        let matches = |wanted: &Option<String>, value: &str| {
            wanted.as_deref().is_none_or(|w| same_email(w, value))
        };
        Ok(rows
            .into_iter()
            .filter(|r| filter.status.is_none_or(|s| r.status == s))
            .filter(|r| matches(&filter.owner, &r.owner))
            .filter(|r| matches(&filter.mailbox, &r.root_mailbox))
            .collect())
    }

    /// Counts per status, overall and per shared mailbox.
    pub async fn stats(&self, mailbox: Option<&str>) -> Result<PoolStats, StoreError> {
        // The mailbox is matched here, without regard to case.
        let clauses = vec![eq_str(col::PARTITION_KEY, &self.io.partition_key)];
        if let Some(m) = mailbox {
            check_text("mailbox", m)?;
        }
        let entities = self
            .io
            .query_all(
                &and_all(clauses),
                Some(
                    "PartitionKey,RowKey,root_mailbox,in_use,status,reusable_after,aws_mail,\
                     aws_account_id,used_by_account",
                ),
            )
            .await?;
        let now = OffsetDateTime::now_utc();
        let mut stats = PoolStats::default();
        for e in &entities {
            let row = AliasRow::from_entity(e, Some("")).map_err(|m| protocol("stats", m))?;
            if mailbox.is_some_and(|m| !same_email(m, &row.root_mailbox)) {
                continue;
            }
            stats.all.add(&row, now);
            stats
                .by_mailbox
                .entry(row.root_mailbox.clone())
                .or_default()
                .add(&row, now);
        }
        Ok(stats)
    }

    async fn query_rows(&self, filter: String) -> Result<Vec<AliasRow>, StoreError> {
        self.io
            .query_all(&filter, Some(SELECT_ALL_KNOWN))
            .await?
            .iter()
            .map(|e| AliasRow::from_entity(e, None).map_err(|m| protocol("query aliases", m)))
            .collect()
    }

    // ----- changes to a held alias -----------------------------------------

    /// Gives the alias back, if this token still holds it.
    pub async fn release(
        &self,
        alias_id: &str,
        token: &ClaimToken,
        policy: ReleasePolicy,
    ) -> Result<ReleaseOutcome, StoreError> {
        validate_key("alias id", alias_id)?;
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let Some((entity, etag)) = self.io.get(alias_id).await? else {
                return Ok(ReleaseOutcome::Missing);
            };
            let row = AliasRow::from_entity(&entity, Some(&etag))
                .map_err(|m| protocol("release alias", m))?;
            if !row.held_by(token) {
                return Ok(ReleaseOutcome::NotHeld { status: row.status });
            }
            // Decided on the row as read: the write below is conditional on
            // this very version, so a link made meanwhile forces a new look.
            let policy = resolve(policy, &row);
            let now = OffsetDateTime::now_utc();
            let mut body = Map::new();
            body.insert(col::CLAIM_TOKEN.into(), "".into());
            body.insert(col::CLAIM_KEY.into(), "".into());
            let mut reusable_after = None;
            match policy {
                // Written as a whole-row replace below, not as this merge body.
                ReleasePolicy::Release => {}
                ReleasePolicy::Quarantine { days } => {
                    let until = now + time::Duration::days(i64::from(days));
                    body.insert(col::IN_USE.into(), Value::Bool(true));
                    body.insert(col::STATUS.into(), status_value::QUARANTINED.into());
                    // Asked for explicitly: the alias comes back after the wait.
                    body.insert(col::USED_BY_ACCOUNT.into(), "".into());
                    reusable_after = Some(put_time(&mut body, col::REUSABLE_AFTER, until));
                }
                ReleasePolicy::Retire | ReleasePolicy::RetireIfUsed => {
                    body.insert(col::IN_USE.into(), Value::Bool(true));
                    body.insert(col::STATUS.into(), status_value::RETIRED.into());
                    let reason = match row.used_by_account() {
                        Some(account) => {
                            body.insert(col::USED_BY_ACCOUNT.into(), account.into());
                            format!("used by AWS account {account}; AWS never frees a root address")
                        }
                        None => "retired on request".to_owned(),
                    };
                    body.insert(col::RETIRED_REASON.into(), reason.into());
                }
            }
            // A plain release puts the row back exactly in the legacy
            // layout: the columns this store added go away, the rest stay.
            let (body, write) = match policy {
                ReleasePolicy::Release => (released_entity(&entity), Write::Replace),
                _ => (body, Write::Merge),
            };
            let intended = intended_status(policy);
            let written = self
                .write_row(&row, &body, write, "release alias", |now| {
                    !now.held_by(token) && now.status == intended
                })
                .await?;
            match written {
                Written::Applied(_) => {
                    tracing::debug!(alias_id, ?policy, "released alias");
                    return Ok(outcome_for(policy, reusable_after));
                }
                // Our earlier, timed-out write did land.
                Written::Landed(now) => return Ok(outcome_for(policy, now.reusable_after)),
                Written::Changed => {}
                Written::Missing => return Ok(ReleaseOutcome::Missing),
            }
        }
        Err(StoreError::Contended {
            alias_id: alias_id.to_owned(),
            attempts: MAX_WRITE_ATTEMPTS,
        })
    }

    /// Changes owner and/or purpose of an alias this token holds.
    pub async fn update(
        &self,
        alias_id: &str,
        token: &ClaimToken,
        changes: &AliasUpdate,
    ) -> Result<AliasRow, StoreError> {
        if let Some(o) = &changes.owner {
            check_text("owner", o)?;
        }
        if let Some(p) = &changes.purpose {
            check_text("purpose", p)?;
        }
        let changes = changes.clone();
        self.modify_held(alias_id, token, "update alias", move |row| {
            let mut body = Map::new();
            if let Some(o) = &changes.owner {
                if *o != row.owner {
                    body.insert(col::USER_MAIL.into(), o.clone().into());
                }
            }
            if let Some(p) = &changes.purpose {
                if *p != row.purpose {
                    body.insert(col::PURPOSE.into(), p.clone().into());
                }
            }
            Ok(body)
        })
        .await
    }

    /// Takes over an alias by address (for `terraform import`). A row that
    /// already has a claim token is returned with it unchanged; an old row
    /// without one (claimed by an older tool) or a free row gets a fresh token,
    /// conditionally on its ETag. Quarantined and retired aliases are refused.
    pub async fn adopt(&self, request: &AdoptRequest) -> Result<ClaimedAlias, StoreError> {
        check_text("email", &request.email)?;
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let row = self.find_by_email(&request.email).await?.ok_or_else(|| {
                StoreError::EmailNotFound {
                    table: self.io.table_name.clone(),
                    email: request.email.clone(),
                }
            })?;
            match row.status {
                AliasStatus::Quarantined | AliasStatus::Retired => {
                    return Err(StoreError::WrongStatus {
                        alias_id: row.id.clone(),
                        status: row.status,
                        reason: "quarantined and retired aliases cannot be imported",
                    })
                }
                AliasStatus::Claimed => {
                    if let Some(token) = row.claim_token.clone() {
                        return Ok(ClaimedAlias {
                            alias: row,
                            token,
                            existing: true,
                        });
                    }
                }
                AliasStatus::Free => {}
            }
            let token = ClaimToken::generate();
            let now = OffsetDateTime::now_utc();
            let mut body = Map::new();
            body.insert(col::IN_USE.into(), Value::Bool(true));
            body.insert(col::CLAIM_TOKEN.into(), token.as_str().into());
            body.insert(col::STATUS.into(), status_value::CLAIMED.into());
            let claimed_at = put_time(&mut body, col::CLAIMED_AT, now);
            if let Some(o) = &request.owner {
                check_text("owner", o)?;
                body.insert(col::USER_MAIL.into(), o.clone().into());
            }
            if let Some(p) = &request.purpose {
                check_text("purpose", p)?;
                body.insert(col::PURPOSE.into(), p.clone().into());
            }
            let written = self
                .write_row(&row, &body, Write::Merge, "adopt alias", |now| {
                    now.held_by(&token)
                })
                .await?;
            match written {
                Written::Applied(etag) => {
                    let mut alias = row;
                    alias.in_use = true;
                    alias.claim_token = Some(token.clone());
                    alias.status = AliasStatus::Claimed;
                    alias.claimed_at = Some(claimed_at);
                    if let Some(o) = &request.owner {
                        alias.owner = o.clone();
                    }
                    if let Some(p) = &request.purpose {
                        alias.purpose = p.clone();
                    }
                    alias.etag = etag;
                    return Ok(ClaimedAlias {
                        alias,
                        token,
                        existing: false,
                    });
                }
                Written::Landed(current) => {
                    return Ok(ClaimedAlias {
                        alias: *current,
                        token,
                        existing: false,
                    })
                }
                Written::Changed | Written::Missing => continue,
            }
        }
        Err(StoreError::Contended {
            alias_id: request.email.clone(),
            attempts: MAX_WRITE_ATTEMPTS,
        })
    }

    pub(super) async fn modify_target<F>(
        &self,
        target: &LinkTarget,
        operation: &'static str,
        change: F,
    ) -> Result<AliasRow, StoreError>
    where
        F: Fn(&AliasRow) -> Result<Map<String, Value>, StoreError>,
    {
        match target {
            LinkTarget::Claim { alias_id, token } => {
                self.modify_held(alias_id, token, operation, change).await
            }
            LinkTarget::Shown { alias_id, etag } => {
                let row = self
                    .get(alias_id)
                    .await?
                    .filter(|r| r.etag() == etag)
                    .ok_or_else(|| StoreError::Changed {
                        alias_id: alias_id.clone(),
                    })?;
                self.write_change(row, &change, operation)
                    .await?
                    .ok_or_else(|| StoreError::Changed {
                        alias_id: alias_id.clone(),
                    })
            }
            LinkTarget::Email(email) => {
                check_text("email", email)?;
                for _ in 0..MAX_WRITE_ATTEMPTS {
                    let row = self.find_by_email(email).await?.ok_or_else(|| {
                        StoreError::EmailNotFound {
                            table: self.io.table_name.clone(),
                            email: email.clone(),
                        }
                    })?;
                    if row.status != AliasStatus::Claimed {
                        return Err(StoreError::WrongStatus {
                            alias_id: row.id.clone(),
                            status: row.status,
                            reason: "only claimed aliases can be linked or unlinked",
                        });
                    }
                    if let Some(done) = self.write_change(row, &change, operation).await? {
                        return Ok(done);
                    }
                }
                Err(StoreError::Contended {
                    alias_id: email.clone(),
                    attempts: MAX_WRITE_ATTEMPTS,
                })
            }
        }
    }

    /// Read, check the token, write conditionally; re-read and retry on 412.
    async fn modify_held<F>(
        &self,
        alias_id: &str,
        token: &ClaimToken,
        operation: &'static str,
        change: F,
    ) -> Result<AliasRow, StoreError>
    where
        F: Fn(&AliasRow) -> Result<Map<String, Value>, StoreError>,
    {
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let row = self
                .get(alias_id)
                .await?
                .ok_or_else(|| StoreError::AliasNotFound {
                    table: self.io.table_name.clone(),
                    alias_id: alias_id.to_owned(),
                })?;
            if !row.held_by(token) || row.status != AliasStatus::Claimed {
                return Err(StoreError::NotHeld {
                    alias_id: alias_id.to_owned(),
                    status: row.status,
                });
            }
            if let Some(done) = self.write_change(row, &change, operation).await? {
                return Ok(done);
            }
        }
        Err(StoreError::Contended {
            alias_id: alias_id.to_owned(),
            attempts: MAX_WRITE_ATTEMPTS,
        })
    }

    /// Applies `change` to `row` with If-Match. `Ok(None)` means the row changed
    /// meanwhile (412) and the caller should read it again.
    pub(super) async fn write_change<F>(
        &self,
        row: AliasRow,
        change: &F,
        operation: &'static str,
    ) -> Result<Option<AliasRow>, StoreError>
    where
        F: Fn(&AliasRow) -> Result<Map<String, Value>, StoreError>,
    {
        let body = change(&row)?;
        if body.is_empty() {
            return Ok(Some(row));
        }
        let written = self
            .write_row(&row, &body, Write::Merge, operation, |now| {
                body_applied(now, &body)
            })
            .await?;
        match written {
            Written::Applied(etag) => {
                let mut updated = row;
                apply_body(&mut updated, &body);
                updated.etag = etag;
                Ok(Some(updated))
            }
            Written::Landed(now) => Ok(Some(*now)),
            // Re-reading decides: the change is recomputed from fresh data,
            // so an already-applied change becomes a no-op.
            Written::Changed => Ok(None),
            Written::Missing => Err(StoreError::AliasNotFound {
                table: self.io.table_name.clone(),
                alias_id: row.id,
            }),
        }
    }

    // ----- seeding -------------------------------------------------------

    /// Writes rows exactly as the legacy setup script does: only the eight
    /// legacy columns, in entity-group transactions of at most 100 rows.
    /// Returns how many rows were written.
    pub async fn insert_legacy_rows(&self, rows: &[LegacyRow]) -> Result<usize, StoreError> {
        let mut entities = Vec::with_capacity(rows.len());
        for r in rows {
            validate_key("alias id", &r.id)?;
            entities.push(self.legacy_entity(r));
        }
        for chunk in entities.chunks(100) {
            self.io.insert_batch(chunk).await?;
        }
        Ok(entities.len())
    }

    /// Inserts one legacy row on its own (no transaction); fails if the id exists.
    pub async fn insert_legacy_row(&self, row: &LegacyRow) -> Result<(), StoreError> {
        validate_key("alias id", &row.id)?;
        match self.io.insert(&self.legacy_entity(row)).await {
            Ok(_) => Ok(()),
            Err(Fail::Conflict) => Err(StoreError::InvalidInput {
                field: "alias id",
                reason: format!("`{}` already exists", row.id),
            }),
            Err(other) => Err(into_store(other, "insert alias")),
        }
    }

    /// Adds `count` free aliases `aws_<guid>@domain` for `mailbox`.
    pub async fn seed(
        &self,
        mailbox: &str,
        domain: &str,
        count: usize,
    ) -> Result<Vec<LegacyRow>, StoreError> {
        check_text("mailbox", mailbox)?;
        check_text("domain", domain)?;
        let rows: Vec<LegacyRow> = (0..count)
            .map(|_| LegacyRow::free(mailbox, domain))
            .collect();
        self.insert_legacy_rows(&rows).await?;
        Ok(rows)
    }

    fn legacy_entity(&self, r: &LegacyRow) -> Entity {
        let mut e = Map::new();
        e.insert(
            col::PARTITION_KEY.into(),
            self.io.partition_key.clone().into(),
        );
        e.insert(col::ROW_KEY.into(), r.id.clone().into());
        e.insert(col::ID.into(), r.id.clone().into());
        e.insert(col::AWS_MAIL.into(), r.aws_mail.clone().into());
        e.insert(col::IN_USE.into(), Value::Bool(r.in_use));
        e.insert(col::USER_MAIL.into(), r.user_mail.clone().into());
        e.insert(col::ROOT_MAILBOX.into(), r.root_mailbox.clone().into());
        e.insert(col::AWS_ACCOUNT_ID.into(), r.aws_account_id.clone().into());
        e
    }
}

/// The columns this store adds to legacy rows; a released row loses them.
const ADDED_COLUMNS: [&str; 8] = [
    col::CLAIM_TOKEN,
    col::CLAIM_KEY,
    col::CLAIMED_AT,
    col::PURPOSE,
    col::STATUS,
    col::REUSABLE_AFTER,
    col::USED_BY_ACCOUNT,
    col::RETIRED_REASON,
];

/// The body that replaces a released row: every column as read (including
/// other tools' columns and their type annotations) except the service's
/// metadata and the columns this store added, with the legacy columns set free.
fn released_entity(entity: &Entity) -> Entity {
    let added = |name: &str| {
        let base = name.strip_suffix("@odata.type").unwrap_or(name);
        ADDED_COLUMNS.contains(&base) || base == "Timestamp"
    };
    let mut body: Entity = entity
        .iter()
        .filter(|(k, _)| !k.starts_with("odata.") && !added(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    body.insert(col::IN_USE.into(), Value::Bool(false));
    body.insert(col::USER_MAIL.into(), "".into());
    body.insert(col::AWS_ACCOUNT_ID.into(), "".into());
    for typed in [col::IN_USE, col::USER_MAIL, col::AWS_ACCOUNT_ID] {
        body.remove(&format!("{typed}@odata.type"));
    }
    body
}

/// The Merge body that claims `row` for `request` with `token`, and the
/// claim time as stored. Shared by single claims and batched ones.
pub(super) fn claim_body(
    row: &AliasRow,
    request: &ClaimRequest,
    token: &ClaimToken,
    now: OffsetDateTime,
) -> (Map<String, Value>, OffsetDateTime) {
    let mut body = Map::new();
    body.insert(col::IN_USE.into(), Value::Bool(true));
    body.insert(col::USER_MAIL.into(), request.owner.clone().into());
    body.insert(col::PURPOSE.into(), request.purpose.clone().into());
    body.insert(col::CLAIM_TOKEN.into(), token.as_str().into());
    body.insert(
        col::CLAIM_KEY.into(),
        request.claim_key.clone().unwrap_or_default().into(),
    );
    body.insert(col::STATUS.into(), status_value::CLAIMED.into());
    let claimed_at = put_time(&mut body, col::CLAIMED_AT, now);
    if row.status == AliasStatus::Quarantined {
        // The old account is long gone; the alias starts unlinked.
        body.insert(col::AWS_ACCOUNT_ID.into(), "".into());
    }
    (body, claimed_at)
}

/// `row` as it is after [`claim_body`] was merged into it with new ETag `etag`.
pub(super) fn claimed_alias(
    row: &AliasRow,
    request: &ClaimRequest,
    token: &ClaimToken,
    claimed_at: OffsetDateTime,
    etag: String,
) -> ClaimedAlias {
    let mut alias = row.clone();
    alias.in_use = true;
    alias.owner = request.owner.clone();
    alias.purpose = request.purpose.clone();
    alias.claim_token = Some(token.clone());
    alias.claim_key = request.claim_key.clone();
    alias.claimed_at = Some(claimed_at);
    if row.status == AliasStatus::Quarantined {
        alias.aws_account_id.clear();
    }
    alias.status = AliasStatus::Claimed;
    alias.etag = etag;
    ClaimedAlias {
        alias,
        token: token.clone(),
        existing: false,
    }
}

/// The policy a release really applies to `row`: the default picks by use.
fn resolve(policy: ReleasePolicy, row: &AliasRow) -> ReleasePolicy {
    match policy {
        ReleasePolicy::RetireIfUsed if row.used_by_account().is_none() => ReleasePolicy::Release,
        ReleasePolicy::RetireIfUsed => ReleasePolicy::Retire,
        other => other,
    }
}

/// The status a row has after a release with `policy` (already resolved) landed.
fn intended_status(policy: ReleasePolicy) -> AliasStatus {
    match policy {
        ReleasePolicy::Release => AliasStatus::Free,
        ReleasePolicy::Quarantine { .. } => AliasStatus::Quarantined,
        ReleasePolicy::Retire | ReleasePolicy::RetireIfUsed => AliasStatus::Retired,
    }
}

fn outcome_for(policy: ReleasePolicy, reusable_after: Option<OffsetDateTime>) -> ReleaseOutcome {
    match policy {
        ReleasePolicy::Release => ReleaseOutcome::Released,
        ReleasePolicy::Quarantine { .. } => ReleaseOutcome::Quarantined {
            reusable_after: reusable_after.unwrap_or_else(OffsetDateTime::now_utc),
        },
        ReleasePolicy::Retire | ReleasePolicy::RetireIfUsed => ReleaseOutcome::Retired,
    }
}

/// True when every (string) column of a link/update body already has its
/// value in `row`.
fn body_applied(row: &AliasRow, body: &Map<String, Value>) -> bool {
    body.iter().all(|(k, v)| {
        let want = v.as_str().unwrap_or_default();
        match k.as_str() {
            col::USER_MAIL => row.owner == want,
            col::PURPOSE => row.purpose == want,
            col::AWS_ACCOUNT_ID => row.aws_account_id == want,
            _ => false,
        }
    })
}

/// Mirrors a merge body onto the in-memory row (string columns only are merged
/// by link/update).
fn apply_body(row: &mut AliasRow, body: &Map<String, Value>) {
    for (k, v) in body {
        let text = v.as_str().unwrap_or_default().to_owned();
        match k.as_str() {
            col::USER_MAIL => row.owner = text,
            col::PURPOSE => row.purpose = text,
            col::AWS_ACCOUNT_ID => row.aws_account_id = text,
            col::USED_BY_ACCOUNT => row.used_by = text,
            col::RETIRED_REASON => row.retired_reason = text,
            col::STATUS => {
                if let Some(status) = AliasStatus::parse(&text) {
                    row.status = status;
                }
            }
            col::IN_USE => row.in_use = v.as_bool().unwrap_or(row.in_use),
            _ => {}
        }
    }
}

pub(super) fn check_text(field: &'static str, value: &str) -> Result<(), StoreError> {
    if value.len() > MAX_TEXT {
        return Err(StoreError::InvalidInput {
            field,
            reason: format!("longer than {MAX_TEXT} bytes"),
        });
    }
    Ok(())
}

pub(super) fn check_account_id(id: &str) -> Result<(), StoreError> {
    if id.len() == 12 && id.chars().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err(StoreError::InvalidInput {
            field: "aws_account_id",
            reason: format!("`{id}` is not a 12-digit AWS account id"),
        })
    }
}

pub(super) fn protocol(operation: &'static str, message: String) -> StoreError {
    StoreError::Protocol { operation, message }
}
