//! `data "rootmail_audit"`: the pool compared with the AWS accounts that
//! exist, the same check as `rootmail audit`, for a `check` block or a
//! `postcondition` that stops a pipeline before a used address goes out again.
//!
//! The file reads top to bottom: docs, schema, model, read.

use super::validate::CheckedSchema;
use super::{store_diag, Shared};
use crate::store::audit::{parse_accounts, Finding, Severity};
use crate::tfplugin::model::{Call, Outcome, TypedDataSource};
use crate::tfplugin::{Attribute, Block, Diagnostic, Diagnostics, Type, Value};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Registry docs text.
pub const DOC: &str = "Compares the pool with the AWS accounts that really exist and reports what \
would make an account creation fail or what the table gets wrong, like `rootmail audit`. AWS never \
frees an account's root e-mail address (not after closing the account, not after it left the \
organization), so the critical findings are pool rows that could hand out an address an account \
already uses.\n\n\
Findings: `free_address_in_use` (critical: a free or quarantined row whose address an account uses), \
`unlinked_address_in_use` (critical: a claimed row not linked to the account using its address), \
`duplicate_address` (critical: another row holds the same address in other letter case, which AWS \
does not tell apart), `retired_without_account`, `linked_to_other_account`, `linked_account_missing` \
(the linked account is not in the list: it left the organization, or the id is wrong), \
`linked_account_closed` and `free_with_claim_token` (a free row still carrying a claim token). Fix \
them with `rootmail audit --fix`. The accounts must be the whole organization: a list with \
`NextToken` set (one page of several) or without any account is refused.\n\n\
```terraform\ndata \"aws_organizations_organization\" \"this\" {}\n\n\
check \"root_mail_pool\" {\n  data \"rootmail_audit\" \"this\" {\n    accounts_json = jsonencode(data.aws_organizations_organization.this.accounts)\n  }\n\n  \
assert {\n    condition     = data.rootmail_audit.this.critical == 0\n    error_message = join(\"\\n\", [for f in data.rootmail_audit.this.findings : f.message if f.severity == \"critical\"])\n  }\n}\n```";

/// The one attribute the configuration sets.
const ACCOUNTS_JSON: &str = "accounts_json";

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

/// The schema of `data "rootmail_audit"` (its one check is `validate_accounts`).
fn checked_schema() -> CheckedSchema {
    CheckedSchema::new(
        Block::new()
            .description(DOC)
            .attribute(Attribute::computed("id", Type::String).description("The table and partition audited."))
            .attribute(Attribute::required(ACCOUNTS_JSON, Type::String).description("The AWS accounts as JSON: `jsonencode(data.aws_organizations_organization.<name>.accounts)`, or the output of `aws organizations list-accounts`."))
            .attribute(Attribute::computed("findings", Type::List(Box::new(finding_type()))).description("Every finding, critical ones first, each with `kind`, `severity` (`critical` or `warning`), `email`, `alias_id`, `alias_status`, `aws_account_id` (the account concerned) and `message`."))
            .attribute(Attribute::computed("critical", Type::Number).description("How many findings are critical (an address in use could be handed out again)."))
            .attribute(Attribute::computed("warnings", Type::Number).description("How many findings are warnings."))
            .attribute(Attribute::computed("aliases_checked", Type::Number).description("Rows of the pool compared."))
            .attribute(Attribute::computed("accounts_checked", Type::Number).description("AWS accounts compared.")),
    )
}

/// One finding (an element of `findings`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FindingEntry {
    pub kind: String,
    pub severity: String,
    pub email: String,
    pub alias_id: String,
    pub alias_status: String,
    pub aws_account_id: String,
    pub message: String,
}

impl From<&Finding> for FindingEntry {
    fn from(f: &Finding) -> Self {
        FindingEntry {
            kind: f.kind.as_str().to_owned(),
            severity: f.severity().as_str().to_owned(),
            email: f.email.clone(),
            alias_id: f.row.as_ref().map(|r| r.id.clone()).unwrap_or_default(),
            alias_status: f
                .row
                .as_ref()
                .map(|r| r.status.as_str().to_owned())
                .unwrap_or_default(),
            aws_account_id: f.account_id.clone(),
            message: f.message.clone(),
        }
    }
}

/// `data "rootmail_audit"`: the accounts given and what the audit found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Audit {
    pub id: String,
    pub accounts_json: String,
    pub findings: Vec<FindingEntry>,
    pub critical: usize,
    pub warnings: usize,
    pub aliases_checked: usize,
    pub accounts_checked: usize,
}

/// The data source type, sharing the provider's connection.
pub struct AuditDataSource(pub Shared);

fn invalid_accounts(detail: String) -> Diagnostic {
    Diagnostic::error(format!("Invalid {ACCOUNTS_JSON}"), detail).at_attr(ACCOUNTS_JSON)
}

/// `accounts_json` parses, when it is known.
fn validate_accounts(config: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    if let Some(text) = config.attr(ACCOUNTS_JSON).as_str() {
        if let Err(e) = parse_accounts(text) {
            d.push(invalid_accounts(format!("{e}. Pass `jsonencode(data.aws_organizations_organization.<name>.accounts)` or the output of `aws organizations list-accounts`.")));
        }
    }
    d
}

declare! { AuditDataSource, "rootmail_audit", checked_schema, validate_accounts }

#[async_trait]
impl TypedDataSource for AuditDataSource {
    type Model = Audit;

    async fn read(&self, _: &mut Call<()>, config: Audit) -> Outcome<Audit> {
        let accounts = parse_accounts(&config.accounts_json).map_err(invalid_accounts)?;
        let pool = self.0.pool().await?;
        let report = pool
            .audit(Some(&accounts), None)
            .await
            .map_err(|e| store_diag("Could not audit the pool", &e))?;
        Ok(Audit {
            id: format!("{}/{}", pool.table_name(), pool.partition_key()),
            findings: report.findings.iter().map(FindingEntry::from).collect(),
            critical: report.count(Severity::Critical),
            warnings: report.count(Severity::Warning),
            aliases_checked: report.aliases,
            accounts_checked: report.accounts,
            ..config
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tfplugin::model;

    #[test]
    fn the_models_match_the_schema() {
        assert_eq!(model::fields::<FindingEntry>(), FINDING_FIELDS);
        let sample = Audit {
            findings: vec![FindingEntry::default()],
            critical: 1,
            ..Audit::default()
        };
        model::check_model(&checked_schema().schema(), &sample).unwrap();
    }
}
