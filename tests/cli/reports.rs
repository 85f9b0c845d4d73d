//! Reading the table: `stats` and `list` agree with what the store sees.

use super::*;

/// 10 aliases in comp001, 5 in comp002; comp001: 3 claimed by alice (one
/// linked), 1 quarantined; comp002: 1 claimed by bob, 1 retired.
struct Seeded {
    f: CliTable,
    alice: Vec<String>,
    bob: String,
    linked: String,
    quarantined: String,
    retired: String,
}

fn seeded(prefix: &str) -> Seeded {
    let f = CliTable::with_table(prefix);
    f.rt.block_on(async {
        f.pool
            .seed(MAILBOX_1, "company.com", 10)
            .await
            .expect("seed");
        f.pool
            .seed(MAILBOX_2, "company.com", 5)
            .await
            .expect("seed");
    });
    let alice: Vec<(AliasRow, Claim)> = (0..3)
        .map(|_| f.claim("alice@company.com", MAILBOX_1))
        .collect();
    let (bob, _) = f.claim("bob@company.com", MAILBOX_2);
    let linked = alice[0].0.email.clone();
    f.rt.block_on(f.pool.link_account(
        &LinkTarget::Claim {
            alias_id: alice[0].0.id.clone(),
            claim: alice[0].1.clone(),
        },
        "123456789012",
    ))
    .expect("link");
    let (q, qt) = f.claim("carol@company.com", MAILBOX_1);
    let outcome =
        f.rt.block_on(
            f.pool
                .release(&q.id, &qt, ReleasePolicy::Quarantine { days: 30 }),
        )
        .expect("quarantine");
    assert!(matches!(outcome, ReleaseOutcome::Quarantined { .. }));
    let (r, rt) = f.claim("dave@company.com", MAILBOX_2);
    f.rt.block_on(f.pool.release(&r.id, &rt, ReleasePolicy::Retire))
        .expect("retire");
    Seeded {
        alice: alice.iter().map(|(r, _)| r.email.clone()).collect(),
        bob: bob.email,
        linked,
        quarantined: q.email,
        retired: r.email,
        f,
    }
}

fn emails_of(list: &Json) -> BTreeSet<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|r| r["email"].as_str().expect("email").to_owned())
        .collect()
}

#[test]
fn stats_match_the_table_with_json_and_min_free_alert() {
    let s = seeded("stats");
    let f = &s.f;

    let out = f.run(&["pool", "stats"]);
    assert_ok(&out);
    let so = stdout(&out);
    let total: Vec<&str> = so
        .lines()
        .find(|l| l.starts_with("TOTAL"))
        .expect("TOTAL line")
        .split_whitespace()
        .collect();
    // TOTAL CLAIMABLE FREE UNUSABLE CLAIMED QUARANTINED REUSABLE RETIRED
    assert_eq!(
        total,
        ["TOTAL", "15", "9", "9", "0", "4", "1", "0", "1"],
        "{so}"
    );

    let out = f.run(&["pool", "stats", "--json"]);
    assert_ok(&out);
    let doc = json(&out);
    let store = f.rt.block_on(f.pool.stats(None)).expect("stats");
    assert_eq!(doc["total"]["total"], store.all.total);
    assert_eq!(doc["total"]["free"], 9);
    assert_eq!(doc["total"]["claimed"], 4);
    assert_eq!(doc["total"]["quarantined"], 1);
    assert_eq!(doc["total"]["retired"], 1);
    assert_eq!(doc["mailboxes"][MAILBOX_1]["total"], 10);
    assert_eq!(doc["mailboxes"][MAILBOX_1]["free"], 6);
    assert_eq!(doc["mailboxes"][MAILBOX_1]["claimed"], 3);
    assert_eq!(doc["mailboxes"][MAILBOX_1]["quarantined"], 1);
    assert_eq!(doc["mailboxes"][MAILBOX_2]["free"], 3);
    assert_eq!(doc["mailboxes"][MAILBOX_2]["retired"], 1);
    assert_eq!(doc["table"], f.table.as_str());

    let out = f.run(&["pool", "stats", "--mailbox", MAILBOX_2, "--json"]);
    assert_ok(&out);
    let doc = json(&out);
    assert_eq!(doc["total"]["total"], 5);
    assert!(doc["mailboxes"].get(MAILBOX_1).is_none());

    let low = f.run(&["pool", "stats", "--min-free", "10"]);
    assert_eq!(low.status.code(), Some(2), "{}", stderr(&low));
    assert!(stderr(&low).contains("only 9"), "{}", stderr(&low));
    let enough = f.run(&["pool", "stats", "--min-free", "9"]);
    assert_eq!(enough.status.code(), Some(0));
    let mailbox_low = f.run(&["pool", "stats", "--mailbox", MAILBOX_2, "--min-free", "4"]);
    assert_eq!(mailbox_low.status.code(), Some(2));
}

