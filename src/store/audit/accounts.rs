//! The AWS accounts an audit compares the pool with: read from
//! Organizations ([`crate::aws`]), or from JSON: the output of `aws
//! organizations list-accounts` (`{"Accounts": [...]}`), a bare list (what
//! `jsonencode` makes of `data.aws_organizations_organization.accounts`), or
//! a whole organization object. Only a whole organization is accepted: a page
//! with `NextToken` set, or no accounts at all, would make the audit miss what
//! it is for.

use serde_json::{Map, Value};

/// One AWS account as listed by Organizations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgAccount {
    pub id: String,
    pub email: String,
    pub name: String,
    /// `State` when given (the newer field), else `Status`, upper case.
    pub state: String,
}

impl From<&crate::aws::OrganizationAccount> for OrgAccount {
    fn from(a: &crate::aws::OrganizationAccount) -> Self {
        OrgAccount {
            id: a.id.clone(),
            email: a.email.clone(),
            name: a.name.clone(),
            state: a.state.to_ascii_uppercase(),
        }
    }
}

impl OrgAccount {
    /// Closed, closing or suspended: the account cannot be used, but it
    /// still owns its root address.
    pub fn is_closed(&self) -> bool {
        matches!(
            self.state.as_str(),
            "SUSPENDED" | "PENDING_CLOSURE" | "CLOSED"
        )
    }
}

/// Reads the accounts from the JSON of `aws organizations list-accounts`
/// (`{"Accounts": [...]}`), from a bare list of accounts (what `jsonencode`
/// makes of `data.aws_organizations_organization.accounts`), or from a whole
/// organization object with an `accounts` list. Field names are matched
/// without regard to case.
pub fn parse_accounts(json: &str) -> Result<Vec<OrgAccount>, String> {
    let doc: Value =
        serde_json::from_str(json).map_err(|e| format!("the accounts are not JSON: {e}"))?;
    let list = match &doc {
        Value::Array(items) => items,
        Value::Object(map) => {
            if field(map, "nexttoken").is_some_and(is_set) {
                return Err(
                    "the accounts list is incomplete: `NextToken` is set, so it is one page of \
                     several, and findings on the other pages would be missed. `aws \
                     organizations list-accounts` pages through all accounts by itself unless \
                     told otherwise: run it without `--max-items`, `--starting-token` or \
                     `--no-paginate`"
                        .to_owned(),
                );
            }
            match field(map, "accounts") {
                Some(Value::Array(items)) => items,
                _ => {
                    return Err(
                        "expected the output of `aws organizations list-accounts` (an object \
                         with `Accounts`) or a list of accounts"
                            .to_owned(),
                    )
                }
            }
        }
        _ => return Err("expected a JSON object or list of accounts".to_owned()),
    };
    if list.is_empty() {
        return Err(
            "the accounts list is empty, but an organization always has at least its management \
             account: this is not the whole organization (another profile or account, missing \
             permissions, or a filter?), and an audit of nothing would find nothing"
                .to_owned(),
        );
    }
    let mut accounts = Vec::with_capacity(list.len());
    for (index, item) in list.iter().enumerate() {
        let Value::Object(map) = item else {
            return Err(format!("account #{} is not a JSON object", index + 1));
        };
        let text = |name: &str| {
            field(map, name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim()
                .to_owned()
        };
        let id = text("id");
        if !(id.len() == 12 && id.chars().all(|c| c.is_ascii_digit())) {
            return Err(format!(
                "account #{} has no 12-digit `Id` (found {id:?})",
                index + 1
            ));
        }
        let email = text("email");
        if email.is_empty() {
            return Err(format!("account {id} has no `Email`"));
        }
        let state = Some(text("state"))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| text("status"))
            .to_ascii_uppercase();
        accounts.push(OrgAccount {
            id,
            email,
            name: text("name"),
            state,
        });
    }
    Ok(accounts)
}

/// A `NextToken` that asks for another page: anything but null or "".
fn is_set(token: &Value) -> bool {
    match token {
        Value::Null => false,
        Value::String(s) => !s.trim().is_empty(),
        _ => true,
    }
}

fn field<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_shapes() {
        let cli = r#"{"Accounts":[{"Id":"111111111111","Arn":"x","Email":"A@x.com","Name":"a",
            "Status":"ACTIVE","State":"CLOSED","JoinedMethod":"CREATED"}]}"#;
        let a = parse_accounts(cli).expect("cli shape");
        assert_eq!(a[0].id, "111111111111");
        assert_eq!(a[0].state, "CLOSED", "State wins over Status");
        assert!(a[0].is_closed());
        let tf = r#"[{"arn":"x","email":"b@x.com","id":"222222222222","name":"b","status":"SUSPENDED"}]"#;
        let b = parse_accounts(tf).expect("terraform shape");
        assert_eq!(b[0].email, "b@x.com");
        assert!(b[0].is_closed());
        let org = r#"{"id":"o-1","accounts":[{"id":"333333333333","email":"c@x.com","status":"ACTIVE"}]}"#;
        assert!(!parse_accounts(org).expect("org")[0].is_closed());
    }

    #[test]
    fn a_last_page_is_a_whole_list() {
        for last in ["null", "\"\""] {
            let text = format!(
                r#"{{"Accounts":[{{"Id":"111111111111","Email":"a@x.com"}}],"NextToken":{last}}}"#
            );
            assert_eq!(parse_accounts(&text).expect(&text).len(), 1);
        }
    }

    #[test]
    fn refuses_junk_with_a_reason() {
        for (text, why) in [
            ("nope", "not JSON"),
            ("{}", "list-accounts"),
            ("[1]", "not a JSON object"),
            (r#"[{"id":"12","email":"a@b.co"}]"#, "12-digit"),
            (r#"[{"id":"123456789012"}]"#, "no `Email`"),
            ("[]", "empty"),
            (r#"{"Accounts":[]}"#, "empty"),
            (r#"{"accounts":[]}"#, "management account"),
            (
                r#"{"Accounts":[{"Id":"111111111111","Email":"a@x.com"}],"NextToken":"AAE="}"#,
                "`NextToken` is set",
            ),
            (
                r#"{"nextToken":"x","accounts":[{"id":"111111111111","email":"a@x.com"}]}"#,
                "one page of several",
            ),
        ] {
            let err = parse_accounts(text).expect_err(text);
            assert!(err.contains(why), "{text}: {err}");
        }
    }
}
