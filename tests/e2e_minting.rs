//! Minting end to end: the real terraform, the built provider and `rootmail`
//! CLI, Azurite, the old function app's claimer as a peer and the loopback
//! Microsoft Graph. An apply of more aliases than the pool holds goes on by
//! minting when `address_source` allows it (the provider setting or the
//! resource's override) and fails with the same exhaustion error as ever
//! when it does not; minted addresses keep to AWS's rules; destroy leaves
//! them where the old claimer never finds them; the CLI registers a minting
//! mailbox only with the admin's check and counts and lists minted rows
//! apart; `rootmail audit --exchange` reports a minting mailbox Exchange
//! does not have.

use std::collections::BTreeSet;
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rootmail::store::address::{check_aws_email, FORBIDDEN_IN_LOCAL_PART};
use rootmail::store::{AddressSource, AliasStatus, ClaimRequest, MintingMailbox};
use serde_json::Value as Json;
use testkit::azure_ad::IdentityServer;
use testkit::cli::CliTable;
use testkit::graph::GraphServer;
use testkit::pool::Pool;
use testkit::reliability::{aliases_tf, distinct, state_emails};
use testkit::table_tool::LegacyClaim;
use testkit::terraform::{self, TerraformDir};

const MINTING: &str = "aws@company.com";

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

#[track_caller]
fn code(o: &Output, expected: i32) {
    assert_eq!(
        o.status.code(),
        Some(expected),
        "stdout:\n{}\nstderr:\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
}

/// AWS's rules for a root address (CreateAccount), and lower case.
#[track_caller]
fn assert_aws_accepts(email: &str) {
    assert_eq!(check_aws_email(email), Ok(()), "{email}");
    assert!(
        (6..=64).contains(&email.len()) && email.is_ascii(),
        "{email}"
    );
    assert_eq!(email.matches('@').count(), 1, "{email}");
    assert_eq!(email, email.to_ascii_lowercase(), "{email}");
    let local = email.split('@').next().unwrap_or_default();
    assert!(
        !local
            .chars()
            .any(|c| c.is_whitespace() || FORBIDDEN_IN_LOCAL_PART.contains(&c)),
        "{email}"
    );
}

/// `source` of every `rootmail_alias` instance in the state, by address.
fn state_sources(dir: &TerraformDir) -> Vec<(String, String)> {
    let state: Json = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("terraform.tfstate")).expect("state"),
    )
    .expect("json");
    let mut out = Vec::new();
    for r in state["resources"].as_array().into_iter().flatten() {
        for i in r["instances"].as_array().into_iter().flatten() {
            if r["type"] == "rootmail_alias" && r["mode"] == "managed" {
                let a = &i["attributes"];
                out.push((
                    a["email"].as_str().unwrap_or_default().to_owned(),
                    a["source"].as_str().unwrap_or_default().to_owned(),
                ));
            }
        }
    }
    out
}

