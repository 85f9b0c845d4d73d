//! Importing a `rootmail_alias`: import reads, apply writes.
//!
//! Terraform 1.5+ calls ImportResourceState while *planning*, so importing
//! never touches the table. An alias claimed by an older tool (no claim
//! token) is imported as `status = "unadopted"`; a claim another state holds
//! is refused unless the import ID asks for a take-over (`takeover:<email>`,
//! imported as `status = "takeover"`). Either way the plan shows an in-place
//! update, and the apply gives the row this resource's claim token with an
//! ETag-conditional write.

use super::alias::{Alias, AliasPrivate, CLAIMED_AT, CLAIM_TOKEN, STATUS};
use super::{fail, store_fail, validate, Shared};
use crate::store::{AliasPool, AliasStatus, SeenClaim, StoreError, TakeOverRequest, TakeOverScope};
use crate::tfplugin::model::{self, Call, Outcome};
use crate::tfplugin::{Diagnostic, Diagnostics, PlannedChange, Value};
use serde::{Deserialize, Serialize};
use std::fmt;
use time::format_description::well_known::Rfc3339;

/// The import-ID prefix that asks to take over another state's claim.
pub const TAKEOVER_PREFIX: &str = "takeover:";

/// Docs of the `status` attribute.
pub const STATUS_DOC: &str =
    "Where this resource stands with its alias: `claimed` (it holds the claim), \
`unadopted` (imported from an older tool's claim; the next apply adopts it) or `takeover` \
(imported with `takeover:`; the next apply takes the claim over from its current holder).";

/// Import section of the docs.
pub const DOC: &str = "Import reads the pool and never writes to it (Terraform 1.5+ imports while planning). \
The next apply adopts the alias, as an in-place update the plan shows (`status` becomes `claimed` and a claim token is written, conditionally on the row not having changed).\n\n\
- An alias claimed by an older tool (the function app: `in_use = true`, no claim token) is imported by its address.\n\
- An alias that carries a claim token belongs to another Terraform state (or a `rootmail` claim) and is refused, so that two states never own one alias. \
If that state is gone or no longer manages it, take it over explicitly with the ID `takeover:<address>`; the apply gives it a new claim token, and the other state's resource drops it on its next refresh.\n\
- Free, quarantined, retired and unknown addresses are refused with an explanation; nothing is written.\n- The apply adopts only the claim the plan showed: a row claimed anew in between is refused (`Alias changed since the plan`).\n- Import by identity (Terraform 1.12+) works like import by address; a take-over always needs the `takeover:` ID.\n\n\
```terraform\nimport {\n  to = rootmail_alias.example\n  id = \"aws_0f1e2d3c-0000-4000-8000-000000000000@company.com\"\n}\n```\n\n\
```shell\nterraform import rootmail_alias.example aws_0f1e2d3c-0000-4000-8000-000000000000@company.com\nterraform import rootmail_alias.example takeover:aws_0f1e2d3c-0000-4000-8000-000000000000@company.com\n```\n\n\
See the [migration guide](../guides/migrating.md) for moving a whole pool with `import` blocks and `for_each`.";

/// Where a `rootmail_alias` in state stands with its row (`status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Standing {
    /// The row carries this resource's claim token.
    #[default]
    Claimed,
    /// Imported from an older tool's claim; the next apply adopts it.
    Unadopted,
    /// Imported with `takeover:`; the next apply replaces the current claim.
    TakeOver,
}

impl Standing {
    /// The pending adoption recorded in a state or plan, if any.
    fn pending_in(state: &Value) -> Option<Standing> {
        model::from_value::<Standing>(state.attr(STATUS))
            .ok()
            .filter(|s| *s != Standing::Claimed)
    }

    fn scope(self) -> TakeOverScope {
        match self {
            Standing::TakeOver => TakeOverScope::AnyClaim,
            _ => TakeOverScope::Untokened,
        }
    }
}

impl fmt::Display for Standing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&model::variant_name(self))
    }
}

fn nothing_written(summary: &str, detail: String) -> Diagnostics {
    Diagnostic::error(
        summary,
        format!("{detail} Nothing was written to the pool."),
    )
    .into()
}

