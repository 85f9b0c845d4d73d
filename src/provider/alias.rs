//! `rootmail_alias`: claims a free alias from the pool on create, keeps it
//! while the resource exists, and releases, quarantines or retires it on
//! destroy. The claim in state (token, owner and claim time as last seen)
//! is what holds the row: see `AliasRow::holds`.
//!
//! The file reads top to bottom: docs, schema, model, CRUD on the model.
//! Importing and adopting an alias live in `alias_import`, what `claim_key`
//! promises in `alias_key`.

use super::alias_import::{self, Standing};
use super::alias_key::{self, CLAIM_KEY};
use super::alias_plan;
use super::alias_source::{self, AddressSourceChoice, ADDRESS_SOURCE, SOURCE};
use super::data_alias::Source;
use super::validate::{Check, CheckedSchema};
use super::{store_diag, store_fail, Shared};
use crate::store::address::same_email;
use crate::store::{
    AliasRow, AliasUpdate, Claim, ClaimRequest, ClaimToken, ReleaseOutcome, ReleasePolicy,
    StoreError, MAX_TEXT_CHARS,
};
use crate::tfplugin::model::{self, null_as_default, Call, Outcome, TypedResource};
use crate::tfplugin::{
    Attribute, Block, Ctx, Diagnostic, IdentityAttribute, IdentitySchema, PlannedChange,
    ResourcePlan, Schema, Type, Value,
};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::fmt;
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
does what it says; the table keeps the account's use on record, noting that its e-mail was changed \
(`freed_from_account`). `quarantine` is for aliases that should rest before reuse although no account is \
recorded, for example when an account creation may still have been running when the alias was let go.\n\n\
The alias is this resource's while the row is claimed and carries this resource's claim token, owner \
and claim time as it last saw them. When another tool changes any of them (the old function app rewrites \
rows whole, keeping the token, when it hands an alias to someone else), a refresh says so and drops the \
alias from state, and destroy (also with `-refresh=false`) leaves the row as it is.";

/// Import section of the docs.
pub const IMPORT_DOC: &str = alias_import::DOC;

// ---- Schema -----------------------------------------------------------------

/// The schema version: 1 added `used_by_aws_account_id` and the default
/// `retire_if_used`; 2 left the link to `rootmail_alias_account`; 3 added
/// `source` (see `upgrade_state`).
pub const SCHEMA_VERSION: i64 = 3;

/// The link attributes this resource no longer fills in: the link is made
/// after the alias is applied (the account's e-mail comes from the alias), so
/// in the alias's state it was stale after every apply and the next refresh
/// reported it as drift. `rootmail_alias_account` and `data.rootmail_alias`
/// hold it.
const LINK_ATTRIBUTES: [&str; 2] = ["aws_account_id", "used_by_aws_account_id"];

/// Attributes the plan refers to by name; the schema declares them with these.
pub(super) const ON_DESTROY: &str = "on_destroy";
pub(super) const QUARANTINE_DAYS: &str = "quarantine_days";
pub(super) const STATUS: &str = "status";
pub(super) const CLAIM_TOKEN: &str = "claim_token";
pub(super) const CLAIMED_AT: &str = "claimed_at";
/// Where the row is: its key and its address (also the identity's one attribute).
const ALIAS_ID: &str = "alias_id";
const EMAIL: &str = "email";

