//! Tests of the Exchange comparison: which rows and mailboxes make which findings.

use super::*;
use serde_json::json;

fn row(email: &str, mailbox: &str, extra: serde_json::Value) -> AliasRow {
    let mut e = json!({"PartitionKey": "root", "RowKey": email, "aws_mail": email,
        "root_mailbox": mailbox, "in_use": false, "odata.etag": "e"});
    if let (Some(map), serde_json::Value::Object(more)) = (e.as_object_mut(), extra) {
        map.extend(more);
    }
    let serde_json::Value::Object(map) = e else {
        unreachable!()
    };
    AliasRow::from_entity(&map, None).expect("row")
}

fn mailbox(name: &str, secondary: &[&str], total: usize) -> Mailbox {
    Mailbox {
        name: name.to_owned(),
        addresses: Some(MailboxAddresses {
            primary: Some(name.to_owned()),
            secondary: secondary.iter().map(|s| s.to_string()).collect(),
            total,
        }),
    }
}

fn kinds(found: &[Finding]) -> BTreeMap<String, (FindingKind, Option<Fix>)> {
    found
        .iter()
        .map(|f| (f.email.clone(), (f.kind, f.fix.clone())))
        .collect()
}

#[test]
fn every_kind_of_disagreement_is_found_with_its_fix() {
    let rows = [
        row("aws_a@company.com", "m1@company.com", json!({})),
        row("aws_b@company.com", "M1@Company.com", json!({})),
        row(
            "AWS_C@company.com",
            "m1@company.com",
            json!({"in_use": true}),
        ),
        row("aws_d@company.com", "m2@company.com", json!({})),
        row(
            "aws_e@company.com",
            "m1@company.com",
            json!({"in_use": true, "status": "unroutable"}),
        ),
        row("aws_f@company.com", "m1@company.com", json!({})),
        row(
            "aws_g@company.com",
            "m1@company.com",
            json!({"in_use": true, "status": "retired"}),
        ),
        // Plus addresses reach the mailbox of the address without the tag.
        row(
            "M1+prod@company.com",
            "m1@company.com",
            json!({"in_use": true}),
        ),
        row("aws_a+x@company.com", "m1@company.com", json!({})),
        row("nobody+x@company.com", "m1@company.com", json!({})),
    ];
    let mailboxes = [
        mailbox(
            "m1@company.com",
            &[
                "AWS_A@Company.com",
                "aws_e@company.com",
                "aws_new@company.com",
                "used@company.com",
                "m1@company.onmicrosoft.com",
                "m1@elsewhere.example",
            ],
            9,
        ),
        Mailbox {
            name: "m2@company.com".into(),
            addresses: None,
        },
        mailbox("m3@company.com", &["aws_f@company.com"], NEAR_LIMIT + 5),
    ];
    let accounts = [OrgAccount {
        id: "111111111111".into(),
        email: "USED@company.com".into(),
        name: "u".into(),
        state: "SUSPENDED".into(),
    }];
    let found = findings(&rows, &mailboxes, Some(&accounts), &[]);
    let got = kinds(&found);
    let mark = |f: &Option<Fix>| matches!(f, Some(Fix::MarkUnroutable { .. }));
    assert!(!got.contains_key("aws_a@company.com"), "routable: {got:?}");
    assert!(
        !got.contains_key("aws_g@company.com"),
        "retired, unused: {got:?}"
    );
    assert!(!got.contains_key("M1+prod@company.com"), "{got:?}");
    assert!(!got.contains_key("aws_a+x@company.com"), "{got:?}");
    assert_eq!(got["nobody+x@company.com"].0, FindingKind::UnroutableFree);
    let (kind, fix) = &got["aws_b@company.com"];
    assert!(*kind == FindingKind::UnroutableFree && mark(fix));
    assert_eq!(
        got["AWS_C@company.com"],
        (FindingKind::UnroutableInUse, None)
    );
    let (kind, fix) = &got["aws_d@company.com"];
    assert!(*kind == FindingKind::UnroutableFree && mark(fix));
    assert_eq!(got["m2@company.com"], (FindingKind::MissingMailbox, None));
    assert_eq!(
        got["aws_e@company.com"],
        (FindingKind::RoutableAgain, Some(Fix::ReturnToPool))
    );
    assert_eq!(
        got["aws_f@company.com"],
        (FindingKind::MailboxMismatch, None)
    );
    assert_eq!(got["m3@company.com"], (FindingKind::MailboxNearLimit, None));
    assert_eq!(
        got["aws_new@company.com"],
        (
            FindingKind::UnpooledAddress,
            Some(Fix::Import {
                mailbox: "m1@company.com".into()
            })
        )
    );
    assert_eq!(
        got["used@company.com"],
        (
            FindingKind::UnpooledAddress,
            Some(Fix::ImportRetired {
                mailbox: "m1@company.com".into(),
                account: "111111111111".into()
            })
        )
    );
    assert_eq!(
        got.len(),
        10,
        "nothing else (primary, other domains): {got:?}"
    );
    let reason = found
        .iter()
        .find_map(|f| match &f.fix {
            Some(Fix::MarkUnroutable { reason }) if f.email == "aws_d@company.com" => {
                Some(reason.clone())
            }
            _ => None,
        })
        .expect("reason");
    assert!(reason.contains("m2@company.com does not exist"), "{reason}");

    // Without the AWS accounts, nothing is imported.
    let found = findings(&rows, &mailboxes, None, &[]);
    for f in found
        .iter()
        .filter(|f| f.kind == FindingKind::UnpooledAddress)
    {
        assert_eq!(f.fix, None, "{f:?}");
        assert!(f.message.contains("--aws"), "{}", f.message);
    }
}

