//! Whose alias it is across states: another state's claim refused (taken over
//! only when asked, in apply), a claim made anew between plan and apply not
//! adopted, `moved` keeps and `removed` forgets without releasing.

use super::*;

#[test]
fn another_states_claim_is_refused_and_taken_over_only_when_asked_in_apply() {
    let pool = Pool::in_shared_azurite("takeover", 3);
    let Some(first) = modern() else { return };
    let Some(second) = modern() else { return };
    first.write(
        "main.tf",
        &(pool.provider_block()
            + &format!("resource \"rootmail_alias\" \"a\" {{\n  owner = \"{OWNER}\"\n}}\n")),
    );
    first.run_ok(&["apply", "-auto-approve", "-no-color"]);
    let email = state_values(&first)["rootmail_alias.a"]["email"]
        .as_str()
        .expect("email")
        .to_string();
    let before = pool.columns();

    second.write("main.tf", &import_tf(&pool, &email));
    let refused = second.run_err(&["plan", "-no-color"]);
    let text = flat(&refused.stderr);
    assert!(
        text.contains("held by another Terraform state")
            && text.contains(&format!("takeover:{email}")),
        "{text}"
    );
    pool.assert_unchanged(&before, "a refused import");

    second.write("main.tf", &import_tf(&pool, &format!("takeover:{email}")));
    let plan = second.run(&["plan", "-detailed-exitcode", "-out=tfplan", "-no-color"]);
    plan.assert_code(2);
    assert!(
        plan.stdout
            .contains("1 to import, 0 to add, 1 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.warnings()
            .iter()
            .any(|w| w.contains("Taking over another state's alias")),
        "{:?}",
        plan.warnings()
    );
    pool.assert_unchanged(&before, "a take-over plan");

    second.run_ok(&["apply", "-no-color", "tfplan"]);
    let row = pool
        .rows(Some(AliasStatus::Claimed))
        .into_iter()
        .find(|r| r.email == email)
        .expect("still claimed");
    let token = row.claim_token.expect("token");
    assert_eq!(
        state_values(&second)["rootmail_alias.imported"]["claim_token"],
        token.as_str()
    );
    assert_ne!(
        state_values(&first)["rootmail_alias.a"]["claim_token"],
        token.as_str(),
        "the first state's token no longer holds the row"
    );
    // The first state now sees the alias as gone and plans a new one.
    let drift = first.run_ok(&["plan", "-no-color"]);
    assert!(
        drift.stdout.contains("1 to add, 0 to change, 0 to destroy"),
        "{}",
        drift.stdout
    );
    assert!(
        drift
            .warnings()
            .iter()
            .any(|w| w.contains("no longer held")),
        "{:?}",
        drift.warnings()
    );
}

#[test]
fn an_alias_claimed_anew_between_plan_and_apply_is_not_adopted() {
    use rootmail::store::{TakeOverRequest, TakeOverScope};
    let pool = Pool::in_shared_azurite("planapply", 1);
    let old = legacy_claim(OLD_OWNER);
    pool.insert(std::slice::from_ref(&old));
    let Some(dir) = modern() else { return };
    dir.write("main.tf", &import_tf(&pool, &old.aws_mail));
    dir.run_ok(&["plan", "-out=tfplan", "-no-color"]);
    // Meanwhile another state adopts the same old claim.
    let other = pool
        .rt
        .block_on(pool.pool.take_over(&TakeOverRequest {
            alias_id: old.id.clone(),
            email: old.aws_mail.clone(),
            scope: TakeOverScope::Untokened,
            owner: None,
            purpose: None,
            claim_key: None,
            seen: None,
        }))
        .expect("the other state adopts it");
    let before = pool.columns();
    let out = dir.run_err(&["apply", "-no-color", "tfplan"]);
    let text = flat(&out.stderr);
    assert!(
        text.contains("Alias changed since the plan") && text.contains("Run plan again"),
        "{text}"
    );
    pool.assert_unchanged(&before, "an apply of a stale adoption");
    let row = pool.row(&old.id);
    assert_eq!(
        row.claim_token,
        Some(other.token),
        "the other state keeps it"
    );
}

#[test]
fn moved_keeps_and_removed_forgets_without_releasing() {
    let pool = Pool::in_shared_azurite("movedrm", 4);
    let Some(dir) = modern() else { return };
    let resource = |name: &str| {
        format!("resource \"rootmail_alias\" \"{name}\" {{\n  owner = \"{OWNER}\"\n}}\n")
    };
    dir.write(
        "main.tf",
        &(pool.provider_block() + &resource("a") + &resource("b")),
    );
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    let applied = pool.columns();

    dir.write(
        "main.tf",
        &(pool.provider_block()
            + &resource("renamed")
            + &resource("b")
            + "moved {\n  from = rootmail_alias.a\n  to   = rootmail_alias.renamed\n}\n"),
    );
    let plan = dir.run_ok(&["plan", "-no-color"]);
    assert!(
        plan.stdout.contains("has moved to rootmail_alias.renamed")
            && plan.stdout.contains("0 to add, 0 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    pool.assert_unchanged(&applied, "a moved block");

    dir.write(
        "main.tf",
        &(pool.provider_block()
            + &resource("renamed")
            + "removed {\n  from = rootmail_alias.b\n  lifecycle {\n    destroy = false\n  }\n}\n"),
    );
    let plan = dir.run_ok(&["plan", "-no-color"]);
    assert!(
        plan.stdout
            .contains("will no longer be managed by Terraform")
            && plan.stdout.contains("0 to destroy"),
        "{}",
        plan.stdout
    );
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    pool.assert_unchanged(&applied, "a removed block with destroy = false");
    let list = dir.run_ok(&["state", "list"]);
    assert_eq!(list.stdout.trim(), "rootmail_alias.renamed");
    assert_eq!(
        pool.rows(Some(AliasStatus::Claimed)).len(),
        2,
        "nothing released"
    );
}