/// The schema of `rootmail_alias`, with the checks its configuration must pass.
fn checked_schema() -> CheckedSchema {
    let stable = |a: Attribute| a.use_state_for_unknown();
    let days = QuarantineDays::default();
    CheckedSchema::new(Block::new().description(format!("{DOC}\n\n{}\n\n{}", alias_source::DOCS, alias_key::docs())))
        .attribute(stable(Attribute::computed("id", Type::String).description("The alias e-mail address (same as `email`).")))
        .checked(Attribute::required("owner", Type::String).description("E-mail of the person or team that asked for the alias; recorded as `user_mail`. Changing it updates the row in place."), Check::Email)
        .checked(Attribute::optional("purpose", Type::String).description(format!("Free text recorded with the claim, such as the AWS account name; at most {MAX_TEXT_CHARS} characters. Changing it updates the row in place.")), Check::Text { max: MAX_TEXT_CHARS })
        .checked(
            stable(
                Attribute::optional_computed("mailbox", Type::String)
                    .requires_replace()
                    .ignores_case()
                    .description("Only claim an alias of this shared mailbox (`root_mailbox`). When unset, any mailbox will do and the one chosen is exported. Mailboxes are e-mail addresses and compare without regard to letter case: the state keeps the configuration's spelling, and a change of case alone is no new claim. Changing it to another mailbox claims a new alias."),
            ),
            Check::Email,
        )
        .checked(Attribute::optional(CLAIM_KEY, Type::String).description(alias_key::ATTRIBUTE_DOC), Check::Text { max: crate::store::MAX_KEY_LEN })
        .checked(Attribute::optional(ADDRESS_SOURCE, Type::String).description(alias_source::ATTRIBUTE_DOC), Check::OneOf(model::variants::<AddressSourceChoice>()))
        .checked(Attribute::optional(ON_DESTROY, Type::String).default_value(OnDestroy::default().to_string()).description("What destroy does with the alias. `retire_if_used` (the default): release it if no AWS account ever used it, retire it (never handed out again, the account recorded in the row) if one did, because AWS never frees an account's root address, not even after the account is closed or leaves the organization. `release`: free again at once. `quarantine`: kept out of the pool for `quarantine_days`, then free again for this provider. `retire`: never handed out again. `release` and `quarantine` of an alias an account used are only right after that account's e-mail was changed; the plan warns about them, naming the account."), Check::OneOf(model::variants::<OnDestroy>()))
        .checked(Attribute::optional(QUARANTINE_DAYS, Type::Number).default_value(days.0).description(format!("Days a quarantined alias stays out of the pool. Defaults to {}.", days.0)), Check::Range { min: QuarantineDays::MIN, max: QuarantineDays::MAX })
        .attribute(stable(Attribute::computed(EMAIL, Type::String).description("The claimed alias address; use it as the AWS account's `email`.")))
        .attribute(stable(Attribute::computed(ALIAS_ID, Type::String).description("The alias's row key (a GUID) in the pool table.")))
        .attribute(stable(Attribute::computed(CLAIMED_AT, Type::String).description("When the alias was claimed (RFC 3339).")))
        .attribute(Attribute::computed(LINK_ATTRIBUTES[0], Type::String).deprecated().description("Deprecated, always null: the link is made after the alias is applied, so this resource's state could only hold it stale (and the next refresh reported drift). Read it from `rootmail_alias_account.<name>.aws_account_id` or `data.rootmail_alias`."))
        .attribute(Attribute::computed(LINK_ATTRIBUTES[1], Type::String).deprecated().description("Deprecated, always null, for the same reason as `aws_account_id`. The pool table still records the AWS account that used the alias (`data.rootmail_alias.<name>.used_by_aws_account_id`, `rootmail alias show`), and the default `on_destroy` retires such an alias."))
        .attribute(stable(Attribute::computed(CLAIM_TOKEN, Type::String).sensitive().description("Proof of this resource's claim on the row; only rows carrying it are changed or released. Null after an import until the apply that adopts the alias.")))
        .attribute(stable(Attribute::computed(STATUS, Type::String).description(alias_import::STATUS_DOC)))
        .attribute(stable(Attribute::computed(SOURCE, Type::String).description(alias_source::SOURCE_DOC)))
        .version(SCHEMA_VERSION)
}

/// The schema of `rootmail_alias`.
pub fn schema() -> Schema {
    checked_schema().schema()
}

// ---- Model ------------------------------------------------------------------

/// What destroy does with the alias (`on_destroy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDestroy {
    /// Release an alias no AWS account used; retire one that was used.
    #[default]
    RetireIfUsed,
    Release,
    Quarantine,
    Retire,
}

