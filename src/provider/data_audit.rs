//! `data "rootmail_audit"`: the pool compared with the AWS accounts that
//! exist and the mailboxes in Exchange Online, the same checks as
//! `rootmail audit`, for a `check` block or a `postcondition` that stops a
//! pipeline before a used address goes out again.
//!
//! The file reads top to bottom: docs, schema, model, read.

use super::validate::CheckedSchema;
use super::{store_diag, Shared};
use crate::aws::OrganizationsReader;
use crate::graph::{GraphReader, GraphSetupError};
use crate::store::audit::{
    parse_accounts, ExchangeInput, Finding, FindingKind, MailboxLookup, OrgAccount, Severity,
};
use crate::tfplugin::model::{Call, Outcome, TypedDataSource};
use crate::tfplugin::{Attribute, Block, Diagnostic, Diagnostics, Type, Value};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Registry docs text (the findings' list comes from the audit itself).
pub fn doc() -> String {
    let mut text = String::from("Compares the pool with the AWS accounts that really exist and with the \
mailboxes in Exchange Online, and reports what would make an account creation fail, what bounces an \
account's root mail, and what the table gets wrong, like `rootmail audit`. AWS never frees an \
account's root e-mail address (not after closing the account, not after it left the organization), \
so pool rows that could hand out an address an account already uses are critical; so are aliases \
in use that their mailbox does not have, since AWS's root mail for that account (sign-up, password \
reset, security notices) bounces.\n\n\
Compare with any of: `aws = true` (every account of the organization, read with the standard AWS \
credential chain, which needs `organizations:ListAccounts`), `accounts_json` (the accounts as JSON, \
e.g. from the `aws` provider), `exchange = true` (every mailbox the pool names, read from Microsoft \
Graph with the provider's Azure AD credential, which needs the application permission \
`User.Read.All`; `mailboxes` adds more). The accounts must be the whole organization: a list with \
`NextToken` set (one page of several) or without any account is refused.\n\n| Finding | Severity | Meaning |\n|---|---|---|\n");
    for kind in FindingKind::ALL {
        text.push_str(&format!(
            "| `{}` | {} | {} |\n",
            kind.as_str(),
            kind.severity().as_str(),
            kind.summary()
        ));
    }
    text.push_str(
        "\nThe fixes are made by `rootmail audit --fix`; this data source only reads. A nightly \
         pipeline that runs `rootmail audit --aws --exchange` is in the `nightly-audit` guide.",
    );
    text
}

const ACCOUNTS_JSON: &str = "accounts_json";
const AWS: &str = "aws";
const EXCHANGE: &str = "exchange";
const MAILBOXES: &str = "mailboxes";

const FINDING_FIELDS: [&str; 8] = [
    "kind",
    "severity",
    "email",
    "alias_id",
    "alias_status",
    "aws_account_id",
    "mailbox",
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

/// The schema of `data "rootmail_audit"` (its checks are `validate_sources`).
fn checked_schema() -> CheckedSchema {
    CheckedSchema::new(
        Block::new()
            .description(doc())
            .attribute(Attribute::computed("id", Type::String).description("The table and partition audited."))
            .attribute(Attribute::optional(ACCOUNTS_JSON, Type::String).description("The AWS accounts as JSON: `jsonencode(data.aws_organizations_organization.<name>.accounts)`, or the output of `aws organizations list-accounts`. Not with `aws`."))
            .attribute(Attribute::optional(AWS, Type::Bool).description("Read every account of the organization from AWS Organizations, all pages, with the standard AWS credential chain (environment, profile, web identity, instance and container roles; `AWS_ENDPOINT_URL` is respected). Suspended and closing accounts count as using their address."))
            .attribute(Attribute::optional(EXCHANGE, Type::Bool).description("Read the addresses of every mailbox the pool names from Exchange Online, through Microsoft Graph (`graph_endpoint`), with the provider's Azure AD credential."))
            .attribute(Attribute::optional(MAILBOXES, Type::List(Box::new(Type::String))).description("With `exchange`, more mailboxes to check: ones with no aliases in the pool yet."))
            .attribute(Attribute::computed("findings", Type::List(Box::new(finding_type()))).description("Every finding, critical ones first, each with `kind`, `severity` (`critical` or `warning`), `email` (the address, or the mailbox for mailbox findings), `alias_id` and `alias_status` (empty for an address the table lacks and for a mailbox), `aws_account_id` (the account concerned), `mailbox` and `message`."))
            .attribute(Attribute::computed("critical", Type::Number).description("How many findings are critical."))
            .attribute(Attribute::computed("warnings", Type::Number).description("How many findings are warnings."))
            .attribute(Attribute::computed("aliases_checked", Type::Number).description("Rows of the pool compared."))
            .attribute(Attribute::computed("accounts_checked", Type::Number).description("AWS accounts compared."))
            .attribute(Attribute::computed("mailboxes_checked", Type::Number).description("Mailboxes read from Exchange Online.")),
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
    pub mailbox: String,
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
            mailbox: f.mailbox.clone(),
            message: f.message.clone(),
        }
    }
}

/// `data "rootmail_audit"`: what to compare with and what the audit found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Audit {
    pub id: String,
    pub accounts_json: Option<String>,
    pub aws: Option<bool>,
    pub exchange: Option<bool>,
    pub mailboxes: Option<Vec<String>>,
    pub findings: Vec<FindingEntry>,
    pub critical: usize,
    pub warnings: usize,
    pub aliases_checked: usize,
    pub accounts_checked: usize,
    pub mailboxes_checked: usize,
}