#[test]
fn an_alias_a_linked_account_uses_is_critical_whatever_its_status() {
    // Retired (not claimed) but AWS account 222222222222 used it: that
    // account's root mail bounces all the same.
    let rows = [
        row(
            "aws_used@company.com",
            "m1@company.com",
            json!({"in_use": true, "status": "retired", "used_by_account": "222222222222"}),
        ),
        row(
            "aws_linked@company.com",
            "m1@company.com",
            json!({"in_use": true, "status": "quarantined", "aws_account_id": "333333333333"}),
        ),
    ];
    let found = findings(&rows, &[mailbox("m1@company.com", &[], 3)], None, &[]);
    let got: BTreeMap<&str, (FindingKind, &str, bool)> = found
        .iter()
        .map(|f| {
            let critical = f.severity() == super::super::Severity::Critical;
            (f.email.as_str(), (f.kind, f.account_id.as_str(), critical))
        })
        .collect();
    assert_eq!(
        got,
        BTreeMap::from([
            (
                "aws_used@company.com",
                (FindingKind::UnroutableInUse, "222222222222", true)
            ),
            (
                "aws_linked@company.com",
                (FindingKind::UnroutableInUse, "333333333333", true)
            ),
        ])
    );
    assert!(found.iter().all(|f| f.fix.is_none()), "{found:?}");
}

#[test]
fn a_mailbox_is_near_its_limit_from_near_limit_addresses_on() {
    let near = |total| {
        findings(&[], &[mailbox("m1@company.com", &[], total)], None, &[])
            .iter()
            .any(|f| f.kind == FindingKind::MailboxNearLimit)
    };
    assert!(!near(NEAR_LIMIT - 1));
    assert!(near(NEAR_LIMIT));
    // Seeded to the planned 300 (plus its primary and X500 addresses):
    // full as planned, and reported so that new aliases go elsewhere.
    assert!(near(PLANNED_LIMIT + 2));
}