impl OnDestroy {
    fn policy(self, days: QuarantineDays) -> ReleasePolicy {
        match self {
            OnDestroy::RetireIfUsed => ReleasePolicy::RetireIfUsed,
            OnDestroy::Release => ReleasePolicy::Release,
            OnDestroy::Quarantine => ReleasePolicy::Quarantine { days: days.get() },
            OnDestroy::Retire => ReleasePolicy::Retire,
        }
    }

    /// True for the policies that may hand the alias out again.
    pub(super) fn gives_back(self) -> bool {
        matches!(self, OnDestroy::Release | OnDestroy::Quarantine)
    }
}

impl fmt::Display for OnDestroy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&model::variant_name(self))
    }
}

/// Days a quarantined alias stays out of the pool (`quarantine_days`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QuarantineDays(pub i64);

impl QuarantineDays {
    pub const MIN: i64 = 1;
    pub const MAX: i64 = 3650;

    fn get(self) -> u32 {
        // Validation keeps it in range; the clamp guards a state edited by hand.
        self.0.clamp(Self::MIN, Self::MAX) as u32
    }
}

impl Default for QuarantineDays {
    fn default() -> Self {
        QuarantineDays(90)
    }
}

/// The state of a `rootmail_alias`, attribute for attribute. In a plan being
/// applied, the computed ones not known yet are `None`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Alias {
    pub id: Option<String>,
    pub owner: String,
    pub purpose: Option<String>,
    pub mailbox: Option<String>,
    pub claim_key: Option<String>,
    pub address_source: Option<AddressSourceChoice>,
    #[serde(deserialize_with = "null_as_default")]
    pub on_destroy: OnDestroy,
    #[serde(deserialize_with = "null_as_default")]
    pub quarantine_days: QuarantineDays,
    pub email: Option<String>,
    pub alias_id: Option<String>,
    pub claimed_at: Option<String>,
    /// Deprecated, always `None` (see [`LINK_ATTRIBUTES`]).
    pub aws_account_id: Option<String>,
    /// Deprecated, always `None` (see [`LINK_ATTRIBUTES`]).
    pub used_by_aws_account_id: Option<String>,
    pub claim_token: Option<String>,
    /// Null in a state written before `status` existed: that one held its claim.
    pub status: Option<Standing>,
    /// Where the address comes from (an alias, or minted).
    pub source: Option<Source>,
}

impl Alias {
    /// This resource's state for `row`: what the row records comes from the
    /// row, the settings only the configuration knows (`claim_key`,
    /// `on_destroy`, `quarantine_days`) are kept. `token` is this resource's
    /// claim (none while an import waits for its adopting apply).
    pub(super) fn holding(
        self,
        row: &AliasRow,
        token: Option<&ClaimToken>,
        standing: Standing,
    ) -> Alias {
        Alias {
            id: Some(row.email.clone()),
            email: Some(row.email.clone()),
            alias_id: Some(row.id.clone()),
            owner: row.owner.clone(),
            purpose: Some(row.purpose.clone()).filter(|p| !p.is_empty()),
            // The configuration's spelling when it names the row's mailbox:
            // Terraform wants back what was configured.
            mailbox: Some(match self.mailbox {
                Some(m) if same_email(&m, &row.root_mailbox) => m,
                _ => row.root_mailbox.clone(),
            }),
            claimed_at: row.claimed_at.and_then(|t| t.format(&Rfc3339).ok()),
            aws_account_id: None,
            used_by_aws_account_id: None,
            claim_token: token.map(|t| t.as_str().to_owned()),
            status: Some(standing),
            source: Some(Source::of(row)),
            ..self
        }
    }

    /// Where this resource stands with its row.
    pub(super) fn standing(&self) -> Standing {
        self.status.unwrap_or_default()
    }

    /// The pending adoption of an imported alias, if any.
    pub(super) fn pending(&self) -> Option<Standing> {
        Some(self.standing()).filter(|s| *s != Standing::Claimed)
    }

