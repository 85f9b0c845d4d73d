//! `data "rootmail_pool"`: how many aliases are free, claimed, quarantined
//! and retired, in total and per shared mailbox — for a `postcondition` that
//! stops a pipeline before the pool runs dry.

use super::validate::Check;
use super::{store_diag, Shared};
use crate::store::StatusCounts;
use crate::tfplugin::{
    Attribute, Block, Ctx, DataSource, Diagnostics, Schema, StateResult, Type, Value,
};
use async_trait::async_trait;
use std::collections::BTreeMap;

/// Registry docs text.
pub const DOC: &str = "Counts the aliases of the pool by status, in total and per shared mailbox. Use it in a \
`postcondition` to stop a pipeline before the pool runs dry:\n\n```terraform\ndata \"rootmail_pool\" \"this\" {\n  lifecycle {\n    postcondition {\n      condition     = self.free >= 10\n      error_message = \"Fewer than 10 free root-mail aliases left: add more to the pool.\"\n    }\n  }\n}\n```";

/// The data source type.
pub struct PoolDataSource {
    shared: Shared,
}

impl PoolDataSource {
    /// The data source, sharing the provider's connection.
    pub fn new(shared: Shared) -> Self {
        PoolDataSource { shared }
    }
}

const COUNTS: [(&str, &str); 6] = [
    ("total", "All aliases."),
    ("free", "Aliases that can be claimed now."),
    (
        "unusable",
        "Aliases marked free that a claim never hands out: an AWS account used them (AWS never frees a root address) or AWS would refuse the address. Not counted in `free`.",
    ),
    ("claimed", "Aliases in use."),
    (
        "quarantined",
        "Aliases released with `on_destroy = \"quarantine\"` and not yet reusable.",
    ),
    ("retired", "Aliases never handed out again."),
];

fn counts_type() -> Type {
    Type::Object(
        COUNTS
            .iter()
            .map(|(n, _)| (n.to_string(), Type::Number))
            .collect(),
    )
}

fn counts_value(c: &StatusCounts) -> Value {
    Value::object([
        ("total", Value::from(c.total as i64)),
        (
            "free",
            Value::from(c.free.saturating_sub(c.unusable) as i64),
        ),
        ("unusable", Value::from(c.unusable as i64)),
        ("claimed", Value::from(c.claimed as i64)),
        ("quarantined", Value::from(c.quarantined as i64)),
        ("retired", Value::from(c.retired as i64)),
    ])
}

#[async_trait]
impl DataSource for PoolDataSource {
    fn type_name(&self) -> &'static str {
        "rootmail_pool"
    }

    fn schema(&self) -> Schema {
        let mut b = Block::new()
            .description(DOC)
            .attribute(
                Attribute::computed("id", Type::String)
                    .description("The table and partition counted."),
            )
            .attribute(
                Attribute::optional("mailbox", Type::String)
                    .description("Count only this shared mailbox."),
            );
        for (name, doc) in COUNTS {
            b = b.attribute(Attribute::computed(name, Type::Number).description(doc));
        }
        b = b.attribute(
            Attribute::computed("per_mailbox", Type::Map(Box::new(counts_type())))
                .description("The same counts for each shared mailbox, keyed by its address."),
        );
        Schema::new(b)
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        Check::Email.apply(config, "mailbox", &mut d);
        d
    }

    async fn read(&self, _ctx: &Ctx, config: &Value) -> StateResult {
        let pool = match self.shared.pool().await {
            Ok(p) => p,
            Err(d) => return StateResult::failed(d),
        };
        let mailbox = config.attr("mailbox").as_str();
        match pool.stats(mailbox).await {
            Ok(stats) => {
                let mut state = counts_value(&stats.all);
                state.set_attr(
                    "id",
                    Value::from(format!("{}/{}", pool.table_name(), pool.partition_key())),
                );
                state.set_attr("mailbox", config.attr("mailbox").clone());
                let per: BTreeMap<String, Value> = stats
                    .by_mailbox
                    .iter()
                    .map(|(m, c)| (m.clone(), counts_value(c)))
                    .collect();
                state.set_attr("per_mailbox", Value::Map(per));
                StateResult::ok(state)
            }
            Err(e) => StateResult::failed(store_diag("Could not count the pool", &e)),
        }
    }
}
