//! `data "rootmail_aliases"`: lists aliases by owner, mailbox and status;
//! with `status = "claimed"` it finds claims no Terraform state may own.
//!
//! The file reads top to bottom: docs, schema, model, read.

use super::data_alias::{row_type, AliasEntry, Source};
use super::validate::{Check, CheckedSchema};
use super::{store_diag, Shared};
use crate::store::{AliasFilter, AliasStatus};
use crate::tfplugin::model::{self, Call, Outcome, TypedDataSource};
use crate::tfplugin::{Attribute, Block, Type};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Registry docs text.
pub const DOC: &str =
    "Lists the aliases of the pool, optionally only those of one `owner`, `mailbox` or \
`status`. Claimed aliases never linked to an AWS account are the likely leftovers of interrupted \
pipelines that ran without `claim_key`.";

/// The type name, also the `id` of every listing.
const TYPE_NAME: &str = "rootmail_aliases";

fn checked_schema() -> CheckedSchema {
    CheckedSchema::new(Block::new().description(DOC))
        .attribute(Attribute::computed("id", Type::String).description("A fixed identifier for this listing."))
        .checked(Attribute::optional("owner", Type::String).description("Only aliases claimed by this owner (`user_mail`)."), Check::Email)
        .checked(Attribute::optional("mailbox", Type::String).description("Only aliases of this shared mailbox."), Check::Email)
        .checked(Attribute::optional("status", Type::String).description("Only aliases in this status: `free`, `claimed`, `quarantined`, `retired` or `unroutable` (its mailbox does not have the address; found by `rootmail audit --exchange`)."), Check::OneOf(model::variants::<Status>()))
        .checked(Attribute::optional("source", Type::String).description("Only Exchange aliases (`alias`) or only plus addresses minted on demand (`minted`)."), Check::OneOf(model::variants::<Source>()))
        .attribute(Attribute::computed("aliases", Type::List(Box::new(row_type()))).description("The matching aliases, each with `email`, `alias_id`, `mailbox`, `status`, `owner`, `purpose`, `aws_account_id`, `used_by_aws_account_id`, `claimed_at`, `source` and `claim_type`."))
}

/// The status a listing asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Free,
    Claimed,
    Quarantined,
    Retired,
    Unroutable,
}

impl From<Status> for AliasStatus {
    fn from(status: Status) -> Self {
        match status {
            Status::Free => AliasStatus::Free,
            Status::Claimed => AliasStatus::Claimed,
            Status::Quarantined => AliasStatus::Quarantined,
            Status::Retired => AliasStatus::Retired,
            Status::Unroutable => AliasStatus::Unroutable,
        }
    }
}

/// `data "rootmail_aliases"`: the filters and the aliases they match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AliasListing {
    pub id: String,
    pub owner: Option<String>,
    pub mailbox: Option<String>,
    pub status: Option<Status>,
    pub source: Option<Source>,
    pub aliases: Vec<AliasEntry>,
}

/// The data source type, sharing the provider's connection.
pub struct AliasesDataSource(pub Shared);

declare! { AliasesDataSource, TYPE_NAME, checked_schema }

#[async_trait]
impl TypedDataSource for AliasesDataSource {
    type Model = AliasListing;

    async fn read(&self, _: &mut Call<()>, config: AliasListing) -> Outcome<AliasListing> {
        let filter = AliasFilter {
            owner: config.owner.clone(),
            mailbox: config.mailbox.clone(),
            status: config.status.map(AliasStatus::from),
            minted: config.source.map(|s| s == Source::Minted),
        };
        let rows = self
            .0
            .pool()
            .await?
            .list(&filter)
            .await
            .map_err(|e| store_diag("Could not list aliases", &e))?;
        Ok(AliasListing {
            id: TYPE_NAME.to_owned(),
            aliases: rows.iter().map(AliasEntry::from).collect(),
            ..config
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_matches_the_schema() {
        let sample = AliasListing {
            status: Some(Status::Retired),
            aliases: vec![AliasEntry::default()],
            ..AliasListing::default()
        };
        model::check_model(&checked_schema().schema(), &sample).unwrap();
        assert_eq!(
            model::variants::<Status>(),
            [
                AliasStatus::Free,
                AliasStatus::Claimed,
                AliasStatus::Quarantined,
                AliasStatus::Retired,
                AliasStatus::Unroutable
            ]
            .map(AliasStatus::as_str)
        );
    }
}