/// The data source type, sharing the provider's connection.
pub struct AuditDataSource(pub Shared);

fn invalid(attribute: &str, detail: String) -> Diagnostic {
    Diagnostic::error(format!("Invalid {attribute}"), detail).at_attr(attribute)
}

/// Something to compare with; `accounts_json` parses and is not given
/// with `aws`; `mailboxes` only with `exchange` (each when known).
fn validate_sources(config: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    let on = |name: &str| config.attr(name).as_bool() == Some(true);
    let accounts = config.attr(ACCOUNTS_JSON);
    if let Some(text) = accounts.as_str() {
        if let Err(e) = parse_accounts(text) {
            d.push(invalid(ACCOUNTS_JSON, format!("{e}. Pass `jsonencode(data.aws_organizations_organization.<name>.accounts)` or the output of `aws organizations list-accounts`.")));
        }
        if on(AWS) {
            d.push(invalid(ACCOUNTS_JSON, format!("`{ACCOUNTS_JSON}` and `{AWS} = true` both say where the AWS accounts come from; keep one.")));
        }
    }
    if !config.attr(MAILBOXES).is_null() && config.attr(EXCHANGE).as_bool() == Some(false) {
        d.push(invalid(MAILBOXES, format!("`{MAILBOXES}` are read from Exchange Online: set `{EXCHANGE} = true`, or remove them.")));
    }
    let known = [ACCOUNTS_JSON, AWS, EXCHANGE]
        .iter()
        .all(|n| config.attr(n).is_known());
    if known && accounts.is_null() && !on(AWS) && !on(EXCHANGE) && config.attr(MAILBOXES).is_null()
    {
        d.push(Diagnostic::error("Nothing to compare the pool with", format!("Set `{AWS} = true` (the organization's accounts), `{ACCOUNTS_JSON}`, or `{EXCHANGE} = true` (the mailboxes in Exchange Online).")));
    }
    d
}

declare! { AuditDataSource, "rootmail_audit", checked_schema, validate_sources }

#[async_trait]
impl TypedDataSource for AuditDataSource {
    type Model = Audit;

