//! Claiming: one free alias (or one whose quarantine is over) taken with an
//! ETag-conditional Merge, found a page of random candidates at a time.

use rand::seq::SliceRandom;
use time::OffsetDateTime;

use super::super::address::{normalize_email, same_email};
use super::super::change::RowChange;
use super::super::conditional::Merged;
use super::super::error::StoreError;
use super::super::minting::AddressSource;
use super::super::row::{
    col, status_value, AliasRow, AliasStatus, Claim, ClaimToken, SELECT_ALL_KNOWN,
};
use super::keyed::check_key;
use super::partitions::PartitionState;
use super::{check_given, check_text, AliasPool};
use crate::azure::odata::{and_all, eq_bool, eq_str, ge_str, le_datetime, lt_str, or_any};
use crate::azure::table::Continuation;

/// Upper bound on candidate pages one claim walks through (each lost page
/// means other claimers won, so this is only a guard against a livelock).
const MAX_CLAIM_ROUNDS: u32 = 1000;

/// Whether a candidate row can be claimed at a moment (its status, or its
/// quarantine being over).
pub(super) type Claimable = fn(&AliasRow, OffsetDateTime) -> bool;

/// What to claim.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimRequest {
    /// Who asks for it; written to `user_mail`.
    pub owner: String,
    /// Free text about what it is for.
    pub purpose: String,
    /// Only take an alias of this shared mailbox (`root_mailbox`).
    pub mailbox: Option<String>,
    /// Idempotency key (see `keyed.rs`): a claim with a key resumes the
    /// claim an interrupted earlier attempt with that key left pending, and
    /// fails with [`StoreError::ClaimKeyTaken`] when the key names a claim
    /// that was handed over (someone holds it). Two queries more per claim.
    pub claim_key: Option<String>,
    /// Which addresses it may take (see `store::minting`); `None`: the
    /// pool's `address_source` setting.
    pub source: Option<AddressSource>,
}

/// A successful claim.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedAlias {
    pub alias: AliasRow,
    /// Keep this: release, update and link need it (see [`ClaimedAlias::claim`]).
    pub token: ClaimToken,
    /// True when a claim somebody else holds was returned (adopting a row
    /// that already had a token) instead of a new one being made.
    pub existing: bool,
    /// True when a claim key resumed an interrupted claim (with a new token).
    pub resumed: bool,
}

impl ClaimRequest {
    /// Refuses a request no claim path may send to the table: overlong
    /// text, or an empty claim key.
    pub fn check(&self) -> Result<(), StoreError> {
        check_text("owner", &self.owner)?;
        check_text("purpose", &self.purpose)?;
        check_given([("mailbox", &self.mailbox)])?;
        match &self.claim_key {
            Some(key) => check_key(key),
            None => Ok(()),
        }
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
            ..self.new_claim(token, now)
        }
    }

    /// The columns a claim for this request writes (also into a row minted
    /// for it).
    pub(in crate::store) fn new_claim(&self, token: &ClaimToken, now: OffsetDateTime) -> RowChange {
        RowChange {
            owner: Some(self.owner.clone()),
            purpose: Some(self.purpose.clone()),
            claim_key: Some(self.claim_key.clone()),
            // Keyed claims stay pending until handed over (see `keyed.rs`).
            claim_pending: self.claim_key.as_ref().map(|_| true),
            ..RowChange::claim(token, now)
        }
    }

    /// The address source this request claims with on `pool`.
    pub(in crate::store) fn source_on(&self, pool: &AliasPool) -> AddressSource {
        self.source.unwrap_or(pool.address_source)
    }
}

impl ClaimedAlias {
    /// A claim this caller made just now.
    pub(in crate::store) fn new(alias: AliasRow, token: ClaimToken) -> ClaimedAlias {
        ClaimedAlias {
            alias,
            token,
            existing: false,
            resumed: false,
        }
    }

    /// The claim a row already carries (adopting it).
    pub(in crate::store) fn existing(row: AliasRow) -> Option<ClaimedAlias> {
        let token = row.claim_token.clone()?;
        Some(ClaimedAlias {
            existing: true,
            ..ClaimedAlias::new(row, token)
        })
    }

    /// The claim as its holder sees it now, for later releases, updates and links.
    pub fn claim(&self) -> Claim {
        Claim {
            token: self.token.clone(),
            owner: self.alias.owner.clone(),
            claimed_at: self.alias.claimed_at,
        }
    }
}

