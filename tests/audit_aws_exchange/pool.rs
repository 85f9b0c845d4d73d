//! What the pool does with the audit's marks: claims skip unroutable aliases,
//! and two audits importing one address at once write one row.

use super::*;

fn store_claim() -> ClaimRequest {
    ClaimRequest {
        owner: "team@company.com".into(),
        purpose: "exchange".into(),
        mailbox: None,
        claim_key: None,
        source: None,
    }
}

fn mailbox(addresses: &[&str]) -> Mailbox {
    Mailbox {
        name: MAILBOX.to_owned(),
        addresses: Some(MailboxAddresses {
            primary: Some(MAILBOX.to_owned()),
            secondary: addresses.iter().map(|a| a.to_string()).collect(),
            total: addresses.len() + 2,
        }),
    }
}

/// The address an audit against `accounts` and `exchange` finds in no row.
async fn unpooled_finding(
    pool: &AliasPool,
    accounts: &[OrgAccount],
    exchange: &[Mailbox],
) -> Finding {
    pool.audit(Some(accounts), Some(ExchangeInput::Known(exchange)))
        .await
        .expect("audit")
        .findings
        .into_iter()
        .find(|f| f.kind == FindingKind::UnpooledAddress)
        .expect("unpooled")
}

/// In the store, with the mailboxes given as Exchange would describe them:
/// free aliases no mailbox has are marked unroutable with conditional
/// writes, claims never hand them out (not even after an older tool reset
/// `in_use`), the counts call them unusable, and one whose mailbox gets the
/// address goes back into the pool.
#[tokio::test]
async fn claims_never_hand_out_an_alias_marked_unroutable() {
    let table = azurite::unique_table_name("exchange");
    let config = StoreConfig::emulator(azurite::shared().endpoint(), table.clone());
    let pool = AliasPool::connect(&config).expect("connect");
    pool.ensure_table().await.expect("table");
    let rows = pool.seed(MAILBOX, "company.com", 3).await.expect("seed");
    let (routed, lost_a, lost_b) = (&rows[0], &rows[1], &rows[2]);

    // Exchange has only the first address (in another letter case).
    let exchange = [mailbox(&[&routed.aws_mail.to_ascii_uppercase()])];
    let report = pool
        .audit(None, Some(ExchangeInput::Known(&exchange)))
        .await
        .expect("audit");
    let unroutable: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::UnroutableFree)
        .collect();
    assert_eq!(unroutable.len(), 2, "{:?}", report.findings);
    assert!(report.findings.iter().all(|f| f.email != routed.aws_mail));

    // A fix is conditional on the row as audited.
    let stale = unroutable[0];
    let id = &stale.row.as_ref().expect("row").id;
    let raw = RawTable::new(&azurite::shared().endpoint(), &table);
    let (_, etag) = raw.get(id).await.expect("row");
    assert!(
        raw.merge_if_match(id, &serde_json::json!({"purpose": "touched"}), &etag)
            .await
    );
    let err = pool.apply_fix(stale).await.expect_err("stale");
    assert!(matches!(err, StoreError::Changed { .. }), "{err}");
    assert_eq!(
        pool.get(id).await.expect("get").expect("row").status,
        AliasStatus::Free
    );

    // Audited again, both are marked.
    let report = pool
        .audit(None, Some(ExchangeInput::Known(&exchange)))
        .await
        .expect("audit");
    for f in report.findings.iter().filter(|f| f.fix.is_some()) {
        assert!(matches!(f.fix, Some(Fix::MarkUnroutable { .. })), "{f:?}");
        pool.apply_fix(f).await.expect("mark");
    }
    for lost in [lost_a, lost_b] {
        let row = pool.get(&lost.id).await.expect("get").expect("row");
        assert_eq!(row.status, AliasStatus::Unroutable);
        assert!(row.in_use, "older tools skip it too");
        assert!(
            row.unroutable_reason.contains(MAILBOX),
            "{}",
            row.unroutable_reason
        );
    }
    let again = pool
        .audit(None, Some(ExchangeInput::Known(&exchange)))
        .await
        .expect("audit");
    assert!(again.findings.is_empty(), "{:?}", again.findings);

    // An older tool resets in_use on one of them; the status still rules.
    let (_, etag) = raw.get(&lost_a.id).await.expect("row");
    assert!(
        raw.merge_if_match(&lost_a.id, &serde_json::json!({"in_use": false}), &etag)
            .await
    );
    let stats = pool.stats(None).await.expect("stats");
    assert_eq!((stats.all.claimable(), stats.all.unusable), (1, 2));
    let first = pool.claim(&store_claim()).await.expect("claim");
    assert_eq!(first.alias.id, routed.id);
    let err = pool
        .claim(&store_claim())
        .await
        .expect_err("nothing routable left");
    assert!(matches!(err, StoreError::PoolExhausted { .. }), "{err}");

    // The mailbox gets one of the addresses: it goes back into the pool.
    let exchange = [mailbox(&[&routed.aws_mail, &lost_b.aws_mail])];
    let report = pool
        .audit(None, Some(ExchangeInput::Known(&exchange)))
        .await
        .expect("audit");
    let back = report
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::RoutableAgain)
        .expect("routable again");
    assert_eq!(back.email, lost_b.aws_mail);
    pool.apply_fix(back).await.expect("return");
    let row = pool.get(&lost_b.id).await.expect("get").expect("row");
    assert_eq!((row.status, row.in_use), (AliasStatus::Free, false));
    assert_eq!(
        pool.claim(&store_claim()).await.expect("claim").alias.id,
        lost_b.id
    );

    // An address the table lacks is imported only when the AWS accounts
    // were compared (here: the one account uses another address).
    let management = [OrgAccount {
        id: "111111111111".into(),
        email: "root@company.com".into(),
        name: "management".into(),
        state: "ACTIVE".into(),
    }];
    let exchange = [mailbox(&[
        &routed.aws_mail,
        &lost_b.aws_mail,
        "aws_new@company.com",
    ])];
    let report = pool
        .audit(Some(&management), Some(ExchangeInput::Known(&exchange)))
        .await
        .expect("audit");
    let unpooled = report
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::UnpooledAddress)
        .expect("unpooled");
    pool.apply_fix(unpooled).await.expect("import");
    let imported = pool
        .find_by_email("AWS_NEW@company.com")
        .await
        .expect("find")
        .expect("imported");
    assert_eq!(imported.status, AliasStatus::Free);
    assert_eq!(imported.root_mailbox, MAILBOX);
}

