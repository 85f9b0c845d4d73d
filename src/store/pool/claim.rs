//! Claiming: one free alias (or one whose quarantine is over) taken with an
//! ETag-conditional Merge, found a page of random candidates at a time.

use rand::seq::SliceRandom;
use time::OffsetDateTime;

use super::super::address::{normalize_email, same_email};
use super::super::change::RowChange;
use super::super::conditional::Merged;
use super::super::error::StoreError;
use super::super::row::{col, status_value, AliasRow, AliasStatus, ClaimToken, SELECT_ALL_KNOWN};
use super::{check_given, check_text, AliasPool};
use crate::azure::odata::{and_all, eq_bool, eq_str, ge_str, le_datetime, lt_str, or_any};
use crate::azure::table::Continuation;

/// Upper bound on candidate pages one claim walks through (each lost page
/// means other claimers won, so this is only a guard against a livelock).
const MAX_CLAIM_ROUNDS: u32 = 1000;

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

impl ClaimRequest {
    /// Refuses a request no claim path may send to the table: overlong
    /// text, or an empty claim key.
    pub fn check(&self) -> Result<(), StoreError> {
        check_text("owner", &self.owner)?;
        check_text("purpose", &self.purpose)?;
        check_given([("mailbox", &self.mailbox), ("claim_key", &self.claim_key)])?;
        if self.claim_key.as_deref() == Some("") {
            return Err(StoreError::InvalidInput {
                field: "claim_key",
                reason: "must not be empty".to_owned(),
            });
        }
        Ok(())
    }

    /// The change that claims `row` for this request with `token` at `now`.
    /// Shared by single claims and batched ones.
    pub(in crate::store) fn change(
        &self,
        row: &AliasRow,
        token: &ClaimToken,
        now: OffsetDateTime,
    ) -> RowChange {
        RowChange {
            // A quarantined row's old account is long gone; it starts unlinked.
            aws_account_id: (row.status == AliasStatus::Quarantined).then(String::new),
            owner: Some(self.owner.clone()),
            purpose: Some(self.purpose.clone()),
            claim_key: Some(self.claim_key.clone()),
            ..RowChange::claim(token, now)
        }
    }
}

impl ClaimedAlias {
    /// The claim a row already carries (found by claim key, or adopted).
    pub(in crate::store) fn existing(row: AliasRow) -> Option<ClaimedAlias> {
        let token = row.claim_token.clone()?;
        Some(ClaimedAlias {
            alias: row,
            token,
            existing: true,
        })
    }
}

impl AliasPool {
    /// Claims one free alias (or one whose quarantine is over), ETag-conditionally.
    ///
    /// Candidates come a page at a time (`$filter`/`$top`/`$select`) and are
    /// tried in random order so concurrent claimers rarely pick the same row;
    /// a lost race (412) moves on to the next candidate, and a used-up page is
    /// fetched again. Truly free rows are preferred over expired quarantines.
    pub async fn claim(&self, request: &ClaimRequest) -> Result<ClaimedAlias, StoreError> {
        request.check()?;
        if let Some(key) = &request.claim_key {
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
        request.check()?;
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

    pub(in crate::store) async fn claim_row(
        &self,
        row: &AliasRow,
        request: &ClaimRequest,
        token: &ClaimToken,
    ) -> Result<Option<ClaimedAlias>, StoreError> {
        let change = request.change(row, token, OffsetDateTime::now_utc());
        Ok(
            match self.merge_change(row, &change, "claim alias").await? {
                Merged::Row(alias) => {
                    tracing::debug!(alias_id = %alias.id, "claimed alias");
                    Some(ClaimedAlias {
                        alias: *alias,
                        token: token.clone(),
                        existing: false,
                    })
                }
                Merged::Changed | Merged::Missing => None,
            },
        )
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
            .find_map(ClaimedAlias::existing);
        Ok(found)
    }
}
