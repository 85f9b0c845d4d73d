//! `rootmail_alias`: claims a free alias from the pool on create, keeps it
//! while the resource exists, and releases, quarantines or retires it on
//! destroy. The claim token in state proves ownership of the row.

use super::alias_import::{self, Standing};
use super::{store_diag, validate, Shared};
use crate::store::{
    AliasRow, AliasUpdate, ClaimRequest, ClaimToken, ReleaseOutcome, ReleasePolicy, StoreError,
};
use crate::tfplugin::{
    Attribute, Block, Ctx, Diagnostic, Diagnostics, IdentityAttribute, IdentitySchema,
    PlannedChange, Resource, Schema, StateResult, Type, Value,
};
use async_trait::async_trait;
use time::format_description::well_known::Rfc3339;

/// Registry docs text shown above the generated argument reference.
pub const DOC: &str =
    "Claims one unique e-mail alias from the pool for an AWS account's root user. \
The alias stays claimed while this resource exists; on destroy `on_destroy` decides what happens to it.\n\n\
### AWS never gives a root e-mail address back\n\n\
Once an AWS account was created with an address, that address stays bound to the account: after the \
account is closed (the 90 days after closing are only the window to reopen it, not a waiting time for \
reuse) and after it leaves the organization (it still exists and owns the address). Only changing that \
account's primary e-mail frees it. An address handed to a new account again makes \
`aws_organizations_account` fail later with `EMAIL_ALREADY_EXISTS`.\n\n\
So the pool table remembers which AWS account used an alias (`rootmail_alias_account` records it, and \
destroying that link keeps the record), and the default `on_destroy = \"retire_if_used\"` releases an \
alias no account ever used and retires one that was used, writing the account into the row. A claim \
never hands out an alias the table records as used, nor an address AWS would refuse.\n\n\
`on_destroy = \"release\"` or `\"quarantine\"` on a used alias is taken as your statement that the address \
is free in AWS again (you changed that account's e-mail): the plan warns, naming the account, and destroy \
does what it says. `quarantine` is for aliases that should rest before reuse although no account is \
recorded, for example when an account creation may still have been running when the alias was let go.\n\n\
Set `claim_key` to something unique per account (for example the account name): if an apply is \
interrupted after the table was written but before Terraform saved its state, the next apply gets \
the same alias back instead of claiming a second one.\n\n### Recommended use of `claim_key`\n\n- Make it unique per alias and stable across applies, e.g. `\"${var.account_name}\"` or `\"${var.account_name}-${count.index}\"`; never reuse one key for two resources, or they share an alias.\n- Without it, a claim whose response was lost (network failure, the provider killed mid-apply) leaves the alias claimed with no resource owning it. Such orphans are listed by the `rootmail_aliases` data source with `status = \"claimed\"` (compare the list with `terraform state list`), and can be adopted with `terraform import` or released by hand.";

/// Import section of the docs.
pub const IMPORT_DOC: &str = alias_import::DOC;

/// The resource type.
pub struct AliasResource {
    shared: Shared,
}

impl AliasResource {
    /// The resource, sharing the provider's connection.
    pub fn new(shared: Shared) -> Self {
        AliasResource { shared }
    }
}

/// Values the destroy policy may take.
pub const ON_DESTROY: [&str; 4] = ["retire_if_used", "release", "quarantine", "retire"];

/// The default of `on_destroy`.
pub const DEFAULT_ON_DESTROY: &str = "retire_if_used";

/// The schema version: 1 added `used_by_aws_account_id` and the default
/// `retire_if_used` (see `upgrade_state`).
pub const SCHEMA_VERSION: i64 = 1;

