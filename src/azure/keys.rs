//! What the table service accepts as a table's name and as a PartitionKey
//! or RowKey, checked before a request is made (a leaf: the settings'
//! checks and the table client both use it).

/// Table names: 3–63 letters and digits, starting with a letter.
pub(crate) fn check_table_name(name: &str) -> Result<(), String> {
    let ok = (3..=63).contains(&name.len())
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a valid table name (3-63 letters and digits, starting with a letter)"
        ))
    }
}

/// PartitionKey/RowKey values: the characters Azure forbids in keys are refused.
pub(crate) fn check_key(value: &str) -> Result<(), String> {
    let bad = value.is_empty()
        || value.len() > 512
        || value
            .chars()
            .any(|c| matches!(c, '/' | '\\' | '#' | '?') || c.is_control());
    if bad {
        Err("must be 1-512 characters without / \\ # ? or control characters".to_owned())
    } else {
        Ok(())
    }
}
