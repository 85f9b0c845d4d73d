//! Seeding: rows written exactly as the legacy setup script writes them
//! (import, generate).

use serde_json::{Map, Value};

use super::super::address::address_row_key;
use super::super::change::RowChange;
use super::super::error::StoreError;
use super::super::row::check_alias_id;
use super::super::row::col;
use super::{check_text, AliasPool};
use crate::azure::table::{into_error, Entity, Fail};

/// A row in exactly the legacy setup script's layout (only its columns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyRow {
    /// RowKey and `id` (a GUID).
    pub id: String,
    pub aws_mail: String,
    pub in_use: bool,
    pub user_mail: String,
    pub root_mailbox: String,
    pub aws_account_id: String,
}

impl LegacyRow {
    /// A free alias `aws_<guid>@domain` for `mailbox`, as the setup script makes them.
    pub fn free(mailbox: &str, domain: &str) -> LegacyRow {
        let id = uuid::Uuid::new_v4().to_string();
        LegacyRow {
            aws_mail: format!("aws_{id}@{domain}"),
            ..LegacyRow::existing("", mailbox, &id)
        }
    }

    /// A free row for an address `mailbox` has that the table lacks, with
    /// the id [`address_row_key`] derives from the address.
    pub fn imported(address: &str, mailbox: &str) -> LegacyRow {
        LegacyRow::existing(address, mailbox, &address_row_key(address))
    }

    /// A free row with id `id` for an address `mailbox` already has.
    pub fn existing(address: &str, mailbox: &str, id: &str) -> LegacyRow {
        LegacyRow {
            id: id.to_owned(),
            aws_mail: address.to_owned(),
            in_use: false,
            user_mail: String::new(),
            root_mailbox: mailbox.to_owned(),
            aws_account_id: String::new(),
        }
    }
}

impl AliasPool {
    /// Writes rows exactly as the legacy setup script does: only the eight
    /// legacy columns, in entity-group transactions of at most 100 rows.
    /// Returns how many rows were written.
    pub async fn insert_legacy_rows(&self, rows: &[LegacyRow]) -> Result<usize, StoreError> {
        let mut entities = Vec::with_capacity(rows.len());
        for r in rows {
            check_alias_id(&r.id)?;
            entities.push(self.legacy_entity(r));
        }
        for chunk in entities.chunks(100) {
            self.io
                .insert_batch(chunk)
                .await
                .map_err(|f| into_error(f, "insert aliases"))?;
        }
        Ok(entities.len())
    }

    /// Inserts one legacy row on its own (no transaction); fails if the id exists.
    pub async fn insert_legacy_row(&self, row: &LegacyRow) -> Result<(), StoreError> {
        match self
            .try_insert_legacy_row(row, &RowChange::default())
            .await?
        {
            true => Ok(()),
            false => Err(StoreError::InvalidInput {
                field: "alias id",
                reason: format!("`{}` already exists", row.id),
            }),
        }
    }

    /// Inserts one legacy row with `change` written into it in the same
    /// request (the audit imports an address an account used as retired);
    /// `false` when a row with its id exists (nothing was written).
    pub(in crate::store) async fn try_insert_legacy_row(
        &self,
        row: &LegacyRow,
        change: &RowChange,
    ) -> Result<bool, StoreError> {
        check_alias_id(&row.id)?;
        let mut entity = self.legacy_entity(row);
        change.merge_into(&mut entity);
        match self.io.insert(&entity).await {
            Ok(_) => Ok(true),
            Err(Fail::Conflict) => Ok(false),
            Err(other) => Err(into_error(other, "insert alias").into()),
        }
    }

    /// Adds `count` free aliases `aws_<guid>@domain` for `mailbox`.
    pub async fn seed(
        &self,
        mailbox: &str,
        domain: &str,
        count: usize,
    ) -> Result<Vec<LegacyRow>, StoreError> {
        check_text("mailbox", mailbox)?;
        check_text("domain", domain)?;
        let rows: Vec<LegacyRow> = (0..count)
            .map(|_| LegacyRow::free(mailbox, domain))
            .collect();
        self.insert_legacy_rows(&rows).await?;
        Ok(rows)
    }

    pub(super) fn legacy_entity(&self, r: &LegacyRow) -> Entity {
        let mut e = Map::new();
        e.insert(
            col::PARTITION_KEY.into(),
            self.io.partition_key.clone().into(),
        );
        e.insert(col::ROW_KEY.into(), r.id.clone().into());
        e.insert(col::ID.into(), r.id.clone().into());
        e.insert(col::AWS_MAIL.into(), r.aws_mail.clone().into());
        e.insert(col::IN_USE.into(), Value::Bool(r.in_use));
        e.insert(col::USER_MAIL.into(), r.user_mail.clone().into());
        e.insert(col::ROOT_MAILBOX.into(), r.root_mailbox.clone().into());
        e.insert(col::AWS_ACCOUNT_ID.into(), r.aws_account_id.clone().into());
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_imported_address_gets_the_same_id_in_any_letter_case() {
        let id = address_row_key("AWS_New@Company.com");
        assert_eq!(id, address_row_key("aws_new@company.com"));
        assert_ne!(id, address_row_key("aws_other@company.com"));
        let uuid = uuid::Uuid::parse_str(&id).expect("a GUID");
        assert_eq!(uuid.get_version_num(), 5);
        assert!(check_alias_id(&id).is_ok());
    }
}
