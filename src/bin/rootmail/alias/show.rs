//! How `rootmail alias` shows a row (labelled text, or JSON) and reports
//! what a change did.

use std::io::Write;

use rootmail::store::{AliasPool, AliasRow, AliasStatus};
use serde_json::json;

use super::{find, ShowArgs};
use crate::output::{self, format_time, row_json};

pub(super) async fn show(store: &AliasPool, args: &ShowArgs) -> anyhow::Result<()> {
    let row = find(store, &args.email).await?;
    if args.json {
        println!("{}", output::json_text(&row_json(&row, true)));
    } else {
        print!("{}", describe(&row));
    }
    Ok(())
}

/// The row as a short labelled text.
fn describe(row: &AliasRow) -> String {
    let or = |s: &str, none: &str| {
        if s.is_empty() {
            none.to_owned()
        } else {
            output::cell(s)
        }
    };
    let token = match (&row.claim_token, row.status) {
        (Some(_), AliasStatus::Claimed) => {
            "present: a Terraform state (or a rootmail script) holds this claim".to_owned()
        }
        (Some(_), status) => format!("present, left on a {status} row: nobody holds it"),
        (None, AliasStatus::Claimed) => "none (claimed by an older tool)".to_owned(),
        (None, _) => "none".to_owned(),
    };
    let mut text = format!(
        "email:          {}\nid:             {}\nstatus:         {}\nmailbox:        {}\n\
         owner:          {}\naws account:    {}\n",
        output::cell(&row.email),
        output::cell(&row.id),
        row.status,
        or(&row.root_mailbox, "-"),
        or(&row.owner, "-"),
        or(&row.aws_account_id, "(not linked)"),
    );
    // Who used the alias stays on record after unlinking: AWS never frees
    // a root address, so this is why it is retired or unusable, and why a
    // release is refused.
    text.push_str(&format!("used by:        {}\n", aws_use(row)));
    if row.status == AliasStatus::Retired {
        text.push_str(&format!(
            "retired:        {}\n",
            or(&row.retired_reason, "(no reason recorded)")
        ));
    }
    if let Some(why) = row.unusable_reason(time::OffsetDateTime::now_utc()) {
        text.push_str(&format!(
            "unusable:       never handed out: {}\n",
            output::cell(&why)
        ));
    }
    if !row.purpose.is_empty() {
        text.push_str(&format!("purpose:        {}\n", output::cell(&row.purpose)));
    }
    if row.claimed_at.is_some() {
        text.push_str(&format!(
            "claimed at:     {}\n",
            format_time(row.claimed_at)
        ));
    }
    if row.reusable_after.is_some() {
        text.push_str(&format!(
            "reusable after: {}\n",
            format_time(row.reusable_after)
        ));
    }
    text.push_str(&format!("claim token:    {token}\n"));
    text
}

/// The AWS use the row records, as `describe` shows it.
fn aws_use(row: &AliasRow) -> String {
    let recorded = Some(row.used_by.as_str())
        .filter(|a| !a.trim().is_empty())
        .or(row.used_by_account());
    match (recorded, row.used_by_account()) {
        (None, _) => "none recorded".to_owned(),
        (Some(account), Some(_)) => format!(
            "AWS account {} (AWS keeps the address bound to it until its e-mail is changed)",
            output::cell(account)
        ),
        (Some(account), None) => format!(
            "AWS account {}, whose e-mail was changed away from this address",
            output::cell(account)
        ),
    }
}

/// Shows the row where the user sees it: stdout, or stderr when stdout is JSON.
pub(super) fn display(row: &AliasRow, json: bool) {
    if json {
        eprint!("{}", describe(row));
    } else {
        print!("{}", describe(row));
        let _ = std::io::stdout().flush();
    }
}

pub(super) fn report(json: bool, row: &AliasRow, outcome: &str, message: &str) {
    if json {
        let doc = json!({ "outcome": outcome, "message": message, "alias": row_json(row, false) });
        println!("{}", output::json_text(&doc));
    } else {
        println!("{}", rootmail::safe_text::for_message(message));
    }
}
