//! Failing fast and clearly: an outage, a typo or a wrong setting costs
//! seconds and says what to check. The real terraform (1.0.3 and the modern
//! one) plans against a table service that was stopped; the `rootmail` CLI
//! meets a storage account whose name does not resolve, a certificate it
//! cannot verify, two credentials at once, a refused key and a partition
//! key with no rows; the store's operations share one outage through a
//! fault proxy.

use std::process::Output;
use std::time::{Duration, Instant};

use rootmail::azure::{AzureError, OutageCause};
use rootmail::store::{AliasFilter, AliasPool, StoreConfig, StoreError};
use testkit::azure_ad::TestCa;
use testkit::azurite::{self, Azurite};
use testkit::cli::{rootmail, rootmail_on};
use testkit::fault_proxy::{Fault, FaultProxy, Target};
use testkit::pool::Pool;
use testkit::reliability::aliases_tf;
use testkit::terraform::TerraformDir;

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Terraform's error diagnostics in its output (`Error: …`, with or
/// without the box drawing of newer versions).
fn error_count(stderr: &str) -> usize {
    stderr
        .lines()
        .filter(|l| l.trim_start_matches(['│', ' ']).starts_with("Error: "))
        .count()
}

#[test]
fn a_plan_of_100_aliases_against_a_stopped_table_service_fails_once_within_the_budget() {
    let az = Azurite::start();
    let pool = Pool::seeded(&az.endpoint(), "outage".into(), 110);
    let config = pool.provider_block() + &aliases_tf("a", 100, false);
    let old = TerraformDir::new();
    old.write("main.tf", &config);
    old.run_ok(&["apply", "-auto-approve", "-parallelism=10", "-no-color"]);
    // The modern terraform plans the same state (a copy), at the same time.
    let modern = TerraformDir::modern();
    if let Some(dir) = &modern {
        dir.write("main.tf", &config);
        let state = std::fs::read_to_string(old.path().join("terraform.tfstate")).expect("state");
        dir.write("terraform.tfstate", &state);
    } else {
        eprintln!("no modern terraform: only 1.0.3 plans against the stopped service");
    }
    let port = az.port();
    drop(az); // stopped: connections are refused
    let plans: Vec<(String, testkit::terraform::TerraformOutput)> = std::thread::scope(|s| {
        let dirs = std::iter::once(&old).chain(modern.as_ref());
        let running: Vec<_> = dirs
            .map(|d| {
                let name = d.binary().display().to_string();
                (name, s.spawn(|| d.run(&["plan", "-no-color"])))
            })
            .collect();
        running
            .into_iter()
            .map(|(name, h)| (name, h.join().expect("plan thread")))
            .collect()
    });
    for (terraform, plan) in &plans {
        let stderr = &plan.stderr;
        assert!(!plan.success(), "{terraform}: the plan must fail");
        assert!(
            plan.elapsed < Duration::from_secs(90),
            "{terraform}: {:?}",
            plan.elapsed
        );
        let errors = error_count(stderr);
        assert!(
            (1..=3).contains(&errors),
            "{terraform}: {errors} errors:\n{stderr}"
        );
        let flat = testkit::terraform::flat(stderr);
        for words in [
            format!("127.0.0.1:{port}"),
            "still unavailable".to_owned(),
            "connection refused".to_owned(),
            "retry_timeout_seconds".to_owned(),
        ] {
            assert!(
                flat.contains(&words),
                "{terraform}: no `{words}` in\n{stderr}"
            );
        }
        assert!(
            !flat.contains("reqwest") && !flat.contains("RowKey="),
            "{stderr}"
        );
        println!(
            "{terraform}: plan of 100 aliases against a stopped table service failed in {:?} with {errors} error diagnostic(s)",
            plan.elapsed
        );
    }
}

