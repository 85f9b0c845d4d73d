//! Many applies at once: pooled aliases shared out first, the rest minted.

use super::*;

/// Sixteen terraform processes claim forty addresses each from a pool of a
/// hundred aliases and a minting mailbox while the old function app claims
/// beside them: every claim succeeds, 640 distinct addresses, the aliases
/// first and the rest minted, and the old app never gets a minted one.
#[test]
fn sixteen_applies_of_forty_share_a_hundred_aliases_and_mint_the_rest() {
    const PROCESSES: usize = 16;
    const PER_PROCESS: usize = 40;
    const ALIASES: usize = 100;
    const LEGACY_OWNER: &str = "legacy-app@company.com";
    let started = Instant::now();
    let pool = Pool::in_shared_azurite("mint640", ALIASES);
    let registration = MintingMailbox::new(MINTING, None, "admin@company.com").expect("ok");
    pool.rt
        .block_on(pool.pool.register_minting_mailbox(&registration))
        .expect("register");
    let provider = pool.provider_block_at(&pool.endpoint, "address_source = \"prefer_aliases\"");
    // Half the processes use claim_key, half do not.
    let dirs = parallel_dirs(&provider, PROCESSES, PER_PROCESS);
    let done = AtomicBool::new(false);
    let (applies, legacy) = std::thread::scope(|s| {
        let applies: Vec<_> = dirs
            .iter()
            .map(|d| {
                s.spawn(move || d.run(&["apply", "-auto-approve", "-parallelism=10", "-no-color"]))
            })
            .collect();
        let legacy = s.spawn(|| {
            // The old app: the first in_use = false row, written back whole
            // on its ETag, until terraform is done or it finds none.
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            let mut claimed = Vec::new();
            while !done.load(Ordering::SeqCst) {
                match rt.block_on(pool.raw.legacy_claim(LEGACY_OWNER)) {
                    LegacyClaim::Claimed(id) => claimed.push(id),
                    LegacyClaim::Conflict(_) => {}
                    LegacyClaim::Empty => std::thread::sleep(Duration::from_millis(50)),
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            claimed
        });
        let applies: Vec<_> = applies
            .into_iter()
            .map(|h| h.join().expect("terraform thread"))
            .collect();
        done.store(true, Ordering::SeqCst);
        (applies, legacy.join().expect("legacy thread"))
    });
    let apply_time = started.elapsed();
    let in_state = assert_applied_apart(&dirs, &applies, PER_PROCESS);
    assert_eq!(in_state.len(), PROCESSES * PER_PROCESS);

    let legacy_ids: BTreeSet<String> = legacy.iter().cloned().collect();
    assert_eq!(
        legacy_ids.len(),
        legacy.len(),
        "the old app got a row twice"
    );
    let rows = pool.rows(None);
    let mut ours = BTreeSet::new();
    let mut minted = 0;
    for r in &rows {
        if r.minted {
            minted += 1;
            assert!(!legacy_ids.contains(&r.id), "the old app got {}", r.email);
            assert_aws_accepts(&r.email);
        }
        if legacy_ids.contains(&r.id) {
            assert_eq!(
                (r.owner.as_str(), r.claim_token.is_none()),
                (LEGACY_OWNER, true)
            );
            assert!(!in_state.contains(&r.email), "{} has two owners", r.email);
            continue;
        }
        // Every alias the old app left is terraform's: aliases go first.
        assert_eq!(
            (r.status, r.owner.as_str(), r.claim_token.is_some()),
            (AliasStatus::Claimed, testkit::pool::OWNER, true),
            "{}",
            r.email
        );
        assert!(ours.insert(r.email.clone()));
    }
    assert_eq!(ours, in_state, "state and table agree");
    assert_eq!(
        minted,
        PROCESSES * PER_PROCESS - (ALIASES - legacy_ids.len())
    );

    // Destroy frees all of them; the old app then finds terraform's aliases
    // and not one of the minted addresses.
    let destroy_started = Instant::now();
    std::thread::scope(|s| {
        let handles: Vec<_> = dirs
            .iter()
            .map(|d| {
                s.spawn(move || {
                    d.run(&["destroy", "-auto-approve", "-parallelism=10", "-no-color"])
                })
            })
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            let out = h.join().expect("terraform thread");
            assert!(out.success(), "destroy {i} failed:\n{}", out.stderr);
        }
    });
    let destroy_time = destroy_started.elapsed();
    let mut drained = BTreeSet::new();
    loop {
        match pool.rt.block_on(pool.raw.legacy_claim(LEGACY_OWNER)) {
            LegacyClaim::Claimed(id) => assert!(drained.insert(id)),
            LegacyClaim::Conflict(id) => panic!("nobody else claims: {id}"),
            LegacyClaim::Empty => break,
        }
    }
    assert_eq!(drained.len(), ALIASES - legacy_ids.len());
    for r in pool.rows(None).into_iter().filter(|r| r.minted) {
        assert!(!drained.contains(&r.id), "the old app got {}", r.email);
        assert_eq!(
            (r.status, r.in_use),
            (AliasStatus::Free, true),
            "{}",
            r.email
        );
    }
    println!(
        "minting under load: {PROCESSES} terraform processes x {PER_PROCESS} at -parallelism=10, \
         {ALIASES} aliases and one minting mailbox, the old app beside them: {} distinct addresses \
         ({} aliases, {minted} minted), the old app claimed {} aliases; apply {apply_time:?}, destroy {destroy_time:?}",
        in_state.len(),
        in_state.len() - minted,
        legacy_ids.len()
    );
}
