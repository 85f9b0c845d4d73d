//! The fixes `rootmail audit --fix` makes: each one write, conditional on the
//! row as audited.

use super::super::address::normalize_email;
use super::super::change::RowChange;
use super::super::conditional::Merged;
use super::super::error::StoreError;
use super::super::pool::{AliasPool, LegacyRow};
use super::super::row::{AliasRow, AliasStatus};
use super::{Finding, Fix};

impl AliasPool {
    /// Makes the finding's fix, conditional on the row's ETag as audited: a
    /// row changed since is refused with [`StoreError::Changed`]. An import
    /// adds a new row (an insert, which never overwrites one), refused the
    /// same way when the address got a row since.
    pub async fn apply_fix(&self, finding: &Finding) -> Result<Option<AliasRow>, StoreError> {
        let Some(fix) = &finding.fix else {
            return Ok(finding.row.clone());
        };
        let change = match fix {
            Fix::Import { mailbox } => return self.import(&finding.email, mailbox, None).await,
            Fix::ImportRetired { mailbox, account } => {
                return self.import(&finding.email, mailbox, Some(account)).await
            }
            Fix::LinkAndRetire { account } => RowChange {
                aws_account_id: Some(account.clone()),
                ..retired_by(account)
            },
            Fix::Link { account } => RowChange {
                aws_account_id: Some(account.clone()),
                used_by: Some(account.clone()),
                ..RowChange::default()
            },
            Fix::MarkUnroutable { reason } => RowChange {
                in_use: Some(true),
                status: Some(AliasStatus::Unroutable),
                unroutable_reason: Some(reason.clone()),
                ..RowChange::default()
            },
            // A minted row stays in_use = true (older tools never hand it out).
            Fix::ReturnToPool => RowChange {
                in_use: Some(finding.row.as_ref().is_some_and(|r| r.minted)),
                status: Some(AliasStatus::Free),
                unroutable_reason: Some(String::new()),
                ..RowChange::default()
            },
            Fix::RetireDuplicate { of } => RowChange {
                in_use: Some(true),
                status: Some(AliasStatus::Retired),
                claim_token: Some(None),
                claim_key: Some(None),
                retired_reason: Some(format!(
                    "the same address as {of} in other letter case (found by rootmail audit); \
                     AWS compares addresses without regard to case"
                )),
                ..RowChange::default()
            },
        };
        let Some(row) = &finding.row else {
            return Ok(None);
        };
        match self.merge_change(row, &change, "fix alias").await? {
            Merged::Row(now) => Ok(Some(*now)),
            Merged::Changed | Merged::Missing => Err(StoreError::Changed {
                alias_id: row.id.clone(),
            }),
        }
    }

    /// Adds `address`, which the table lacked when audited, as a row of
    /// `mailbox` (retired, used by `account`, if given). Looked up again
    /// first: a row that appeared since (an import, an admin) refuses the
    /// fix as a changed row does. Its id is derived from the address, so
    /// imports racing past that look-up write one row: the later insert
    /// finds the id taken and is refused too.
    async fn import(
        &self,
        address: &str,
        mailbox: &str,
        account: Option<&String>,
    ) -> Result<Option<AliasRow>, StoreError> {
        let address = normalize_email(address);
        if let Some(row) = self.find_by_email(&address).await? {
            return Err(StoreError::Changed { alias_id: row.id });
        }
        let fresh = LegacyRow::imported(&address, mailbox);
        let (row, change) = match account {
            Some(account) => (
                LegacyRow {
                    in_use: true,
                    aws_account_id: account.clone(),
                    ..fresh
                },
                retired_by(account),
            ),
            None => (fresh, RowChange::default()),
        };
        match self.try_insert_legacy_row(&row, &change).await? {
            true => Ok(None),
            false => Err(StoreError::Changed { alias_id: row.id }),
        }
    }
}

/// Retired, recording the account that used the address.
fn retired_by(account: &str) -> RowChange {
    RowChange {
        in_use: Some(true),
        status: Some(AliasStatus::Retired),
        used_by: Some(account.to_owned()),
        retired_reason: Some(format!(
            "used by AWS account {account} (found by rootmail audit); AWS never frees a root \
             address"
        )),
        ..RowChange::default()
    }
}