/// The schema of `rootmail_alias`.
pub fn schema() -> Schema {
    let stable = |a: Attribute| a.use_state_for_unknown();
    Schema::new(
        Block::new()
            .description(DOC)
            .attribute(stable(Attribute::computed("id", Type::String).description("The alias e-mail address (same as `email`).")))
            .attribute(Attribute::required("owner", Type::String).description("E-mail of the person or team that asked for the alias; recorded as `user_mail`. Changing it updates the row in place."))
            .attribute(Attribute::optional("purpose", Type::String).description("Free text recorded with the claim, such as the AWS account name. Changing it updates the row in place."))
            .attribute(stable(
                Attribute::optional_computed("mailbox", Type::String)
                    .requires_replace()
                    .description("Only claim an alias of this shared mailbox (`root_mailbox`). When unset, any mailbox will do and the one chosen is exported. Changing it claims a new alias."),
            ))
            .attribute(Attribute::optional("claim_key", Type::String).description("A caller-chosen key, unique per alias (for example the account name), that makes create idempotent: a create that finds an alias already claimed with this key takes it over instead of claiming another. Strongly recommended in pipelines."))
            .attribute(Attribute::optional("on_destroy", Type::String).default_value(DEFAULT_ON_DESTROY).description("What destroy does with the alias. `retire_if_used` (the default): release it if no AWS account ever used it, retire it (never handed out again, the account recorded in the row) if one did, because AWS never frees an account's root address, not even after the account is closed or leaves the organization. `release`: free again at once. `quarantine`: kept out of the pool for `quarantine_days`, then free again for this provider. `retire`: never handed out again. `release` and `quarantine` of an alias an account used are only right after that account's e-mail was changed; the plan warns about them, naming the account."))
            .attribute(Attribute::optional("quarantine_days", Type::Number).default_value(90i64).description("Days a quarantined alias stays out of the pool. Defaults to 90."))
            .attribute(stable(Attribute::computed("email", Type::String).description("The claimed alias address; use it as the AWS account's `email`.")))
            .attribute(stable(Attribute::computed("alias_id", Type::String).description("The alias's row key (a GUID) in the pool table.")))
            .attribute(stable(Attribute::computed("claimed_at", Type::String).description("When the alias was claimed (RFC 3339).")))
            .attribute(Attribute::computed("aws_account_id", Type::String).description("The AWS account linked to the alias with `rootmail_alias_account`, or empty."))
            .attribute(Attribute::computed("used_by_aws_account_id", Type::String).description("The AWS account the pool table records as having used the alias (kept after the link is removed), or empty. When set, the default `on_destroy` retires the alias."))
            .attribute(stable(Attribute::computed("claim_token", Type::String).sensitive().description("Proof of this resource's claim on the row; only rows carrying it are changed or released. Null after an import until the apply that adopts the alias.")))
            .attribute(stable(Attribute::computed("status", Type::String).description(alias_import::STATUS_DOC))),
    )
    .with_version(SCHEMA_VERSION)
}

fn rfc3339(t: Option<time::OffsetDateTime>) -> Value {
    t.and_then(|t| t.format(&Rfc3339).ok())
        .map(Value::from)
        .unwrap_or(Value::Null)
}

fn non_empty(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::from(s)
    }
}

/// The value the schema gives `name` when the configuration leaves it out
/// (null when it has no default): the one place defaults are declared.
pub(super) fn schema_default(name: &str) -> Value {
    schema()
        .block
        .attributes
        .iter()
        .find(|a| a.name == name)
        .and_then(|a| a.plan.default.clone())
        .unwrap_or(Value::Null)
}

/// Builds the state from a row held with `token`, keeping the user-only
/// settings of `base`.
fn state_from(row: &AliasRow, token: &ClaimToken, base: &Value) -> Value {
    state_of(row, Some(token), Standing::Claimed, base)
}