/// ImportResourceState: reads the row by address and builds a state that is
/// not adopted yet. Never writes.
pub async fn import(shared: &Shared, call: &mut Call<AliasPrivate>, id: &str) -> Outcome<Alias> {
    let (takeover, email) = match id.trim().strip_prefix(TAKEOVER_PREFIX) {
        Some(rest) => (true, rest.trim()),
        None => (false, id.trim()),
    };
    if !validate::is_email(email) {
        return fail("Invalid import ID", format!("Import a rootmail_alias by its e-mail address, e.g. `aws_<guid>@company.com`, or take another state's claim over with `{TAKEOVER_PREFIX}<address>`; got {id:?}."));
    }
    let pool = shared.pool().await?;
    let row = match pool.find_by_email(email).await {
        Ok(Some(row)) => row,
        Ok(None) => {
            return Err(nothing_written(
                "Alias not in the pool",
                format!("No alias with the address {email} is in table `{}`. Check the address (the `rootmail_aliases` data source and `rootmail pool list` list the pool), or add it with `rootmail pool import` if it exists in Exchange but not in the table.", pool.table_name()),
            ))
        }
        Err(e) => return store_fail("Could not import the alias", &e),
    };
    let standing = match (row.status, row.claim_token.is_some(), takeover) {
        (AliasStatus::Free, ..) => {
            return Err(nothing_written(
                "Alias is free",
                format!("{email} is free: nobody holds it, so there is nothing to import. To give an AWS account a new address, add a rootmail_alias without an import; its create claims a free alias."),
            ))
        }
        (AliasStatus::Quarantined, ..) => {
            let until = row
                .reusable_after
                .and_then(|t| t.format(&Rfc3339).ok())
                .map(|t| format!(" until {t}"))
                .unwrap_or_default();
            return Err(nothing_written(
                "Alias is quarantined",
                format!("{email} is quarantined{until}: it was given back and is kept out of the pool, so nobody holds it. It cannot be imported; once the quarantine is over, the provider hands it out again to a new rootmail_alias."),
            ));
        }
        (AliasStatus::Retired, ..) => {
            return Err(nothing_written(
                "Alias is retired",
                format!("{email} is retired: an AWS account used it, and AWS never frees a root address, so it is never handed out again. Import the address that account uses now, or add a new rootmail_alias for a new account."),
            ))
        }
        (AliasStatus::Unroutable, ..) => {
            return Err(nothing_written(
                "Alias is unroutable",
                format!("{email} is marked unroutable: its mailbox does not have the address, so mail to it bounces and nobody holds it. Add the address to the mailbox in Exchange Online and run `rootmail audit --exchange --fix`, which puts it back into the pool."),
            ))
        }
        (AliasStatus::Claimed, false, _) => Standing::Unadopted,
        (AliasStatus::Claimed, true, true) => Standing::TakeOver,
        (AliasStatus::Claimed, true, false) => {
            return Err(nothing_written(
                "Alias is held by another Terraform state",
                format!("{email} carries the claim token of another owner, normally a rootmail_alias in another Terraform state (or a `rootmail` claim). Importing it here too would make two states own one alias, and when one of them released it the other would silently get a new address. If that state no longer manages it, take it over explicitly: import it with the ID `{TAKEOVER_PREFIX}{email}` (in an import block: id = \"{TAKEOVER_PREFIX}{email}\"). The apply then gives it a new claim token, and the other state's resource drops it on its next refresh."),
            ))
        }
    };
    if !validate::is_email(&row.owner) {
        call.diags.warning(
            "Alias has no owner e-mail recorded",
            format!("The pool records no valid owner e-mail (`user_mail`) for {email}. Set `owner` in the configuration; the apply that adopts the alias records it."),
        );
    }
    call.private = AliasPrivate::seen(&row);
    Ok(Alias::default().holding(&row, None, standing))
}

