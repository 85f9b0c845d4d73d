//! The store's side of AWS's root e-mail rules, against Azurite: use is
//! recorded by linking and survives unlinking, the default release retires
//! used aliases and releases unused ones, explicit policies do what they say,
//! unlink and relink compare the expected account inside the conditional
//! write, and e-mail lookups (address, mailbox, owner) ignore case.

use testkit::azurite;

use rootmail::store::{
    AliasFilter, AliasPool, AliasStatus, ClaimRequest, LegacyRow, LinkTarget, ReleaseOutcome,
    ReleasePolicy, StoreConfig, StoreError,
};

const MAILBOX: &str = "mbx@corp.example";

async fn pool(prefix: &str) -> AliasPool {
    let config = StoreConfig::emulator(
        azurite::shared().endpoint(),
        azurite::unique_table_name(prefix),
    );
    let pool = AliasPool::connect(&config).expect("connect");
    pool.ensure_table().await.expect("create table");
    pool
}

fn req(mailbox: Option<&str>) -> ClaimRequest {
    ClaimRequest {
        owner: "team@corp.example".into(),
        purpose: "test".into(),
        mailbox: mailbox.map(str::to_owned),
        claim_key: None,
        source: None,
    }
}

#[tokio::test]
async fn use_is_recorded_and_decides_the_default_release() {
    let pool = pool("awsuse").await;
    pool.seed(MAILBOX, "corp.example", 2).await.expect("seed");
    let used = pool.claim(&req(None)).await.expect("claim");
    let unused = pool.claim(&req(None)).await.expect("claim");
    let target = LinkTarget::Claim {
        alias_id: used.alias.id.clone(),
        claim: used.claim(),
    };
    let linked = pool
        .link_account(&target, "111122223333")
        .await
        .expect("link");
    assert_eq!(linked.used_by, "111122223333");

    // Unlinking with the wrong expected account changes nothing.
    let err = pool
        .unlink_account(&target, "999999999999")
        .await
        .expect_err("mismatch");
    assert!(matches!(err, StoreError::LinkMismatch { .. }), "{err}");
    // Moving the link from an account it is not linked to is refused.
    let err = pool
        .relink_account(&target, Some("999999999999"), "444455556666")
        .await
        .expect_err("not from there");
    assert!(matches!(err, StoreError::AlreadyLinked { .. }), "{err}");

    let unlinked = pool
        .unlink_account(&target, "111122223333")
        .await
        .expect("unlink");
    assert_eq!(unlinked.aws_account_id, "");
    let row = pool.get(&used.alias.id).await.expect("get").expect("row");
    assert_eq!(row.used_by, "111122223333", "unlinking keeps the record");

    assert_eq!(
        pool.release(&used.alias.id, &used.claim(), ReleasePolicy::default())
            .await
            .expect("release"),
        ReleaseOutcome::Retired
    );
    let row = pool.get(&used.alias.id).await.expect("get").expect("row");
    assert_eq!(row.status, AliasStatus::Retired);
    assert!(row.in_use);
    assert!(
        row.retired_reason.contains("111122223333"),
        "{}",
        row.retired_reason
    );
    assert_eq!(
        pool.release(&unused.alias.id, &unused.claim(), ReleasePolicy::default())
            .await
            .expect("release"),
        ReleaseOutcome::Released
    );
    assert_eq!(
        pool.get(&unused.alias.id)
            .await
            .expect("get")
            .expect("row")
            .status,
        AliasStatus::Free
    );
}

