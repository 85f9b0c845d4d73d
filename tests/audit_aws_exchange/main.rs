//! The pool checked against AWS and Exchange Online, read at the source:
//! `rootmail audit --aws --exchange` (the built binary) and `data
//! "rootmail_audit"` in a `check` block (the real terraform), against
//! Azurite, a real Organizations API (moto_server, with more accounts than
//! one `ListAccounts` page holds and an account closed through boto3) and
//! the loopback Microsoft Graph behind the loopback Entra ID. Every planted
//! problem is found, the check block reports the same findings, `--fix`
//! resolves the fixable ones, claims then skip the aliases marked
//! unroutable and counts them as unusable; AWS credentials from web identity
//! (a pipeline's OIDC token) work as well as keys without the token or the
//! session credentials in a trace log, and none at all is a clear error.

use std::collections::BTreeSet;
use std::process::{Command, Output};

use rootmail::store::audit::{
    ExchangeInput, Finding, FindingKind, Fix, Mailbox, MailboxAddresses, OrgAccount,
};
use rootmail::store::{
    AliasPool, AliasRow, AliasStatus, ClaimRequest, LegacyRow, StoreConfig, StoreError,
};
use serde_json::Value as Json;
use testkit::azure_ad::IdentityServer;
use testkit::azurite;
use testkit::cli::{self, assert_code, text, CliTable};
use testkit::graph::GraphServer;
use testkit::moto::Moto;
use testkit::table_tool::RawTable;
use testkit::terraform::{required_providers_block, TerraformDir};

mod audit;
mod pool;

const MAILBOX: &str = "comp001@company.com";
/// A mailbox the pool names that Exchange does not have.
const GONE: &str = "comp404@company.com";
const UNPOOLED: &str = "aws_unpooled@company.com";

/// (kind, email, AWS account) of every finding of a `--json` run.
fn findings(o: &Output) -> (BTreeSet<(String, String, String)>, Json) {
    cli::findings(o, ["kind", "email", "aws_account_id"])
}

fn free_row(f: &CliTable, mailbox: &str) -> LegacyRow {
    let row = LegacyRow::free(mailbox, "company.com");
    f.rt.block_on(f.pool.insert_legacy_row(&row))
        .expect("insert");
    row
}

fn claim() -> ClaimRequest {
    ClaimRequest {
        owner: "team@company.com".into(),
        purpose: "audit".into(),
        mailbox: None,
        claim_key: None,
        source: None,
    }
}
