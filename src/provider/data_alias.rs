//! `data "rootmail_alias"`: looks one alias up by e-mail or by AWS account.
//!
//! The file reads top to bottom: docs, schema, model, read.

use super::validate::{Check, CheckedSchema};
use super::{fail, store_fail, Shared};
use crate::store::{AliasRow, AliasStatus};
use crate::tfplugin::model::{Call, Outcome, TypedDataSource};
use crate::tfplugin::{Attribute, Block, Diagnostic, Diagnostics, Type, Value};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;

/// Registry docs text.
pub const DOC: &str =
    "Looks up one alias of the pool by exactly one of `email` or `aws_account_id`, \
for example to find which alias an existing AWS account uses.";

// ---- Schema -----------------------------------------------------------------

/// The two ways to look an alias up; exactly one is given.
const EMAIL: &str = "email";
const AWS_ACCOUNT_ID: &str = "aws_account_id";

/// The attributes describing one alias row, shared with `rootmail_aliases`.
pub fn row_attributes() -> Vec<(&'static str, &'static str)> {
    vec![
        (EMAIL, "The alias e-mail address."),
        ("alias_id", "The alias's row key (a GUID)."),
        (
            "mailbox",
            "The shared mailbox receiving the alias's mail (`root_mailbox`).",
        ),
        ("status", "`free`, `claimed`, `quarantined` or `retired`."),
        ("owner", "Who claimed it (`user_mail`), or empty."),
        ("purpose", "What it was claimed for, or empty."),
        (AWS_ACCOUNT_ID, "The linked AWS account, or empty."),
        (
            "used_by_aws_account_id",
            "The AWS account the table records as having used the alias (kept after the link is removed, since AWS never frees the address), or empty.",
        ),
        ("claimed_at", "When it was claimed (RFC 3339), or empty."),
        (
            "source",
            "`alias` for an Exchange alias, `minted` for a plus address minted on demand for a minting mailbox (see `address_source`).",
        ),
        (
            "claim_type",
            "For a claimed alias: `token` when it carries a claim token (a Terraform state or `rootmail` claim holds it), `legacy` when an older tool claimed it without one (import it as is); empty otherwise.",
        ),
    ]
}

/// The object type of one alias row.
pub fn row_type() -> Type {
    Type::Object(
        row_attributes()
            .into_iter()
            .map(|(n, _)| (n.to_string(), Type::String))
            .collect(),
    )
}

fn checked_schema() -> CheckedSchema {
    let mut schema = CheckedSchema::new(Block::new().description(DOC)).attribute(
        Attribute::computed("id", Type::String).description("The alias e-mail address."),
    );
    for (name, doc) in row_attributes() {
        schema = match name {
            EMAIL => schema.checked(Attribute::optional_computed(name, Type::String).description("The alias to look up, or (when looking up by account) the alias found."), Check::Email),
            AWS_ACCOUNT_ID => schema.checked(Attribute::optional_computed(name, Type::String).description("The 12-digit AWS account whose alias to look up, or the account linked to the alias found."), Check::AwsAccountId),
            _ => schema.attribute(Attribute::computed(name, Type::String).description(doc)),
        };
    }
    schema
}

// ---- Model ------------------------------------------------------------------

/// One alias row as the data sources show it (an element of `rootmail_aliases`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AliasEntry {
    pub email: String,
    pub alias_id: String,
    pub mailbox: String,
    pub status: String,
    pub owner: String,
    pub purpose: String,
    pub aws_account_id: String,
    pub used_by_aws_account_id: String,
    pub claimed_at: String,
    pub source: String,
    pub claim_type: String,
}

impl From<&AliasRow> for AliasEntry {
    fn from(row: &AliasRow) -> Self {
        AliasEntry {
            email: row.email.clone(),
            alias_id: row.id.clone(),
            mailbox: row.root_mailbox.clone(),
            status: row.status.as_str().to_owned(),
            owner: row.owner.clone(),
            purpose: row.purpose.clone(),
            aws_account_id: row.aws_account_id.clone(),
            used_by_aws_account_id: row.used_by_account().unwrap_or_default().to_owned(),
            claimed_at: row
                .claimed_at
                .and_then(|t| t.format(&Rfc3339).ok())
                .unwrap_or_default(),
            source: Source::of(row).to_string(),
            claim_type: claim_type(row).to_owned(),
        }
    }
}

