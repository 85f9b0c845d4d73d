//! `rootmail_alias_account` and `rootmail alias link` against a writer that
//! relinks the alias between their read and their write (the fault proxy
//! holds the conditional write while the racer writes): the expected account
//! is compared inside the ETag-guarded write, so the other link survives.

use std::time::Duration;

use rootmail::store::LegacyRow;
use serde_json::json;
use testkit::azurite;
use testkit::cli::rootmail_on;
use testkit::fault_proxy::{Fault, FaultProxy, Target};
use testkit::pool::Pool;
use testkit::reliability::linked_alias_tf;
use testkit::terraform::TerraformDir;

const MINE: &str = "123456789012";
const RACER: &str = "210987654321";

fn setup(prefix: &str, count: usize) -> (Pool, FaultProxy) {
    let az = azurite::shared();
    let pool = Pool::in_shared_azurite(prefix, count);
    let proxy = FaultProxy::start(&az.endpoint());
    (pool, proxy)
}

fn linked_tf(pool: &Pool, proxy: &FaultProxy, account: &str) -> String {
    pool.provider_block_at(&proxy.endpoint(), "") + &linked_alias_tf(account)
}

/// Holds the next write, lets `race` write the row directly, then lets the
/// held write go; returns what `run` returned.
fn with_racer<T: Send>(
    pool: &Pool,
    proxy: &FaultProxy,
    alias_id: &str,
    body: serde_json::Value,
    run: impl FnOnce() -> T + Send,
) -> T {
    proxy.set_for(Target::Writes, Fault::Pause, 1);
    std::thread::scope(|s| {
        let handle = s.spawn(run);
        proxy
            .wait_paused(Duration::from_secs(60))
            .expect("the write reached the proxy");
        pool.rt.block_on(async {
            let (_, etag) = pool.raw.get(alias_id).await.expect("row");
            assert!(pool.raw.merge_if_match(alias_id, &body, &etag).await);
        });
        proxy.resume();
        handle.join().expect("runner")
    })
}

#[test]
fn unlink_and_relink_never_wipe_a_link_made_in_between() {
    let (pool, proxy) = setup("linkrace", 2);
    let dir = TerraformDir::new();
    dir.write("main.tf", &linked_tf(&pool, &proxy, MINE));
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    let row = pool.claimed().remove(0);
    assert_eq!(row.aws_account_id, MINE);

    // Destroying the link while someone relinks the alias to their account.
    let destroy = with_racer(
        &pool,
        &proxy,
        &row.id,
        json!({"aws_account_id": RACER}),
        || {
            dir.run(&[
                "destroy",
                "-auto-approve",
                "-no-color",
                "-target=rootmail_alias_account.a",
            ])
        },
    );
    assert!(destroy.success(), "{}", destroy.stderr);
    assert!(
        destroy.stdout.contains("Link left unchanged")
            || destroy.stderr.contains("Link left unchanged"),
        "{}\n{}",
        destroy.stdout,
        destroy.stderr
    );
    let held = proxy
        .log()
        .into_iter()
        .find(|r| r.fault == Fault::Pause)
        .expect("held write");
    assert_eq!(held.status, Some(412), "the stale write was refused");
    assert_eq!(
        pool.row(&row.id).aws_account_id,
        RACER,
        "the racer's link survives"
    );

    // Moving a link from MINE to another account while the racer relinks:
    // refused, and the racer's link stays.
    pool.rt.block_on(async {
        let (_, etag) = pool.raw.get(&row.id).await.expect("row");
        assert!(
            pool.raw
                .merge_if_match(&row.id, &json!({"aws_account_id": MINE}), &etag)
                .await
        );
    });
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    dir.write("main.tf", &linked_tf(&pool, &proxy, "333333333333"));
    let update = with_racer(
        &pool,
        &proxy,
        &row.id,
        json!({"aws_account_id": RACER}),
        || dir.run(&["apply", "-auto-approve", "-no-color"]),
    );
    assert!(!update.success(), "the relink must be refused");
    assert!(update.stderr.contains(RACER), "{}", update.stderr);
    assert_eq!(pool.row(&row.id).aws_account_id, RACER);
}

#[test]
fn cli_link_of_a_tokenless_row_writes_only_the_row_it_showed() {
    let (pool, proxy) = setup("clilinkrace", 0);
    let mut legacy = LegacyRow::free("comp001@company.com", "company.com");
    legacy.in_use = true;
    legacy.user_mail = "old-pipeline@company.com".into();
    pool.rt
        .block_on(pool.pool.insert_legacy_row(&legacy))
        .expect("insert");
    let cli = || {
        let mut c = rootmail_on(&proxy.endpoint(), &pool.table);
        c.args([
            "alias",
            "link",
            &legacy.aws_mail,
            "--account",
            MINE,
            "--yes",
        ]);
        c.output().expect("run rootmail")
    };
    // Another tool hands the alias to someone else after it was shown.
    let out = with_racer(
        &pool,
        &proxy,
        &legacy.id,
        json!({"user_mail": "someone-else@company.com"}),
        cli,
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "refused: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = pool.row(&legacy.id);
    assert_eq!(row.aws_account_id, "", "nothing was written");
    assert_eq!(row.owner, "someone-else@company.com");
}
