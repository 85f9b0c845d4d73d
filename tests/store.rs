//! The alias store against a real Azurite (started by testkit/src/azurite.rs):
//! every operation, the legacy table layout, concurrency, hostile strings,
//! ETag races, errors and retries.

use testkit::azurite;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rootmail::azure::{AzureError, Credential, CredentialKind, OutageCause};
use rootmail::settings::{RetryBudget, Settings};
use rootmail::store::{
    AdoptRequest, AliasFilter, AliasPool, AliasStatus, AliasUpdate, Claim, ClaimRequest,
    ClaimToken, KeyRefusal, LegacyRow, LinkTarget, ReleaseOutcome, ReleasePolicy, StoreConfig,
    StoreError,
};
use serde_json::{json, Value};

async fn pool(prefix: &str) -> AliasPool {
    let az = azurite::shared();
    let config = StoreConfig::emulator(az.endpoint(), azurite::unique_table_name(prefix));
    let pool = AliasPool::connect(&config).expect("connect");
    assert!(pool.ensure_table().await.expect("create table"));
    assert!(
        !pool.ensure_table().await.expect("table exists"),
        "second ensure is a no-op"
    );
    pool
}

fn req(owner: &str) -> ClaimRequest {
    ClaimRequest {
        owner: owner.to_owned(),
        purpose: "test".to_owned(),
        ..Default::default()
    }
}

/// Another tool writing to the same table with the SDK directly (not through
/// the store): adds its own column, or overwrites blindly like the old function app.
mod other_tool {
    use azure_data_tables::prelude::*;
    use azure_storage::{CloudLocation, StorageCredentials};
    use serde_json::Value;

    fn table(table: &str) -> TableClient {
        let az = super::azurite::shared();
        let creds = StorageCredentials::access_key(
            az.account(),
            azure_core_legacy::auth::Secret::new(az.key()),
        );
        azure_data_tables::clients::TableServiceClientBuilder::with_location(
            CloudLocation::Custom {
                account: az.account().to_owned(),
                uri: az.endpoint(),
            },
            creds,
        )
        .retry(azure_core_legacy::RetryOptions::none())
        .build()
        .table_client(table)
    }

    /// Unconditional merge (If-Match: *), as a careless tool would do.
    pub async fn merge_blindly(table_name: &str, pk: &str, rk: &str, body: Value) {
        table(table_name)
            .partition_key_client(pk)
            .entity_client(rk)
            .merge(&body, IfMatchCondition::Any)
            .expect("serialize")
            .await
            .expect("merge");
    }
}

fn raw_str<'a>(raw: &'a serde_json::Map<String, Value>, k: &str) -> &'a str {
    raw.get(k).and_then(Value::as_str).unwrap_or("<missing>")
}

#[tokio::test]
async fn legacy_rows_are_claimed_linked_released_and_keep_other_columns() {
    let pool = pool("legacy").await;
    let rows = pool
        .seed("mbx1@corp.example", "corp.example", 3)
        .await
        .expect("seed");
    // Exactly the legacy columns were written.
    let raw = pool.get_raw(&rows[0].id).await.expect("raw").expect("row");
    let mut keys: Vec<&str> = raw
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "Timestamp")
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "PartitionKey",
            "RowKey",
            "aws_account_id",
            "aws_mail",
            "id",
            "in_use",
            "root_mailbox",
            "user_mail"
        ]
    );
    // Another tool adds a column to every row.
    for r in &rows {
        other_tool::merge_blindly(
            pool.table_name(),
            "root",
            &r.id,
            json!({"cost_center": "CC-7"}),
        )
        .await;
    }

    let claimed = pool.claim(&req("alice@corp.example")).await.expect("claim");
    assert!(rows.iter().any(|r| r.id == claimed.alias.id));
    let id = claimed.alias.id.clone();
    let raw = pool.get_raw(&id).await.expect("raw").expect("row");
    assert_eq!(raw["in_use"], json!(true));
    assert_eq!(raw_str(&raw, "user_mail"), "alice@corp.example");
    assert_eq!(raw_str(&raw, "claim_token"), claimed.token.as_str());
    assert_eq!(
        raw_str(&raw, "cost_center"),
        "CC-7",
        "foreign column untouched by claim"
    );
    assert_eq!(raw_str(&raw, "root_mailbox"), "mbx1@corp.example");
    assert_eq!(raw_str(&raw, "aws_mail"), claimed.alias.email);
    assert_eq!(raw_str(&raw, "id"), id);
    // What claim returned equals a fresh read.
    let read = pool.get(&id).await.expect("get").expect("row");
    assert_eq!(read, claimed.alias);

    let linked = pool
        .link_account(
            &LinkTarget::Claim {
                alias_id: id.clone(),
                claim: claimed.claim(),
            },
            "123456789012",
        )
        .await
        .expect("link");
    assert_eq!(linked.aws_account_id, "123456789012");
    assert_eq!(
        pool.find_by_account_id("123456789012")
            .await
            .expect("find")
            .len(),
        1
    );
    // Linking to the same account is a no-op; another account is refused.
    pool.link_account(
        &LinkTarget::Email(claimed.alias.email.clone()),
        "123456789012",
    )
    .await
    .expect("same account again");
    let err = pool
        .link_account(
            &LinkTarget::Email(claimed.alias.email.clone()),
            "210987654321",
        )
        .await
        .expect_err("different account");
    assert!(matches!(err, StoreError::AlreadyLinked { .. }), "{err}");

    let updated = pool
        .update(
            &id,
            &claimed.claim(),
            &AliasUpdate {
                owner: Some("bob@corp.example".into()),
                purpose: None,
                claim_key: None,
            },
        )
        .await
        .expect("update");
    assert_eq!(updated.owner, "bob@corp.example");
    assert_eq!(updated.purpose, "test");
    // The claim as its holder sees it now: the owner it just wrote.
    let claim = Claim {
        owner: updated.owner.clone(),
        ..claimed.claim()
    };

    let outcome = pool
        .release(&id, &claim, ReleasePolicy::Release)
        .await
        .expect("release");
    assert_eq!(outcome, ReleaseOutcome::Released);
    let raw = pool.get_raw(&id).await.expect("raw").expect("row");
    assert_eq!(raw["in_use"], json!(false));
    assert_eq!(raw_str(&raw, "user_mail"), "");
    assert_eq!(raw_str(&raw, "aws_account_id"), "");
    for added in [
        "claim_token",
        "claim_key",
        "claimed_at",
        "purpose",
        "status",
        "reusable_after",
    ] {
        assert!(
            raw.get(added).is_none(),
            "a released row loses the column {added} the store added"
        );
    }
    assert_eq!(
        raw_str(&raw, "cost_center"),
        "CC-7",
        "foreign column untouched by release"
    );
    assert_eq!(raw_str(&raw, "root_mailbox"), "mbx1@corp.example");
    // Releasing twice is an outcome, not an error.
    let again = pool
        .release(&id, &claimed.claim(), ReleasePolicy::Release)
        .await
        .expect("release twice");
    assert_eq!(
        again,
        ReleaseOutcome::NotHeld {
            status: AliasStatus::Free
        }
    );
}