impl AliasPool {
    /// Claims one free alias (or one whose quarantine is over), ETag-conditionally.
    ///
    /// Candidates come a page at a time (`$filter`/`$top`/`$select`) and are
    /// tried in random order so concurrent claimers rarely pick the same row;
    /// a lost race (412) moves on to the next candidate, and a used-up page is
    /// fetched again. Truly free rows are preferred over expired quarantines.
    ///
    /// With a claim key, see `keyed.rs`: an interrupted claim of the key is
    /// resumed, a handed-over one refused, and a new claim is handed over
    /// only once no other claim of the key was.
    pub async fn claim(&self, request: &ClaimRequest) -> Result<ClaimedAlias, StoreError> {
        request.check()?;
        let Some(key) = &request.claim_key else {
            return self.claim_new(request).await;
        };
        let keys = [key.clone()];
        let found = self.claims_with_keys(&keys).await?.remove(key);
        if let Some(resumed) = self
            .resume_by_key(request, key, found.unwrap_or_default())
            .await?
        {
            return Ok(resumed);
        }
        let claimed = self.claim_new(request).await?;
        self.settle_keyed(claimed, key).await
    }

    /// Claims a free alias, or a minted address, as the request's address
    /// source allows (see `mint.rs`); pending when the request has a key.
    async fn claim_new(&self, request: &ClaimRequest) -> Result<ClaimedAlias, StoreError> {
        let token = ClaimToken::generate();
        let now = OffsetDateTime::now_utc();
        let source = request.source_on(self);
        if source.takes_aliases() {
            if let Some(claimed) = self.claim_alias(request, &token, now).await? {
                return Ok(claimed);
            }
        }
        let minting = match source.takes_minted() {
            false => None,
            true => match self.claim_minted(request, &token, now).await? {
                Ok(claimed) => return Ok(claimed),
                Err(why) => Some(why),
            },
        };
        // A partition with no rows at all is not an exhausted pool: say so,
        // unless minting was tried in a table that is new (its reason says more).
        if let PartitionState::Empty { others, more } = self.probe().await? {
            if minting.is_none() || !others.is_empty() {
                return Err(self.partition_empty(others, more));
            }
        }
        Err(StoreError::PoolExhausted {
            table: self.io.table_name.clone(),
            mailbox: request.mailbox.clone(),
            minting,
        })
    }

    /// Claims a free alias (or a row whose quarantine is over), if any.
    async fn claim_alias(
        &self,
        request: &ClaimRequest,
        token: &ClaimToken,
        now: OffsetDateTime,
    ) -> Result<Option<ClaimedAlias>, StoreError> {
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
            if let Some(claimed) = self.claim_pass(mailbox_clause, request, token, now).await? {
                return Ok(Some(claimed));
            }
        }
        Ok(None)
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
        let is_free: Claimable = |r, _| r.status == AliasStatus::Free;
        let is_over: Claimable = |r, now| r.quarantine_over(now);
        for (clauses, claimable) in [(free, is_free), (quarantine_over, is_over)] {
            for segment in [ge_str(col::ROW_KEY, &start), lt_str(col::ROW_KEY, &start)] {
                let mut c = clauses.clone();
                c.push(segment);
                if let Some(claimed) = self
                    .claim_from(&and_all(c), claimable, request, token, now)
                    .await?
                {
                    return Ok(Some(claimed));
                }
            }
        }
        Ok(None)
    }

    /// Walks the candidates of one filter until a claim succeeds or none are
    /// left: rows `claimable` at `now` that the request's address source
    /// admits (an alias, a minted row, or either).
    pub(super) async fn claim_from(
        &self,
        filter: &str,
        claimable: Claimable,
        request: &ClaimRequest,
        token: &ClaimToken,
        now: OffsetDateTime,
    ) -> Result<Option<ClaimedAlias>, StoreError> {
        let source = request.source_on(self);
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
                .filter(|r| claimable(r, now) && source.admits(r.minted))
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
    /// got there first. Takes no claim key (a key chooses its own row).
    pub async fn try_claim_alias(
        &self,
        row: &AliasRow,
        request: &ClaimRequest,
    ) -> Result<Option<ClaimedAlias>, StoreError> {
        request.check()?;
        if request.claim_key.is_some() {
            return Err(StoreError::InvalidInput {
                field: "claim_key",
                reason: "a claim of one given row takes no claim key".to_owned(),
            });
        }
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
                    Some(ClaimedAlias::new(*alias, token.clone()))
                }
                Merged::Changed | Merged::Missing => None,
            },
        )
    }
}