/// Builds the state from a row: `token` is this resource's claim (none while
/// an import waits for its adopting apply), `standing` says which. Settings
/// only the configuration knows come from `base`, else the schema defaults.
pub(super) fn state_of(
    row: &AliasRow,
    token: Option<&ClaimToken>,
    standing: Standing,
    base: &Value,
) -> Value {
    let keep = |n: &str| {
        let v = base.attr(n);
        if v.is_null() || v.is_unknown() {
            schema_default(n)
        } else {
            v.clone()
        }
    };
    Value::object([
        ("id", Value::from(row.email.as_str())),
        ("email", Value::from(row.email.as_str())),
        ("alias_id", Value::from(row.id.as_str())),
        ("owner", Value::from(row.owner.as_str())),
        ("purpose", non_empty(&row.purpose)),
        ("mailbox", Value::from(row.root_mailbox.as_str())),
        ("claim_key", keep("claim_key")),
        ("on_destroy", keep("on_destroy")),
        ("quarantine_days", keep("quarantine_days")),
        ("claimed_at", rfc3339(row.claimed_at)),
        ("aws_account_id", Value::from(row.aws_account_id.as_str())),
        (
            "used_by_aws_account_id",
            Value::from(row.used_by_account().unwrap_or_default()),
        ),
        (
            "claim_token",
            token.map_or(Value::Null, |t| Value::from(t.as_str())),
        ),
        ("status", Value::from(standing.as_str())),
    ])
}

pub(super) fn policy(state: &Value) -> ReleasePolicy {
    match state.attr("on_destroy").as_str() {
        Some("quarantine") => ReleasePolicy::Quarantine {
            days: state
                .attr("quarantine_days")
                .as_i64()
                .unwrap_or(90)
                .clamp(1, 3650) as u32,
        },
        Some("retire") => ReleasePolicy::Retire,
        Some("release") => ReleasePolicy::Release,
        _ => ReleasePolicy::RetireIfUsed,
    }
}

/// The plan-time warning for an explicit `release`/`quarantine` of an alias
/// an AWS account used.
fn used_alias_warning(on_destroy: &str, email: &str, account: &str) -> Diagnostic {
    Diagnostic::warning(
        format!("on_destroy = \"{on_destroy}\" on an alias AWS account {account} used"),
        format!(
            "The pool table records that AWS account {account} used {email}. AWS never frees a root e-mail address: it stays bound to that account after the account is closed or leaves the organization, until that account's e-mail is changed. On destroy this alias will be {} as configured, and a later account created with it would fail with EMAIL_ALREADY_EXISTS. Only do this after changing the e-mail of account {account}; otherwise remove `on_destroy` (the default `retire_if_used` retires used aliases).",
            if on_destroy == "release" { "put back in the pool" } else { "quarantined and later handed out again" }
        ),
    )
}

pub(super) fn token_of(state: &Value) -> Result<ClaimToken, Diagnostic> {
    state
        .attr("claim_token")
        .as_str()
        .and_then(ClaimToken::new)
        .ok_or_else(|| {
            Diagnostic::error(
                "Claim token missing from state",
                "This rootmail_alias has no claim token in its state, so the provider cannot prove it owns the row. Remove it from state (`terraform state rm`) and import it again.",
            )
        })
}

fn claim_error(e: &StoreError) -> Diagnostic {
    match e {
        StoreError::PoolExhausted { .. } => Diagnostic::error(
            "Alias pool exhausted",
            format!("{e}. Add aliases to the pool (see `rootmail pool generate` and `rootmail pool import`) and apply again; aliases already claimed in this apply are kept in state."),
        ),
        _ => store_diag("Could not claim an alias", e),
    }
}