#[test]
fn an_apply_beyond_the_pool_mints_when_allowed_and_fails_as_before_when_not() {
    let pool = Pool::in_shared_azurite("mintapply", 3);
    let registration = MintingMailbox::new(MINTING, None, "admin@company.com").expect("ok");
    pool.rt
        .block_on(pool.pool.register_minting_mailbox(&registration))
        .expect("register");
    let dir = TerraformDir::new();
    let pool_data = r#"
data "rootmail_pool" "all" {
  depends_on = [rootmail_alias.a]
}
output "minted_claimed" {
  value = data.rootmail_pool.all.minted.claimed
}
output "minting_mailboxes" {
  value = data.rootmail_pool.all.minting_mailboxes
}
"#;

    // The default source: five aliases from a pool of three fail as ever.
    dir.write(
        "main.tf",
        &(pool.provider_block() + &aliases_tf("a", 5, true)),
    );
    let out = dir.run(&["apply", "-auto-approve", "-no-color"]);
    assert!(!out.success(), "an empty pool must fail the apply");
    assert!(
        out.stderr.contains("Alias pool exhausted")
            && out.stderr.contains(&format!(
                "the alias pool is exhausted: no free alias in table `{}`",
                pool.table
            ))
            && out.stderr.contains("rootmail pool import"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("minting mailbox is registered"));
    assert_eq!(
        state_emails(&dir).len(),
        3,
        "the claimed ones stay in state"
    );
    assert!(pool.rows(None).iter().all(|r| !r.minted), "nothing minted");

    // The resource's override: the other two are minted.
    let overridden = aliases_tf("a", 5, true).replace(
        "  purpose =",
        "  address_source = \"prefer_aliases\"\n  purpose =",
    );
    dir.write(
        "main.tf",
        &(pool.provider_block() + &overridden + pool_data),
    );
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    let sources = state_sources(&dir);
    let minted: Vec<&String> = sources
        .iter()
        .filter(|(_, s)| s == "minted")
        .map(|(e, _)| e)
        .collect();
    assert_eq!((sources.len(), minted.len()), (5, 2), "{sources:?}");
    for email in &minted {
        assert_aws_accepts(email);
        assert!(email.starts_with("aws+") && email.ends_with("@company.com"));
    }
    assert_eq!(
        dir.run_ok(&["output", "-raw", "minted_claimed"])
            .stdout
            .trim(),
        "2"
    );

    // The provider setting: one more alias, minted too; an AWS account uses
    // the first minted one, and the data sources see them all.
    let prefer = pool.provider_block_at(&pool.endpoint, "address_source = \"prefer_aliases\"");
    let linked_and_read = r#"
resource "rootmail_alias_account" "used" {
  email          = [for a in rootmail_alias.a : a.email if a.source == "minted"][0]
  aws_account_id = "123456789012"
}
data "rootmail_alias" "used" {
  email      = rootmail_alias_account.used.email
  depends_on = [rootmail_alias_account.used]
}
data "rootmail_aliases" "minted" {
  source     = "minted"
  depends_on = [rootmail_alias.a]
}
output "used_source" {
  value = data.rootmail_alias.used.source
}
output "listed_minted" {
  value = sort([for a in data.rootmail_aliases.minted.aliases : a.email])
}
"#;
    dir.write(
        "main.tf",
        &(prefer.clone() + &aliases_tf("a", 6, true) + pool_data + linked_and_read),
    );
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    let all = distinct(&state_emails(&dir), "state");
    assert_eq!(all.len(), 6);
    let listed = dir.run_ok(&["output", "-json", "minting_mailboxes"]);
    assert_eq!(listed.stdout.trim(), format!("[\"{MINTING}\"]"));
    assert_eq!(
        dir.run_ok(&["output", "-raw", "used_source"]).stdout.trim(),
        "minted"
    );
    // The state agrees with the table: a refresh finds nothing to change.
    let refresh = dir.run(&["plan", "-refresh-only", "-detailed-exitcode", "-no-color"]);
    assert_eq!(refresh.status.code(), Some(0), "{}", refresh.stdout);

    let minted_rows: Vec<_> = pool.rows(None).into_iter().filter(|r| r.minted).collect();
    assert_eq!(minted_rows.len(), 3);
    for r in &minted_rows {
        assert_eq!(
            (r.status, r.in_use, r.root_mailbox.as_str()),
            (AliasStatus::Claimed, true, MINTING)
        );
        assert!(all.contains(&r.email));
    }
    let listed: Vec<String> =
        serde_json::from_str(&dir.run_ok(&["output", "-json", "listed_minted"]).stdout)
            .expect("json");
    let mut expected: Vec<String> = minted_rows.iter().map(|r| r.email.clone()).collect();
    expected.sort();
    assert_eq!(listed, expected, "rootmail_aliases with source = minted");
    let used: Vec<_> = minted_rows
        .iter()
        .filter(|r| r.aws_account_id == "123456789012")
        .collect();
    assert_eq!(used.len(), 1, "{minted_rows:?}");
    let used_id = used[0].id.clone();

    // Destroy gives back the aliases and the unused minted addresses and
    // retires the one an AWS account used. The old function app's claimer
    // takes the three aliases and never a minted address.
    dir.run_ok(&["destroy", "-auto-approve", "-no-color"]);
    let mut legacy = BTreeSet::new();
    loop {
        match pool
            .rt
            .block_on(pool.raw.legacy_claim("legacy@company.com"))
        {
            LegacyClaim::Claimed(id) => assert!(legacy.insert(id)),
            LegacyClaim::Conflict(id) => panic!("nobody else claims: {id}"),
            LegacyClaim::Empty => break,
        }
    }
    assert_eq!(legacy.len(), 3);
    let mut unused = BTreeSet::new();
    for r in pool.rows(None).into_iter().filter(|r| r.minted) {
        assert!(!legacy.contains(&r.id), "the old claimer got {}", r.email);
        let expected = if r.id == used_id {
            AliasStatus::Retired
        } else {
            assert!(unused.insert(r.id.clone()));
            AliasStatus::Free
        };
        assert_eq!((r.status, r.in_use), (expected, true), "{}", r.email);
    }

    // With every alias gone to the old app, three claims take the two
    // unused minted addresses again and mint one more; the used one never
    // comes back.
    dir.write("main.tf", &(prefer + &aliases_tf("b", 3, true)));
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    let again: BTreeSet<String> = pool
        .claimed()
        .into_iter()
        .filter(|r| r.minted)
        .map(|r| r.id)
        .collect();
    assert_eq!(again.len(), 3);
    assert!(unused.is_subset(&again), "{unused:?} reused in {again:?}");
    assert!(!again.contains(&used_id), "a used minted address came back");
    assert_eq!(pool.row(&used_id).status, AliasStatus::Retired);
}

#[test]
fn the_cli_registers_with_the_admins_check_counts_minted_rows_apart_and_the_audit_finds_a_missing_minting_mailbox(
) {
    let f = CliTable::with_table("mintcli");
    let seeded =
        f.rt.block_on(f.pool.seed("comp001@company.com", "company.com", 1))
            .expect("seed");

    // Without the admin's statement (and no terminal to ask on): refused.
    let out = f.run(&["pool", "add-minting-mailbox", MINTING]);
    code(&out, 1);
    let err = text(&out.stderr);
    assert!(
        err.contains("Get-OrganizationConfig") && err.contains("--plus-addressing-on"),
        "{err}"
    );
    assert!(f
        .rt
        .block_on(f.pool.minting_mailboxes())
        .expect("read")
        .is_empty());
    let out = f.run(&[
        "pool",
        "add-minting-mailbox",
        MINTING,
        "--prefix",
        "aws",
        "--by",
        "admin@company.com",
        "--plus-addressing-on",
    ]);
    code(&out, 0);
    assert!(
        text(&out.stdout).contains("DisablePlusAddressInRecipients"),
        "{}",
        text(&out.stdout)
    );
    code(
        &f.run(&[
            "pool",
            "add-minting-mailbox",
            "gone@company.com",
            "--plus-addressing-on",
        ]),
        0,
    );
    let regs = f.rt.block_on(f.pool.minting_mailboxes()).expect("read");
    let aws = regs
        .iter()
        .find(|m| m.mailbox == MINTING)
        .expect("registered");
    assert_eq!(aws.registered_by, "admin@company.com");
    assert!(aws.plus_addressing_checked_at.is_some());
    assert!(aws
        .plus_addressing_check
        .contains("DisablePlusAddressInRecipients"));
    // Registering it again is refused.
    code(
        &f.run(&[
            "pool",
            "add-minting-mailbox",
            MINTING,
            "--plus-addressing-on",
        ]),
        1,
    );

    // One alias claimed, one address minted for the mailbox Exchange has.
    let claim = |mailbox: Option<&str>| ClaimRequest {
        owner: "team@company.com".into(),
        mailbox: mailbox.map(str::to_owned),
        source: Some(AddressSource::PreferAliases),
        ..ClaimRequest::default()
    };
    let alias = f.rt.block_on(f.pool.claim(&claim(None))).expect("alias");
    assert_eq!(alias.alias.id, seeded[0].id);
    let minted =
        f.rt.block_on(f.pool.claim(&claim(Some(MINTING))))
            .expect("minted");
    assert!(minted.alias.minted);

    let out = f.run(&["pool", "stats", "--json"]);
    code(&out, 0);
    let stats: Json = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(stats["total"]["claimed"], 2);
    assert_eq!(stats["minted"]["claimed"], 1);
    assert_eq!(stats["minted"]["total"], 1);
    assert_eq!(stats["minting_mailboxes"].as_array().map(Vec::len), Some(2));
    let aws_json = stats["minting_mailboxes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["mailbox"] == MINTING)
        .expect("aws@ in the stats");
    assert_eq!(aws_json["registered_by"], "admin@company.com");
    assert!(aws_json["plus_addressing_check"]
        .as_str()
        .is_some_and(|c| c.contains("DisablePlusAddressInRecipients")));
    let table = text(&f.run(&["pool", "stats"]).stdout);
    assert!(
        table.contains("of which minted")
            && table.contains("minting mailbox aws@company.com: mints aws+<id>@company.com")
            && table.contains("by admin@company.com"),
        "{table}"
    );
    let table = text(&f.run(&["pool", "list"]).stdout);
    assert!(table.contains("2 addresses, 1 of them minted"), "{table}");
    let out = f.run(&["pool", "list", "--source", "minted", "--json"]);
    let listed: Json = serde_json::from_slice(&out.stdout).expect("json");
    let listed = listed.as_array().expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["email"], minted.alias.email.as_str());
    assert_eq!(listed[0]["source"], "minted");

    // Exchange has the mailbox the alias belongs to and aws@, not gone@.
    let graph = GraphServer::start(IdentityServer::shared());
    graph.add_mailbox(
        "comp001@company.com",
        "comp001@company.com",
        &[seeded[0].aws_mail.clone()],
    );
    graph.add_mailbox(MINTING, MINTING, &[]);
    let audit = || {
        let mut c = f.cli();
        c.envs(graph.env());
        c.args(["audit", "--exchange", "--json"])
            .output()
            .expect("run rootmail")
    };
    let out = audit();
    code(&out, 2);
    let doc: Json = serde_json::from_slice(&out.stdout).expect("json");
    let found: BTreeSet<(String, String)> = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
            (s("kind"), s("email"))
        })
        .collect();
    assert_eq!(
        found,
        BTreeSet::from([(
            "minting_mailbox_missing".to_owned(),
            "gone@company.com".to_owned()
        )]),
        "the minted address reaches aws@company.com: {doc}"
    );
    // Stop minting for it: the audit is clean.
    code(
        &f.run(&[
            "pool",
            "remove-minting-mailbox",
            "gone@company.com",
            "--yes",
        ]),
        0,
    );
    code(&audit(), 0);
}

