//! `rootmail_alias_account`: records which AWS account uses a claimed alias.
//! It is a separate resource because the account's `email` comes from the
//! alias: putting the account id on `rootmail_alias` would form a cycle.
//!
//! The file reads top to bottom: docs, schema, model, CRUD on the model.

use super::validate::{self, Check, CheckedSchema};
use super::{fail, store_diag, store_fail, Shared};
use crate::store::{AliasPool, LinkTarget, StoreError};
use crate::tfplugin::model::{Call, Outcome, TypedResource};
use crate::tfplugin::{Attribute, Block, ResourcePlan, Schema, Type};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Registry docs text shown above the generated argument reference.
pub const DOC: &str = "Links a claimed alias to the AWS account that uses it, so the pool table shows which \
account every alias belongs to (`aws_account_id`). Create it next to `aws_organizations_account` with \
`email = rootmail_alias.x.email` and `aws_account_id = aws_organizations_account.x.id`. Destroying it \
clears the link, but only if the table still shows this account at the moment of the (ETag-conditional) \
write. The table keeps a record that the account used the alias even after the link is gone, because AWS \
never frees a root address: `rootmail_alias` then retires the alias on destroy instead of releasing it.";

/// Import section of the docs.
pub const IMPORT_DOC: &str = "A link is imported by the alias e-mail address:\n\n```shell\nterraform import rootmail_alias_account.example aws_0f1e2d3c-0000-4000-8000-000000000000@company.com\n```";

// ---- Schema -----------------------------------------------------------------

/// The schema of `rootmail_alias_account`, with the checks its configuration must pass.
fn checked_schema() -> CheckedSchema {
    CheckedSchema::new(Block::new().description(DOC))
        .attribute(Attribute::computed("id", Type::String).use_state_for_unknown().description("The alias e-mail address."))
        .checked(Attribute::required("email", Type::String).requires_replace().description("The claimed alias to link, usually `rootmail_alias.<name>.email`. Changing it moves the link to another alias."), Check::Email)
        .checked(Attribute::required("aws_account_id", Type::String).description("The 12-digit id of the AWS account using the alias, usually `aws_organizations_account.<name>.id`."), Check::AwsAccountId)
}

/// The schema of `rootmail_alias_account`.
pub fn schema() -> Schema {
    checked_schema().schema()
}

// ---- Model ------------------------------------------------------------------

/// The state of a `rootmail_alias_account`: which account an alias is linked to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AliasAccount {
    pub id: Option<String>,
    pub email: String,
    pub aws_account_id: String,
}

impl AliasAccount {
    /// The link as recorded for `email` (kept as the configuration spells it:
    /// AWS and the lookup ignore case, so another spelling is no change).
    fn linked(email: &str, account: &str) -> AliasAccount {
        AliasAccount {
            id: Some(email.to_owned()),
            email: email.to_owned(),
            aws_account_id: account.to_owned(),
        }
    }

    fn target(&self) -> LinkTarget {
        LinkTarget::Email(self.email.clone())
    }
}

// ---- CRUD -------------------------------------------------------------------

/// The resource type, sharing the provider's connection.
pub struct AliasAccountResource(pub Shared);

impl AliasAccountResource {
    async fn pool(&self) -> Outcome<Arc<AliasPool>> {
        Ok(self.0.pool().await?)
    }
}

declare! { AliasAccountResource, "rootmail_alias_account", checked_schema }

impl ResourcePlan for AliasAccountResource {}

#[async_trait]
impl TypedResource for AliasAccountResource {
    type Model = AliasAccount;
    type Private = ();

    async fn create(&self, _: &mut Call<()>, planned: AliasAccount) -> Outcome<AliasAccount> {
        let row = self
            .pool()
            .await?
            .link_account(&planned.target(), &planned.aws_account_id)
            .await
            .map_err(|e| store_diag("Could not link the alias to the AWS account", &e))?;
        Ok(AliasAccount::linked(&planned.email, &row.aws_account_id))
    }

    async fn read(
        &self,
        call: &mut Call<()>,
        state: AliasAccount,
    ) -> Outcome<Option<AliasAccount>> {
        if self.0.is_unknown().await {
            return Ok(Some(state));
        }
        let email = &state.email;
        match self.pool().await?.find_by_email(email).await {
            Ok(Some(row)) if row.in_use && !row.aws_account_id.is_empty() => {
                Ok(Some(AliasAccount::linked(email, &row.aws_account_id)))
            }
            Ok(_) => {
                call.diags.warning(
                    "Alias no longer linked",
                    format!("The alias {email} is no longer linked to an AWS account in the pool table; the link was removed from state and will be created again on the next apply."),
                );
                Ok(None)
            }
            Err(e) => store_fail("Could not read the alias", &e),
        }
    }

    async fn update(
        &self,
        _: &mut Call<()>,
        prior: AliasAccount,
        planned: AliasAccount,
    ) -> Outcome<AliasAccount> {
        // One conditional write: only a row still linked to the prior account
        // (or to nothing) moves to the planned one; a relink by someone else is refused.
        let row = self
            .pool()
            .await?
            .relink_account(
                &planned.target(),
                Some(&prior.aws_account_id),
                &planned.aws_account_id,
            )
            .await
            .map_err(|e| store_diag("Could not change the AWS account of the alias", &e))?;
        Ok(AliasAccount::linked(&planned.email, &row.aws_account_id))
    }

    async fn delete(&self, call: &mut Call<()>, prior: AliasAccount) -> Outcome<()> {
        let (email, account) = (&prior.email, &prior.aws_account_id);
        // Only the link this resource made is cleared, checked inside the
        // conditional write; the recorded use of the alias stays.
        match self.pool().await?.unlink_account(&prior.target(), account).await {
            Ok(_) => {}
            Err(e @ StoreError::LinkMismatch { .. }) => call.diags.warning(
                "Link left unchanged",
                format!("{e}. The alias {email} is no longer linked to account {account} in the pool table, so the link there was left as it is."),
            ),
            Err(StoreError::EmailNotFound { .. } | StoreError::WrongStatus { .. }) => call.diags.warning(
                "Link left unchanged",
                format!("The alias {email} is no longer claimed in the pool table (it was released, retired or removed), so there was no link to clear."),
            ),
            Err(e) => return store_fail("Could not unlink the alias", &e),
        }
        Ok(())
    }

    async fn import(&self, _: &mut Call<()>, id: &str) -> Outcome<AliasAccount> {
        if !validate::is_email(id) {
            return fail(
                "Invalid import ID",
                format!("Import a rootmail_alias_account by the alias e-mail address; got {id:?}."),
            );
        }
        match self.pool().await?.find_by_email(id).await {
            Ok(Some(row)) if !row.aws_account_id.is_empty() => Ok(AliasAccount::linked(id, &row.aws_account_id)),
            Ok(_) => fail("Alias not linked", format!("The alias {id} is not linked to an AWS account, so there is nothing to import.")),
            Err(e) => store_fail("Could not import the link", &e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_matches_the_schema() {
        let sample = AliasAccount::linked("a@company.com", "123456789012");
        crate::tfplugin::model::check_model(&schema(), &sample).unwrap();
    }
}