/// ReadResource for an imported, not yet adopted alias. Never writes.
pub async fn read_pending(
    pool: &AliasPool,
    call: &mut Call<AliasPrivate>,
    state: Alias,
    pending: Standing,
) -> Outcome<Option<Alias>> {
    let gone = |diags: &mut Diagnostics, what: &str| {
        diags.warning(
            "Imported alias is no longer claimed",
            format!("The alias {} was imported but not adopted yet, and it {what}. It was removed from state; the next apply claims a new alias.", state.address()),
        );
        Ok(None)
    };
    match pool.get(state.row_key()?).await {
        Ok(Some(row))
            if row.status == AliasStatus::Claimed && Some(&row.email) == state.email.as_ref() =>
        {
            call.private = AliasPrivate::seen(&row);
            Ok(Some(state.holding(&row, None, pending)))
        }
        Ok(Some(row)) => gone(&mut call.diags, &format!("is now {}", row.status)),
        Ok(None) => gone(&mut call.diags, "was deleted from the pool table"),
        Err(e) => store_fail("Could not read the alias", &e),
    }
}

/// The plan of a resource whose import is pending: an in-place update that
/// writes a claim token (known only after apply).
pub fn plan_adoption(change: &mut PlannedChange) {
    let claimed = Value::from(Standing::Claimed.to_string());
    let Some(pending) = Standing::pending_in(&change.prior) else {
        // A state written before `status` existed (and not refreshed, e.g.
        // -refresh=false): an update returns "claimed", so plan it.
        if !change.prior.is_null()
            && change.prior.attr(STATUS).is_null()
            && change.planned != change.prior
            && change.planned.attr(STATUS).is_null()
        {
            change.planned.set_attr(STATUS, claimed);
        }
        return;
    };
    if !change.requires_replace.is_empty() {
        return;
    }
    change.planned.set_attr(STATUS, claimed);
    change.planned.set_attr(CLAIM_TOKEN, Value::Unknown);
    change.planned.set_attr(CLAIMED_AT, Value::Unknown);
    if pending == Standing::TakeOver {
        let prior = model::from_value::<Alias>(&change.prior).unwrap_or_default();
        let email = prior.address();
        change.diagnostics.push(Diagnostic::warning(
            "Taking over another state's alias",
            format!("This apply takes the claim on {email} over from its current holder (imported with `{TAKEOVER_PREFIX}`). A rootmail_alias in another state that held it drops it from its state on its next refresh; its destroy no longer releases it."),
        ));
    }
}

/// ApplyResourceChange (update) of a pending import: writes this resource's
/// claim token, conditionally on the row's ETag.
pub async fn adopt(
    pool: &AliasPool,
    call: &mut Call<AliasPrivate>,
    prior: &Alias,
    planned: Alias,
    pending: Standing,
) -> Outcome<Alias> {
    let request = TakeOverRequest {
        alias_id: prior.row_key()?.to_owned(),
        email: prior.row_email()?.to_owned(),
        scope: pending.scope(),
        owner: Some(planned.owner.clone()),
        purpose: Some(planned.purpose.clone().unwrap_or_default()),
        claim_key: planned.claim_key.clone(),
        // The claim the plan showed (the refreshed prior state): a row claimed
        // anew since then is not taken over.
        seen: Some(SeenClaim {
            owner: prior.owner.clone(),
            claimed_at: prior
                .claimed_at
                .as_deref()
                .and_then(|t| time::OffsetDateTime::parse(t, &Rfc3339).ok()),
        }),
    };
    let email = &request.email;
    match pool.take_over(&request).await {
        Ok(claimed) => {
            tracing::info!(email = %claimed.alias.email, standing = %pending, "adopted alias");
            call.private = AliasPrivate::seen(&claimed.alias);
            Ok(planned.holding(&claimed.alias, Some(&claimed.token), Standing::Claimed))
        }
        Err(StoreError::WrongStatus {
            status: AliasStatus::Claimed,
            ..
        }) => fail("Alias was claimed by another state since the import", format!("{email} now carries another owner's claim token (it was adopted elsewhere after this import), so it was not adopted here. If this state should own it, import it again with the ID `{TAKEOVER_PREFIX}{email}`; otherwise remove it from this state (`terraform state rm`, or a `removed` block).")),
        Err(e @ StoreError::ClaimChanged { .. }) => fail("Alias changed since the plan", format!("{email} was claimed anew after this plan was made (its owner or claim time changed), so it was not adopted: {e}. Run plan again to see who holds it now.")),
        Err(e) => store_fail("Could not adopt the alias", &e),
    }
}