/// Where an alias's address comes from (`source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// An Exchange alias of its mailbox.
    Alias,
    /// A plus address minted on demand.
    Minted,
}

impl Source {
    pub fn of(row: &AliasRow) -> Source {
        if row.minted {
            Source::Minted
        } else {
            Source::Alias
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::tfplugin::model::variant_name(self))
    }
}

fn claim_type(row: &AliasRow) -> &'static str {
    match (row.status, &row.claim_token) {
        (AliasStatus::Claimed, Some(_)) => "token",
        (AliasStatus::Claimed, None) => "legacy",
        _ => "",
    }
}

/// `data "rootmail_alias"`: the lookup (`email` or `aws_account_id`) and the
/// alias found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AliasLookup {
    pub id: String,
    pub email: Option<String>,
    pub alias_id: String,
    pub mailbox: String,
    pub status: String,
    pub owner: String,
    pub purpose: String,
    pub aws_account_id: Option<String>,
    pub used_by_aws_account_id: String,
    pub claimed_at: String,
    pub source: String,
    pub claim_type: String,
}

impl From<AliasEntry> for AliasLookup {
    fn from(found: AliasEntry) -> Self {
        AliasLookup {
            id: found.email.clone(),
            email: Some(found.email),
            alias_id: found.alias_id,
            mailbox: found.mailbox,
            status: found.status,
            owner: found.owner,
            purpose: found.purpose,
            aws_account_id: Some(found.aws_account_id),
            used_by_aws_account_id: found.used_by_aws_account_id,
            claimed_at: found.claimed_at,
            source: found.source,
            claim_type: found.claim_type,
        }
    }
}

// ---- Read -------------------------------------------------------------------

/// The data source type, sharing the provider's connection.
pub struct AliasDataSource(pub Shared);

fn exactly_one() -> Diagnostic {
    Diagnostic::error(
        format!("Exactly one of {EMAIL} and {AWS_ACCOUNT_ID}"),
        format!("Look an alias up by exactly one of `{EMAIL}` or `{AWS_ACCOUNT_ID}`."),
    )
}

/// Exactly one of the two ways to look up is given (each is checked by the schema).
fn validate_lookup(config: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    let (email, account) = (config.attr(EMAIL), config.attr(AWS_ACCOUNT_ID));
    if email.is_known() && account.is_known() && email.is_null() == account.is_null() {
        let at = if email.is_null() {
            EMAIL
        } else {
            AWS_ACCOUNT_ID
        };
        d.push(exactly_one().at_attr(at));
    }
    d
}

declare! { AliasDataSource, "rootmail_alias", checked_schema, validate_lookup }

#[async_trait]
impl TypedDataSource for AliasDataSource {
    type Model = AliasLookup;

    async fn read(&self, _: &mut Call<()>, config: AliasLookup) -> Outcome<AliasLookup> {
        let pool = self.0.pool().await?;
        let (found, what) = match (&config.email, &config.aws_account_id) {
            (Some(email), _) => (pool.find_by_email(email).await, format!("e-mail {email}")),
            (None, Some(account)) => (
                pool.find_by_account_id(account)
                    .await
                    .map(|rows| rows.into_iter().next()),
                format!("AWS account {account}"),
            ),
            (None, None) => return Err(exactly_one().into()),
        };
        match found {
            Ok(Some(row)) => Ok(AliasEntry::from(&row).into()),
            Ok(None) => fail(
                "Alias not found",
                format!("No alias of the pool matches {what}."),
            ),
            Err(e) => store_fail("Could not look the alias up", &e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tfplugin::model;

    #[test]
    fn the_models_match_the_schemas() {
        let entry = AliasEntry {
            email: "a@company.com".into(),
            ..AliasEntry::default()
        };
        let rows = row_attributes()
            .into_iter()
            .map(|(n, _)| n)
            .collect::<Vec<_>>();
        assert_eq!(model::fields::<AliasEntry>(), rows);
        model::check_model(&checked_schema().schema(), &AliasLookup::from(entry)).unwrap();
    }
}