#[test]
fn the_cli_names_an_unresolvable_storage_account_at_once() {
    let started = Instant::now();
    let out = rootmail()
        .args(["--storage-account", "nosuchacct12345", "pool", "stats"])
        .env("ROOTMAIL_ACCESS_KEY", "c2VjcmV0c2VjcmV0")
        .output()
        .expect("run rootmail");
    let took = started.elapsed();
    let text = text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert!(
        text.contains(
            "storage account `nosuchacct12345` does not exist or is not reachable: the name \
             nosuchacct12345.table.core.windows.net does not resolve"
        ),
        "{text}"
    );
    assert!(
        !text.contains("reqwest") && !text.contains("$filter"),
        "{text}"
    );
    println!("unresolvable storage account named in {took:?}");
}

#[test]
fn a_certificate_that_does_not_verify_is_named_and_not_retried() {
    let ca = TestCa::new();
    let args = [
        "--cert".to_owned(),
        ca.cert_file().display().to_string(),
        "--key".to_owned(),
        ca.key_file().display().to_string(),
    ];
    let az = Azurite::start_with(&args, "https");
    let started = Instant::now();
    let out = rootmail_on(&az.endpoint(), "anytable")
        .args(["pool", "stats"])
        .output()
        .expect("run rootmail");
    let text = text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "retried: {text}"
    );
    assert!(
        text.contains("the certificate of 127.0.0.1 could not be verified")
            && text.contains("SSL_CERT_FILE"),
        "{text}"
    );
    // With the CA trusted, the same command reaches the table, and a table
    // that is not there (404) is said at once, in words.
    let started = Instant::now();
    let out = rootmail_on(&az.endpoint(), "anytable")
        .args(["pool", "stats"])
        .env("SSL_CERT_FILE", ca.ca_file())
        .output()
        .expect("run rootmail");
    let text = self::text(&out);
    assert!(text.contains("table `anytable` does not exist"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(10), "retried");
    assert!(
        !text.contains("https://") && !text.contains("$filter"),
        "{text}"
    );
}

#[test]
fn two_credentials_are_refused_naming_both_and_a_refused_key_names_its_variable() {
    let out = rootmail()
        .args(["--storage-account", "acct", "pool", "stats"])
        .env("ARM_ACCESS_KEY", "c2VjcmV0c2VjcmV0")
        .env("ARM_SAS_TOKEN", "sv=2020-01-01&sig=c2lnbmF0dXJl")
        .output()
        .expect("run rootmail");
    let text = text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("`access_key` (from ARM_ACCESS_KEY)")
            && text.contains("`sas_token` (from ARM_SAS_TOKEN)")
            && text.contains("ROOTMAIL_ACCESS_KEY"),
        "{text}"
    );
    assert!(!text.contains("c2VjcmV0c2VjcmV0") && !text.contains("c2lnbmF0dXJl"));

    // The pool's own key, refused by the service: the message says where it
    // came from (and the state backend's ARM_ACCESS_KEY is left alone).
    let pool = Pool::in_shared_azurite("refusedkey", 1);
    let started = Instant::now();
    let out = rootmail()
        .args(["--endpoint", &pool.endpoint, "--table", &pool.table])
        .args(["--storage-account", "devstoreaccount1", "pool", "stats"])
        .env("ROOTMAIL_ACCESS_KEY", "d3JvbmcgazNl")
        .env("ARM_ACCESS_KEY", "YmFja2VuZCBrZXk=")
        .output()
        .expect("run rootmail");
    let text = self::text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("denied") && text.contains("`access_key` (from ROOTMAIL_ACCESS_KEY)"),
        "{text}"
    );
    // A 403 is not retried, and says no request URL.
    assert!(started.elapsed() < Duration::from_secs(10), "retried");
    assert!(
        !text.contains("http://") && !text.contains("$filter"),
        "{text}"
    );
}