/// Destroy of a pending import: this state never held the claim, so the row
/// is left as it is.
pub fn forget_pending(prior: &Alias) -> Diagnostics {
    Diagnostic::warning(
        "Alias was not released",
        format!("{} was imported but never adopted by this state, so destroy only removed it from state and left the row as it is.", prior.address()),
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::super::alias::{self, AliasResource, QuarantineDays, ON_DESTROY, QUARANTINE_DAYS};
    use super::*;
    use crate::tfplugin::ResourcePlan;
    use crate::tfplugin::{plan, Ctx};

    #[test]
    fn standing_round_trips_through_state() {
        for s in [Standing::Unadopted, Standing::TakeOver] {
            let state = Value::object([(STATUS, Value::from(s.to_string()))]);
            assert_eq!(Standing::pending_in(&state), Some(s));
        }
        let claimed = Value::object([(STATUS, Value::from("claimed"))]);
        assert_eq!(Standing::pending_in(&claimed), None);
        assert_eq!(Standing::pending_in(&Value::Null), None);
    }

    /// A state as import builds it, and the plan of an unchanged configuration.
    async fn plan_of(standing: Standing, quarantine_days: Value) -> PlannedChange {
        let schema = alias::schema();
        let ty = schema.value_type();
        let imported = Alias {
            id: Some("a@company.com".into()),
            email: Some("a@company.com".into()),
            alias_id: Some("1".into()),
            owner: "o@company.com".into(),
            mailbox: Some("m@company.com".into()),
            status: Some(standing),
            ..Alias::default()
        };
        let prior = model::to_value(&imported, &ty).unwrap();
        let mut config = Value::object_of_nulls(&ty);
        config.set_attr("owner", Value::from("o@company.com"));
        config.set_attr(QUARANTINE_DAYS, quarantine_days);
        let mut proposed = prior.clone();
        proposed.set_attr(QUARANTINE_DAYS, config.attr(QUARANTINE_DAYS).clone());
        let mut change = plan::plan(&schema, &prior, &proposed, &config);
        let resource = AliasResource(Shared::default());
        resource.modify_plan(&Ctx::default(), &mut change).await;
        change
    }

    #[tokio::test]
    async fn an_imported_claim_plans_its_adoption_and_nothing_else() {
        let change = plan_of(Standing::Unadopted, Value::Null).await;
        assert_eq!(change.planned.attr(STATUS), &Value::from("claimed"));
        assert!(change.planned.attr(CLAIM_TOKEN).is_unknown());
        assert!(change.requires_replace.is_empty());
        assert!(change.diagnostics.is_empty(), "{:?}", change.diagnostics);
        let takeover = plan_of(Standing::TakeOver, Value::Null).await;
        assert_eq!(takeover.diagnostics.0.len(), 1, "take-over warns");
        let held = plan_of(Standing::Claimed, Value::Null).await;
        assert_eq!(held.planned, held.prior, "a held alias plans no change");
    }

    #[tokio::test]
    async fn a_state_from_before_status_existed_plans_the_status_its_update_returns() {
        let mut change = plan_of(Standing::Claimed, Value::from(30i64)).await;
        change.prior.set_attr(STATUS, Value::Null);
        change.planned.set_attr(STATUS, Value::Null);
        plan_adoption(&mut change);
        assert_eq!(change.planned.attr(STATUS), &Value::from("claimed"));
        // Without a change nothing is planned (the refresh fills it in).
        let mut same = plan_of(Standing::Claimed, Value::Null).await;
        same.prior.set_attr(STATUS, Value::Null);
        same.planned.set_attr(STATUS, Value::Null);
        plan_adoption(&mut same);
        assert_eq!(same.planned, same.prior);
    }

    #[tokio::test]
    async fn quarantine_days_warns_only_when_it_is_not_the_default() {
        // What -generate-config-out writes: the default, which plans without warning.
        let default = Value::from(QuarantineDays::default().0);
        let generated = plan_of(Standing::Unadopted, default).await;
        assert!(
            generated.diagnostics.is_empty(),
            "{:?}",
            generated.diagnostics
        );
        let set = plan_of(Standing::Claimed, Value::from(30i64)).await;
        assert!(
            set.diagnostics
                .0
                .iter()
                .any(|d| d.summary.contains("no effect")),
            "{:?}",
            set.diagnostics
        );
        assert!(set.planned.attr(ON_DESTROY).as_str().is_some());
    }
}
