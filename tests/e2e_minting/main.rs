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
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rootmail::store::address::{check_aws_email, FORBIDDEN_IN_LOCAL_PART};
use rootmail::store::{AddressSource, AliasStatus, ClaimRequest, MintingMailbox};
use serde_json::Value as Json;
use testkit::azure_ad::IdentityServer;
use testkit::cli::{assert_code, text, CliTable};
use testkit::graph::GraphServer;
use testkit::pool::Pool;
use testkit::reliability::{
    aliases_tf, assert_applied_apart, distinct, parallel_dirs, state_emails,
};
use testkit::table_tool::LegacyClaim;
use testkit::terraform::TerraformDir;

mod cli;
mod parallel;
mod rules;

const MINTING: &str = "aws@company.com";

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
