//! `claim_key` of `rootmail_alias`: what it promises (the docs), and what a
//! user reads when a key resumes an interrupted claim or names one that is
//! not this resource's to take. The rules themselves live in the store
//! (`store/pool/keyed.rs`).

use super::alias_import::TAKEOVER_PREFIX;
use crate::store::{ClaimedAlias, KeyRefusal, KeyedClaim, StoreError, RESUME_WINDOW};
use crate::tfplugin::Diagnostic;

/// The attribute.
pub const CLAIM_KEY: &str = "claim_key";

/// The attribute's description.
pub const ATTRIBUTE_DOC: &str = "An idempotency key for this resource's claim, unique per Terraform state: \
if an apply is interrupted after the claim was written but before the alias reached the state, the next apply \
of this state resumes that claim instead of claiming a second alias. A key never makes two resources share an \
alias: a key that names an alias somebody holds fails the apply. Include what makes it unique per state, e.g. \
`\"${terraform.workspace}-${var.account_name}\"`. Changing it writes the new key to the row in place.";

/// The docs section about choosing a key (shown above the argument reference).
pub fn docs() -> String {
    let hours = RESUME_WINDOW.whole_hours();
    format!(
        "### What `claim_key` promises\n\n\
`claim_key` works like the idempotency key of a payment API. Without it, a claim whose answer never reached \
Terraform (the provider killed mid-apply, the table unreachable just after the write) stays claimed with no \
resource owning it; such orphans are listed by the `rootmail_aliases` data source with `status = \"claimed\"` \
(compare the list with `terraform state list`; adopt one with `terraform import`, or release it with \
`rootmail alias release`).\n\n\
- A claim made with a key is handed to Terraform only after the key was looked up again, and marked as handed \
over in the pool table. A key that names a handed-over claim is never used again: a create with it fails and \
names the alias, its owner, purpose and claim time. So two states (workspaces, a `terraform test` run beside \
production, two resources with one key) never share an alias, and one's destroy never frees another's.\n\
- A claim the apply never received (interrupted before the hand-over) is resumed by the next create with the same \
key, with a warning and a new claim token, if the owner, purpose and mailbox are the same, no AWS account used \
the alias, and the claim is less than {hours} hours old. Otherwise the create fails and says why.\n\
- Creates with one key that run at the same moment end with exactly one of them holding an alias with that key; \
the others fail and give their claim back.\n\
- If an apply was killed in the moment between the hand-over and Terraform saving its state, the next create \
fails and names the alias; import it into the resource with the ID `{TAKEOVER_PREFIX}<address>` (the error gives \
the command).\n\
- Changing `claim_key` writes the new key to the row in place (refused if another claim carries it); removing \
it clears it.\n\
- `terraform apply -replace` with `create_before_destroy` (which Terraform also turns on when a dependent \
resource has it) creates the new instance while the old one still holds the key, so it fails and keeps the old \
alias: give the new instance a new key to get a new alias. Without `create_before_destroy` a replacement \
releases the old alias first and claims a new one.\n\n\
### Choosing a key\n\n\
Make it unique per state and per resource, and stable across applies: include `terraform.workspace` (every \
workspace has its own state) and what identifies the account, e.g. \
`claim_key = \"${{terraform.workspace}}-${{var.account_name}}\"`, or `\"${{terraform.workspace}}-${{each.key}}\"` \
with `for_each`. A `terraform test` run keeps the workspace name `default` but has a state of its own: give its \
runs other keys (override the variable the key is made of in the test's `variables` block) or no key."
    )
}

/// What `terraform import` command takes `email` over into this resource.
fn import_hint(email: &str) -> String {
    format!(
        "`terraform import ADDRESS {TAKEOVER_PREFIX}{email}`, where ADDRESS is this resource's address as Terraform shows it with this error (or an `import` block with `id = \"{TAKEOVER_PREFIX}{email}\"`)"
    )
}