    /// The address, for messages.
    pub(super) fn address(&self) -> &str {
        self.email.as_deref().unwrap_or_default()
    }

    /// The row key every saved state has.
    pub(super) fn row_key(&self) -> Result<&str, Diagnostic> {
        in_state(&self.alias_id, ALIAS_ID)
    }

    /// The address every saved state has, for the store.
    pub(super) fn row_email(&self) -> Result<&str, Diagnostic> {
        in_state(&self.email, EMAIL)
    }

    /// This resource's claim as it last saw it: the token, owner and claim
    /// time in state.
    fn claim(&self) -> Result<Claim, Diagnostic> {
        let token = self.claim_token.as_deref().and_then(ClaimToken::new).ok_or_else(|| {
            Diagnostic::error(
                "Claim token missing from state",
                "This rootmail_alias has no claim token in its state, so the provider cannot prove it owns the row. Remove it from state (`terraform state rm`) and import it again.",
            )
        })?;
        Ok(Claim {
            token,
            owner: self.owner.clone(),
            claimed_at: self
                .claimed_at
                .as_deref()
                .and_then(|t| time::OffsetDateTime::parse(t, &Rfc3339).ok()),
        })
    }

    fn release_policy(&self) -> ReleasePolicy {
        self.on_destroy.policy(self.quarantine_days)
    }
}

/// A computed attribute every saved state has; missing only in a state edited by hand.
fn in_state<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, Diagnostic> {
    value.as_deref().filter(|v| !v.is_empty()).ok_or_else(|| {
        Diagnostic::error(
            format!("`{name}` missing from state"),
            format!("This rootmail_alias has no `{name}` in its state, so the provider cannot find its row. Remove it from state (`terraform state rm`) and import it again."),
        )
    })
}

/// What `rootmail_alias` keeps in Terraform's private state: only what its
/// own writes leave, never what a refresh reads. Terraform counts a changed
/// private state as a change of the object, so a refresh that stored the
/// row's version made `plan -refresh-only -detailed-exitcode` exit 2 after
/// every write to the row (its own claim, a `rootmail_alias_account` link in
/// the same apply). Destroy reads the rows it releases, together.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AliasPrivate {
    /// The row's ETag as this resource last wrote it (for the logs).
    #[serde(default)]
    pub etag: Option<String>,
}

impl AliasPrivate {
    pub(super) fn seen(row: &AliasRow) -> AliasPrivate {
        AliasPrivate {
            etag: Some(row.etag().to_owned()),
        }
    }
}

fn claim_error(e: &StoreError) -> Diagnostic {
    if let Some(d) = alias_key::refusal(e).or_else(|| alias_source::exhausted(e)) {
        return d;
    }
    store_diag("Could not claim an alias", e)
}

/// The resource type, sharing the provider's connection.
pub struct AliasResource(pub Shared);

declare! { AliasResource, "rootmail_alias", checked_schema }

// ---- CRUD -------------------------------------------------------------------

#[async_trait]
impl ResourcePlan for AliasResource {
    fn identity_schema(&self) -> Option<IdentitySchema> {
        Some(IdentitySchema {
            version: 0,
            attributes: vec![IdentityAttribute {
                name: EMAIL.into(),
                ty: Type::String,
                description: "The alias e-mail address.".into(),
                required_for_import: true,
            }],
        })
    }

    fn identity(&self, state: &Value) -> Option<Value> {
        let email = model::from_value::<Alias>(state).ok()?.email?;
        Some(Value::object([(EMAIL, Value::from(email))]))
    }