impl AliasResource {
    /// Warns when the destroy policy (planned, or the prior one on destroy)
    /// would give back an alias an AWS account used. Reads the row (a plan
    /// may read, never write); the prior state is the fallback.
    async fn warn_about_used_alias(&self, change: &mut PlannedChange) {
        let source = if change.is_destroy() {
            &change.prior
        } else {
            &change.planned
        };
        let on_destroy = match source.attr("on_destroy").as_str() {
            Some(p @ ("release" | "quarantine")) => p.to_owned(),
            _ => return,
        };
        let prior = &change.prior;
        if prior.is_null() {
            return; // a new claim: no account has used it yet
        }
        let email = prior.attr("email").as_str().unwrap_or_default().to_owned();
        let mut account = ["used_by_aws_account_id", "aws_account_id"]
            .iter()
            .filter_map(|n| prior.attr(n).as_str())
            .find(|a| !a.is_empty())
            .map(str::to_owned);
        if !self.shared.is_unknown().await {
            if let (Ok(pool), Some(id)) =
                (self.shared.pool().await, prior.attr("alias_id").as_str())
            {
                if let Ok(Some(row)) = pool.get(id).await {
                    account = row.used_by_account().map(str::to_owned).or(account);
                }
            }
        }
        if let Some(account) = account {
            let d = used_alias_warning(&on_destroy, &email, &account);
            change.diagnostics.push(if change.is_destroy() {
                d
            } else {
                d.at_attr("on_destroy")
            });
        }
    }
}

#[async_trait]
impl Resource for AliasResource {
    fn type_name(&self) -> &'static str {
        "rootmail_alias"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn identity_schema(&self) -> Option<IdentitySchema> {
        Some(IdentitySchema {
            version: 0,
            attributes: vec![IdentityAttribute {
                name: "email".into(),
                ty: Type::String,
                description: "The alias e-mail address.".into(),
                required_for_import: true,
            }],
        })
    }

    fn identity(&self, state: &Value) -> Option<Value> {
        let email = state.attr("email");
        email.as_str()?;
        Some(Value::object([("email", email.clone())]))
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        validate::email(config, "owner", &mut d);
        validate::email(config, "mailbox", &mut d);
        validate::text(config, "purpose", 1024, &mut d);
        validate::text(config, "claim_key", 256, &mut d);
        validate::one_of(config, "on_destroy", &ON_DESTROY, &mut d);
        validate::int_range(config, "quarantine_days", 1, 3650, &mut d);
        d
    }

    fn upgrade_state(&self, version: i64, mut state: Value) -> Value {
        if version < 1 && state.attr("on_destroy").as_str() == Some("release") {
            // Version 0 defaulted to "release", which would give an alias an
            // account used back to the pool: take the safe default instead. A
            // configuration that really says "release" plans an in-place change.
            state.set_attr("on_destroy", Value::from(DEFAULT_ON_DESTROY));
        }
        state
    }

    async fn modify_plan(&self, _ctx: &Ctx, change: &mut PlannedChange) {
        self.warn_about_used_alias(change).await;
        if change.is_destroy() {
            return;
        }
        alias_import::plan_adoption(change);
        // Setting the default explicitly (as -generate-config-out does) is harmless.
        let days = change.config.attr("quarantine_days");
        if change.planned.attr("on_destroy").as_str() != Some("quarantine")
            && !days.is_null()
            && *days != schema_default("quarantine_days")
        {
            change.diagnostics.push(
                Diagnostic::warning(
                    "quarantine_days has no effect",
                    "`quarantine_days` only matters with `on_destroy = \"quarantine\"`.",
                )
                .at_attr("quarantine_days"),
            );
        }
    }

    async fn create(&self, _ctx: &Ctx, planned: &Value, _config: &Value) -> StateResult {
        let req = ClaimRequest {
            owner: planned
                .attr("owner")
                .as_str()
                .unwrap_or_default()
                .to_string(),
            purpose: planned
                .attr("purpose")
                .as_str()
                .unwrap_or_default()
                .to_string(),
            mailbox: planned.attr("mailbox").as_str().map(str::to_string),
            claim_key: planned.attr("claim_key").as_str().map(str::to_string),
        };
        let outcome = match self.shared.claim(&req).await {
            Ok(outcome) => outcome,
            Err(d) => return StateResult::failed(d),
        };
        match outcome {
            Ok(claimed) => {
                tracing::info!(email = %claimed.alias.email, "claimed alias");
                StateResult::ok(state_from(&claimed.alias, &claimed.token, planned))
            }
            Err(e) => StateResult::failed(claim_error(&e)),
        }
    }

