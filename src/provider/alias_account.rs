//! `rootmail_alias_account`: records which AWS account uses a claimed alias.
//! It is a separate resource because the account's `email` comes from the
//! alias: putting the account id on `rootmail_alias` would form a cycle.

use super::validate::{self, Check};
use super::{store_diag, Shared};
use crate::store::{LinkTarget, StoreError};
use crate::tfplugin::{
    Attribute, Block, Ctx, Diagnostic, Diagnostics, Resource, Schema, StateResult, Type, Value,
};
use async_trait::async_trait;

/// Registry docs text shown above the generated argument reference.
pub const DOC: &str = "Links a claimed alias to the AWS account that uses it, so the pool table shows which \
account every alias belongs to (`aws_account_id`). Create it next to `aws_organizations_account` with \
`email = rootmail_alias.x.email` and `aws_account_id = aws_organizations_account.x.id`. Destroying it \
clears the link, but only if the table still shows this account at the moment of the (ETag-conditional) \
write. The table keeps a record that the account used the alias even after the link is gone, because AWS \
never frees a root address: `rootmail_alias` then retires the alias on destroy instead of releasing it.";

/// Import section of the docs.
pub const IMPORT_DOC: &str = "A link is imported by the alias e-mail address:\n\n```shell\nterraform import rootmail_alias_account.example aws_0f1e2d3c-0000-4000-8000-000000000000@company.com\n```";

/// The resource type.
pub struct AliasAccountResource {
    shared: Shared,
}

impl AliasAccountResource {
    /// The resource, sharing the provider's connection.
    pub fn new(shared: Shared) -> Self {
        AliasAccountResource { shared }
    }
}

/// The schema of `rootmail_alias_account`.
pub fn schema() -> Schema {
    Schema::new(
        Block::new()
            .description(DOC)
            .attribute(Attribute::computed("id", Type::String).use_state_for_unknown().description("The alias e-mail address."))
            .attribute(Attribute::required("email", Type::String).requires_replace().description("The claimed alias to link, usually `rootmail_alias.<name>.email`. Changing it moves the link to another alias."))
            .attribute(Attribute::required("aws_account_id", Type::String).description("The 12-digit id of the AWS account using the alias, usually `aws_organizations_account.<name>.id`.")),
    )
}

fn state(email: &str, account: &str) -> Value {
    Value::object([
        ("id", Value::from(email)),
        ("email", Value::from(email)),
        ("aws_account_id", Value::from(account)),
    ])
}