#[tokio::test]
async fn adopt_takes_over_legacy_claims_conditionally() {
    let pool = pool("adopt").await;
    let mut legacy = LegacyRow::free("mbx@corp.example", "corp.example");
    legacy.in_use = true;
    legacy.user_mail = "old-pipeline@corp.example".into();
    legacy.aws_account_id = "111122223333".into();
    pool.insert_legacy_row(&legacy).await.expect("insert");

    let adopted = pool
        .adopt(&AdoptRequest {
            email: legacy.aws_mail.clone(),
            owner: None,
            purpose: Some("imported".into()),
        })
        .await
        .expect("adopt");
    assert!(!adopted.existing);
    assert_eq!(adopted.alias.id, legacy.id);
    let raw = pool.get_raw(&legacy.id).await.expect("raw").expect("row");
    assert_eq!(
        raw_str(&raw, "user_mail"),
        "old-pipeline@corp.example",
        "owner kept"
    );
    assert_eq!(
        raw_str(&raw, "aws_account_id"),
        "111122223333",
        "account kept"
    );
    assert_eq!(raw_str(&raw, "claim_token"), adopted.token.as_str());
    assert_eq!(raw_str(&raw, "purpose"), "imported");

    // Importing again returns the same claim without writing.
    let again = pool
        .adopt(&AdoptRequest {
            email: legacy.aws_mail.clone(),
            ..Default::default()
        })
        .await
        .expect("adopt again");
    assert!(again.existing);
    assert_eq!(again.token, adopted.token);
    assert_eq!(
        again.alias.etag(),
        adopted.alias.etag(),
        "no write on re-import"
    );

    // Unlink by token, then release with it.
    let target = LinkTarget::Claim {
        alias_id: legacy.id.clone(),
        claim: adopted.claim(),
    };
    assert_eq!(
        pool.unlink_account(&target, "111122223333")
            .await
            .expect("unlink")
            .aws_account_id,
        ""
    );
    assert_eq!(
        pool.release(&legacy.id, &adopted.claim(), ReleasePolicy::Release)
            .await
            .expect("release"),
        ReleaseOutcome::Released
    );
    let err = pool
        .adopt(&AdoptRequest {
            email: "nobody@corp.example".into(),
            ..Default::default()
        })
        .await
        .expect_err("unknown");
    assert!(matches!(err, StoreError::EmailNotFound { .. }), "{err}");
}

#[tokio::test]
async fn stale_token_changes_nothing() {
    let pool = pool("stale").await;
    pool.seed("m", "corp.example", 1).await.expect("seed");
    let first = pool.claim(&req("a")).await.expect("claim");
    let id = first.alias.id.clone();
    let stranger = Claim {
        token: ClaimToken::generate(),
        ..first.claim()
    };
    let before = pool.get_raw(&id).await.expect("raw");
    assert_eq!(
        pool.release(&id, &stranger, ReleasePolicy::Release)
            .await
            .expect("release"),
        ReleaseOutcome::NotHeld {
            status: AliasStatus::Claimed
        }
    );
    assert_eq!(
        pool.release(&id, &stranger, ReleasePolicy::Retire)
            .await
            .expect("retire"),
        ReleaseOutcome::NotHeld {
            status: AliasStatus::Claimed
        }
    );
    let err = pool
        .update(
            &id,
            &stranger,
            &AliasUpdate {
                owner: Some("evil".into()),
                purpose: None,
                claim_key: None,
            },
        )
        .await
        .expect_err("update with stranger token");
    assert!(matches!(err, StoreError::NotHeld { .. }), "{err}");
    let err = pool
        .link_account(
            &LinkTarget::Claim {
                alias_id: id.clone(),
                claim: stranger,
            },
            "123456789012",
        )
        .await
        .expect_err("link with stranger token");
    assert!(matches!(err, StoreError::NotHeld { .. }), "{err}");
    assert_eq!(
        pool.get_raw(&id).await.expect("raw"),
        before,
        "row unchanged"
    );
    assert_eq!(
        pool.release("no-such-id", &first.claim(), ReleasePolicy::Release)
            .await
            .expect("missing"),
        ReleaseOutcome::Missing
    );
}

