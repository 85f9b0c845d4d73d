//! Minting against a real Azurite: a registered minting mailbox lets claims
//! go on when the aliases run out (single and batched claims), as the
//! address source allows; minted rows are ordinary rows in the seed's
//! layout that older tools never see as free, released unused ones are
//! reused and used ones retired, and the counts keep them apart.

use std::collections::HashSet;
use std::sync::Arc;

use rootmail::store::address::{check_aws_email, FORBIDDEN_IN_LOCAL_PART};
use rootmail::store::minting::registry_partition;
use rootmail::store::{
    AddressSource, AliasFilter, AliasPool, AliasRow, AliasStatus, BatchSettings, ClaimBatcher,
    ClaimRequest, LinkTarget, MintingMailbox, PartitionState, ReleaseOutcome, ReleasePolicy,
    StoreConfig, StoreError,
};
use testkit::azurite;
use testkit::table_tool::{LegacyClaim, RawTable};

const MINTING: &str = "aws@company.com";

async fn pool(prefix: &str, aliases: usize, source: AddressSource) -> (AliasPool, String) {
    let az = azurite::shared();
    let table = azurite::unique_table_name(prefix);
    let config = StoreConfig {
        address_source: source,
        ..StoreConfig::emulator(az.endpoint(), &table)
    };
    let pool = AliasPool::connect(&config).expect("connect");
    pool.ensure_table().await.expect("create table");
    pool.seed("box1@company.com", "company.com", aliases)
        .await
        .expect("seed");
    (pool, table)
}

async fn register(pool: &AliasPool) {
    let m = MintingMailbox::new(MINTING, None, "admin@company.com").expect("registration");
    pool.register_minting_mailbox(&m).await.expect("register");
}

/// The rows with `status`.
async fn in_status(pool: &AliasPool, status: AliasStatus) -> Vec<AliasRow> {
    pool.list(&AliasFilter {
        status: Some(status),
        ..AliasFilter::default()
    })
    .await
    .expect("list")
}

fn req(owner: &str, source: Option<AddressSource>) -> ClaimRequest {
    ClaimRequest {
        owner: owner.to_owned(),
        purpose: "minting test".to_owned(),
        source,
        ..ClaimRequest::default()
    }
}

