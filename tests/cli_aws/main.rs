//! AWS's root e-mail rules in the `rootmail` CLI, run as the built binary
//! against Azurite: imports refuse addresses AWS would refuse (with line
//! numbers) and store lower case, generate refuses domains that make such
//! addresses, lookups ignore case, and `rootmail audit` compares the pool
//! with accounts created and closed in a real Organizations API (moto_server
//! on loopback, driven with boto3), including `--fix`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Output;

use rootmail::store::audit::{parse_accounts, FindingKind};
use rootmail::store::{
    AliasRow, AliasStatus, AliasUpdate, Claim, ClaimRequest, LegacyRow, LinkTarget, ReleasePolicy,
    StoreError,
};
use serde_json::Value as Json;
use testkit::cli::{self, assert_code, text, CliTable};
use testkit::moto;

mod addresses;
mod audit;

const MAILBOX: &str = "comp001@company.com";

/// What these tests look up and set up through the store beyond [`CliTable`]'s own.
trait StoreAccess {
    fn row(&self, id: &str) -> AliasRow;
    fn legacy(&self, mutate: impl FnOnce(&mut LegacyRow)) -> LegacyRow;
    fn claim(&self, purpose: &str) -> (AliasRow, Claim);
}

impl StoreAccess for CliTable {
    fn row(&self, id: &str) -> AliasRow {
        self.rt
            .block_on(self.pool.get(id))
            .expect("get")
            .expect("row")
    }

    fn legacy(&self, mutate: impl FnOnce(&mut LegacyRow)) -> LegacyRow {
        let mut row = LegacyRow::free(MAILBOX, "company.com");
        mutate(&mut row);
        self.rt
            .block_on(self.pool.insert_legacy_row(&row))
            .expect("insert");
        row
    }

    fn claim(&self, purpose: &str) -> (AliasRow, Claim) {
        let fresh = self.legacy(|_| {});
        let row = self.row(&fresh.id);
        let c = self
            .rt
            .block_on(self.pool.try_claim_alias(
                &row,
                &ClaimRequest {
                    owner: "team@company.com".into(),
                    purpose: purpose.into(),
                    mailbox: None,
                    claim_key: None,
                    source: None,
                },
            ))
            .expect("claim")
            .expect("not raced");
        (c.alias.clone(), c.claim())
    }
}

/// `(line, reason fragment)` pairs must each appear as an `invalid: line N:` report.
#[track_caller]
fn assert_invalid(stderr: &str, expected: &[(usize, &str)]) {
    for (line, why) in expected {
        let prefix = format!("invalid: line {line}: ");
        let found = stderr
            .lines()
            .any(|l| l.starts_with(&prefix) && l.contains(why));
        assert!(found, "line {line} ({why}) not reported in\n{stderr}");
    }
}
