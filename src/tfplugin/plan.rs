//! The default plan for a managed resource, derived from its schema: fill in
//! defaults, mark computed values "known after apply" where they may change,
//! and find attributes whose change forces replacement.

use super::diag::Diagnostics;
use super::resource::PlannedChange;
use super::schema::Schema;
use super::value::Value;

/// Computes the framework's plan for one resource.
///
/// `proposed` is Terraform's proposed new state: the configuration, with
/// computed attributes the configuration leaves null taken from `prior`.
pub fn plan(schema: &Schema, prior: &Value, proposed: &Value, config: &Value) -> PlannedChange {
    let mut change = PlannedChange {
        prior: prior.clone(),
        config: config.clone(),
        planned: proposed.clone(),
        requires_replace: Vec::new(),
        diagnostics: Diagnostics::new(),
    };
    if proposed.is_null() {
        change.planned = Value::Null;
        return change;
    }
    let block = &schema.block;
    let creating = prior.is_null();

    // Defaults first: they are what the configuration means when it says nothing.
    for a in &block.attributes {
        if let Some(d) = &a.plan.default {
            if config.attr(&a.name).is_null() {
                change.planned.set_attr(a.name.clone(), d.clone());
            }
        }
        if a.write_only {
            change.planned.set_attr(a.name.clone(), Value::Null);
        }
    }

    // Replacement is decided on what the user wrote (plus defaults), before
    // computed values are marked unknown: "unknown" is not a change.
    if !creating {
        for a in &block.attributes {
            let (new, old) = (change.planned.attr(&a.name), prior.attr(&a.name));
            let same = match (new.as_str(), old.as_str()) {
                (Some(n), Some(o)) if a.plan.ignores_case => n.eq_ignore_ascii_case(o),
                _ => new == old,
            };
            if a.plan.requires_replace && !same {
                change.requires_replace.push(a.name.clone());
            }
        }
    }

    // Did anything the user controls change? Only then may computed values move.
    let user_change = !creating
        && (!change.requires_replace.is_empty()
            || block.attributes.iter().any(|a| {
                (a.required || a.optional)
                    && !a.write_only
                    && change.planned.attr(&a.name) != prior.attr(&a.name)
            }));

    for a in &block.attributes {
        if !a.computed || a.plan.default.is_some() || !config.attr(&a.name).is_null() {
            continue;
        }
        if creating || (user_change && !a.plan.use_state_for_unknown) {
            change.planned.set_attr(a.name.clone(), Value::Unknown);
        } else {
            change
                .planned
                .set_attr(a.name.clone(), prior.attr(&a.name).clone());
        }
    }

    // A replacement re-creates every computed value the user did not set.
    if !change.requires_replace.is_empty() {
        for a in &block.attributes {
            if a.computed && a.plan.default.is_none() && config.attr(&a.name).is_null() {
                change.planned.set_attr(a.name.clone(), Value::Unknown);
            }
        }
    }
    change
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tfplugin::schema::{Attribute, Block};
    use crate::tfplugin::value::Type;

    fn schema() -> Schema {
        Schema::new(
            Block::new()
                .attribute(Attribute::computed("id", Type::String).use_state_for_unknown())
                .attribute(Attribute::required("owner", Type::String))
                .attribute(
                    Attribute::optional_computed("mailbox", Type::String)
                        .requires_replace()
                        .ignores_case()
                        .use_state_for_unknown(),
                )
                .attribute(Attribute::optional("on_destroy", Type::String).default_value("release"))
                .attribute(Attribute::computed("aws_account_id", Type::String)),
        )
    }

    fn obj(pairs: &[(&str, Value)]) -> Value {
        Value::object(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())))
    }

    fn config(owner: &str, mailbox: Value) -> Value {
        obj(&[
            ("id", Value::Null),
            ("owner", owner.into()),
            ("mailbox", mailbox),
            ("on_destroy", Value::Null),
            ("aws_account_id", Value::Null),
        ])
    }

    fn state(owner: &str) -> Value {
        obj(&[
            ("id", "a@x".into()),
            ("owner", owner.into()),
            ("mailbox", "m@x".into()),
            ("on_destroy", "release".into()),
            ("aws_account_id", "".into()),
        ])
    }

    /// Terraform's proposed new state: config, with computed nulls from prior.
    fn proposed(cfg: &Value, prior: &Value) -> Value {
        let mut p = cfg.clone();
        for k in ["id", "mailbox", "on_destroy", "aws_account_id"] {
            if cfg.attr(k).is_null() {
                p.set_attr(k, prior.attr(k).clone());
            }
        }
        p
    }

    #[test]
    fn create_marks_computed_unknown_and_applies_defaults() {
        let cfg = config("o@x", Value::Null);
        let c = plan(&schema(), &Value::Null, &cfg, &cfg);
        assert!(c.is_create());
        assert_eq!(c.planned.attr("id"), &Value::Unknown);
        assert_eq!(c.planned.attr("mailbox"), &Value::Unknown);
        assert_eq!(c.planned.attr("on_destroy"), &Value::from("release"));
        assert_eq!(c.planned.attr("owner"), &Value::from("o@x"));
        assert!(c.requires_replace.is_empty());
    }

    #[test]
    fn unchanged_config_plans_no_change() {
        let prior = state("o@x");
        let cfg = config("o@x", Value::Null);
        let c = plan(&schema(), &prior, &proposed(&cfg, &prior), &cfg);
        assert_eq!(c.planned, prior);
        assert!(c.requires_replace.is_empty());
    }

    #[test]
    fn owner_change_is_in_place_and_keeps_stable_ids() {
        let prior = state("o@x");
        let cfg = config("new@x", Value::Null);
        let c = plan(&schema(), &prior, &proposed(&cfg, &prior), &cfg);
        assert!(c.requires_replace.is_empty());
        assert_eq!(c.planned.attr("id"), &Value::from("a@x"));
        assert_eq!(c.planned.attr("aws_account_id"), &Value::Unknown);
        assert_eq!(c.planned.attr("mailbox"), &Value::from("m@x"));
    }

    #[test]
    fn mailbox_change_requires_replacement() {
        let prior = state("o@x");
        let cfg = config("o@x", "other@x".into());
        let c = plan(&schema(), &prior, &proposed(&cfg, &prior), &cfg);
        assert_eq!(c.requires_replace, vec!["mailbox".to_string()]);
        assert_eq!(c.planned.attr("id"), &Value::Unknown);
    }

    #[test]
    fn a_change_of_letter_case_alone_is_in_place() {
        let prior = state("o@x");
        let cfg = config("o@x", "M@X".into());
        let c = plan(&schema(), &prior, &proposed(&cfg, &prior), &cfg);
        assert!(c.requires_replace.is_empty());
        assert_eq!(c.planned.attr("mailbox"), &Value::from("M@X"));
        assert_eq!(c.planned.attr("id"), &Value::from("a@x"));
    }

    #[test]
    fn destroy_plans_null() {
        let c = plan(&schema(), &state("o@x"), &Value::Null, &Value::Null);
        assert!(c.is_destroy());
    }
}