/// AWS's rules for a root address, and this store's form of it.
fn assert_aws_accepts(email: &str) {
    assert_eq!(check_aws_email(email), Ok(()), "{email}");
    assert!(
        (6..=64).contains(&email.len()) && email.is_ascii(),
        "{email}"
    );
    assert_eq!(email, email.to_ascii_lowercase(), "lower case: {email}");
    let (local, _) = email.split_once('@').expect("one @");
    assert!(
        !local
            .chars()
            .any(|c| c.is_whitespace() || FORBIDDEN_IN_LOCAL_PART.contains(&c)),
        "{email}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_pool_mints_only_when_the_source_allows_it() {
    let (pool, table) = pool("mintsrc", 2, AddressSource::AliasesOnly).await;
    register(&pool).await;
    // Today's behaviour by default: the aliases, then the same error as ever.
    for i in 0..2 {
        let c = pool
            .claim(&req(&format!("o{i}@company.com"), None))
            .await
            .expect("alias");
        assert!(!c.alias.minted);
    }
    let err = pool
        .claim(&req("o@company.com", None))
        .await
        .expect_err("exhausted");
    assert!(
        matches!(&err, StoreError::PoolExhausted { minting: None, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("the alias pool is exhausted: no free alias in table `{table}`")
    );

    // prefer_aliases mints a row in the seed's layout, already claimed.
    let c = pool
        .claim(&req("m@company.com", Some(AddressSource::PreferAliases)))
        .await
        .expect("minted");
    assert!(c.alias.minted && c.alias.status == AliasStatus::Claimed);
    assert!(c.alias.email.starts_with("aws+") && c.alias.email.ends_with("@company.com"));
    assert_aws_accepts(&c.alias.email);
    let raw = pool.get_raw(&c.alias.id).await.expect("get").expect("row");
    for (column, value) in [
        ("PartitionKey", serde_json::json!("root")),
        ("RowKey", serde_json::json!(c.alias.id)),
        ("id", serde_json::json!(c.alias.id)),
        ("aws_mail", serde_json::json!(c.alias.email)),
        ("in_use", serde_json::json!(true)),
        ("user_mail", serde_json::json!("m@company.com")),
        ("root_mailbox", serde_json::json!(MINTING)),
        ("aws_account_id", serde_json::json!("")),
        ("minted", serde_json::json!(true)),
        ("status", serde_json::json!("claimed")),
        ("claim_token", serde_json::json!(c.token.as_str())),
    ] {
        assert_eq!(raw.get(column), Some(&value), "{column} in {raw:?}");
    }
    assert!(uuid_like(&c.alias.id), "{}", c.alias.id);

    // minted_only mints even while aliases are free.
    let (pool2, _) = pool_with_free_aliases().await;
    let c = pool2
        .claim(&req("m@company.com", Some(AddressSource::MintedOnly)))
        .await
        .expect("minted");
    assert!(c.alias.minted);
}

async fn pool_with_free_aliases() -> (AliasPool, String) {
    let (pool, table) = pool("mintonly", 5, AddressSource::AliasesOnly).await;
    register(&pool).await;
    (pool, table)
}

fn uuid_like(id: &str) -> bool {
    id.len() == 36 && id.chars().filter(|c| *c == '-').count() == 4
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_minting_mailbox_the_exhaustion_error_says_why() {
    let (pool, _) = pool("mintnone", 0, AddressSource::PreferAliases).await;
    let err = pool
        .claim(&req("o@company.com", None))
        .await
        .expect_err("exhausted");
    let text = err.to_string();
    assert!(
        text.contains("no free alias") && text.contains("no minting mailbox is registered"),
        "{text}"
    );
    register(&pool).await;
    // A pool that only has a minting mailbox is in use, not a wrong partition key.
    assert_eq!(pool.probe().await.expect("probe"), PartitionState::HasRows);
    let mut other = req("o@company.com", None);
    other.mailbox = Some("box1@company.com".into());
    let text = pool
        .claim(&other)
        .await
        .expect_err("no minting mailbox")
        .to_string();
    assert!(
        text.contains("`box1@company.com` is no minting mailbox"),
        "{text}"
    );
    other.mailbox = Some("AWS@Company.com".into());
    let c = pool.claim(&other).await.expect("its own minting mailbox");
    assert_eq!(c.alias.root_mailbox, MINTING);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn released_minted_rows_stay_hidden_from_older_tools_and_come_back_unless_used() {
    let (pool, table) = pool("mintrel", 0, AddressSource::PreferAliases).await;
    register(&pool).await;
    let unused = pool.claim(&req("a@company.com", None)).await.expect("mint");
    let used = pool.claim(&req("b@company.com", None)).await.expect("mint");
    pool.link_account(
        &LinkTarget::Claim {
            alias_id: used.alias.id.clone(),
            claim: used.claim(),
        },
        "123456789012",
    )
    .await
    .expect("link");
    let released = pool
        .release(
            &unused.alias.id,
            &unused.claim(),
            ReleasePolicy::RetireIfUsed,
        )
        .await
        .expect("release");
    assert_eq!(released, ReleaseOutcome::Released);
    let retired = pool
        .release(
            &used.alias.id,
            &pool
                .get(&used.alias.id)
                .await
                .unwrap()
                .unwrap()
                .claim()
                .unwrap(),
            ReleasePolicy::RetireIfUsed,
        )
        .await
        .expect("release");
    assert_eq!(retired, ReleaseOutcome::Retired);
    let row = pool.get(&unused.alias.id).await.expect("get").expect("row");
    assert_eq!(
        (row.status, row.in_use, row.minted),
        (AliasStatus::Free, true, true)
    );
    assert!(row.claim_token.is_none() && row.owner.is_empty());

    // The old function app's claimer looks for in_use eq false: nothing.
    let raw = RawTable::new(&azurite::shared().endpoint(), &table);
    assert_eq!(
        raw.legacy_claim("legacy@company.com").await,
        LegacyClaim::Empty
    );

    // The unused one is handed out again before anything new is minted;
    // the used one never.
    let again = pool
        .claim(&req("c@company.com", None))
        .await
        .expect("reuse");
    assert_eq!(again.alias.id, unused.alias.id);
    let fresh = pool.claim(&req("d@company.com", None)).await.expect("mint");
    assert!(fresh.alias.id != used.alias.id && fresh.alias.minted);

    // Counted apart, in the one classification; listed by source.
    let stats = pool.stats(None).await.expect("stats");
    assert_eq!(
        (
            stats.minted.total,
            stats.minted.claimed,
            stats.minted.retired
        ),
        (3, 2, 1)
    );
    assert_eq!(stats.all.total, 3);
    assert_eq!(stats.minting_mailboxes.len(), 1);
    let minted = pool
        .list(&AliasFilter {
            minted: Some(true),
            ..AliasFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(minted.len(), 3);
    let free = in_status(&pool, AliasStatus::Free).await;
    assert!(free.is_empty());
    pool.release(&again.alias.id, &again.claim(), ReleasePolicy::Release)
        .await
        .expect("release");
    let free = in_status(&pool, AliasStatus::Free).await;
    assert_eq!(free.len(), 1, "a free minted row is listed as free");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_live_beside_the_pool_and_are_refused_twice() {
    let (pool, table) = pool("mintreg", 1, AddressSource::AliasesOnly).await;
    let m = MintingMailbox::new("Root@Company.com", Some("root"), "admin@company.com")
        .expect("registration");
    let written = pool.register_minting_mailbox(&m).await.expect("register");
    assert_eq!(written.mailbox, "root@company.com");
    assert!(written.plus_addressing_checked_at.is_some());
    let err = pool
        .register_minting_mailbox(
            &MintingMailbox::new("root@company.com", Some("other"), "").unwrap(),
        )
        .await
        .expect_err("twice");
    assert!(
        err.to_string()
            .contains("registered as a minting mailbox already"),
        "{err}"
    );
    // Not a row of the pool: the pool's lists and counts do not see it, and
    // in the whole table it is in use, never free.
    assert_eq!(pool.list(&AliasFilter::default()).await.unwrap().len(), 1);
    assert_eq!(pool.stats(None).await.unwrap().all.total, 1);
    let raw = RawTable::new(&azurite::shared().endpoint(), &table);
    let entities = raw.entities().await;
    let registration = entities
        .iter()
        .find(|e| e["PartitionKey"] == registry_partition("root").as_str())
        .expect("registration row");
    assert_eq!(registration["in_use"], true);
    assert_eq!(registration["aws_mail"], "");
    assert!(pool.remove_minting_mailbox(&written).await.expect("remove"));
    assert!(pool.minting_mailboxes().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batched_claims_take_the_aliases_then_mint_in_one_transaction() {
    let (pool, _) = pool("mintbatch", 10, AddressSource::PreferAliases).await;
    register(&pool).await;
    let batcher = Arc::new(ClaimBatcher::with_settings(
        pool.clone(),
        BatchSettings {
            linger: std::time::Duration::from_millis(50),
            max_wait: std::time::Duration::from_millis(200),
            ..BatchSettings::default()
        },
    ));
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let b = Arc::clone(&batcher);
            let key = (i % 2 == 0).then(|| format!("key-{i}"));
            tokio::spawn(async move {
                b.claim(&ClaimRequest {
                    claim_key: key,
                    ..req(&format!("o{i}@company.com"), None)
                })
                .await
            })
        })
        .collect();
    let mut emails = HashSet::new();
    let mut minted = 0;
    for t in tasks {
        let c = t.await.expect("task").expect("claim");
        assert!(
            emails.insert(c.alias.email.to_ascii_lowercase()),
            "twice: {}",
            c.alias.email
        );
        assert!(!c.alias.claim_pending, "keyed claims are handed over");
        if c.alias.minted {
            minted += 1;
            assert_aws_accepts(&c.alias.email);
        }
    }
    assert_eq!((emails.len(), minted), (40, 30));
    let counts = batcher.counts();
    assert!(counts.minted >= 20, "minted in transactions: {counts:?}");
    let claimed = in_status(&pool, AliasStatus::Claimed).await;
    assert_eq!(claimed.len(), 40);
}