#[async_trait]
impl Resource for AliasAccountResource {
    fn type_name(&self) -> &'static str {
        "rootmail_alias_account"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        Check::Email.apply(config, "email", &mut d);
        Check::AwsAccountId.apply(config, "aws_account_id", &mut d);
        d
    }

    async fn create(
        &self,
        _ctx: &Ctx,
        planned: &Value,
        _config: &Value,
        _private: &[u8],
    ) -> StateResult {
        let pool = match self.shared.pool().await {
            Ok(p) => p,
            Err(d) => return StateResult::failed(d),
        };
        let email = planned.attr("email").as_str().unwrap_or_default();
        let account = planned.attr("aws_account_id").as_str().unwrap_or_default();
        match pool
            .link_account(&LinkTarget::Email(email.to_string()), account)
            .await
        {
            Ok(row) => StateResult::ok(state(email, &row.aws_account_id)),
            Err(e) => StateResult::failed(store_diag(
                "Could not link the alias to the AWS account",
                &e,
            )),
        }
    }

    async fn read(&self, _ctx: &Ctx, current: &Value, _private: &[u8]) -> StateResult {
        if self.shared.is_unknown().await {
            return StateResult::ok(current.clone());
        }
        let pool = match self.shared.pool().await {
            Ok(p) => p,
            Err(d) => return StateResult::with(current.clone(), d.into()),
        };
        let email = current
            .attr("email")
            .as_str()
            .unwrap_or_default()
            .to_string();
        match pool.find_by_email(&email).await {
            // The address as written in the configuration is kept: AWS and
            // the lookup ignore case, so another spelling is no change.
            Ok(Some(row)) if row.in_use && !row.aws_account_id.is_empty() => {
                StateResult::ok(state(&email, &row.aws_account_id))
            }
            Ok(_) => StateResult::with(
                Value::Null,
                Diagnostic::warning(
                    "Alias no longer linked",
                    format!("The alias {email} is no longer linked to an AWS account in the pool table; the link was removed from state and will be created again on the next apply."),
                )
                .into(),
            ),
            Err(e) => StateResult::with(current.clone(), store_diag("Could not read the alias", &e).into()),
        }
    }

    async fn update(
        &self,
        _ctx: &Ctx,
        prior: &Value,
        planned: &Value,
        _config: &Value,
        _private: &[u8],
    ) -> StateResult {
        let pool = match self.shared.pool().await {
            Ok(p) => p,
            Err(d) => return StateResult::with(prior.clone(), d.into()),
        };
        let email = planned.attr("email").as_str().unwrap_or_default();
        let from = prior.attr("aws_account_id").as_str().unwrap_or_default();
        let to = planned.attr("aws_account_id").as_str().unwrap_or_default();
        // One conditional write: only a row still linked to `from` (or to
        // nothing) moves to `to`; a relink by someone else is refused.
        match pool
            .relink_account(&LinkTarget::Email(email.to_string()), Some(from), to)
            .await
        {
            Ok(row) => StateResult::ok(state(email, &row.aws_account_id)),
            Err(e) => StateResult::with(
                prior.clone(),
                store_diag("Could not change the AWS account of the alias", &e).into(),
            ),
        }
    }

    async fn delete(&self, _ctx: &Ctx, prior: &Value, _private: &[u8]) -> Diagnostics {
        let pool = match self.shared.pool().await {
            Ok(p) => p,
            Err(d) => return d.into(),
        };
        let email = prior.attr("email").as_str().unwrap_or_default();
        let account = prior.attr("aws_account_id").as_str().unwrap_or_default();
        // Only the link this resource made is cleared, checked inside the
        // conditional write; the recorded use of the alias stays.
        match pool
            .unlink_account(&LinkTarget::Email(email.to_string()), account)
            .await
        {
            Ok(_) => Diagnostics::new(),
            Err(e @ StoreError::LinkMismatch { .. }) => Diagnostic::warning(
                "Link left unchanged",
                format!("{e}. The alias {email} is no longer linked to account {account} in the pool table, so the link there was left as it is."),
            )
            .into(),
            Err(StoreError::EmailNotFound { .. } | StoreError::WrongStatus { .. }) => Diagnostic::warning(
                "Link left unchanged",
                format!("The alias {email} is no longer claimed in the pool table (it was released, retired or removed), so there was no link to clear."),
            )
            .into(),
            Err(e) => store_diag("Could not unlink the alias", &e).into(),
        }
    }

    async fn import(&self, _ctx: &Ctx, id: &str) -> StateResult {
        if !validate::is_email(id) {
            return StateResult::failed(Diagnostic::error(
                "Invalid import ID",
                format!("Import a rootmail_alias_account by the alias e-mail address; got {id:?}."),
            ));
        }
        let pool = match self.shared.pool().await {
            Ok(p) => p,
            Err(d) => return StateResult::failed(d),
        };
        match pool.find_by_email(id).await {
            Ok(Some(row)) if !row.aws_account_id.is_empty() => StateResult::ok(state(id, &row.aws_account_id)),
            Ok(_) => StateResult::failed(Diagnostic::error(
                "Alias not linked",
                format!("The alias {id} is not linked to an AWS account, so there is nothing to import."),
            )),
            Err(e) => StateResult::failed(store_diag("Could not import the link", &e)),
        }
    }
}
