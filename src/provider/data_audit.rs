//! `data "rootmail_audit"`: the pool compared with the AWS accounts that
//! exist, the same check as `rootmail audit`, for a `check` block or a
//! `postcondition` that stops a pipeline before a used address goes out again.

use super::{store_diag, Shared};
use crate::store::audit::{parse_accounts, Finding, Severity};
use crate::tfplugin::{
    Attribute, Block, Ctx, DataSource, Diagnostic, Diagnostics, Schema, StateResult, Type, Value,
};
use async_trait::async_trait;

/// Registry docs text.
pub const DOC: &str = "Compares the pool with the AWS accounts that really exist and reports what \
would make an account creation fail or what the table gets wrong, like `rootmail audit`. AWS never \
frees an account's root e-mail address (not after closing the account, not after it left the \
organization), so the critical findings are pool rows that could hand out an address an account \
already uses.\n\n\
Findings: `free_address_in_use` (critical: a free or quarantined row whose address an account uses), \
`unlinked_address_in_use` (critical: a claimed row not linked to the account using its address), \
`retired_without_account`, `linked_to_other_account`, `linked_account_missing` (the linked account is \
not in the list: it left the organization, or the id is wrong) and `linked_account_closed`. Fix them \
with `rootmail audit --fix`.\n\n\
```terraform\ndata \"aws_organizations_organization\" \"this\" {}\n\n\
check \"root_mail_pool\" {\n  data \"rootmail_audit\" \"this\" {\n    accounts_json = jsonencode(data.aws_organizations_organization.this.accounts)\n  }\n\n  \
assert {\n    condition     = data.rootmail_audit.this.critical == 0\n    error_message = join(\"\\n\", [for f in data.rootmail_audit.this.findings : f.message if f.severity == \"critical\"])\n  }\n}\n```";

/// The data source type.
pub struct AuditDataSource {
    shared: Shared,
}

impl AuditDataSource {
    /// The data source, sharing the provider's connection.
    pub fn new(shared: Shared) -> Self {
        AuditDataSource { shared }
    }
}

const FINDING_FIELDS: [&str; 7] = [
    "kind",
    "severity",
    "email",
    "alias_id",
    "alias_status",
    "aws_account_id",
    "message",
];

fn finding_type() -> Type {
    Type::Object(
        FINDING_FIELDS
            .iter()
            .map(|n| (n.to_string(), Type::String))
            .collect(),
    )
}

fn finding_value(f: &Finding) -> Value {
    Value::object([
        ("kind", Value::from(f.kind.as_str())),
        ("severity", Value::from(f.severity().as_str())),
        ("email", Value::from(f.row.email.as_str())),
        ("alias_id", Value::from(f.row.id.as_str())),
        ("alias_status", Value::from(f.row.status.as_str())),
        ("aws_account_id", Value::from(f.account_id.as_str())),
        ("message", Value::from(f.message.as_str())),
    ])
}

#[async_trait]
impl DataSource for AuditDataSource {
    fn type_name(&self) -> &'static str {
        "rootmail_audit"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new()
                .description(DOC)
                .attribute(Attribute::computed("id", Type::String).description("The table and partition audited."))
                .attribute(Attribute::required("accounts_json", Type::String).description("The AWS accounts as JSON: `jsonencode(data.aws_organizations_organization.<name>.accounts)`, or the output of `aws organizations list-accounts`."))
                .attribute(Attribute::computed("findings", Type::List(Box::new(finding_type()))).description("Every finding, critical ones first, each with `kind`, `severity` (`critical` or `warning`), `email`, `alias_id`, `alias_status`, `aws_account_id` (the account concerned) and `message`."))
                .attribute(Attribute::computed("critical", Type::Number).description("How many findings are critical (an address in use could be handed out again)."))
                .attribute(Attribute::computed("warnings", Type::Number).description("How many findings are warnings."))
                .attribute(Attribute::computed("aliases_checked", Type::Number).description("Rows of the pool compared."))
                .attribute(Attribute::computed("accounts_checked", Type::Number).description("AWS accounts compared.")),
        )
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        if let Some(text) = config.attr("accounts_json").as_str() {
            if let Err(e) = parse_accounts(text) {
                d.push(
                    Diagnostic::error("Invalid accounts_json", format!("{e}. Pass `jsonencode(data.aws_organizations_organization.<name>.accounts)` or the output of `aws organizations list-accounts`."))
                        .at_attr("accounts_json"),
                );
            }
        }
        d
    }

    async fn read(&self, _ctx: &Ctx, config: &Value) -> StateResult {
        let accounts = match parse_accounts(config.attr("accounts_json").as_str().unwrap_or("")) {
            Ok(a) => a,
            Err(e) => {
                return StateResult::failed(
                    Diagnostic::error("Invalid accounts_json", e).at_attr("accounts_json"),
                )
            }
        };
        let pool = match self.shared.pool().await {
            Ok(p) => p,
            Err(d) => return StateResult::failed(d),
        };
        match pool.audit(&accounts).await {
            Ok(report) => {
                let mut state = config.clone();
                state.set_attr(
                    "id",
                    Value::from(format!("{}/{}", pool.table_name(), pool.partition_key())),
                );
                state.set_attr(
                    "findings",
                    Value::List(report.findings.iter().map(finding_value).collect()),
                );
                state.set_attr(
                    "critical",
                    Value::from(report.count(Severity::Critical) as i64),
                );
                state.set_attr(
                    "warnings",
                    Value::from(report.count(Severity::Warning) as i64),
                );
                state.set_attr("aliases_checked", Value::from(report.aliases as i64));
                state.set_attr("accounts_checked", Value::from(report.accounts as i64));
                StateResult::ok(state)
            }
            Err(e) => StateResult::failed(store_diag("Could not audit the pool", &e)),
        }
    }
}
