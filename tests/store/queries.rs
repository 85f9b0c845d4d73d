//! Reading the pool: the mailbox filter in look-ups, lists and stats, paging,
//! and hostile strings that must not widen a filter.

use super::*;

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
