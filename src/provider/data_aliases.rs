//! `data "rootmail_aliases"`: lists aliases by owner, mailbox and status;
//! with `status = "claimed"` it finds claims no Terraform state may own.

use super::data_alias::{row_type, row_value};
use super::validate::Check;
use super::{store_diag, Shared};
use crate::store::{AliasFilter, AliasStatus};
use crate::tfplugin::{
    Attribute, Block, Ctx, DataSource, Diagnostics, Schema, StateResult, Type, Value,
};
use async_trait::async_trait;

/// Registry docs text.
pub const DOC: &str =
    "Lists the aliases of the pool, optionally only those of one `owner`, `mailbox` or \
`status`. Claimed aliases never linked to an AWS account are the likely leftovers of interrupted \
pipelines that ran without `claim_key`.";

/// The data source type.
pub struct AliasesDataSource {
    shared: Shared,
}

impl AliasesDataSource {
    /// The data source, sharing the provider's connection.
    pub fn new(shared: Shared) -> Self {
        AliasesDataSource { shared }
    }
}

const STATUSES: [&str; 4] = ["free", "claimed", "quarantined", "retired"];

#[async_trait]
impl DataSource for AliasesDataSource {
    fn type_name(&self) -> &'static str {
        "rootmail_aliases"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new()
                .description(DOC)
                .attribute(Attribute::computed("id", Type::String).description("A fixed identifier for this listing."))
                .attribute(Attribute::optional("owner", Type::String).description("Only aliases claimed by this owner (`user_mail`)."))
                .attribute(Attribute::optional("mailbox", Type::String).description("Only aliases of this shared mailbox."))
                .attribute(Attribute::optional("status", Type::String).description("Only aliases in this status: `free`, `claimed`, `quarantined` or `retired`."))
                .attribute(Attribute::computed("aliases", Type::List(Box::new(row_type()))).description("The matching aliases, each with `email`, `alias_id`, `mailbox`, `status`, `owner`, `purpose`, `aws_account_id`, `claimed_at` and `claim_type`.")),
        )
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        Check::Email.apply(config, "owner", &mut d);
        Check::Email.apply(config, "mailbox", &mut d);
        Check::OneOf(&STATUSES).apply(config, "status", &mut d);
        d
    }

    async fn read(&self, _ctx: &Ctx, config: &Value) -> StateResult {
        let pool = match self.shared.pool().await {
            Ok(p) => p,
            Err(d) => return StateResult::failed(d),
        };
        let filter = AliasFilter {
            owner: config.attr("owner").as_str().map(str::to_string),
            mailbox: config.attr("mailbox").as_str().map(str::to_string),
            status: config.attr("status").as_str().and_then(AliasStatus::parse),
        };
        match pool.list(&filter).await {
            Ok(rows) => {
                let mut state = config.clone();
                state.set_attr("id", Value::from("rootmail_aliases"));
                state.set_attr("aliases", Value::List(rows.iter().map(row_value).collect()));
                StateResult::ok(state)
            }
            Err(e) => StateResult::failed(store_diag("Could not list aliases", &e)),
        }
    }
}
