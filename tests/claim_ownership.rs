//! No claim without an owner: batched and single claims (without
//! `claim_key`, so nothing could find a lost claim again) through the fault
//! proxy, with a lost response, a StopProvider (the pool's cancellation
//! token, which is what StopProvider cancels) while a retry waits or while a
//! request is in flight, and callers that stop waiting, at every step of a
//! batch: the candidate query, the transaction, and a single claim's Merge.
//! Afterwards every row that carries a claim token carries one that a caller
//! received, and a claim whose caller went away is given back, also when it
//! was already sent to the caller, who went away before reading it.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rootmail::settings::RetryBudget;
use rootmail::store::{
    AliasFilter, AliasPool, AliasStatus, BatchSettings, CancellationToken, ClaimBatcher,
    ClaimRequest, ClaimedAlias, StoreConfig, StoreError,
};
use testkit::azurite;
use testkit::fault_proxy::{Fault, FaultProxy, Target};

/// The steps of a claim as requests on the wire.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    /// The candidate query (a GET).
    Query,
    /// The claims' write: the transaction of a batch, the Merge of a single claim.
    Write,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Trouble {
    /// The request reaches the table, its answer is lost; the claim goes on.
    LostResponse,
    /// The answer is lost, and StopProvider comes while the retry waits.
    LostResponseThenStop,
    /// StopProvider while the request is held in flight.
    StopInFlight,
    /// Every caller stops waiting while the request is held in flight.
    CallersGone,
}

struct Outcome {
    delivered: usize,
    cancelled: usize,
    requests: u64,
}

fn target(step: Step) -> Target {
    match step {
        Step::Query => Target::Reads,
        Step::Write => Target::Writes,
    }
}