    async fn read(&self, _ctx: &Ctx, state: &Value) -> StateResult {
        if self.shared.is_unknown().await {
            return StateResult::ok(state.clone());
        }
        let pool = match self.shared.pool().await {
            Ok(p) => p,
            Err(d) => return StateResult::with(state.clone(), d.into()),
        };
        if let Some(pending) = Standing::pending_in(state) {
            return alias_import::read_pending(&pool, state, pending).await;
        }
        let token = match token_of(state) {
            Ok(t) => t,
            Err(d) => return StateResult::with(state.clone(), d.into()),
        };
        let alias_id = state.attr("alias_id").as_str().unwrap_or_default();
        let email = state.attr("email").as_str().unwrap_or_default().to_string();
        match pool.get(alias_id).await {
            Ok(Some(row)) if row.held_by(&token) => StateResult::ok(state_from(&row, &token, state)),
            Ok(Some(_)) => StateResult::with(
                Value::Null,
                Diagnostic::warning(
                    "Alias no longer claimed by this resource",
                    format!("The alias {email} was released or claimed by someone else outside Terraform. It was removed from state; the next apply claims a new alias."),
                )
                .into(),
            ),
            Ok(None) => StateResult::with(
                Value::Null,
                Diagnostic::warning(
                    "Alias no longer in the pool",
                    format!("The alias {email} was deleted from the pool table. It was removed from state; the next apply claims a new alias."),
                )
                .into(),
            ),
            Err(e) => StateResult::with(state.clone(), store_diag("Could not read the alias", &e).into()),
        }
    }

    async fn update(
        &self,
        _ctx: &Ctx,
        prior: &Value,
        planned: &Value,
        _config: &Value,
    ) -> StateResult {
        let pool = match self.shared.pool().await {
            Ok(p) => p,
            Err(d) => return StateResult::with(prior.clone(), d.into()),
        };
        if let Some(pending) = Standing::pending_in(prior) {
            return alias_import::adopt(&pool, prior, planned, pending).await;
        }
        let token = match token_of(prior) {
            Ok(t) => t,
            Err(d) => return StateResult::with(prior.clone(), d.into()),
        };
        let alias_id = prior.attr("alias_id").as_str().unwrap_or_default();
        let req = AliasUpdate {
            owner: planned.attr("owner").as_str().map(str::to_string),
            purpose: Some(
                planned
                    .attr("purpose")
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            ),
        };
        match pool.update(alias_id, &token, &req).await {
            Ok(row) => StateResult::ok(state_from(&row, &token, planned)),
            Err(e) => StateResult::with(
                prior.clone(),
                store_diag("Could not update the alias", &e).into(),
            ),
        }
    }

    async fn delete(&self, _ctx: &Ctx, prior: &Value) -> Diagnostics {
        if Standing::pending_in(prior).is_some() {
            return alias_import::forget_pending(prior);
        }
        let pool = match self.shared.pool().await {
            Ok(p) => p,
            Err(d) => return d.into(),
        };
        let token = match token_of(prior) {
            Ok(t) => t,
            Err(d) => return d.into(),
        };
        let alias_id = prior.attr("alias_id").as_str().unwrap_or_default();
        let email = prior.attr("email").as_str().unwrap_or_default();
        match pool.release(alias_id, &token, policy(prior)).await {
            Ok(ReleaseOutcome::NotHeld { .. } | ReleaseOutcome::Missing) => Diagnostic::warning(
                "Alias was not released",
                format!("The alias {email} no longer carries this resource's claim (it was released or claimed by someone else outside Terraform), so it was left as it is."),
            )
            .into(),
            Ok(_) => {
                tracing::info!(email, "released alias");
                Diagnostics::new()
            }
            Err(e) => store_diag("Could not release the alias", &e).into(),
        }
    }

    async fn import(&self, _ctx: &Ctx, id: &str) -> StateResult {
        alias_import::import(&self.shared, id).await
    }
}