#[test]
fn a_row_naming_no_mailbox_is_looked_for_in_every_mailbox_read() {
    let rows = [
        row("aws_h@company.com", "", json!({})),
        row("aws_i@company.com", " ", json!({})),
        row("aws_j@company.com", "", json!({"in_use": true})),
        row(
            "aws_k@company.com",
            "",
            json!({"in_use": true, "status": "unroutable"}),
        ),
        row(
            "aws_l@company.com",
            "",
            json!({"in_use": true, "status": "unroutable"}),
        ),
    ];
    let mailboxes = [mailbox(
        "m1@company.com",
        &["aws_h@company.com", "AWS_K@company.com"],
        4,
    )];
    let found = findings(&rows, &mailboxes, None, &[]);
    let got = kinds(&found);
    let mark = |f: &Option<Fix>| matches!(f, Some(Fix::MarkUnroutable { .. }));
    assert_eq!(
        got["aws_h@company.com"],
        (FindingKind::MailboxMismatch, None)
    );
    let (kind, fix) = &got["aws_i@company.com"];
    assert!(*kind == FindingKind::UnroutableFree && mark(fix), "{got:?}");
    assert_eq!(
        got["aws_j@company.com"],
        (FindingKind::UnroutableInUse, None)
    );
    assert_eq!(
        got["aws_k@company.com"],
        (FindingKind::RoutableAgain, Some(Fix::ReturnToPool))
    );
    assert_eq!(got.len(), 4, "aws_l stays marked: {got:?}");
    let message = |email: &str| {
        found
            .iter()
            .find(|f| f.email == email)
            .map(|f| f.message.clone())
            .unwrap_or_default()
    };
    assert!(
        message("aws_i@company.com").contains("names no mailbox"),
        "{}",
        message("aws_i@company.com")
    );
    assert!(message("aws_h@company.com").contains("m1@company.com"));

    // No mailbox read at all: reported, but nothing to mark it by.
    let found = findings(&rows[..1], &[], None, &[]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (found[0].kind, &found[0].fix),
        (FindingKind::UnroutableFree, &None)
    );
    assert!(
        found[0].message.contains("--mailbox"),
        "{}",
        found[0].message
    );
}

#[test]
fn minted_addresses_route_by_the_plus_rule_and_their_base_is_no_alias_to_import() {
    let rows = [
        row(
            "root+k3j9x2m4pq@company.com",
            "aws@company.com",
            json!({"in_use": true, "minted": true}),
        ),
        row(
            "other+zzzzzzzzzz@company.com",
            "box@company.com",
            json!({"in_use": true, "minted": true}),
        ),
    ];
    let mailboxes = [
        mailbox("aws@company.com", &["root@company.com"], 2),
        mailbox("box@company.com", &[], 1),
    ];
    let registration = MintingMailbox::new("aws@company.com", Some("root"), "").expect("ok");
    let got = kinds(&findings(&rows, &mailboxes, None, &[registration]));
    assert!(!got.contains_key("root+k3j9x2m4pq@company.com"), "{got:?}");
    assert_eq!(
        got["other+zzzzzzzzzz@company.com"].0,
        FindingKind::UnroutableInUse
    );
    assert!(
        !got.contains_key("root@company.com"),
        "the address minted ones extend is no alias to import: {got:?}"
    );
    // Without the registration, root@ is an address no row has.
    let got = kinds(&findings(&rows, &mailboxes, None, &[]));
    assert_eq!(got["root@company.com"].0, FindingKind::UnpooledAddress);

    // A minting mailbox Exchange does not have, with no rows: reported
    // once, as a minting mailbox (`audit/minting.rs`), not here.
    let gone = Mailbox {
        name: "gone@company.com".into(),
        addresses: None,
    };
    let registration = MintingMailbox::new("gone@company.com", None, "").expect("ok");
    assert!(findings(&[], std::slice::from_ref(&gone), None, &[registration]).is_empty());
    let got = kinds(&findings(&[], &[gone], None, &[]));
    assert_eq!(got["gone@company.com"].0, FindingKind::MissingMailbox);
}

#[test]
fn graph_users_become_addresses() {
    let user: GraphUser = serde_json::from_value(json!({
        "id": "1", "mail": "box@company.com", "userPrincipalName": "box@company.com",
        "proxyAddresses": ["smtp:a@company.com", "SMTP:Box@Company.com", "X500:/o=x"]
    }))
    .expect("user");
    let a = MailboxAddresses::from(&user);
    assert_eq!(a.primary.as_deref(), Some("Box@Company.com"));
    assert_eq!(a.secondary, ["a@company.com"]);
    assert_eq!(a.total, 3);
    assert!(a.has("BOX@company.com") && a.has("A@company.com"));
}