#[tokio::test]
async fn quarantined_and_retired_rows_are_never_claimed_early() {
    let pool = pool("quarantine").await;
    pool.seed("m", "corp.example", 3).await.expect("seed");
    let a = pool.claim(&req("a")).await.expect("a");
    let b = pool.claim(&req("b")).await.expect("b");
    let c = pool.claim(&req("c")).await.expect("c");
    let q = pool
        .release(&a.alias.id, &a.claim(), ReleasePolicy::quarantine())
        .await
        .expect("quarantine");
    match q {
        ReleaseOutcome::Quarantined { reusable_after } => {
            let days = (reusable_after - time::OffsetDateTime::now_utc()).whole_days();
            assert!(
                (89..=90).contains(&days),
                "default quarantine is 90 days, got {days}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        pool.release(&b.alias.id, &b.claim(), ReleasePolicy::Retire)
            .await
            .expect("retire"),
        ReleaseOutcome::Retired
    );
    // Both keep in_use = true so older tools skip them.
    for id in [&a.alias.id, &b.alias.id] {
        let raw = pool.get_raw(id).await.expect("raw").expect("row");
        assert_eq!(raw["in_use"], json!(true));
    }
    let err = pool.claim(&req("d")).await.expect_err("nothing claimable");
    assert!(matches!(err, StoreError::PoolExhausted { .. }), "{err}");
    assert!(err.to_string().contains("exhausted"));

    // A quarantine that is already over is claimable, a retired row never.
    pool.release(
        &c.alias.id,
        &c.claim(),
        ReleasePolicy::Quarantine { days: 0 },
    )
    .await
    .expect("q0");
    let stats = pool.stats(None).await.expect("stats");
    assert_eq!(
        (
            stats.all.total,
            stats.all.quarantined,
            stats.all.retired,
            stats.all.reusable
        ),
        (3, 2, 1, 1)
    );
    let again = pool.claim(&req("e")).await.expect("claim after quarantine");
    assert_eq!(again.alias.id, c.alias.id);
    assert_eq!(again.alias.status, AliasStatus::Claimed);
    assert_eq!(again.alias.aws_account_id, "");
    let err = pool.claim(&req("f")).await.expect_err("still exhausted");
    assert!(matches!(err, StoreError::PoolExhausted { .. }), "{err}");
    let stats = pool.stats(None).await.expect("stats");
    assert_eq!(
        (
            stats.all.free,
            stats.all.claimed,
            stats.all.quarantined,
            stats.all.retired
        ),
        (0, 1, 1, 1)
    );
}

#[tokio::test]
async fn a_claim_key_resumes_only_an_interrupted_claim_and_never_shares_a_held_one() {
    let pool = pool("claimkey").await;
    pool.seed("m", "corp.example", 5).await.expect("seed");
    let request = ClaimRequest {
        claim_key: Some("state-123/rootmail_alias.this".into()),
        ..req("a")
    };
    let first = pool.claim(&request).await.expect("first");
    assert!(!first.existing && !first.resumed);
    assert!(!first.alias.claim_pending, "handed over");
    let raw = pool
        .get_raw(&first.alias.id)
        .await
        .expect("raw")
        .expect("row");
    assert_eq!(raw["claim_pending"], json!(false));
    // The same key again: the claim was handed over, so it is refused.
    let err = pool.claim(&request).await.expect_err("a held claim");
    match &err {
        StoreError::ClaimKeyTaken {
            existing, refusal, ..
        } => {
            assert_eq!(existing.alias_id, first.alias.id);
            assert_eq!(*refusal, KeyRefusal::InUse);
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains(&first.alias.email), "{err}");
    assert_eq!(pool.stats(None).await.expect("stats").all.claimed, 1);

    // An interrupted claim (never handed over) is resumed by the same
    // settings, with a new token, and refused with other ones.
    other_tool::merge_blindly(
        pool.table_name(),
        pool.partition_key(),
        &first.alias.id,
        json!({"claim_pending": true}),
    )
    .await;
    let err = pool
        .claim(&ClaimRequest {
            purpose: "other".into(),
            ..request.clone()
        })
        .await
        .expect_err("other settings");
    assert!(
        matches!(&err, StoreError::ClaimKeyTaken { refusal: KeyRefusal::Settings { differ }, .. } if differ == &["purpose"]),
        "{err}"
    );
    let resumed = pool.claim(&request).await.expect("resume");
    assert!(resumed.resumed && !resumed.existing);
    assert_eq!(resumed.alias.id, first.alias.id);
    assert_ne!(resumed.token, first.token, "a new token");
    assert_eq!(resumed.alias.claimed_at, first.alias.claimed_at);
    assert!(!resumed.alias.claim_pending);
    let now = pool.get(&first.alias.id).await.expect("get").expect("row");
    assert!(now.holds(&resumed.claim()) && !now.holds(&first.claim()));

    // After release the key names nothing: a new claim gets a new alias.
    pool.release(&first.alias.id, &resumed.claim(), ReleasePolicy::Release)
        .await
        .expect("release");
    let third = pool.claim(&request).await.expect("third");
    assert!(!third.existing && !third.resumed);
    assert_ne!(third.token, first.token);
    assert_eq!(pool.stats(None).await.expect("stats").all.claimed, 1);
}

#[tokio::test]
async fn mailbox_filter_lookups_list_and_stats() {
    let pool = pool("lookup").await;
    pool.seed("one@corp.example", "corp.example", 4)
        .await
        .expect("seed");
    let two = pool
        .seed("two@corp.example", "corp.example", 2)
        .await
        .expect("seed");
    let c = pool
        .claim(&ClaimRequest {
            mailbox: Some("two@corp.example".into()),
            ..req("x@corp.example")
        })
        .await
        .expect("claim");
    assert_eq!(c.alias.root_mailbox, "two@corp.example");
    assert!(two.iter().any(|r| r.id == c.alias.id));
    let found = pool
        .find_by_email(&c.alias.email)
        .await
        .expect("find")
        .expect("some");
    assert_eq!(found.id, c.alias.id);
    assert!(pool
        .find_by_email("nope@corp.example")
        .await
        .expect("find")
        .is_none());
    let mine = pool
        .list(&AliasFilter {
            owner: Some("x@corp.example".into()),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(mine.len(), 1);
    let free_two = pool
        .list(&AliasFilter {
            mailbox: Some("two@corp.example".into()),
            status: Some(AliasStatus::Free),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(free_two.len(), 1);
    let stats = pool.stats(None).await.expect("stats");
    assert_eq!(
        (stats.all.total, stats.all.free, stats.all.claimed),
        (6, 5, 1)
    );
    assert_eq!(stats.by_mailbox["one@corp.example"].free, 4);
    assert_eq!(stats.by_mailbox["two@corp.example"].claimed, 1);
    let only_two = pool.stats(Some("two@corp.example")).await.expect("stats");
    assert_eq!(only_two.all.total, 2);
    pool.claim(&ClaimRequest {
        mailbox: Some("two@corp.example".into()),
        ..req("y")
    })
    .await
    .expect("last");
    let err = pool
        .claim(&ClaimRequest {
            mailbox: Some("two@corp.example".into()),
            ..req("z")
        })
        .await
        .expect_err("mailbox exhausted");
    assert!(err.to_string().contains("two@corp.example"), "{err}");
    // A point read of a missing id is None, not an error.
    assert!(pool
        .get("00000000-0000-0000-0000-000000000000")
        .await
        .expect("get")
        .is_none());
}

#[tokio::test]
async fn paging_follows_continuation() {
    let az = azurite::shared();
    let mut config = StoreConfig::emulator(az.endpoint(), azurite::unique_table_name("paging"));
    config.claim_page_size = 7;
    let pool = AliasPool::connect(&config).expect("connect");
    pool.ensure_table().await.expect("table");
    pool.seed("m", "corp.example", 1250)
        .await
        .expect("seed 1250 in 13 batches");
    // Azurite returns at most 1000 rows per page, so this needs two pages.
    let all = pool.list(&AliasFilter::default()).await.expect("list");
    assert_eq!(all.len(), 1250);
    let ids: HashSet<_> = all.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), 1250);
    let before = pool.request_count();
    for _ in 0..20 {
        pool.claim(&req("p")).await.expect("claim");
    }
    assert_eq!(
        pool.request_count() - before,
        40,
        "2 round trips per uncontended claim"
    );
}

#[tokio::test]
async fn hostile_strings_cannot_widen_a_filter() {
    let pool = pool("hostile").await;
    pool.seed("m", "corp.example", 3).await.expect("seed");
    let hostile = [
        "' or in_use eq false or '",
        "x') or (PartitionKey ne '",
        "''",
        "'",
        "o'brien@例え.jp",
        "zoë 🚀 \" \\ % & # ?",
    ];
    for h in hostile {
        // Lookups by a hostile value find nothing (they would match every row if
        // the value escaped its literal).
        assert!(pool.find_by_email(h).await.expect("find").is_none(), "{h}");
        assert!(
            pool.find_by_account_id(h).await.expect("find").is_empty(),
            "{h}"
        );
        assert!(
            pool.list(&AliasFilter {
                owner: Some(h.into()),
                ..Default::default()
            })
            .await
            .expect("list")
            .is_empty(),
            "{h}"
        );
        let err = pool
            .claim(&ClaimRequest {
                mailbox: Some(h.into()),
                ..req("a")
            })
            .await
            .expect_err("no alias in a hostile mailbox");
        assert!(
            matches!(err, StoreError::PoolExhausted { .. }),
            "{h}: {err}"
        );
        assert_eq!(
            pool.stats(Some(h)).await.expect("stats").all.total,
            0,
            "{h}"
        );
        // Keys too: a hostile id is a missing row, not a different one.
        assert!(
            pool.get(h).await.map(|r| r.is_none()).unwrap_or(true),
            "{h}"
        );
    }
    // Hostile values are stored and found verbatim.
    let mut row = LegacyRow::free("o'brien's box", "corp.example");
    // AWS refuses quotes before the `@` (claims skip such rows), so the
    // quotes that must survive the filter sit in the domain part.
    row.aws_mail = "obrien@o'brien'or''='.corp.example".into();
    pool.insert_legacy_row(&row).await.expect("insert");
    let c = pool
        .claim(&ClaimRequest {
            owner: "' or in_use eq false or '".into(),
            purpose: "ünïcødé 'quoted'".into(),
            mailbox: Some("o'brien's box".into()),
            claim_key: Some("k' or '1'='1".into()),
            source: None,
        })
        .await
        .expect("claim from hostile mailbox");
    assert_eq!(c.alias.id, row.id);
    let found = pool
        .find_by_email(&row.aws_mail)
        .await
        .expect("find")
        .expect("row");
    assert_eq!(found.owner, "' or in_use eq false or '");
    assert_eq!(found.purpose, "ünïcødé 'quoted'");
    let listed = pool
        .list(&AliasFilter {
            owner: Some("' or in_use eq false or '".into()),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
    let err = pool
        .claim(&ClaimRequest {
            claim_key: Some("k' or '1'='1".into()),
            ..req("z")
        })
        .await
        .expect_err("same key");
    assert!(
        matches!(&err, StoreError::ClaimKeyTaken { existing, .. } if existing.alias_id == row.id),
        "{err}"
    );
    assert_eq!(
        pool.stats(None).await.expect("stats").all.claimed,
        1,
        "nothing else was touched"
    );
}

#[tokio::test]
async fn racing_writer_between_read_and_write_gets_412() {
    let pool = pool("race").await;
    let rows = pool.seed("m", "corp.example", 1).await.expect("seed");
    let id = &rows[0].id;
    let seen = pool.get(id).await.expect("get").expect("row");
    assert_eq!(seen.status, AliasStatus::Free);
    // The old function app claims it in between (blind write).
    other_tool::merge_blindly(
        pool.table_name(),
        "root",
        id,
        json!({"in_use": true, "user_mail": "legacy@corp.example"}),
    )
    .await;
    let conflicts = pool.conflict_count();
    let lost = pool
        .try_claim_alias(&seen, &req("late"))
        .await
        .expect("try");
    assert!(lost.is_none(), "stale ETag must lose");
    assert_eq!(pool.conflict_count(), conflicts + 1);
    let raw = pool.get_raw(id).await.expect("raw").expect("row");
    assert_eq!(
        raw_str(&raw, "user_mail"),
        "legacy@corp.example",
        "the racing writer's claim stands"
    );
    assert!(raw.get("claim_token").is_none());

    // Same for a held row: another writer touches it, our update re-reads and still applies.
    other_tool::merge_blindly(
        pool.table_name(),
        "root",
        id,
        json!({"in_use": false, "user_mail": ""}),
    )
    .await;
    let fresh = pool.get(id).await.expect("get").expect("row");
    let claimed = pool
        .try_claim_alias(&fresh, &req("me"))
        .await
        .expect("try")
        .expect("won");
    other_tool::merge_blindly(pool.table_name(), "root", id, json!({"note": "touched"})).await;
    let updated = pool
        .update(
            id,
            &claimed.claim(),
            &AliasUpdate {
                purpose: Some("p2".into()),
                owner: None,
                claim_key: None,
            },
        )
        .await
        .expect("update after a concurrent touch");
    assert_eq!(updated.purpose, "p2");
    let raw = pool.get_raw(id).await.expect("raw").expect("row");
    assert_eq!(raw_str(&raw, "note"), "touched");
    assert_eq!(raw_str(&raw, "purpose"), "p2");
    // A stale ETag on a claimed row is refused before any write.
    let err = pool
        .try_claim_alias(&updated, &req("x"))
        .await
        .expect_err("claimed");
    assert!(matches!(err, StoreError::WrongStatus { .. }), "{err}");
}

async fn claim_concurrently(
    pool: &AliasPool,
    n: usize,
) -> (Vec<rootmail::store::ClaimedAlias>, Vec<StoreError>) {
    let mut tasks = Vec::new();
    for i in 0..n {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            pool.claim(&req(&format!("owner{i}"))).await
        }));
    }
    let mut ok = Vec::new();
    let mut err = Vec::new();
    for t in tasks {
        match t.await.expect("task") {
            Ok(c) => ok.push(c),
            Err(e) => err.push(e),
        }
    }
    (ok, err)
}

async fn assert_consistent(pool: &AliasPool, claimed: &[rootmail::store::ClaimedAlias]) {
    let all = pool.list(&AliasFilter::default()).await.expect("list");
    for c in claimed {
        let row = all.iter().find(|r| r.id == c.alias.id).expect("row exists");
        assert!(
            row.carries(&c.token),
            "row {} carries its claimer's token",
            row.id
        );
        assert!(row.in_use);
        assert_eq!(row.owner, c.alias.owner);
    }
    let held = all
        .iter()
        .filter(|r| r.status == AliasStatus::Claimed)
        .count();
    assert_eq!(
        held,
        claimed.len(),
        "no row claimed without a successful claimer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_claimers_share_sixty_four_aliases() {
    let pool = pool("c64").await;
    pool.seed("m", "corp.example", 64).await.expect("seed");
    let (ok, err) = claim_concurrently(&pool, 64).await;
    assert!(err.is_empty(), "failures: {err:?}");
    let ids: HashSet<_> = ok.iter().map(|c| c.alias.id.clone()).collect();
    assert_eq!(ids.len(), 64, "64 distinct aliases");
    assert_consistent(&pool, &ok).await;
    println!("64/64: {} conflicts (412) resolved", pool.conflict_count());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_claimers_on_one_hundred_fifty_aliases() {
    let pool = pool("c200").await;
    pool.seed("m", "corp.example", 150).await.expect("seed");
    let (ok, err) = claim_concurrently(&pool, 200).await;
    assert_eq!(ok.len(), 150);
    assert_eq!(err.len(), 50);
    assert!(
        err.iter()
            .all(|e| matches!(e, StoreError::PoolExhausted { .. })),
        "{err:?}"
    );
    let ids: HashSet<_> = ok.iter().map(|c| c.alias.id.clone()).collect();
    assert_eq!(ids.len(), 150, "no alias handed out twice");
    assert_consistent(&pool, &ok).await;
    let stats = pool.stats(None).await.expect("stats");
    assert_eq!((stats.all.free, stats.all.claimed), (0, 150));
}

#[tokio::test]
async fn missing_table_is_named() {
    let az = azurite::shared();
    let pool = AliasPool::connect(&StoreConfig::emulator(az.endpoint(), "nosuchtable42"))
        .expect("connect");
    let err = pool.claim(&req("a")).await.expect_err("no table");
    assert!(
        matches!(err, StoreError::Azure(AzureError::TableNotFound { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("nosuchtable42"), "{err}");
}

#[tokio::test]
async fn wrong_key_is_forbidden_and_names_the_credential_kind_only() {
    let az = azurite::shared();
    let table = azurite::unique_table_name("forbidden");
    let good =
        AliasPool::connect(&StoreConfig::emulator(az.endpoint(), table.clone())).expect("connect");
    good.ensure_table().await.expect("table");
    let bad_key = "c2VjcmV0LWJ1dC13cm9uZy1rZXktZm9yLWF6dXJpdGUtdGVzdHM=";
    let settings = Settings {
        endpoint: Some(az.endpoint()),
        account: Some(az.account().into()),
        access_key: Some(bad_key.into()),
        table: Some(table),
        ..Default::default()
    };
    let config = StoreConfig::resolve(&settings, &|_| None).expect("config");
    assert_eq!(
        config.connection.credential.kind(),
        CredentialKind::SharedKey
    );
    assert!(!format!("{config:?}").contains(bad_key));
    let pool = AliasPool::connect(&config).expect("connect");
    let err = pool.stats(None).await.expect_err("forbidden");
    assert_eq!(pool.request_count(), 1, "403 is not retried");
    assert!(
        matches!(
            err,
            StoreError::Azure(AzureError::Forbidden { status: 403, .. })
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains("shared key"), "{text}");
    assert!(!text.contains(bad_key), "{text}");
    // A key that is not even base64 is refused before any request, without echoing it.
    let mut broken = config.clone();
    broken.connection.credential = Credential::SharedKey {
        key: "not base64 secret!".into(),
    };
    let err = AliasPool::connect(&broken).expect_err("bad key");
    assert!(
        matches!(err, StoreError::Azure(AzureError::Config(_))),
        "{err}"
    );
    assert!(!err.to_string().contains("not base64 secret!"), "{err}");
}

#[tokio::test]
async fn connection_string_from_environment_works() {
    let az = azurite::shared();
    let table = azurite::unique_table_name("connstr");
    let cs = az.connection_string();
    let lookup = |name: &str| match name {
        "AZURE_STORAGE_CONNECTION_STRING" => Some(cs.clone()),
        "ROOTMAIL_TABLE_NAME" => Some(table.clone()),
        "ROOTMAIL_PARTITION_KEY" => Some("pool-b".to_owned()),
        _ => None,
    };
    let config = StoreConfig::resolve(&Settings::default(), &lookup).expect("config");
    assert!(matches!(
        config.connection.credential,
        Credential::ConnectionString(_)
    ));
    let pool = AliasPool::connect(&config).expect("connect");
    pool.ensure_table().await.expect("table");
    pool.seed("m", "corp.example", 2).await.expect("seed");
    let c = pool.claim(&req("a")).await.expect("claim");
    assert_eq!(c.alias.partition_key, "pool-b");
}

/// A local server that answers every request with `status` (or never, when
/// `None`) and records the requests' headers.
async fn fake_service(status: Option<u16>) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16384];
                loop {
                    let n = match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    log.lock()
                        .expect("lock")
                        .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                    match status {
                        Some(code) => {
                            let resp = format!("HTTP/1.1 {code} Busy\r\nx-ms-error-code: ServerBusy\r\ncontent-length: 0\r\n\r\n");
                            if sock.write_all(resp.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                        None => tokio::time::sleep(Duration::from_secs(3600)).await,
                    }
                }
            });
        }
    });
    (format!("http://{addr}/devstoreaccount1"), seen)
}

fn fast_budget() -> RetryBudget {
    RetryBudget {
        total: Duration::from_millis(1500),
        per_request: Duration::from_millis(300),
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
    }
}

#[tokio::test]
async fn throttling_is_retried_within_the_budget_with_our_user_agent() {
    let (endpoint, seen) = fake_service(Some(503)).await;
    let mut config = StoreConfig::emulator(endpoint, "throttled");
    config.connection.retry = fast_budget();
    let pool = AliasPool::connect(&config).expect("connect");
    let started = Instant::now();
    let err = pool.claim(&req("a")).await.expect_err("unavailable");
    let took = started.elapsed();
    // Nothing but throttling for the whole budget: the endpoint is down.
    assert!(
        matches!(&err, StoreError::Azure(AzureError::Down(o)) if o.cause == OutageCause::Unanswered),
        "{err}"
    );
    assert!(err.to_string().contains("503"), "{err}");
    assert!(
        took < Duration::from_secs(3),
        "bounded by the budget: {took:?}"
    );
    assert!(
        pool.request_count() >= 3,
        "retried: {}",
        pool.request_count()
    );
    let first = seen.lock().expect("lock")[0].to_ascii_lowercase();
    assert!(
        first.contains(&format!(
            "user-agent: terraform-provider-rootmail/{}",
            env!("CARGO_PKG_VERSION")
        )),
        "{first}"
    );
    assert!(first.contains("authorization: sharedkey devstoreaccount1:"));
}

#[tokio::test]
async fn hanging_service_times_out_and_cancellation_stops_work() {
    let (endpoint, _) = fake_service(None).await;
    let mut config = StoreConfig::emulator(endpoint.clone(), "hanging");
    config.connection.retry = fast_budget();
    let pool = AliasPool::connect(&config).expect("connect");
    let err = pool.get("some-id").await.expect_err("timeout");
    assert!(err.to_string().contains("no answer within"), "{err}");

    config.connection.retry.total = Duration::from_secs(600);
    config.connection.retry.per_request = Duration::from_secs(600);
    let pool = AliasPool::connect(&config).expect("connect");
    let cancel = pool.cancellation();
    let task = tokio::spawn({
        let pool = pool.clone();
        async move { pool.claim(&req("a")).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    cancel.cancel();
    let err = task.await.expect("task").expect_err("cancelled");
    assert!(
        matches!(err, StoreError::Azure(AzureError::Cancelled { .. })),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// Round trips and latency of claims against Azurite (printed for the report).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn measure_claim_round_trips_and_latency() {
    let pool = pool("measure").await;
    // A pool that is far from empty (claims against a nearly drained pool
    // contend more; the 200-on-150 test covers that case).
    pool.seed("m", "corp.example", 1000).await.expect("seed");
    // Uncontended.
    let mut lat = Vec::new();
    let before = pool.request_count();
    for i in 0..100 {
        let t = Instant::now();
        pool.claim(&req(&format!("u{i}"))).await.expect("claim");
        lat.push(t.elapsed());
    }
    let seq_rt = (pool.request_count() - before) as f64 / 100.0;
    // One query + one conditional merge; rarely one more query when the random
    // start point lies after the last free row and the walk wraps around.
    assert!((2.0..2.1).contains(&seq_rt), "{seq_rt}");
    let (p50, p99) = percentiles(&mut lat);
    println!("uncontended: {seq_rt:.2} round trips/claim, p50 {p50:?}, p99 {p99:?}");

    // 32 concurrent claimers, 8 claims each.
    let before = pool.request_count();
    let conflicts = pool.conflict_count();
    let mut tasks = Vec::new();
    for w in 0..32 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut l = Vec::new();
            for i in 0..8 {
                let t = Instant::now();
                pool.claim(&req(&format!("c{w}-{i}"))).await.expect("claim");
                l.push(t.elapsed());
            }
            l
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("task"));
    }
    let n = lat.len() as f64;
    let rt = (pool.request_count() - before) as f64 / n;
    let (p50, p99) = percentiles(&mut lat);
    println!(
        "32 concurrent: {rt:.2} round trips/claim, {} conflicts over {n} claims, p50 {p50:?}, p99 {p99:?}",
        pool.conflict_count() - conflicts
    );
    assert!(rt < 6.0, "contention stays cheap: {rt}");
}

fn percentiles(lat: &mut [Duration]) -> (Duration, Duration) {
    lat.sort();
    let p = |q: f64| lat[((lat.len() as f64 - 1.0) * q).round() as usize];
    (p(0.50), p(0.99))
}

#[tokio::test]
async fn sas_tokens_work_and_missing_permissions_are_explained() {
    let az = azurite::shared();
    let owner_pool = pool("sas").await;
    owner_pool.seed("m", "corp.example", 2).await.expect("seed");
    let full = azurite::account_sas("raul");
    let settings = |sas: &str| Settings {
        endpoint: Some(az.endpoint()),
        sas_token: Some(format!("?{sas}").into()),
        table: Some(owner_pool.table_name().to_owned()),
        ..Default::default()
    };
    let config = StoreConfig::resolve(&settings(&full), &|_| None).expect("config");
    assert_eq!(
        config.connection.account, "devstoreaccount1",
        "account taken from the endpoint"
    );
    let pool = AliasPool::connect(&config).expect("connect");
    let c = pool.claim(&req("sas-user")).await.expect("claim with SAS");
    assert_eq!(
        pool.release(&c.alias.id, &c.claim(), ReleasePolicy::Release)
            .await
            .expect("release"),
        ReleaseOutcome::Released
    );

    let read_only = azurite::account_sas("rl");
    let pool = AliasPool::connect(
        &StoreConfig::resolve(&settings(&read_only), &|_| None).expect("config"),
    )
    .expect("connect");
    assert_eq!(
        pool.stats(None)
            .await
            .expect("reading is allowed")
            .all
            .total,
        2
    );
    let err = pool.claim(&req("ro")).await.expect_err("writing is not");
    let text = err.to_string();
    assert!(
        matches!(err, StoreError::Azure(AzureError::Forbidden { .. })),
        "{text}"
    );
    assert!(
        text.contains("SAS token") && text.contains("permissions"),
        "{text}"
    );
    let sig = read_only.split("sig=").nth(1).expect("sig");
    assert!(sig.len() > 20);
    assert!(!text.contains(sig), "{text}");
}

/// A TCP proxy in front of Azurite that forwards everything but holds back the
/// response to the MERGE requests whose 1-based numbers are in `delayed`, so the
/// write lands in the table while the client times out and retries it.
async fn slow_merge_proxy(upstream_port: u16, delayed: &'static [usize]) -> u16 {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let merges = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let merges = Arc::clone(&merges);
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream_port)).await
                else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let hold = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let hold_up = Arc::clone(&hold);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 65536];
                    while let Ok(n) = cr.read(&mut buf).await {
                        if n == 0 {
                            return;
                        }
                        if buf[..n].starts_with(b"MERGE ") {
                            let number = merges.fetch_add(1, Ordering::SeqCst) + 1;
                            if delayed.contains(&number) {
                                hold_up.store(true, Ordering::SeqCst);
                            }
                        }
                        if sw.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
                let mut buf = vec![0u8; 65536];
                while let Ok(n) = sr.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                    if hold.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                    if cw.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn a_timed_out_write_that_landed_is_recognised_not_repeated() {
    let direct = pool("ambiguous").await;
    direct.seed("m", "corp.example", 5).await.expect("seed");
    let port = slow_merge_proxy(azurite::shared().port(), &[1, 3]).await;
    let mut config = StoreConfig::emulator(
        format!("http://127.0.0.1:{port}/{}", azurite::ACCOUNT),
        direct.table_name(),
    );
    config.connection.retry = RetryBudget {
        total: Duration::from_secs(20),
        per_request: Duration::from_millis(700),
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
    };
    let pool = AliasPool::connect(&config).expect("connect");
    // The first merge lands but its answer is late; the retry gets 412 from our
    // own write. The claim must recognise its token instead of taking a second row.
    let claimed = pool.claim(&req("slow")).await.expect("claim");
    let held: Vec<_> = direct
        .list(&AliasFilter {
            status: Some(AliasStatus::Claimed),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(held.len(), 1, "exactly one alias claimed");
    assert_eq!(held[0].id, claimed.alias.id);
    assert!(held[0].carries(&claimed.token));
    assert!(pool.conflict_count() >= 1, "the retry saw 412");
    // Same for release: the late answer must still report Released.
    let outcome = pool
        .release(&claimed.alias.id, &claimed.claim(), ReleasePolicy::Release)
        .await
        .expect("release");
    assert_eq!(outcome, ReleaseOutcome::Released);
    assert_eq!(direct.stats(None).await.expect("stats").all.free, 5);
}

#[tokio::test]
async fn take_over_adopts_untokened_claims_and_replaces_tokens_only_when_asked() {
    use rootmail::store::{SeenClaim, TakeOverRequest, TakeOverScope};
    let pool = pool("takeover").await;
    let mut legacy = LegacyRow::free("mbx@corp.example", "corp.example");
    legacy.in_use = true;
    legacy.user_mail = "old-pipeline@corp.example".into();
    legacy.aws_account_id = "111122223333".into();
    pool.insert_legacy_row(&legacy).await.expect("insert");
    let free = pool
        .seed("mbx@corp.example", "corp.example", 1)
        .await
        .expect("seed")
        .remove(0);
    let request = |row: &LegacyRow, scope| TakeOverRequest {
        alias_id: row.id.clone(),
        email: row.aws_mail.clone(),
        scope,
        owner: Some("team@corp.example".into()),
        purpose: Some("imported".into()),
        // The key of the first take-over; another row may not carry it too.
        claim_key: Some(if row.id == legacy.id {
            "acct-1".into()
        } else {
            format!("acct-{}", row.id)
        }),
        seen: None,
    };

    // A claim without a token (an older tool's) is adopted.
    let adopted = pool
        .take_over(&request(&legacy, TakeOverScope::Untokened))
        .await
        .expect("adopt");
    let raw = pool.get_raw(&legacy.id).await.expect("raw").expect("row");
    assert_eq!(raw_str(&raw, "claim_token"), adopted.token.as_str());
    assert_eq!(raw_str(&raw, "user_mail"), "team@corp.example");
    assert_eq!(raw_str(&raw, "purpose"), "imported");
    assert_eq!(raw_str(&raw, "claim_key"), "acct-1");
    assert_eq!(raw_str(&raw, "status"), "claimed");
    assert_eq!(
        raw_str(&raw, "aws_account_id"),
        "111122223333",
        "account kept"
    );
    assert_eq!(
        adopted.alias.etag(),
        pool.get(&legacy.id).await.unwrap().unwrap().etag()
    );

    // Now it carries a token: adopting it again is refused, and nothing is written.
    let etag = adopted.alias.etag().to_string();
    let again = pool
        .take_over(&request(&legacy, TakeOverScope::Untokened))
        .await
        .expect_err("a token-carrying row is refused");
    assert!(
        matches!(
            again,
            StoreError::WrongStatus {
                status: AliasStatus::Claimed,
                ..
            }
        ),
        "{again}"
    );
    assert_eq!(pool.get(&legacy.id).await.unwrap().unwrap().etag(), etag);

    // Asked for explicitly, the claim is taken over; the old token holds nothing.
    let taken = pool
        .take_over(&request(&legacy, TakeOverScope::AnyClaim))
        .await
        .expect("take over");
    assert_ne!(taken.token, adopted.token);
    assert_eq!(
        pool.release(&legacy.id, &adopted.claim(), ReleasePolicy::Release)
            .await
            .expect("release with the old token"),
        ReleaseOutcome::NotHeld {
            status: AliasStatus::Claimed
        }
    );

    // Free rows are not taken over (that would be a claim), and a changed address is refused.
    let refused = pool
        .take_over(&request(&free, TakeOverScope::AnyClaim))
        .await
        .expect_err("free row");
    assert!(matches!(
        refused,
        StoreError::WrongStatus {
            status: AliasStatus::Free,
            ..
        }
    ));
    let mut moved = request(&legacy, TakeOverScope::AnyClaim);
    moved.email = "someone-else@corp.example".into();
    assert!(matches!(
        pool.take_over(&moved).await,
        Err(StoreError::InvalidInput { field: "email", .. })
    ));
    assert!(pool
        .get(&free.id)
        .await
        .unwrap()
        .unwrap()
        .claim_token
        .is_none());

    // A claim re-issued after it was read (the old app gave the row to someone
    // else) is not taken over when the caller says what it saw.
    let mut reissued = LegacyRow::free("mbx@corp.example", "corp.example");
    reissued.in_use = true;
    reissued.user_mail = "first@corp.example".into();
    pool.insert_legacy_row(&reissued).await.expect("insert");
    other_tool::merge_blindly(
        pool.table_name(),
        pool.partition_key(),
        &reissued.id,
        json!({"user_mail": "second@corp.example"}),
    )
    .await;
    let etag = pool
        .get(&reissued.id)
        .await
        .unwrap()
        .unwrap()
        .etag()
        .to_string();
    let mut seen_first = request(&reissued, TakeOverScope::Untokened);
    seen_first.seen = Some(SeenClaim {
        owner: "first@corp.example".into(),
        claimed_at: None,
    });
    assert!(matches!(
        pool.take_over(&seen_first).await,
        Err(StoreError::ClaimChanged { .. })
    ));
    assert_eq!(
        pool.get(&reissued.id).await.unwrap().unwrap().etag(),
        etag,
        "nothing written"
    );
    let mut seen_second = seen_first.clone();
    seen_second.seen = Some(SeenClaim {
        owner: "second@corp.example".into(),
        claimed_at: None,
    });
    pool.take_over(&seen_second)
        .await
        .expect("the claim that was seen is adopted");
}
