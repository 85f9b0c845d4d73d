//! Minted addresses keep to AWS's rules for every prefix; a prefix too long is
//! refused.

use super::*;

#[test]
fn minted_addresses_keep_to_aws_rules_for_every_prefix_and_a_prefix_too_long_is_refused() {
    let f = CliTable::with_table("mintprefix");
    let register = |args: &[&str]| {
        let mut all = vec!["pool", "add-minting-mailbox"];
        all.extend_from_slice(args);
        all.push("--plus-addressing-on");
        f.run(&all)
    };
    // "company.com" and `+<10>@` leave 41 characters for the prefix.
    let longest = "aws-root-accounts-of-the-platform-team-01";
    assert_eq!(longest.len(), 41);
    // (mailbox, --prefix, what minted addresses start with)
    let accepted: [(&str, Option<&str>, &str); 5] = [
        ("aws@company.com", None, "aws+"),
        ("Shared.Root@Company.com", None, "shared.root+"),
        ("m3@company.com", Some("Root.Accounts"), "root.accounts+"),
        ("m4@company.com", Some("a"), "a+"),
        (
            "m5@company.com",
            Some(longest),
            "aws-root-accounts-of-the-platform-team-01+",
        ),
    ];
    for (mailbox, prefix, _) in accepted {
        let mut args = vec![mailbox];
        if let Some(p) = prefix {
            args.extend(["--prefix", p]);
        }
        assert_code(&register(&args), 0);
    }

    // One character more, or characters a plus address cannot start with:
    // refused at registration, saying why, and nothing written.
    let too_long = format!("{longest}x");
    let refused: [(&str, &str, &[&str]); 5] = [
        (
            "m6@company.com",
            too_long.as_str(),
            &["65 characters", "at most 64", "shorter prefix"],
        ),
        ("m7@company.com", "aws+x", &["`+`"]),
        ("m8@company.com", "aws x", &["character ' '"]),
        ("m9@company.com", ".aws", &["dot"]),
        ("m10@company.com", "jörg", &["character 'ö'"]),
    ];
    for (mailbox, prefix, says) in refused {
        let out = register(&[mailbox, "--prefix", prefix]);
        assert_code(&out, 1);
        let err = text(&out.stderr);
        assert!(err.contains("prefix"), "{prefix}: {err}");
        for s in says {
            assert!(err.contains(s), "{prefix}: {err}");
        }
    }
    // A mailbox whose own local part is too long as a prefix is refused too.
    let long_mailbox = format!("{longest}-xx@company.com");
    let out = register(&[&long_mailbox]);
    assert_code(&out, 1);
    assert!(
        text(&out.stderr).contains("shorter prefix"),
        "{}",
        text(&out.stderr)
    );
    let registered = f.rt.block_on(f.pool.minting_mailboxes()).expect("read");
    assert_eq!(registered.len(), accepted.len(), "{registered:?}");

    // Twenty addresses minted for each: AWS's rules, lower case, the
    // mailbox's prefix and domain, never one twice.
    let mut seen = BTreeSet::new();
    for (mailbox, _, starts) in accepted {
        for _ in 0..20 {
            let request = ClaimRequest {
                owner: "team@company.com".into(),
                mailbox: Some(mailbox.to_owned()),
                source: Some(AddressSource::MintedOnly),
                ..ClaimRequest::default()
            };
            let claimed = f.rt.block_on(f.pool.claim(&request)).expect("mint");
            let email = claimed.alias.email;
            assert_aws_accepts(&email);
            assert!(
                email.starts_with(starts) && email.ends_with("@company.com"),
                "{email}"
            );
            assert_eq!(
                email.len(),
                starts.len() + 10 + "@company.com".len(),
                "{email}"
            );
            assert_eq!(claimed.alias.root_mailbox, mailbox.to_ascii_lowercase());
            assert!(seen.insert(email.clone()), "{email} minted twice");
        }
    }
    assert!(
        seen.iter().any(|e| e.len() == 64),
        "the longest prefix reaches 64"
    );
}