#[test]
fn a_partition_key_with_no_rows_is_named_with_the_partitions_the_table_has() {
    let pool = Pool::in_shared_azurite("partition", 3);
    let out = rootmail_on(&pool.endpoint, &pool.table)
        .args(["--partition-key", "Root", "pool", "stats"])
        .output()
        .expect("run rootmail");
    let text = text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let named = "partition `Root` of table";
    assert!(
        text.contains(named) && text.contains("rows are in partition `root`"),
        "{text}"
    );
    // The provider stops the run at once, at the attribute.
    let dir = TerraformDir::new();
    dir.write(
        "main.tf",
        &(pool.provider_block_at(&pool.endpoint, "partition_key = \"Root\"")
            + &aliases_tf("p", 2, false)),
    );
    let before = pool.snapshot();
    let plan = dir.run_err(&["plan", "-no-color"]);
    let flat = testkit::terraform::flat(&plan.stderr);
    assert!(
        flat.contains("Pool partition has no rows") && flat.contains(named),
        "{}",
        plan.stderr
    );
    assert!(!flat.contains("exhausted"), "{}", plan.stderr);
    assert_eq!(error_count(&plan.stderr), 1, "{}", plan.stderr);
    assert_eq!(pool.snapshot(), before, "a plan never writes");
}

#[test]
fn the_cli_shows_what_it_waits_for_on_a_terminal_and_nothing_without_one() {
    let closed = azurite::free_port();
    let endpoint = format!("http://127.0.0.1:{closed}/devstoreaccount1");
    let command = format!(
        "{} --retry-timeout-seconds 3 pool stats",
        testkit::cargo_bin("rootmail").display()
    );
    // `script` gives the command a terminal.
    let on_terminal = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("ROOTMAIL_TABLE_ENDPOINT", &endpoint)
        .env("ROOTMAIL_USE_EMULATOR", "true")
        .env("TERM", "xterm")
        .output()
        .expect("script (util-linux) runs the CLI on a terminal");
    let shown = text(&on_terminal);
    assert!(
        shown.contains("waiting for the table service: attempt")
            && shown.contains("failed (connection refused)"),
        "{shown}"
    );
    let quiet = rootmail_on(&endpoint, "anytable")
        .args(["--retry-timeout-seconds", "3", "pool", "stats"])
        .output()
        .expect("run rootmail");
    let stderr = String::from_utf8_lossy(&quiet.stderr);
    assert_eq!(quiet.status.code(), Some(1));
    assert!(!stderr.contains("waiting for"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one error line:\n{stderr}");
}

/// Operations of one process that meet the same outage share it: they fail
/// together after one budget, with the same error, and later ones fail
/// without sending a request. A fault that passes is retried as before.
#[test]
fn one_outage_one_error_for_every_pending_and_later_operation() {
    let pool = Pool::in_shared_azurite("shared", 4);
    let proxy = FaultProxy::start(&pool.endpoint);
    let mut config = StoreConfig::emulator(proxy.endpoint(), &pool.table);
    config.connection.retry = rootmail::settings::RetryBudget::for_total(Duration::from_secs(3));
    let through = AliasPool::connect(&config).expect("connect");
    // Transient: two dropped connections, then the service answers.
    proxy.set_for(Target::All, Fault::DropConnection, 2);
    let rows = pool
        .rt
        .block_on(through.list(&AliasFilter::default()))
        .expect("retried past two dropped connections");
    assert_eq!(rows.len(), 4);
    // Down: five operations at once, nothing answers.
    proxy.set(Target::All, Fault::DropConnection);
    let started = Instant::now();
    let all = AliasFilter::default();
    let results = pool.rt.block_on(futures::future::join_all(
        (0..5).map(|_| through.list(&all)),
    ));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(6), "{took:?}");
    let texts: Vec<String> = results
        .iter()
        .map(|r| match r {
            Err(StoreError::Azure(AzureError::Down(outage))) => {
                assert_eq!(outage.cause, OutageCause::Unanswered);
                outage.to_string()
            }
            other => panic!("not the shared outage: {other:?}"),
        })
        .collect();
    assert!(texts.windows(2).all(|w| w[0] == w[1]), "{texts:#?}");
    // Later operations fail at once, without a request.
    let sent = through.request_count();
    let again = pool
        .rt
        .block_on(through.get("00000000-0000-4000-8000-000000000000"));
    assert!(matches!(again, Err(StoreError::Azure(AzureError::Down(_)))));
    assert_eq!(through.request_count(), sent);
}
