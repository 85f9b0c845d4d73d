//! Each step of a row's life (claim, link, release, adopt, take over, retire),
//! legacy rows included, and what each step leaves alone.

use super::*;

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
