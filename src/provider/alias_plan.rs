//! Plan-time warnings of `rootmail_alias`: a destroy policy that would give
//! back an alias an AWS account used, and `quarantine_days` without effect.
//! A plan may read the pool, never write to it.

use super::alias::{Alias, OnDestroy, QuarantineDays, ON_DESTROY, QUARANTINE_DAYS};
use super::Shared;
use crate::tfplugin::model;
use crate::tfplugin::{Diagnostic, PlannedChange};

/// The plan-time warning for an explicit `release`/`quarantine` of an alias
/// an AWS account used.
fn used_alias_warning(on_destroy: OnDestroy, email: &str, account: &str) -> Diagnostic {
    Diagnostic::warning(
        format!("{ON_DESTROY} = \"{on_destroy}\" on an alias AWS account {account} used"),
        format!(
            "The pool table records that AWS account {account} used {email}. AWS never frees a root e-mail address: it stays bound to that account after the account is closed or leaves the organization, until that account's e-mail is changed. On destroy this alias will be {} as configured, and a later account created with it would fail with EMAIL_ALREADY_EXISTS. Only do this after changing the e-mail of account {account}; otherwise remove `{ON_DESTROY}` (the default `{}` retires used aliases).",
            if on_destroy == OnDestroy::Release { "put back in the pool" } else { "quarantined and later handed out again" },
            OnDestroy::default(),
        ),
    )
}

/// Warns when the destroy policy (planned, or the prior one on destroy)
/// would give back an alias an AWS account used. Reads the row (a plan
/// may read, never write).
pub(super) async fn warn_about_used_alias(shared: &Shared, change: &mut PlannedChange) {
    let Ok(Some(prior)) = model::from_value::<Option<Alias>>(&change.prior) else {
        return; // a new claim: no account has used it yet
    };
    let on_destroy = if change.is_destroy() {
        prior.on_destroy
    } else {
        match model::from_value::<OnDestroy>(change.planned.attr(ON_DESTROY)) {
            Ok(p) => p,
            Err(_) => return, // not known until apply
        }
    };
    if !on_destroy.gives_back() {
        return;
    }
    let mut account = None;
    if !shared.is_unknown().await {
        if let (Ok(pool), Some(id)) = (shared.pool().await, &prior.alias_id) {
            if let Ok(Some(row)) = pool.get(id).await {
                account = row.used_by_account().map(str::to_owned);
            }
        }
    }
    if let Some(account) = account {
        let d = used_alias_warning(on_destroy, prior.address(), &account);
        change.diagnostics.push(if change.is_destroy() {
            d
        } else {
            d.at_attr(ON_DESTROY)
        });
    }
}

/// Warns when `quarantine_days` is set but destroy does not quarantine.
/// Setting the default explicitly (as -generate-config-out does) is harmless.
pub(super) fn warn_about_idle_quarantine_days(change: &mut PlannedChange) {
    let days = change.config.attr(QUARANTINE_DAYS);
    let quarantines = model::from_value::<OnDestroy>(change.planned.attr(ON_DESTROY))
        .is_ok_and(|p| p == OnDestroy::Quarantine);
    let is_default =
        model::from_value::<QuarantineDays>(days).is_ok_and(|d| d == QuarantineDays::default());
    if !quarantines && !days.is_null() && !is_default {
        change.diagnostics.push(
            Diagnostic::warning(
                format!("{QUARANTINE_DAYS} has no effect"),
                format!(
                    "`{QUARANTINE_DAYS}` only matters with `{ON_DESTROY} = \"{}\"`.",
                    OnDestroy::Quarantine
                ),
            )
            .at_attr(QUARANTINE_DAYS),
        );
    }
}