/// The diagnostic for a create or update a claim key refused; `None` for
/// other errors.
pub fn refusal(e: &StoreError) -> Option<Diagnostic> {
    let StoreError::ClaimKeyTaken {
        key,
        existing,
        refusal,
    } = e
    else {
        return None;
    };
    let KeyedClaim { email, .. } = existing.as_ref();
    let named = format!("`{CLAIM_KEY}` \"{key}\" names {existing}");
    let unique = format!("Give this resource a `{CLAIM_KEY}` that is unique per state, e.g. one that includes `terraform.workspace`.");
    let release = format!("release it with `rootmail alias release {email}`");
    let (summary, detail) = match refusal {
        KeyRefusal::InUse => (
            "claim_key names an alias that is held",
            format!(
                "{named}. That claim was handed to the apply that made it, so a Terraform state holds it: another state or workspace, a `terraform test` run, another resource of this configuration with the same key, or the instance this one replaces (create_before_destroy). A claim key is never shared, so nothing was claimed. {unique} If this resource should hold that alias (for example its apply was killed just after the claim and before the state was saved), take it over: {}.",
                import_hint(email)
            ),
        ),
        KeyRefusal::Settings { differ } => (
            "claim_key names an interrupted claim with other settings",
            format!(
                "{named}. That claim was left by an apply that was interrupted before it received the alias, and was made with another {}. It is resumed only with the same owner, purpose and mailbox: apply with those to resume it, or give this resource another key and {release}.",
                differ.join(" and ")
            ),
        ),
        KeyRefusal::Used { account } => (
            "claim_key names an alias an AWS account used",
            format!(
                "{named}. AWS account {account} used that alias, so the claim is never resumed by its key. If this resource should hold it, take it over: {}. Otherwise give this resource another `{CLAIM_KEY}`.",
                import_hint(email)
            ),
        ),
        KeyRefusal::Expired => (
            "claim_key names an interrupted claim that is too old to resume",
            format!(
                "{named}. That claim was left by an interrupted apply more than {} hours ago, and a key resumes a claim only within {} hours. If this resource should hold it, take it over: {}. Otherwise give this resource another key and {release}.",
                RESUME_WINDOW.whole_hours(),
                RESUME_WINDOW.whole_hours(),
                import_hint(email)
            ),
        ),
        KeyRefusal::Raced => (
            "claim_key was used by another apply at the same moment",
            format!(
                "Another create with `{CLAIM_KEY}` \"{key}\" ran at the same moment and got {existing}; this create's claim was given back. {unique}"
            ),
        ),
    };
    Some(Diagnostic::error(summary, detail).at_attr(CLAIM_KEY))
}

/// The warning of a create that resumed an interrupted claim.
pub fn resumed(claimed: &ClaimedAlias, key: &str) -> Diagnostic {
    let at = claimed
        .alias
        .claimed_at
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    Diagnostic::warning(
        "Resumed an interrupted claim",
        format!(
            "`{CLAIM_KEY}` \"{key}\" named alias {} (claimed at {at}), claimed by an apply that was interrupted before it received the alias, so no Terraform state held it. This resource now holds it, with a new claim token. If you expected a new alias, another state may use the same key: keys must be unique per state.",
            claimed.alias.email
        ),
    )
    .at_attr(CLAIM_KEY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_names_the_alias_and_what_to_do() {
        let existing = Box::new(KeyedClaim {
            alias_id: "1".into(),
            email: "aws_1@company.com".into(),
            owner: "o@company.com".into(),
            purpose: "p".into(),
            mailbox: "m@company.com".into(),
            claimed_at: None,
            pending: false,
        });
        for refusal in [
            KeyRefusal::InUse,
            KeyRefusal::Settings {
                differ: vec!["owner"],
            },
            KeyRefusal::Used {
                account: "123456789012".into(),
            },
            KeyRefusal::Expired,
            KeyRefusal::Raced,
        ] {
            let e = StoreError::ClaimKeyTaken {
                key: "k".into(),
                existing: existing.clone(),
                refusal: refusal.clone(),
            };
            let d = refusal_of(&e);
            assert!(
                d.detail.contains("aws_1@company.com"),
                "{refusal:?}: {}",
                d.detail
            );
            assert!(d.detail.contains("o@company.com"), "{refusal:?}");
            assert!(!e.to_string().is_empty());
            if matches!(
                refusal,
                KeyRefusal::InUse | KeyRefusal::Used { .. } | KeyRefusal::Expired
            ) {
                assert!(
                    d.detail.contains("takeover:aws_1@company.com"),
                    "{refusal:?}"
                );
            }
        }
        assert!(refusal(&StoreError::Changed {
            alias_id: "x".into()
        })
        .is_none());
    }

    fn refusal_of(e: &StoreError) -> Diagnostic {
        refusal(e).expect("a claim key refusal")
    }
}