    async fn read(&self, _: &mut Call<()>, config: Audit) -> Outcome<Audit> {
        let pool = self.0.pool().await?;
        let settings = self.0.settings().await?;
        let env = |name: &str| std::env::var(name).ok();
        let accounts: Option<Vec<OrgAccount>> = match (&config.accounts_json, config.aws) {
            (_, Some(true)) => {
                let reader = OrganizationsReader::from_settings(&settings, &env)
                    .await
                    .map_err(|e| {
                        Diagnostic::error("Could not read the AWS accounts", e.to_string())
                            .at_attr(AWS)
                    })?;
                let listed = reader.list_accounts().await.map_err(|e| {
                    Diagnostic::error("Could not read the AWS accounts", e.to_string()).at_attr(AWS)
                })?;
                Some(listed.iter().map(OrgAccount::from).collect())
            }
            (Some(text), _) => Some(parse_accounts(text).map_err(|e| invalid(ACCOUNTS_JSON, e))?),
            (None, _) => None,
        };
        let mailboxes = config.mailboxes.clone().unwrap_or_default();
        let graph = match config.exchange == Some(true) || !mailboxes.is_empty() {
            true => Some(GraphReader::from_settings(&settings, &env).map_err(graph_setup)?),
            false => None,
        };
        let lookup = graph.as_ref().map(|graph| MailboxLookup {
            graph,
            extra: mailboxes,
        });
        let report = pool
            .audit(
                accounts.as_deref(),
                lookup.as_ref().map(ExchangeInput::Read),
            )
            .await
            .map_err(|e| store_diag("Could not audit the pool", &e))?;
        Ok(Audit {
            id: format!("{}/{}", pool.table_name(), pool.partition_key()),
            findings: report.findings.iter().map(FindingEntry::from).collect(),
            critical: report.count(Severity::Critical),
            warnings: report.count(Severity::Warning),
            aliases_checked: report.aliases,
            accounts_checked: report.accounts,
            mailboxes_checked: report.exchange.as_ref().map_or(0, Vec::len),
            ..config
        })
    }
}

/// A Graph client that cannot be set up. The message names the provider
/// setting or variable to change; the diagnostic points at `exchange`.
fn graph_setup(e: GraphSetupError) -> Diagnostic {
    Diagnostic::error(
        "Could not set up Microsoft Graph for the Exchange checks",
        e.to_string(),
    )
    .at_attr(EXCHANGE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tfplugin::model;

    #[test]
    fn a_configuration_says_what_to_compare_with_once() {
        let config = |pairs: &[(&'static str, Value)]| {
            let mut all: Vec<(&str, Value)> = [ACCOUNTS_JSON, AWS, EXCHANGE, MAILBOXES]
                .into_iter()
                .map(|n| (n, Value::Null))
                .collect();
            for (name, value) in pairs {
                if let Some(slot) = all.iter_mut().find(|(n, _)| n == name) {
                    slot.1 = value.clone();
                }
            }
            Value::object(all)
        };
        let errors = |c: Value| -> Vec<String> {
            validate_sources(&c)
                .iter()
                .map(|d| format!("{}: {}", d.summary, d.detail))
                .collect()
        };
        let accounts = Value::from(r#"[{"id":"111111111111","email":"a@b.co","status":"ACTIVE"}]"#);
        assert!(errors(config(&[(AWS, Value::Bool(true))])).is_empty());
        assert!(errors(config(&[(EXCHANGE, Value::Bool(true))])).is_empty());
        assert!(errors(config(&[(ACCOUNTS_JSON, accounts.clone())])).is_empty());
        let none = errors(config(&[]));
        assert!(none[0].contains("Nothing to compare"), "{none:?}");
        let both = errors(config(&[
            (ACCOUNTS_JSON, accounts),
            (AWS, Value::Bool(true)),
        ]));
        assert!(both[0].contains("keep one"), "{both:?}");
        let list = Value::List(vec![Value::from("m@company.com")]);
        let mailboxes = errors(config(&[
            (MAILBOXES, list.clone()),
            (EXCHANGE, Value::Bool(false)),
        ]));
        assert!(mailboxes[0].contains("exchange = true"), "{mailboxes:?}");
        // Unknown until apply: nothing to say yet.
        assert!(errors(config(&[(AWS, Value::Unknown)])).is_empty());
    }

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
