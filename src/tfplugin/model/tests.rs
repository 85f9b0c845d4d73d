use super::*;
use crate::tfplugin::diag::Diagnostics;
use crate::tfplugin::resource::{Ctx, DataSource, Declared, Resource, ResourcePlan};
use crate::tfplugin::schema::{Attribute, Block};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Policy {
    #[default]
    Release,
    Retire,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
struct Model {
    id: Option<String>,
    owner: String,
    on_destroy: Policy,
    days: Option<u32>,
    tags: Option<BTreeMap<String, String>>,
    names: Option<Vec<String>>,
    later: Field<String>,
}

fn schema() -> Schema {
    Schema::new(
        Block::new()
            .attribute(Attribute::computed("id", Type::String))
            .attribute(Attribute::required("owner", Type::String))
            .attribute(Attribute::optional("on_destroy", Type::String))
            .attribute(Attribute::optional("days", Type::Number))
            .attribute(Attribute::optional("tags", Type::map(Type::String)))
            .attribute(Attribute::optional("names", Type::set(Type::String)))
            .attribute(Attribute::optional_computed("later", Type::String)),
    )
}

fn value() -> Value {
    Value::object([
        ("id", Value::Null),
        ("owner", Value::from("team@example.com")),
        ("on_destroy", Value::from("retire")),
        ("days", Value::from(90i64)),
        ("tags", Value::map([("env", Value::from("prod"))])),
        ("names", Value::set([Value::from("a"), Value::from("b")])),
        ("later", Value::Unknown),
    ])
}

#[test]
fn a_value_reads_into_its_model_and_back() {
    let model: Model = from_value(&value()).unwrap();
    assert_eq!(model.owner, "team@example.com");
    assert_eq!(model.on_destroy, Policy::Retire);
    assert_eq!(model.days, Some(90));
    assert_eq!(model.id, None);
    assert_eq!(
        model.names.as_deref(),
        Some(&["a".to_string(), "b".to_string()][..])
    );
    assert!(model.later.is_unknown());
    let back = to_value(&model, &schema().value_type()).unwrap();
    assert_eq!(back, value());
    // The schema's set type makes a set, its map type a map: the codec accepts it.
    back.to_msgpack(&schema().value_type()).unwrap();
}

#[test]
fn null_in_a_required_field_names_the_attribute() {
    let owner = ValuePath::root().attribute("owner");
    let err = from_value::<Model>(&value().with_attr("owner", Value::Null)).unwrap_err();
    assert_eq!(err, ModelError::Null { path: owner });
    assert_eq!(err.to_string(), "owner is null but a value is needed");
    let d = err.to_diagnostic("x");
    assert_eq!(d.path, Some(AttributePath::attr("owner")));
}

#[test]
fn unknown_outside_field_is_an_error_not_a_default() {
    let days = ValuePath::root().attribute("days");
    let err = from_value::<Model>(&value().with_attr("days", Value::Unknown)).unwrap_err();
    assert_eq!(err, ModelError::Unknown { path: days });
    let v = value().with_attr("owner", Value::Unknown);
    assert!(matches!(
        from_value::<Model>(&v),
        Err(ModelError::Unknown { .. })
    ));
}

#[test]
fn field_keeps_null_unknown_and_known_apart() {
    for (v, expected) in [
        (Value::Null, Field::Null),
        (Value::Unknown, Field::Unknown),
        (Value::from("x"), Field::Known("x".to_string())),
    ] {
        let model: Model = from_value(&value().with_attr("later", v.clone())).unwrap();
        assert_eq!(model.later, expected);
        let back = to_value(&model, &schema().value_type()).unwrap();
        assert_eq!(back.attr("later"), &v);
    }
}

#[test]
fn errors_point_at_the_innermost_place() {
    let v = value().with_attr("tags", Value::map([("env", Value::from(1i64))]));
    let err = from_value::<Model>(&v).unwrap_err();
    assert_eq!(err.path(), &ValuePath::root().attribute("tags").key("env"));
    let v = value().with_attr("names", Value::set([Value::from("a"), Value::Null]));
    let err = from_value::<Model>(&v).unwrap_err();
    assert_eq!(
        err,
        ModelError::Null {
            path: ValuePath::root().attribute("names").index(1)
        }
    );
}

#[test]
fn an_enum_value_the_model_does_not_know_is_an_error_at_its_attribute() {
    let v = value().with_attr("on_destroy", Value::from("shred"));
    let err = from_value::<Model>(&v).unwrap_err();
    assert_eq!(err.path(), &ValuePath::root().attribute("on_destroy"));
    assert!(err.to_string().contains("shred"), "{err}");
}

#[test]
fn numbers_out_of_range_or_fractional_are_errors() {
    for n in [Value::from(-1i64), Value::from(1i64 << 40)] {
        let err = from_value::<Model>(&value().with_attr("days", n)).unwrap_err();
        assert_eq!(err.path(), &ValuePath::root().attribute("days"));
    }
    let half = Value::Number(crate::tfplugin::value::Number::from_f64(0.5).unwrap());
    assert!(from_value::<Model>(&value().with_attr("days", half)).is_err());
}

#[test]
fn conform_refuses_attributes_the_schema_lacks_and_kinds_that_do_not_fit() {
    #[derive(Serialize)]
    struct Extra {
        owner: String,
        color: String,
    }
    let ty = Type::object([("owner", Type::String)]);
    let err = to_value(
        &Extra {
            owner: "o".into(),
            color: "c".into(),
        },
        &ty,
    )
    .unwrap_err();
    assert_eq!(err.path(), &ValuePath::root().attribute("color"));
    #[derive(Serialize)]
    struct Wrong {
        owner: u32,
    }
    assert!(to_value(&Wrong { owner: 1 }, &ty).is_err());
    // Missing attributes become null.
    #[derive(Serialize)]
    struct Empty {}
    assert_eq!(
        to_value(&Empty {}, &ty).unwrap(),
        Value::object([("owner", Value::Null)])
    );
}

#[test]
fn check_model_finds_drift_between_model_and_schema() {
    check_model(&schema(), &Model::default()).unwrap();
    let missing = Schema::new(
        schema()
            .block
            .attribute(Attribute::optional("new", Type::Bool)),
    );
    let err = check_model(&missing, &Model::default()).unwrap_err();
    assert!(err.contains("only in the schema [new]"), "{err}");
    let mut fewer = schema();
    fewer.block.attributes.retain(|a| a.name != "days");
    let err = check_model(&fewer, &Model::default()).unwrap_err();
    assert!(err.contains("only in the model [days]"), "{err}");
    let mut retyped = schema();
    for a in &mut retyped.block.attributes {
        if a.name == "days" {
            a.ty = Type::String;
        }
    }
    let sample = Model {
        days: Some(1),
        ..Model::default()
    };
    assert!(check_model(&retyped, &sample).is_err());
}

/// What `Thing` keeps in private state: how often it was read.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
struct Seen {
    reads: u32,
}

/// A typed resource that records what it was given.
struct Thing;

#[async_trait]
impl Declared for Thing {
    fn type_name(&self) -> &'static str {
        "test_thing"
    }
    fn schema(&self) -> Schema {
        schema()
    }
}