    fn upgrade_state(&self, version: i64, mut state: Value) -> Value {
        let release = model::plain_value(&OnDestroy::Release).ok();
        if version < 1 && release.as_ref() == Some(state.attr(ON_DESTROY)) {
            // Version 0 defaulted to "release", which would give an alias an
            // account used back to the pool: take the safe default instead. A
            // configuration that really says "release" plans an in-place change.
            state.set_attr(ON_DESTROY, Value::from(OnDestroy::default().to_string()));
        }
        if version < 2 {
            // Dropped here, not on the next refresh, so that refresh reports no drift.
            for name in LINK_ATTRIBUTES {
                state.set_attr(name, Value::Null);
            }
        }
        if version < 3 && state.attr(SOURCE).is_null() {
            // Nothing was minted before version 3; set here so that the next
            // refresh reports no drift.
            state.set_attr(SOURCE, Value::from(Source::Alias.to_string()));
        }
        state
    }

    async fn modify_plan(&self, _ctx: &Ctx, change: &mut PlannedChange) {
        alias_plan::warn_about_used_alias(&self.0, change).await;
        if change.is_destroy() {
            return;
        }
        for name in LINK_ATTRIBUTES {
            change.planned.set_attr(name, Value::Null);
        }
        alias_import::plan_adoption(change);
        alias_plan::warn_about_idle_quarantine_days(change);
    }
}

#[async_trait]
impl TypedResource for AliasResource {
    type Model = Alias;
    type Private = AliasPrivate;

    async fn create(&self, call: &mut Call<AliasPrivate>, planned: Alias) -> Outcome<Alias> {
        let request = ClaimRequest {
            owner: planned.owner.clone(),
            purpose: planned.purpose.clone().unwrap_or_default(),
            mailbox: planned.mailbox.clone(),
            claim_key: planned.claim_key.clone(),
            source: planned.address_source.map(Into::into),
        };
        let claimed = self.0.claim(&request).await?.map_err(|e| claim_error(&e))?;
        tracing::info!(email = %claimed.alias.email, resumed = claimed.resumed, "claimed alias");
        if let (true, Some(key)) = (claimed.resumed, &planned.claim_key) {
            call.diags.push(alias_key::resumed(&claimed, key));
        }
        call.private = AliasPrivate::seen(&claimed.alias);
        Ok(planned.holding(&claimed.alias, Some(&claimed.token), Standing::Claimed))
    }

    async fn read(&self, call: &mut Call<AliasPrivate>, state: Alias) -> Outcome<Option<Alias>> {
        if self.0.is_unknown().await {
            return Ok(Some(state));
        }
        let pool = self.0.pool().await?;
        if let Some(pending) = state.pending() {
            return alias_import::read_pending(&pool, call, state, pending).await;
        }
        let claim = state.claim()?;
        // Through the read coalescer: refreshes running together share requests.
        match self.0.read_alias(state.row_key()?).await? {
            Ok(Some(row)) => match row.not_held_because(&claim) {
                None => Ok(Some(state.holding(
                    &row,
                    Some(&claim.token),
                    Standing::Claimed,
                ))),
                Some(why) => {
                    call.diags.warning(
                        "Alias no longer held by this resource",
                        format!("The alias {} is no longer held by this resource: {why}. It was removed from state and the row was left as it is (destroy does not touch it); the next apply claims a new alias.", state.address()),
                    );
                    Ok(None)
                }
            },
            Ok(None) => {
                call.diags.warning(
                    "Alias no longer in the pool",
                    format!("The alias {} was deleted from the pool table. It was removed from state; the next apply claims a new alias.", state.address()),
                );
                Ok(None)
            }
            Err(e) => store_fail("Could not read the alias", &e),
        }
    }

    async fn update(
        &self,
        call: &mut Call<AliasPrivate>,
        prior: Alias,
        planned: Alias,
    ) -> Outcome<Alias> {
        let pool = self.0.pool().await?;
        if let Some(pending) = prior.pending() {
            return alias_import::adopt(&pool, call, &prior, planned, pending).await;
        }
        let claim = prior.claim()?;
        let change = AliasUpdate {
            owner: Some(planned.owner.clone()),
            purpose: Some(planned.purpose.clone().unwrap_or_default()),
            claim_key: Some(planned.claim_key.clone()),
        };
        let row = pool
            .update(prior.row_key()?, &claim, &change)
            .await
            .map_err(|e| match e {
                StoreError::NotHeld { .. } => Diagnostic::error(
                    "Alias no longer held by this resource",
                    format!("{e}: it was released, claimed anew or re-issued by another tool since the last refresh, so nothing was written. Run a plan (with refresh) to see it; the next apply claims a new alias."),
                ),
                e => alias_key::refusal(&e)
                    .unwrap_or_else(|| store_diag("Could not update the alias", &e)),
            })?;
        call.private = AliasPrivate::seen(&row);
        Ok(planned.holding(&row, Some(&claim.token), Standing::Claimed))
    }

