//! `import` blocks: old-style claims adopted (with `for_each`, and from generated
//! configuration); aliases that are free, retired, quarantined or unknown refused
//! with nothing written.

use super::*;

#[test]
fn import_blocks_with_for_each_adopt_fifty_old_style_claims() {
    let pool = Pool::in_shared_azurite("migrate50", 5);
    let legacy: Vec<_> = (0..50).map(|_| legacy_claim(OLD_OWNER)).collect();
    pool.insert(&legacy);
    // A claim some other Terraform state holds (it has a token): not to be migrated.
    let other = pool
        .rt
        .block_on(pool.pool.claim(&ClaimRequest {
            owner: OLD_OWNER.into(),
            ..Default::default()
        }))
        .expect("claim");
    let Some(inventory) = modern() else { return };
    let Some(dir) = modern() else { return };

    // Step 1: the inventory, built from rootmail_aliases (reads only).
    inventory.write(
        "main.tf",
        &(pool.provider_block() + include_str!("../../examples/migrating/inventory/main.tf")),
    );
    let before = pool.columns();
    inventory.run_ok(&["apply", "-auto-approve", "-no-color"]);
    pool.assert_unchanged(&before, "the inventory apply");
    let listed = inventory.run_ok(&["output", "-json", "legacy_aliases"]);
    let map: serde_json::Map<String, Json> =
        serde_json::from_str(&listed.stdout).expect("inventory output is a JSON map");
    let expected: BTreeSet<&str> = legacy.iter().map(|r| r.aws_mail.as_str()).collect();
    assert_eq!(
        map.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        expected,
        "the inventory lists exactly the token-less claims"
    );
    assert!(!map.contains_key(&other.alias.email));

    // Step 2: import blocks with for_each over that map.
    dir.write("legacy-aliases.json", &listed.stdout);
    dir.write(
        "main.tf",
        &(pool.provider_block() + include_str!("../../examples/migrating/main.tf")),
    );
    let plan = dir.run_ok(&["plan", "-out=tfplan", "-no-color"]);
    assert!(
        plan.stdout
            .contains("Plan: 50 to import, 0 to add, 50 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );
    assert!(plan.warnings().is_empty(), "{:?}", plan.warnings());
    pool.assert_unchanged(&before, "a plan with 50 import blocks");

    dir.run_ok(&["apply", "-no-color", "-parallelism=10", "tfplan"]);
    let after = pool.columns();
    let values = state_values(&dir);
    assert_eq!(values.len(), 50);
    for row in &legacy {
        let stored = &after[&row.id];
        let token = stored["claim_token"].as_str().unwrap_or_default();
        assert!(!token.is_empty(), "{} was not adopted", row.aws_mail);
        assert_eq!(stored["status"], "claimed");
        assert_eq!(stored["user_mail"], OLD_OWNER);
        assert_eq!(stored["in_use"], true);
        let state = &values[&format!("rootmail_alias.migrated[\"{}\"]", row.aws_mail)];
        assert_eq!(state["claim_token"], token, "state and row share the token");
        assert_eq!(state["status"], "claimed");
    }
    for (id, row) in &before {
        if !legacy.iter().any(|l| &l.id == id) {
            assert_eq!(&after[id], row, "a row that was not migrated changed");
        }
    }

    let replan = dir.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(replan.status.code(), Some(0), "{}", replan.stdout);
    assert!(replan.warnings().is_empty(), "{:?}", replan.warnings());
    pool.assert_unchanged(&after, "the re-plan");
}

#[test]
fn generated_config_plans_only_the_import_and_the_adoption() {
    let pool = Pool::in_shared_azurite("genconfig", 2);
    let old = legacy_claim(OLD_OWNER);
    pool.insert(std::slice::from_ref(&old));
    let Some(dir) = modern() else { return };
    dir.write(
        "main.tf",
        &(pool.provider_block()
            + &format!(
                "import {{\n  to = rootmail_alias.one\n  id = \"{}\"\n}}\n",
                old.aws_mail
            )),
    );
    let before = pool.columns();
    let plan = dir.run_ok(&[
        "plan",
        "-generate-config-out=generated.tf",
        "-out=tfplan",
        "-no-color",
    ]);
    pool.assert_unchanged(&before, "plan -generate-config-out");
    let generated = std::fs::read_to_string(dir.path().join("generated.tf")).expect("generated.tf");
    assert!(
        generated.contains(&format!("owner           = \"{OLD_OWNER}\""))
            || generated.contains(OLD_OWNER),
        "{generated}"
    );
    // Config generation itself may be announced; nothing else may warn.
    let warnings: Vec<_> = plan
        .warnings()
        .into_iter()
        .filter(|w| !w.starts_with("Config generation is experimental"))
        .collect();
    assert!(warnings.is_empty(), "{warnings:?}\n{generated}");

    // The planned change is the adoption only: status, token and claim time.
    let shown = dir.run_ok(&["show", "-json", "tfplan"]).json();
    let changes = shown["resource_changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 1, "{changes:?}");
    let change = &changes[0]["change"];
    assert_eq!(change["actions"], serde_json::json!(["update"]));
    assert_eq!(change["importing"]["id"], old.aws_mail.as_str());
    let (before_v, after_v) = (&change["before"], &change["after"]);
    let differing: BTreeSet<String> = before_v
        .as_object()
        .expect("before")
        .iter()
        .filter(|(k, v)| after_v.get(k.as_str()) != Some(v))
        .map(|(k, _)| k.clone())
        .collect();
    let adoption: BTreeSet<String> = ["status", "claim_token", "claimed_at"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert!(
        differing.is_subset(&adoption),
        "extra changes: {differing:?}\n{generated}"
    );
    assert_eq!(before_v["status"], "unadopted");
    assert_eq!(after_v["status"], "claimed");
    assert_eq!(change["after_unknown"]["claim_token"], true);

    // Planning the generated configuration again: the same, still no warnings.
    let again = dir.run(&["plan", "-detailed-exitcode", "-no-color"]);
    again.assert_code(2);
    assert!(
        again
            .stdout
            .contains("Plan: 1 to import, 0 to add, 1 to change, 0 to destroy."),
        "{}",
        again.stdout
    );
    assert!(
        again.warnings().is_empty(),
        "{:?}\n{generated}",
        again.warnings()
    );
    pool.assert_unchanged(&before, "planning the generated configuration");

    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    let row = pool.row(&old.id);
    assert!(row.claim_token.is_some(), "the apply adopts the alias");
    let replan = dir.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(replan.status.code(), Some(0), "{}", replan.stdout);
    assert!(replan.warnings().is_empty(), "{:?}", replan.warnings());
}

#[test]
fn import_blocks_for_free_retired_quarantined_and_unknown_aliases_fail_and_write_nothing() {
    let pool = Pool::in_shared_azurite("importbad", 3);
    let rows = pool.rows(Some(AliasStatus::Free));
    let (free, to_retire, to_quarantine) = (&rows[0], &rows[1], &rows[2]);
    pool.rt.block_on(async {
        for (row, policy) in [
            (to_retire, ReleasePolicy::Retire),
            (to_quarantine, ReleasePolicy::quarantine()),
        ] {
            let claimed = pool
                .pool
                .try_claim_alias(
                    row,
                    &ClaimRequest {
                        owner: OWNER.into(),
                        ..Default::default()
                    },
                )
                .await
                .expect("claim")
                .expect("claimed");
            pool.pool
                .release(&row.id, &claimed.claim(), policy)
                .await
                .expect("release");
        }
    });
    let Some(dir) = modern() else { return };
    let before = pool.columns();
    for (id, summary, hint) in [
        (
            free.email.clone(),
            "Alias is free",
            "add a rootmail_alias without an import",
        ),
        (
            to_retire.email.clone(),
            "Alias is retired",
            "never handed out again",
        ),
        (
            to_quarantine.email.clone(),
            "Alias is quarantined",
            "cannot be imported",
        ),
        (
            "aws_00000000-0000-4000-8000-000000000000@company.com".to_string(),
            "Alias not in the pool",
            "Check the address",
        ),
    ] {
        dir.write("main.tf", &import_tf(&pool, &id));
        let out = dir.run_err(&["plan", "-no-color"]);
        let text = flat(&out.stderr);
        assert!(
            text.contains(summary) && text.contains(hint) && text.contains("Nothing was written"),
            "{id}: {text}"
        );
        pool.assert_unchanged(&before, &format!("a plan importing {summary}"));
    }
}
