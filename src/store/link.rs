//! Links between aliases and AWS accounts. The account a caller expects is
//! compared inside the ETag-conditional write, so a link made or changed by
//! someone else between a read and the write is never overwritten or
//! cleared. Linking also records the use in `used_by_account`, which
//! unlinking keeps: AWS never frees an address an account was created with.

use super::change::RowChange;
use super::error::StoreError;
use super::pool::{check_account_id, AliasPool, LinkTarget};

impl AliasPool {
    /// Records the AWS account that uses the alias. Linking to the same
    /// account again changes nothing; a different account is refused.
    pub async fn link_account(
        &self,
        target: &LinkTarget,
        aws_account_id: &str,
    ) -> Result<super::AliasRow, StoreError> {
        self.relink_account(target, None, aws_account_id).await
    }

    /// Moves the link from account `from` (or from no account) to `to`, in
    /// one conditional write. A row linked to any other account is refused
    /// with [`StoreError::AlreadyLinked`]; already linked to `to` is a no-op.
    pub async fn relink_account(
        &self,
        target: &LinkTarget,
        from: Option<&str>,
        to: &str,
    ) -> Result<super::AliasRow, StoreError> {
        check_account_id(to)?;
        let to = to.to_owned();
        let from = from.map(str::to_owned);
        self.modify_target(target, "link account", move |row| {
            let current = row.aws_account_id.as_str();
            // An account whose e-mail was changed away from this address
            // uses it again: AWS binds it to that account once more.
            let bound_again = Some(String::new()).filter(|_| row.freed_from == to);
            if current == to {
                return Ok(RowChange {
                    used_by: Some(to.clone()).filter(|to| row.used_by != *to),
                    freed_from: bound_again,
                    ..RowChange::default()
                });
            }
            if !current.is_empty() && from.as_deref() != Some(current) {
                return Err(StoreError::AlreadyLinked {
                    alias_id: row.id.clone(),
                    linked: current.to_owned(),
                });
            }
            Ok(RowChange {
                aws_account_id: Some(to.clone()),
                used_by: Some(to.clone()),
                freed_from: bound_again,
                ..RowChange::default()
            })
        })
        .await
    }

    /// Clears the link if, at the moment of the write, it still names
    /// `expected`; no change when already empty. Any other account is left
    /// alone with [`StoreError::LinkMismatch`]. The recorded use stays.
    pub async fn unlink_account(
        &self,
        target: &LinkTarget,
        expected: &str,
    ) -> Result<super::AliasRow, StoreError> {
        let expected = expected.to_owned();
        self.modify_target(target, "unlink account", move |row| {
            if row.aws_account_id.is_empty() {
                return Ok(RowChange::default());
            }
            if row.aws_account_id != expected {
                return Err(StoreError::LinkMismatch {
                    alias_id: row.id.clone(),
                    expected: expected.clone(),
                    found: row.aws_account_id.clone(),
                });
            }
            Ok(RowChange {
                aws_account_id: Some(String::new()),
                // A row linked before the column existed: keep the use.
                used_by: Some(expected.clone()).filter(|_| row.used_by.is_empty()),
                ..RowChange::default()
            })
        })
        .await
    }
}