impl ResourcePlan for Thing {}

fn no(detail: &str) -> Diagnostics {
    crate::tfplugin::Diagnostic::error("no", detail).into()
}

#[async_trait]
impl TypedResource for Thing {
    type Model = Model;
    type Private = Seen;
    async fn create(&self, call: &mut Call<Seen>, mut planned: Model) -> Outcome<Model> {
        if planned.owner == "fail" {
            return Err(no("failed"));
        }
        call.diags.warning("careful", "a warning");
        planned.id = Some(format!("id-of-{}", planned.owner));
        planned.later = Field::Known("set".into());
        Ok(planned)
    }
    async fn read(&self, call: &mut Call<Seen>, state: Model) -> Outcome<Option<Model>> {
        call.private.reads += 1;
        match state.owner.as_str() {
            "gone" => Ok(None),
            "broken" => Err(no("read failed")),
            _ => Ok(Some(state)),
        }
    }
    async fn update(&self, _: &mut Call<Seen>, _: Model, planned: Model) -> Outcome<Model> {
        Err(no(&format!("cannot become {}", planned.owner)))
    }
    async fn delete(&self, call: &mut Call<Seen>, _prior: Model) -> Outcome<()> {
        match call.private.reads {
            0 => Err(no("never read")),
            _ => Ok(()),
        }
    }
}

/// A typed data source that fills `id` from `owner`.
struct Lookup;

#[async_trait]
impl Declared for Lookup {
    fn schema(&self) -> Schema {
        schema()
    }
    async fn validate(&self, config: &Value) -> Diagnostics {
        match config.attr("owner").as_str() {
            Some("") => no("empty owner"),
            _ => Diagnostics::new(),
        }
    }
    fn type_name(&self) -> &'static str {
        "test_lookup"
    }
}

#[async_trait]
impl TypedDataSource for Lookup {
    type Model = Model;
    async fn read(&self, _: &mut Call<()>, mut config: Model) -> Outcome<Model> {
        if config.owner == "missing" {
            return Err(no("not found"));
        }
        config.id = Some(format!("found-{}", config.owner));
        config.later = Field::Known("l".into());
        Ok(config)
    }
}

#[tokio::test]
async fn a_typed_data_source_reads_its_model_and_fails_without_data() {
    let d = Typed(Lookup);
    let ctx = Ctx::default();
    let found = DataSource::read(&d, &ctx, &value()).await;
    assert_eq!(
        found.state.attr("id"),
        &Value::from("found-team@example.com")
    );
    assert!(found.diagnostics.is_empty());
    let missing = value().with_attr("owner", Value::from("missing"));
    let failed = DataSource::read(&d, &ctx, &missing).await;
    assert!(failed.state.is_null() && failed.diagnostics.has_errors());
    assert_eq!(d.type_name(), "test_lookup");
    let empty = value().with_attr("owner", Value::from(""));
    assert!(d.validate(&empty).await.has_errors());
    assert!(d.validate(&value()).await.is_empty());
}