#[test]
fn list_filters_match_the_table() {
    let s = seeded("list");
    let f = &s.f;

    let out = f.run(&["pool", "list", "--status", "claimed", "--json"]);
    assert_ok(&out);
    let mut claimed: BTreeSet<String> = s.alice.iter().cloned().collect();
    claimed.insert(s.bob.clone());
    assert_eq!(emails_of(&json(&out)), claimed);

    let out = f.run(&["pool", "list", "--owner", "alice@company.com", "--json"]);
    assert_ok(&out);
    let doc = json(&out);
    assert_eq!(emails_of(&doc), s.alice.iter().cloned().collect());
    for r in doc.as_array().expect("array") {
        assert!(r.get("claim_token").is_none(), "listings leave tokens out");
    }

    let out = f.run(&["pool", "list", "--status", "quarantined", "--json"]);
    assert_eq!(
        emails_of(&json(&out)),
        BTreeSet::from([s.quarantined.clone()])
    );
    let out = f.run(&["pool", "list", "--status", "retired", "--json"]);
    assert_eq!(emails_of(&json(&out)), BTreeSet::from([s.retired.clone()]));

    let out = f.run(&[
        "pool",
        "list",
        "--mailbox",
        MAILBOX_2,
        "--status",
        "free",
        "--csv",
    ]);
    assert_ok(&out);
    let so = stdout(&out);
    let mut lines = so.lines();
    assert_eq!(
        lines.next(),
        Some("email,status,root_mailbox,owner,aws_account_id,claimed_at,reusable_after,id,reason,source")
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3, "{so}");
    for r in rows {
        let cols: Vec<&str> = r.split(',').collect();
        assert_eq!(cols[1], "free");
        assert_eq!(cols[2], MAILBOX_2);
    }

    // Unlinked claims: everything claimed except the linked one, once old enough.
    let out = f.run(&["pool", "list", "--unlinked-for", "0s", "--json"]);
    assert_ok(&out);
    let mut unlinked = claimed.clone();
    unlinked.remove(&s.linked);
    assert_eq!(emails_of(&json(&out)), unlinked);
    let out = f.run(&["pool", "list", "--unlinked-for", "1d", "--json"]);
    assert_ok(&out);
    assert!(emails_of(&json(&out)).is_empty());
    let out = f.run(&["pool", "list", "--unlinked-for", "7"]);
    assert_eq!(out.status.code(), Some(1), "usage errors are not alerts");
    assert!(stderr(&out).contains("unit"), "{}", stderr(&out));

    let out = f.run(&["pool", "list"]);
    assert_ok(&out);
    assert!(stdout(&out).contains("15 aliases"), "{}", stdout(&out));
    let out = f.run(&["pool", "list", "--limit", "4"]);
    assert_ok(&out);
    let so = stdout(&out);
    assert_eq!(so.lines().count(), 1 + 4 + 1, "header, 4 rows, note:\n{so}");
    assert!(so.contains("4 of 15 aliases shown"), "{so}");
    let out = f.run(&["pool", "list", "--limit", "3", "--json"]);
    assert_eq!(json(&out).as_array().map(Vec::len), Some(3));
}
