//! `data "rootmail_alias"`: looks one alias up by e-mail or by AWS account.

use super::validate::Check;
use super::{store_diag, Shared};
use crate::store::{AliasRow, AliasStatus};
use crate::tfplugin::{
    Attribute, Block, Ctx, DataSource, Diagnostic, Diagnostics, Schema, StateResult, Type, Value,
};
use async_trait::async_trait;
use time::format_description::well_known::Rfc3339;

/// Registry docs text.
pub const DOC: &str =
    "Looks up one alias of the pool by exactly one of `email` or `aws_account_id`, \
for example to find which alias an existing AWS account uses.";

/// The data source type.
pub struct AliasDataSource {
    shared: Shared,
}

impl AliasDataSource {
    /// The data source, sharing the provider's connection.
    pub fn new(shared: Shared) -> Self {
        AliasDataSource { shared }
    }
}

/// The attributes describing one alias row, shared with `rootmail_aliases`.
pub fn row_attributes() -> Vec<(&'static str, &'static str)> {
    vec![
        ("email", "The alias e-mail address."),
        ("alias_id", "The alias's row key (a GUID)."),
        (
            "mailbox",
            "The shared mailbox receiving the alias's mail (`root_mailbox`).",
        ),
        ("status", "`free`, `claimed`, `quarantined` or `retired`."),
        ("owner", "Who claimed it (`user_mail`), or empty."),
        ("purpose", "What it was claimed for, or empty."),
        ("aws_account_id", "The linked AWS account, or empty."),
        ("claimed_at", "When it was claimed (RFC 3339), or empty."),
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

/// One row as an object value of [`row_type`].
pub fn row_value(row: &AliasRow) -> Value {
    Value::object([
        ("email", Value::from(row.email.as_str())),
        ("alias_id", Value::from(row.id.as_str())),
        ("mailbox", Value::from(row.root_mailbox.as_str())),
        ("status", Value::from(row.status.as_str())),
        ("owner", Value::from(row.owner.as_str())),
        ("purpose", Value::from(row.purpose.as_str())),
        ("aws_account_id", Value::from(row.aws_account_id.as_str())),
        (
            "claimed_at",
            Value::from(
                row.claimed_at
                    .and_then(|t| t.format(&Rfc3339).ok())
                    .unwrap_or_default(),
            ),
        ),
        ("claim_type", Value::from(claim_type(row))),
    ])
}

fn claim_type(row: &AliasRow) -> &'static str {
    match (row.status, &row.claim_token) {
        (AliasStatus::Claimed, Some(_)) => "token",
        (AliasStatus::Claimed, None) => "legacy",
        _ => "",
    }
}

#[async_trait]
impl DataSource for AliasDataSource {
    fn type_name(&self) -> &'static str {
        "rootmail_alias"
    }

    fn schema(&self) -> Schema {
        let mut b = Block::new().description(DOC).attribute(
            Attribute::computed("id", Type::String).description("The alias e-mail address."),
        );
        for (name, doc) in row_attributes() {
            b = b.attribute(match name {
                "email" => Attribute::optional_computed(name, Type::String).description("The alias to look up, or (when looking up by account) the alias found."),
                "aws_account_id" => Attribute::optional_computed(name, Type::String).description("The 12-digit AWS account whose alias to look up, or the account linked to the alias found."),
                _ => Attribute::computed(name, Type::String).description(doc),
            });
        }
        Schema::new(b)
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        let email = config.attr("email");
        let account = config.attr("aws_account_id");
        if email.is_known() && account.is_known() && email.is_null() == account.is_null() {
            d.push(
                Diagnostic::error(
                    "Exactly one of email and aws_account_id",
                    "Look an alias up by exactly one of `email` or `aws_account_id`.",
                )
                .at_attr(if email.is_null() {
                    "email"
                } else {
                    "aws_account_id"
                }),
            );
        }
        Check::Email.apply(config, "email", &mut d);
        Check::AwsAccountId.apply(config, "aws_account_id", &mut d);
        d
    }

    async fn read(&self, _ctx: &Ctx, config: &Value) -> StateResult {
        let pool = match self.shared.pool().await {
            Ok(p) => p,
            Err(d) => return StateResult::failed(d),
        };
        let (found, what) = if let Some(email) = config.attr("email").as_str() {
            (pool.find_by_email(email).await, format!("e-mail {email}"))
        } else {
            let account = config.attr("aws_account_id").as_str().unwrap_or_default();
            (
                pool.find_by_account_id(account)
                    .await
                    .map(|rows| rows.into_iter().next()),
                format!("AWS account {account}"),
            )
        };
        match found {
            Ok(Some(row)) => {
                let mut v = row_value(&row);
                v.set_attr("id", Value::from(row.email.as_str()));
                StateResult::ok(v)
            }
            Ok(None) => StateResult::failed(Diagnostic::error(
                "Alias not found",
                format!("No alias of the pool matches {what}."),
            )),
            Err(e) => StateResult::failed(store_diag("Could not look the alias up", &e)),
        }
    }
}
