//! Entity-group transactions: up to 100 writes to rows of the pool's
//! partition that the service applies all together or not at all.

use azure_core_legacy::Etag;
use azure_data_tables::prelude::IfMatchCondition;

use super::super::error::AzureError;
use super::super::odata::escape_literal;
use super::{Entity, Fail, TableIo, Write};

impl TableIo {
    /// Inserts up to 100 rows of this partition in one entity-group transaction
    /// (all or nothing). Returns the new ETag of each row, in order, where
    /// the service reported one. A row that exists fails the whole
    /// transaction with [`Fail::Conflict`] (also when an earlier attempt of
    /// this very transaction, whose answer was lost, inserted it).
    pub(crate) async fn insert_batch(&self, rows: &[Entity]) -> Result<Vec<Option<String>>, Fail> {
        const OPERATION: &str = "insert rows";
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        if rows.len() > 100 {
            return Err(AzureError::Protocol {
                operation: OPERATION,
                message: "an entity-group transaction holds at most 100 rows".to_owned(),
            }
            .into());
        }
        let make = || {
            let mut tx = Ok(self.partition.transaction());
            for row in rows {
                tx = tx.and_then(|t| t.insert(row));
            }
            async move { tx?.into_future().await }
        };
        // Once sent it finishes even when cancelled, so a caller can tell
        // whether its rows were written.
        let resp = self.run_write(OPERATION, make).await?;
        if let Some(failed) = resp
            .operation_responses
            .iter()
            .find(|r| !r.status_code.is_success())
        {
            return Err(match u16::from(failed.status_code) {
                409 => Fail::Conflict,
                status => Fail::Error(AzureError::Http {
                    operation: OPERATION,
                    status,
                    error_code: None,
                }),
            });
        }
        if resp.operation_responses.len() != rows.len() {
            return Ok(vec![None; rows.len()]);
        }
        Ok(resp
            .operation_responses
            .iter()
            .map(|r| r.etag.as_ref().map(|e| e.to_string()))
            .collect())
    }

    /// Up to 100 ETag-conditional writes (Merge or Replace) of rows of this
    /// partition in one entity-group transaction: all are applied or none.
    /// Returns the new ETag of each row, in order, where the service reported
    /// one.
    ///
    /// A 412 on any row fails the whole transaction with
    /// [`Fail::Precondition`] (which row is not reported); `after_retry` is
    /// set when an earlier attempt may have been applied (so the caller must
    /// look at the rows before writing again).
    pub(crate) async fn write_batch_if_match(
        &self,
        ops: &[BatchWrite<'_>],
        operation: &'static str,
    ) -> Result<Vec<Option<String>>, Fail> {
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        if ops.len() > 100 || ops.iter().any(|o| o.etag.is_empty() || o.etag == "*") {
            return Err(AzureError::Protocol {
                operation,
                message: "a batch must hold 1 to 100 conditional writes".to_owned(),
            }
            .into());
        }
        let mut attempts: u32 = 0;
        let make = || {
            attempts += 1;
            let mut tx = Ok(self.partition.transaction());
            for op in ops {
                let condition = Some(IfMatchCondition::Etag(Etag::from(op.etag.to_owned())));
                let key = escape_literal(op.row_key);
                tx = tx.and_then(|t| match op.write {
                    Write::Merge => t.merge(key, op.body, condition),
                    Write::Replace => t.update(key, op.body, condition),
                });
            }
            async move { tx?.into_future().await }
        };
        // A transaction already sent must finish even when cancelled, or a
        // write that lands would be reported as cancelled and be lost.
        let resp = self.run_write(operation, make).await;
        let after_retry = attempts > 1;
        let resp = match resp {
            Ok(r) => r,
            Err(Fail::Precondition { .. }) => return Err(Fail::Precondition { after_retry }),
            Err(other) => return Err(other),
        };
        if let Some(failed) = resp
            .operation_responses
            .iter()
            .find(|r| !r.status_code.is_success())
        {
            return Err(match u16::from(failed.status_code) {
                412 => Fail::Precondition { after_retry },
                404 => Fail::EntityNotFound,
                status => Fail::Error(AzureError::Http {
                    operation,
                    status,
                    error_code: None,
                }),
            });
        }
        if resp.operation_responses.len() != ops.len() {
            // Committed (nothing failed), but the ETags cannot be matched up.
            return Ok(vec![None; ops.len()]);
        }
        Ok(resp
            .operation_responses
            .iter()
            .map(|r| r.etag.as_ref().map(|e| e.to_string()))
            .collect())
    }
}

/// One write of an entity-group transaction, conditional on `etag`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchWrite<'a> {
    pub row_key: &'a str,
    pub body: &'a Entity,
    pub etag: &'a str,
    pub write: Write,
}
