//! The CLI side of minting: registering a minting mailbox with the admin's
//! check, stats that count minted rows apart, and the audit finding a missing
//! minting mailbox.

use super::*;

#[test]
fn the_cli_registers_with_the_admins_check_counts_minted_rows_apart_and_the_audit_finds_a_missing_minting_mailbox(
) {
    let f = CliTable::with_table("mintcli");
    let seeded =
        f.rt.block_on(f.pool.seed("comp001@company.com", "company.com", 1))
            .expect("seed");

    // Without the admin's statement (and no terminal to ask on): refused.
    let out = f.run(&["pool", "add-minting-mailbox", MINTING]);
    assert_code(&out, 1);
    let err = text(&out.stderr);
    assert!(
        err.contains("Get-OrganizationConfig") && err.contains("--plus-addressing-on"),
        "{err}"
    );
    assert!(f
        .rt
        .block_on(f.pool.minting_mailboxes())
        .expect("read")
        .is_empty());
    let out = f.run(&[
        "pool",
        "add-minting-mailbox",
        MINTING,
        "--prefix",
        "aws",
        "--by",
        "admin@company.com",
        "--plus-addressing-on",
    ]);
    assert_code(&out, 0);
    assert!(
        text(&out.stdout).contains("DisablePlusAddressInRecipients"),
        "{}",
        text(&out.stdout)
    );
    assert_code(
        &f.run(&[
            "pool",
            "add-minting-mailbox",
            "gone@company.com",
            "--plus-addressing-on",
        ]),
        0,
    );
    let regs = f.rt.block_on(f.pool.minting_mailboxes()).expect("read");
    let aws = regs
        .iter()
        .find(|m| m.mailbox == MINTING)
        .expect("registered");
    assert_eq!(aws.registered_by, "admin@company.com");
    assert!(aws.plus_addressing_checked_at.is_some());
    assert!(aws
        .plus_addressing_check
        .contains("DisablePlusAddressInRecipients"));
    // Registering it again is refused.
    assert_code(
        &f.run(&[
            "pool",
            "add-minting-mailbox",
            MINTING,
            "--plus-addressing-on",
        ]),
        1,
    );

    // One alias claimed, one address minted for the mailbox Exchange has.
    let claim = |mailbox: Option<&str>| ClaimRequest {
        owner: "team@company.com".into(),
        mailbox: mailbox.map(str::to_owned),
        source: Some(AddressSource::PreferAliases),
        ..ClaimRequest::default()
    };
    let alias = f.rt.block_on(f.pool.claim(&claim(None))).expect("alias");
    assert_eq!(alias.alias.id, seeded[0].id);
    let minted =
        f.rt.block_on(f.pool.claim(&claim(Some(MINTING))))
            .expect("minted");
    assert!(minted.alias.minted);

    let out = f.run(&["pool", "stats", "--json"]);
    assert_code(&out, 0);
    let stats: Json = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(stats["total"]["claimed"], 2);
    assert_eq!(stats["minted"]["claimed"], 1);
    assert_eq!(stats["minted"]["total"], 1);
    assert_eq!(stats["minting_mailboxes"].as_array().map(Vec::len), Some(2));
    let aws_json = stats["minting_mailboxes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["mailbox"] == MINTING)
        .expect("aws@ in the stats");
    assert_eq!(aws_json["registered_by"], "admin@company.com");
    assert!(aws_json["plus_addressing_check"]
        .as_str()
        .is_some_and(|c| c.contains("DisablePlusAddressInRecipients")));
    let table = text(&f.run(&["pool", "stats"]).stdout);
    assert!(
        table.contains("of which minted")
            && table.contains("minting mailbox aws@company.com: mints aws+<id>@company.com")
            && table.contains("by admin@company.com"),
        "{table}"
    );
    let table = text(&f.run(&["pool", "list"]).stdout);
    assert!(table.contains("2 addresses, 1 of them minted"), "{table}");
    let out = f.run(&["pool", "list", "--source", "minted", "--json"]);
    let listed: Json = serde_json::from_slice(&out.stdout).expect("json");
    let listed = listed.as_array().expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["email"], minted.alias.email.as_str());
    assert_eq!(listed[0]["source"], "minted");

    // Exchange has the mailbox the alias belongs to and aws@, not gone@.
    let graph = GraphServer::start(IdentityServer::shared());
    graph.add_mailbox(
        "comp001@company.com",
        "comp001@company.com",
        &[seeded[0].aws_mail.clone()],
    );
    graph.add_mailbox(MINTING, MINTING, &[]);
    let audit = || {
        let mut c = f.cli();
        c.envs(graph.env());
        c.args(["audit", "--exchange", "--json"])
            .output()
            .expect("run rootmail")
    };
    let out = audit();
    assert_code(&out, 2);
    let doc: Json = serde_json::from_slice(&out.stdout).expect("json");
    let found: BTreeSet<(String, String)> = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
            (s("kind"), s("email"))
        })
        .collect();
    assert_eq!(
        found,
        BTreeSet::from([(
            "minting_mailbox_missing".to_owned(),
            "gone@company.com".to_owned()
        )]),
        "the minted address reaches aws@company.com: {doc}"
    );
    // Stop minting for it: the audit is clean.
    assert_code(
        &f.run(&[
            "pool",
            "remove-minting-mailbox",
            "gone@company.com",
            "--yes",
        ]),
        0,
    );
    assert_code(&audit(), 0);
}