/// Waits (off the runtime's threads) until the proxy saw the step's request
/// and, for a lost response, the table answered it.
async fn wait_for_request(proxy: &Arc<FaultProxy>, step: Step, answered: bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let seen = proxy.log().iter().any(|r| {
            let write = r.method != "GET";
            write == (step == Step::Write) && (!answered || r.status.is_some())
        });
        if seen {
            return;
        }
        assert!(Instant::now() < deadline, "{step:?} request never came");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn scenario(
    proxy: Arc<FaultProxy>,
    claims: usize,
    batched: bool,
    step: Step,
    trouble: Trouble,
) -> Result<Outcome, String> {
    let az = azurite::shared();
    let table = azurite::unique_table_name("owner");
    let direct =
        AliasPool::connect(&StoreConfig::emulator(az.endpoint(), &table)).expect("connect");
    direct.ensure_table().await.expect("table");
    direct
        .seed("box1@company.com", "company.com", claims * 3)
        .await
        .expect("seed");
    let mut config = StoreConfig::emulator(proxy.endpoint(), &table);
    // A retry waits at least a second: time to stop the provider meanwhile.
    config.connection.retry = RetryBudget {
        total: Duration::from_secs(15),
        per_request: Duration::from_secs(5),
        initial_backoff: Duration::from_secs(2),
        max_backoff: Duration::from_secs(2),
    };
    let stop = CancellationToken::new();
    let pool = AliasPool::connect_with_cancellation(&config, stop.clone()).expect("connect");
    let batcher = Arc::new(ClaimBatcher::with_settings(
        pool.clone(),
        BatchSettings {
            linger: Duration::from_millis(50),
            max_wait: Duration::from_millis(200),
            ..BatchSettings::default()
        },
    ));
    let fault = match trouble {
        Trouble::LostResponse | Trouble::LostResponseThenStop => Fault::DropResponse,
        Trouble::StopInFlight | Trouble::CallersGone => Fault::Pause,
    };
    proxy.set_for(target(step), fault, 1);

    let tasks: Vec<_> = (0..claims)
        .map(|i| {
            let b = Arc::clone(&batcher);
            let request = ClaimRequest {
                owner: format!("owner{i}@company.com"),
                purpose: "ownership test".to_owned(),
                mailbox: None,
                claim_key: None,
                source: None,
            };
            tokio::spawn(async move {
                match batched {
                    true => b.claim(&request).await,
                    // The provider's path when batching is turned off.
                    false => b.pool().claim_to_completion(&request).await,
                }
            })
        })
        .collect();

    match trouble {
        Trouble::LostResponse => {}
        Trouble::LostResponseThenStop => {
            wait_for_request(&proxy, step, true).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            stop.cancel();
        }
        Trouble::StopInFlight => {
            wait_for_request(&proxy, step, false).await;
            stop.cancel();
            proxy.resume();
        }
        Trouble::CallersGone => {
            wait_for_request(&proxy, step, false).await;
            for t in &tasks {
                t.abort();
            }
            proxy.resume();
        }
    }

    let mut delivered: HashSet<String> = HashSet::new();
    let mut cancelled = 0;
    for t in tasks {
        match t.await {
            Ok(Ok(claimed)) => {
                assert!(delivered.insert(claimed.token.as_str().to_owned()));
            }
            Ok(Err(e)) if e.is_cancelled() => cancelled += 1,
            Ok(Err(e)) => {
                panic!("{claims} claims (batched: {batched}), {step:?}, {trouble:?}: {e}")
            }
            Err(_aborted) => {}
        }
    }
    let how = if batched { "batched" } else { "unbatched" };
    let label = format!("{claims} claim(s) {how}, {step:?}, {trouble:?}");
    match trouble {
        Trouble::LostResponse => assert_eq!(delivered.len(), claims, "{label}: all claims served"),
        Trouble::CallersGone => assert!(delivered.is_empty(), "{label}"),
        _ => assert_eq!(delivered.len() + cancelled, claims, "{label}"),
    }

    // The batcher may still be working for callers that went away: wait
    // until the wire has been quiet for a while.
    let quiet = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = proxy.log().len();
        tokio::time::sleep(Duration::from_millis(700)).await;
        if proxy.log().len() == seen || Instant::now() > quiet {
            break;
        }
    }
    if trouble == Trouble::CallersGone {
        assert!(
            proxy.log().iter().any(|r| r.method != "GET"),
            "{label}: the claim went on after its callers left"
        );
    }

    // Every token in the table is one a caller holds.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = direct
            .list(&AliasFilter {
                status: Some(AliasStatus::Claimed),
                ..Default::default()
            })
            .await
            .expect("list");
        let orphans: Vec<_> = rows
            .iter()
            .filter(|r| {
                r.claim_token
                    .as_ref()
                    .is_none_or(|t| !delivered.contains(t.as_str()))
            })
            .map(|r| r.email.clone())
            .collect();
        let held: HashSet<&str> = rows
            .iter()
            .filter_map(|r| r.claim_token.as_ref().map(|t| t.as_str()))
            .collect();
        let all_delivered_held = delivered.iter().all(|t| held.contains(t.as_str()));
        if orphans.is_empty() && all_delivered_held {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{label}: {} claimed row(s) no caller holds: {orphans:?}; every delivered claim on its row: {all_delivered_held}",
                orphans.len()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(Outcome {
        delivered: delivered.len(),
        cancelled,
        requests: pool.request_count(),
    })
}

#[test]
fn no_claim_is_left_without_an_owner_at_any_step() {
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    let mut lines = Vec::new();
    let mut failures = Vec::new();
    for (claims, batched) in [(6, true), (1, true), (1, false)] {
        for step in [Step::Query, Step::Write] {
            for trouble in [
                Trouble::LostResponse,
                Trouble::LostResponseThenStop,
                Trouble::StopInFlight,
                Trouble::CallersGone,
            ] {
                let t = Instant::now();
                // The proxy has its own runtime: start it outside ours.
                let proxy = Arc::new(FaultProxy::start(&azurite::shared().endpoint()));
                let o =
                    match rt.block_on(scenario(Arc::clone(&proxy), claims, batched, step, trouble))
                    {
                        Ok(o) => o,
                        Err(e) => {
                            failures.push(e);
                            continue;
                        }
                    };
                lines.push(format!(
                    "{claims} claim(s) batched={batched} {step:?} {trouble:?}: {} delivered, {} cancelled, {} requests, {:?}",
                    o.delivered,
                    o.cancelled,
                    o.requests,
                    t.elapsed()
                ));
            }
        }
    }
    println!("{}\ntotal {:?}", lines.join("\n"), started.elapsed());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The rows of the pool that carry a claim.
async fn claimed_rows(pool: &AliasPool) -> usize {
    pool.list(&AliasFilter {
        status: Some(AliasStatus::Claimed),
        ..Default::default()
    })
    .await
    .expect("list")
    .len()
}

type Claiming = Pin<Box<dyn Future<Output = Result<ClaimedAlias, StoreError>> + Send>>;

/// The caller goes away after the claim was sent to it but before it read
/// it: its future is polled once (the claim starts), the claim lands and is
/// sent, and the future is dropped without another poll. That claim has an
/// owner no more and must be given back, batched (one claim, several) or not.
#[test]
fn a_claim_sent_to_a_caller_who_went_away_unread_is_given_back() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    let mut failures = Vec::new();
    for (claims, batched) in [(1, true), (6, true), (1, false)] {
        let label = format!("{claims} claim(s), batched: {batched}");
        let failure = rt.block_on(async {
            let az = azurite::shared();
            let config = StoreConfig::emulator(az.endpoint(), azurite::unique_table_name("unread"));
            let pool = AliasPool::connect(&config).expect("connect");
            pool.ensure_table().await.expect("table");
            pool.seed("box1@company.com", "company.com", claims * 3)
                .await
                .expect("seed");
            let batcher = Arc::new(ClaimBatcher::new(pool.clone()));
            let mut callers: Vec<Claiming> = (0..claims)
                .map(|i| {
                    let b = Arc::clone(&batcher);
                    let request = ClaimRequest {
                        owner: format!("owner{i}@company.com"),
                        purpose: "ownership test".to_owned(),
                        ..Default::default()
                    };
                    let caller: Claiming = match batched {
                        true => Box::pin(async move { b.claim(&request).await }),
                        false => {
                            Box::pin(async move { b.pool().claim_to_completion(&request).await })
                        }
                    };
                    caller
                })
                .collect();
            for caller in &mut callers {
                assert!(futures::poll!(caller.as_mut()).is_pending(), "{label}");
            }
            let deadline = Instant::now() + Duration::from_secs(20);
            while claimed_rows(&pool).await < claims {
                assert!(
                    Instant::now() < deadline,
                    "{label}: the claims never landed"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // The claiming task sends each claim right after its write's answer.
            tokio::time::sleep(Duration::from_millis(500)).await;
            drop(callers);
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let left = claimed_rows(&pool).await;
                if left == 0 {
                    return None;
                }
                if Instant::now() > deadline {
                    return Some(format!("{label}: {left} claimed row(s) nobody received"));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        failures.extend(failure);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