/// Two audits that both found an address the table lacks (two nightly
/// runs, a person and a pipeline) import it once: the one that comes second
/// finds the row, and two racing past that look-up pick the same row key,
/// so the table keeps one of them. The other fixes are refused as changed.
#[tokio::test]
async fn an_address_two_audits_import_at_once_becomes_one_row() {
    let table = azurite::unique_table_name("importonce");
    let config = StoreConfig::emulator(azurite::shared().endpoint(), table);
    let pool = AliasPool::connect(&config).expect("connect");
    pool.ensure_table().await.expect("table");
    let rows = pool.seed(MAILBOX, "company.com", 1).await.expect("seed");
    let management = [OrgAccount {
        id: "111111111111".into(),
        email: "root@company.com".into(),
        name: "management".into(),
        state: "ACTIVE".into(),
    }];
    let exchange = [mailbox(&[&rows[0].aws_mail, "aws_new@company.com"])];
    let unpooled = || unpooled_finding(&pool, &management, &exchange);
    // Four audits see the address missing before any of them fixes it.
    let seen = [
        unpooled().await,
        unpooled().await,
        unpooled().await,
        unpooled().await,
    ];
    assert!(
        matches!(seen[0].fix, Some(Fix::Import { .. })),
        "{:?}",
        seen[0]
    );

    // Two fix at the same moment, then the other two.
    let (a, b) = tokio::join!(pool.apply_fix(&seen[0]), pool.apply_fix(&seen[1]));
    let later = [
        pool.apply_fix(&seen[2]).await,
        pool.apply_fix(&seen[3]).await,
    ];
    let outcomes = [a, b].into_iter().chain(later).collect::<Vec<_>>();
    let fixed = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(fixed, 1, "{outcomes:?}");
    for refused in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        assert!(matches!(refused, StoreError::Changed { .. }), "{refused}");
    }
    let all = pool
        .list(&rootmail::store::AliasFilter::default())
        .await
        .expect("list");
    let imported: Vec<&AliasRow> = all
        .iter()
        .filter(|r| r.email.eq_ignore_ascii_case("aws_new@company.com"))
        .collect();
    assert_eq!(imported.len(), 1, "one row: {imported:?}");
    assert_eq!(imported[0].status, AliasStatus::Free);

    // An address an account used, likewise, imported retired once.
    let used = [OrgAccount {
        id: "222222222222".into(),
        email: "AWS_Used@company.com".into(),
        name: "used".into(),
        state: "SUSPENDED".into(),
    }];
    let exchange = [mailbox(&[
        &rows[0].aws_mail,
        "aws_new@company.com",
        "aws_used@company.com",
    ])];
    let retired = || unpooled_finding(&pool, &used, &exchange);
    let (x, y) = (retired().await, retired().await);
    assert!(matches!(x.fix, Some(Fix::ImportRetired { .. })), "{x:?}");
    let (first, second) = tokio::join!(pool.apply_fix(&x), pool.apply_fix(&y));
    assert_eq!(
        [first.is_ok(), second.is_ok()]
            .iter()
            .filter(|ok| **ok)
            .count(),
        1,
        "{first:?} {second:?}"
    );
    let row = pool
        .find_by_email("aws_used@company.com")
        .await
        .expect("one row")
        .expect("imported");
    assert_eq!(
        (row.status, row.used_by.as_str()),
        (AliasStatus::Retired, "222222222222")
    );
}