    async fn delete(&self, call: &mut Call<AliasPrivate>, prior: Alias) -> Outcome<()> {
        if prior.pending().is_some() {
            call.diags.extend(alias_import::forget_pending(&prior));
            return Ok(());
        }
        let claim = prior.claim()?;
        let email = prior.address();
        // The ETag of this resource's last write (not a secret), kept in private state.
        let etag = call.private.etag.as_deref().unwrap_or("none");
        tracing::debug!(email, etag, "releasing alias");
        let (key, policy) = (prior.row_key()?, prior.release_policy());
        // Together with the other destroys of the moment: their rows read
        // by key, then written in transactions; alone: read, check, write.
        let released = match self.0.release_batcher().await {
            Some(b) => b.release(key, &claim, policy, None).await,
            None => self.0.pool().await?.release(key, &claim, policy).await,
        };
        match released {
            Ok(ReleaseOutcome::NotHeld { .. } | ReleaseOutcome::Missing) => call.diags.warning(
                "Alias was not released",
                format!("The alias {email} is no longer held by this resource (it was released, claimed anew, or re-issued by another tool outside Terraform), so it was left as it is."),
            ),
            Ok(_) => tracing::info!(email, "released alias"),
            Err(e) => return store_fail("Could not release the alias", &e),
        }
        Ok(())
    }

    async fn import(&self, call: &mut Call<AliasPrivate>, id: &str) -> Outcome<Alias> {
        alias_import::import(&self.0, call, id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_matches_the_schema() {
        let sample = Alias {
            id: Some("a@company.com".into()),
            owner: "o@company.com".into(),
            purpose: Some("p".into()),
            claimed_at: Some("2026-01-01T00:00:00Z".into()),
            status: Some(Standing::TakeOver),
            on_destroy: OnDestroy::Quarantine,
            ..Alias::default()
        };
        model::check_model(&schema(), &sample).unwrap();
    }

    #[test]
    fn defaults_are_declared_once_on_the_model() {
        let schema = schema();
        let default_of = |name: &str| {
            schema
                .block
                .attributes
                .iter()
                .find(|a| a.name == name)
                .and_then(|a| a.plan.default.clone())
        };
        let model = model::to_value(&Alias::default(), &schema.value_type()).unwrap();
        for name in [ON_DESTROY, QUARANTINE_DAYS] {
            assert_eq!(default_of(name).as_ref(), Some(model.attr(name)), "{name}");
        }
        assert_eq!(
            model::variants::<OnDestroy>(),
            ["retire_if_used", "release", "quarantine", "retire"]
        );
        // A state written before an attribute with a default existed reads as the default.
        let old = model.with_attr(ON_DESTROY, Value::Null);
        let read: Alias = model::from_value(&old).unwrap();
        assert_eq!(read.on_destroy, OnDestroy::RetireIfUsed);
    }

    #[test]
    fn private_state_round_trips_and_tolerates_garbage() {
        let seen = AliasPrivate {
            etag: Some("W/\"datetime'2026'\"".into()),
        };
        let bytes = serde_json::to_vec(&seen).unwrap();
        assert_eq!(
            serde_json::from_slice::<AliasPrivate>(&bytes).unwrap(),
            seen
        );
        assert_eq!(
            serde_json::from_slice::<AliasPrivate>(b"{}").unwrap(),
            AliasPrivate::default()
        );
    }
}