#[test]
fn minted_addresses_keep_to_aws_rules_for_every_prefix_and_a_prefix_too_long_is_refused() {
    let f = CliTable::with_table("mintprefix");
    let register = |args: &[&str]| {
        let mut all = vec!["pool", "add-minting-mailbox"];
        all.extend_from_slice(args);
        all.push("--plus-addressing-on");
        f.run(&all)
    };
    // "company.com" and `+<10>@` leave 41 characters for the prefix.
    let longest = "aws-root-accounts-of-the-platform-team-01";
    assert_eq!(longest.len(), 41);
    // (mailbox, --prefix, what minted addresses start with)
    let accepted: [(&str, Option<&str>, &str); 5] = [
        ("aws@company.com", None, "aws+"),
        ("Shared.Root@Company.com", None, "shared.root+"),
        ("m3@company.com", Some("Root.Accounts"), "root.accounts+"),
        ("m4@company.com", Some("a"), "a+"),
        (
            "m5@company.com",
            Some(longest),
            "aws-root-accounts-of-the-platform-team-01+",
        ),
    ];
    for (mailbox, prefix, _) in accepted {
        let mut args = vec![mailbox];
        if let Some(p) = prefix {
            args.extend(["--prefix", p]);
        }
        code(&register(&args), 0);
    }

    // One character more, or characters a plus address cannot start with:
    // refused at registration, saying why, and nothing written.
    let too_long = format!("{longest}x");
    let refused: [(&str, &str, &[&str]); 5] = [
        (
            "m6@company.com",
            too_long.as_str(),
            &["65 characters", "at most 64", "shorter prefix"],
        ),
        ("m7@company.com", "aws+x", &["`+`"]),
        ("m8@company.com", "aws x", &["character ' '"]),
        ("m9@company.com", ".aws", &["dot"]),
        ("m10@company.com", "jörg", &["character 'ö'"]),
    ];
    for (mailbox, prefix, says) in refused {
        let out = register(&[mailbox, "--prefix", prefix]);
        code(&out, 1);
        let err = text(&out.stderr);
        assert!(err.contains("prefix"), "{prefix}: {err}");
        for s in says {
            assert!(err.contains(s), "{prefix}: {err}");
        }
    }
    // A mailbox whose own local part is too long as a prefix is refused too.
    let long_mailbox = format!("{longest}-xx@company.com");
    let out = register(&[&long_mailbox]);
    code(&out, 1);
    assert!(
        text(&out.stderr).contains("shorter prefix"),
        "{}",
        text(&out.stderr)
    );
    let registered = f.rt.block_on(f.pool.minting_mailboxes()).expect("read");
    assert_eq!(registered.len(), accepted.len(), "{registered:?}");

    // Twenty addresses minted for each: AWS's rules, lower case, the
    // mailbox's prefix and domain, never one twice.
    let mut seen = BTreeSet::new();
    for (mailbox, _, starts) in accepted {
        for _ in 0..20 {
            let request = ClaimRequest {
                owner: "team@company.com".into(),
                mailbox: Some(mailbox.to_owned()),
                source: Some(AddressSource::MintedOnly),
                ..ClaimRequest::default()
            };
            let claimed = f.rt.block_on(f.pool.claim(&request)).expect("mint");
            let email = claimed.alias.email;
            assert_aws_accepts(&email);
            assert!(
                email.starts_with(starts) && email.ends_with("@company.com"),
                "{email}"
            );
            assert_eq!(
                email.len(),
                starts.len() + 10 + "@company.com".len(),
                "{email}"
            );
            assert_eq!(claimed.alias.root_mailbox, mailbox.to_ascii_lowercase());
            assert!(seen.insert(email.clone()), "{email} minted twice");
        }
    }
    assert!(
        seen.iter().any(|e| e.len() == 64),
        "the longest prefix reaches 64"
    );
}

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
    let dirs: Vec<TerraformDir> = (0..PROCESSES)
        .map(|p| {
            let d = TerraformDir::new();
            d.write(
                "main.tf",
                &(provider.clone() + &aliases_tf(&format!("p{p}"), PER_PROCESS, p % 2 == 0)),
            );
            d
        })
        .collect();
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
    for (i, out) in applies.iter().enumerate() {
        assert!(
            out.success(),
            "apply {i} failed:\n{}\n{}\n--- log tail\n{}",
            out.stdout,
            out.stderr,
            terraform::tail(&dirs[i].log(), 40)
        );
    }
    let mut all = Vec::new();
    for d in &dirs {
        let emails = state_emails(d);
        assert_eq!(emails.len(), PER_PROCESS);
        all.extend(emails);
    }
    let in_state = distinct(&all, "all states together");
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
