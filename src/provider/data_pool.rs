//! `data "rootmail_pool"`: how many aliases are free, claimed, quarantined
//! and retired, in total and per shared mailbox — for a `postcondition` that
//! stops a pipeline before the pool runs dry.
//!
//! The file reads top to bottom: docs, schema, model, read.

use super::validate::{Check, CheckedSchema};
use super::{store_diag, Shared};
use crate::store::StatusCounts;
use crate::tfplugin::model::{Call, Outcome, TypedDataSource};
use crate::tfplugin::{Attribute, Block, Type};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Registry docs text.
pub const DOC: &str = "Counts the aliases of the pool by status, in total and per shared mailbox. Use it in a \
`postcondition` to stop a pipeline before the pool runs dry:\n\n```terraform\ndata \"rootmail_pool\" \"this\" {\n  lifecycle {\n    postcondition {\n      condition     = self.claimable >= 10\n      error_message = \"Fewer than 10 free root-mail aliases left: add more to the pool.\"\n    }\n  }\n}\n```";

const COUNTS: [(&str, &str); 8] = [
    ("total", "All aliases."),
    (
        "claimable",
        "Aliases a claim can take now: `free` plus `reusable`. The number to check in a `postcondition`, and the one `rootmail pool stats --min-free` checks.",
    ),
    (
        "free",
        "Free aliases a claim hands out (`unusable` ones are not counted here).",
    ),
    (
        "unusable",
        "Aliases no one holds that a claim never hands out: marked free (or their quarantine is over) but an AWS account used them (AWS never frees a root address) or AWS would refuse the address, and unroutable ones (their mailbox does not have the address; marked by `rootmail audit --exchange --fix`). `unusable_reasons` counts them by reason; `rootmail pool list --status unusable` shows each with its reason.",
    ),
    ("claimed", "Aliases in use."),
    (
        "quarantined",
        "Aliases released with `on_destroy = \"quarantine\"`, `reusable` ones included.",
    ),
    (
        "reusable",
        "Quarantined aliases whose waiting time is over: claimable again.",
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

fn checked_schema() -> CheckedSchema {
    let mut schema = CheckedSchema::new(Block::new().description(DOC))
        .attribute(
            Attribute::computed("id", Type::String).description("The table and partition counted."),
        )
        .checked(
            Attribute::optional("mailbox", Type::String)
                .description("Count only this shared mailbox."),
            Check::Email,
        );
    for (name, doc) in COUNTS {
        schema = schema.attribute(Attribute::computed(name, Type::Number).description(doc));
    }
    schema
        .attribute(
            Attribute::computed("unusable_reasons", Type::Map(Box::new(Type::Number)))
                .description("`unusable` by reason: `address_aws_refuses`, `used_by_aws_account` and `unroutable`."),
        )
        .attribute(
            Attribute::computed("per_mailbox", Type::Map(Box::new(counts_type())))
                .description("The same counts for each shared mailbox, keyed by its address."),
        )
        .attribute(Attribute::computed("minted", counts_type()).description(
            "The same counts for the plus addresses minted on demand (counted in the totals too): how many minted addresses are claimed, free for reuse, retired and so on.",
        ))
        .attribute(
            Attribute::computed("minting_mailboxes", Type::List(Box::new(Type::String)))
                .description("The mailboxes claims may mint plus addresses for (`rootmail pool add-minting-mailbox`), whatever `mailbox` says. Claims mint only when `address_source` allows it."),
        )
}

/// The counts of one set of aliases (an element of `per_mailbox`), exactly
/// as the store counts them, so the CLI and this data source agree.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub total: u64,
    pub claimable: u64,
    pub free: u64,
    pub unusable: u64,
    pub claimed: u64,
    pub quarantined: u64,
    pub reusable: u64,
    pub retired: u64,
}

impl From<&StatusCounts> for Counts {
    fn from(c: &StatusCounts) -> Self {
        Counts {
            total: c.total,
            claimable: c.claimable(),
            free: c.free,
            unusable: c.unusable,
            claimed: c.claimed,
            quarantined: c.quarantined,
            reusable: c.reusable,
            retired: c.retired,
        }
    }
}

/// `data "rootmail_pool"`: the mailbox asked about and the counts (the
/// fields of [`Counts`], flat: the schema has them at the top level).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PoolCounts {
    pub mailbox: Option<String>,
    pub id: String,
    pub total: u64,
    pub claimable: u64,
    pub free: u64,
    pub unusable: u64,
    pub claimed: u64,
    pub quarantined: u64,
    pub reusable: u64,
    pub retired: u64,
    pub unusable_reasons: BTreeMap<String, u64>,
    pub per_mailbox: BTreeMap<String, Counts>,
    pub minted: Counts,
    pub minting_mailboxes: Vec<String>,
}

impl PoolCounts {
    fn with(self, all: Counts, per_mailbox: BTreeMap<String, Counts>) -> PoolCounts {
        let Counts {
            total,
            claimable,
            free,
            unusable,
            claimed,
            quarantined,
            reusable,
            retired,
        } = all;
        PoolCounts {
            total,
            claimable,
            free,
            unusable,
            claimed,
            quarantined,
            reusable,
            retired,
            per_mailbox,
            ..self
        }
    }
}

/// The data source type, sharing the provider's connection.
pub struct PoolDataSource(pub Shared);

declare! { PoolDataSource, "rootmail_pool", checked_schema }

#[async_trait]
impl TypedDataSource for PoolDataSource {
    type Model = PoolCounts;

    async fn read(&self, _: &mut Call<()>, config: PoolCounts) -> Outcome<PoolCounts> {
        let pool = self.0.pool().await?;
        let stats = pool
            .stats(config.mailbox.as_deref())
            .await
            .map_err(|e| store_diag("Could not count the pool", &e))?;
        let per_mailbox = stats
            .by_mailbox
            .iter()
            .map(|(m, c)| (m.clone(), Counts::from(c)))
            .collect();
        let id = format!("{}/{}", pool.table_name(), pool.partition_key());
        let unusable_reasons = stats
            .all
            .unusable_reasons
            .named()
            .iter()
            .map(|(why, n)| (why.to_string(), *n))
            .collect();
        let counts = PoolCounts {
            id,
            unusable_reasons,
            minted: Counts::from(&stats.minted),
            minting_mailboxes: stats
                .minting_mailboxes
                .iter()
                .map(|m| m.mailbox.clone())
                .collect(),
            ..config
        };
        Ok(counts.with(Counts::from(&stats.all), per_mailbox))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tfplugin::model;

    #[test]
    fn the_models_match_the_schema() {
        let counts = COUNTS.iter().map(|(n, _)| *n).collect::<Vec<_>>();
        assert_eq!(model::fields::<Counts>(), counts);
        // The same names, in the same order, as the CLI's columns.
        let named = StatusCounts::default().named().map(|(n, _)| n);
        assert_eq!(counts, named);
        let per = BTreeMap::from([("m@company.com".to_string(), Counts::default())]);
        let sample = PoolCounts::default().with(Counts::default(), per);
        model::check_model(&checked_schema().schema(), &sample).unwrap();
    }
}