#[tokio::test]
async fn the_adapter_fills_computed_unknowns_and_keeps_state_on_failure() {
    let r = Typed(Thing);
    let ctx = Ctx::default();
    let planned = value().with_attr("id", Value::Unknown);
    let created = r.create(&ctx, &planned, &Value::Null, &[]).await;
    assert_eq!(
        created.state.attr("id"),
        &Value::from("id-of-team@example.com")
    );
    assert_eq!(created.state.attr("later"), &Value::from("set"));
    assert_eq!(created.diagnostics.0.len(), 1);
    assert!(!created.diagnostics.has_errors());

    let failed = r
        .create(
            &ctx,
            &planned.clone().with_attr("owner", Value::from("fail")),
            &Value::Null,
            &[],
        )
        .await;
    assert!(failed.state.is_null());
    assert!(failed.diagnostics.has_errors());

    // An unknown in a non-computed attribute is refused, at its attribute.
    let bad = r
        .create(
            &ctx,
            &value().with_attr("owner", Value::Unknown),
            &Value::Null,
            &[],
        )
        .await;
    assert!(bad.diagnostics.has_errors());
    assert_eq!(
        bad.diagnostics.0[0].path,
        Some(AttributePath::attr("owner"))
    );

    let state = created.state.clone();
    let refreshed = r.read(&ctx, &state, &[]).await;
    assert_eq!(refreshed.state, state);
    let gone = r
        .read(
            &ctx,
            &state.clone().with_attr("owner", Value::from("gone")),
            &[],
        )
        .await;
    assert!(gone.state.is_null() && gone.diagnostics.is_empty());
    let broken_state = state.clone().with_attr("owner", Value::from("broken"));
    let broken = r.read(&ctx, &broken_state, &[]).await;
    assert_eq!(
        broken.state, broken_state,
        "a failed read keeps the prior state"
    );
    assert!(broken.diagnostics.has_errors());

    let updated = r
        .update(
            &ctx,
            &state,
            &state.clone().with_attr("owner", Value::from("x")),
            &Value::Null,
            &[],
        )
        .await;
    assert_eq!(
        updated.state, state,
        "a failed update keeps the prior state"
    );
    assert!(
        r.delete(&ctx, &state, &[]).await.has_errors(),
        "no private state: never read"
    );
    let private = refreshed.private.expect("a read stores its private state");
    assert_eq!(private, br#"{"reads":1}"#);
    assert!(r.delete(&ctx, &state, &private).await.is_empty());
    assert!(
        broken.private.is_none(),
        "a failed read keeps the private state Terraform sent"
    );
    let import = r.import(&ctx, "x").await;
    assert!(import.state.is_null() && import.diagnostics.has_errors());
}

#[tokio::test]
async fn private_state_reads_absent_or_garbage_bytes_as_the_default() {
    let r = Typed(Thing);
    let ctx = Ctx::default();
    let state = value()
        .with_attr("id", Value::from("x"))
        .with_attr("later", Value::from("l"));
    for sent in [&b""[..], b"not json", br#"{"reads":"many"}"#] {
        let read = r.read(&ctx, &state, sent).await;
        assert_eq!(read.private.as_deref(), Some(&br#"{"reads":1}"#[..]));
    }
    let twice = r.read(&ctx, &state, br#"{"reads":1}"#).await;
    assert_eq!(twice.private.as_deref(), Some(&br#"{"reads":2}"#[..]));
    // The default is stored as no bytes at all.
    let created = r.create(&ctx, &value(), &Value::Null, &[]).await;
    assert_eq!(created.private.as_deref(), Some(&b""[..]));
}

#[test]
fn enums_name_their_values_and_nulls_can_read_as_the_default() {
    assert_eq!(variants::<Policy>(), ["release", "retire"]);
    assert!(variants::<Model>().is_empty(), "a struct has no variants");
    assert_eq!(variant_name(&Policy::Retire), "retire");
    assert_eq!(plain_value(&Policy::Retire), Ok(Value::from("retire")));

    #[derive(Debug, Deserialize)]
    struct WithDefault {
        #[serde(deserialize_with = "null_as_default")]
        on_destroy: Policy,
    }
    let read = |v: Value| from_value::<WithDefault>(&Value::object([("on_destroy", v)]));
    assert_eq!(read(Value::Null).unwrap().on_destroy, Policy::Release);
    assert_eq!(
        read(Value::from("retire")).unwrap().on_destroy,
        Policy::Retire
    );
    assert!(matches!(
        read(Value::Unknown),
        Err(ModelError::Unknown { .. })
    ));
}