#[tokio::test]
async fn old_rows_with_an_account_count_as_used() {
    let pool = pool("awsold").await;
    // Claimed by an older tool and linked: the default release retires it.
    let mut old = LegacyRow::free(MAILBOX, "corp.example");
    old.in_use = true;
    old.aws_account_id = "111122223333".into();
    pool.insert_legacy_row(&old).await.expect("insert");
    let adopted = pool
        .adopt(&rootmail::store::AdoptRequest {
            email: old.aws_mail.clone(),
            owner: None,
            purpose: None,
        })
        .await
        .expect("adopt");
    assert_eq!(
        pool.release(&old.id, &adopted.claim(), ReleasePolicy::RetireIfUsed)
            .await
            .expect("release"),
        ReleaseOutcome::Retired
    );
    let row = pool.get(&old.id).await.expect("get").expect("row");
    assert_eq!(
        row.used_by, "111122223333",
        "the use is written down on retiring"
    );

    // Free but with an account (an older tool released it that way): never claimed.
    let mut freed = LegacyRow::free(MAILBOX, "corp.example");
    freed.aws_account_id = "222233334444".into();
    pool.insert_legacy_row(&freed).await.expect("insert");
    let err = pool.claim(&req(None)).await.expect_err("nothing claimable");
    assert!(matches!(err, StoreError::PoolExhausted { .. }), "{err}");
    let stats = pool.stats(None).await.expect("stats");
    // Counted once, as unusable, not also as free.
    assert_eq!(
        (stats.all.free, stats.all.unusable, stats.all.claimable()),
        (0, 1, 0)
    );
}

#[tokio::test]
async fn explicit_policies_do_what_they_say_on_a_used_alias() {
    let pool = pool("awsexplicit").await;
    pool.seed(MAILBOX, "corp.example", 2).await.expect("seed");
    for policy in [
        ReleasePolicy::Release,
        ReleasePolicy::Quarantine { days: 1 },
    ] {
        let c = pool.claim(&req(None)).await.expect("claim");
        let target = LinkTarget::Claim {
            alias_id: c.alias.id.clone(),
            claim: c.claim(),
        };
        pool.link_account(&target, "111122223333")
            .await
            .expect("link");
        pool.release(&c.alias.id, &c.claim(), policy)
            .await
            .expect("release");
        let row = pool.get(&c.alias.id).await.expect("get").expect("row");
        assert_eq!(
            row.used_by, "111122223333",
            "{policy:?}: the use stays on record"
        );
        assert_eq!(
            row.freed_from, "111122223333",
            "{policy:?}: with the caller's word that its e-mail was changed"
        );
        assert_eq!(row.used_by_account(), None, "{policy:?}: free in AWS again");
        assert_ne!(row.status, AliasStatus::Retired, "{policy:?}");
    }
    // Released: claimable again. Should that account take the address back
    // (its e-mail changed to this one again), AWS binds it to it once more.
    let again = pool.claim(&req(None)).await.expect("claim the freed alias");
    let target = LinkTarget::Claim {
        alias_id: again.alias.id.clone(),
        claim: again.claim(),
    };
    let linked = pool
        .link_account(&target, "111122223333")
        .await
        .expect("link");
    assert_eq!(linked.freed_from, "");
    assert_eq!(linked.used_by_account(), Some("111122223333"));
    let row = pool.get(&again.alias.id).await.expect("get").expect("row");
    assert_eq!(
        (row.freed_from.as_str(), row.used_by_account()),
        ("", Some("111122223333"))
    );
}

#[tokio::test]
async fn lookups_by_e_mail_ignore_case() {
    let pool = pool("awscase").await;
    let mut mixed = LegacyRow::free("Comp003@Corp.Example", "corp.example");
    mixed.aws_mail = format!("Aws_{}@Corp.Example", mixed.id);
    pool.insert_legacy_row(&mixed).await.expect("insert");
    for spelling in [
        mixed.aws_mail.clone(),
        mixed.aws_mail.to_ascii_lowercase(),
        mixed.aws_mail.to_ascii_uppercase(),
    ] {
        let found = pool.find_by_email(&spelling).await.expect("find");
        assert_eq!(found.map(|r| r.id), Some(mixed.id.clone()), "{spelling}");
    }
    assert!(pool
        .find_by_email("nobody@corp.example")
        .await
        .expect("find")
        .is_none());
    let stats = pool
        .stats(Some("comp003@corp.example"))
        .await
        .expect("stats");
    assert_eq!(stats.all.total, 1);
    // A claim for the mailbox in another spelling finds the row.
    let c = pool
        .claim(&req(Some("COMP003@corp.example")))
        .await
        .expect("claim");
    assert_eq!(c.alias.id, mixed.id);
    let listed = pool
        .list(&AliasFilter {
            owner: Some("TEAM@corp.example".into()),
            mailbox: Some("comp003@CORP.example".into()),
            status: None,
            minted: None,
        })
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
}
