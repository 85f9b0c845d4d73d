//! Tests of the cty value model and its msgpack/JSON codecs against the bytes
//! Terraform itself puts on the wire (written out by hand from the published
//! object wire format), plus hostile input.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rootmail::proto::tfplugin6::DynamicValue;
use rootmail::tfplugin::value::{Number, PathStep, Type, Value, ValueError, ValuePath, MAX_DEPTH};

mod hostile;
mod json;
mod round_trips;
mod wire;

fn num(text: &str) -> Value {
    Value::Number(text.parse::<Number>().unwrap())
}

/// msgpack for a fixstr of at most 31 bytes.
fn fixstr(s: &str) -> Vec<u8> {
    assert!(s.len() < 32);
    let mut out = vec![0xa0 | s.len() as u8];
    out.extend_from_slice(s.as_bytes());
    out
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn roundtrip_msgpack(ty: &Type, value: &Value) {
    let bytes = value
        .to_msgpack(ty)
        .unwrap_or_else(|e| panic!("encode {value:?} as {ty}: {e}"));
    let back =
        Value::from_msgpack(ty, &bytes).unwrap_or_else(|e| panic!("decode {value:?} as {ty}: {e}"));
    assert_eq!(&back, value, "msgpack round trip of {ty}");
    // Re-encoding what we decoded gives the same bytes: nothing drifts.
    assert_eq!(back.to_msgpack(ty).unwrap(), bytes);
}

fn roundtrip_json(ty: &Type, value: &Value) {
    let bytes = value
        .to_json(ty)
        .unwrap_or_else(|e| panic!("encode {value:?} as {ty}: {e}"));
    let back = Value::from_json(ty, &bytes)
        .unwrap_or_else(|e| panic!("decode {} as {ty}: {e}", String::from_utf8_lossy(&bytes)));
    assert_eq!(&back, value, "JSON round trip of {ty}");
    assert_eq!(back.to_json(ty).unwrap(), bytes);
}

fn roundtrip_both(ty: &Type, value: &Value) {
    roundtrip_msgpack(ty, value);
    roundtrip_json(ty, value);
}

fn alias_type() -> Type {
    Type::object([
        ("id", Type::String),
        ("owner", Type::String),
        ("purpose", Type::String),
    ])
}

/// The object Terraform sends for a planned alias: attributes in name order,
/// `id` unknown (fixext1, code 0, one zero byte), `purpose` null.
fn terraform_alias_bytes() -> Vec<u8> {
    cat(&[
        &[0x83],
        &fixstr("id"),
        &[0xd4, 0x00, 0x00],
        &fixstr("owner"),
        &fixstr("a@b.c"),
        &fixstr("purpose"),
        &[0xc0],
    ])
}

// ----------------------------------------------------------------- conveniences

#[test]
fn accessors_and_builders() {
    let mut v = Value::object([
        ("name", "n".into()),
        ("count", 3.into()),
        ("on", true.into()),
    ]);
    assert_eq!(v.attr("name").as_str(), Some("n"));
    assert_eq!(v.attr("count").as_i64(), Some(3));
    assert_eq!(v.attr("on").as_bool(), Some(true));
    assert!(v.attr("missing").is_null());
    assert!(v.attr("name").attr("deeper").is_null());
    assert_eq!(v.attr("name").as_i64(), None);

    v.set_attr("name", "m");
    *v.attr_mut("count").unwrap() = Value::from(Some(4));
    assert_eq!(v.attr("name"), &Value::string("m"));
    assert_eq!(v.attr("count").as_i64(), Some(4));
    assert!(v.attr_mut("missing").is_none());

    let mut n = Value::Null;
    n.set_attr("a", None::<String>);
    assert_eq!(n, Value::object([("a", Value::Null)]));
    assert_eq!(
        Value::Unknown.with_attr("x", 1),
        Value::object([("x", 1.into())])
    );
    assert_eq!(
        Value::object_of_nulls(&alias_type())
            .as_entries()
            .map(|e| e.len()),
        Some(3)
    );
    assert_eq!(Value::null_of(&Type::String), Value::Null);
    assert_eq!(
        Value::list(["a".into()]).as_elements().map(<[Value]>::len),
        Some(1)
    );
    assert!(Value::Unknown.is_unknown() && !Value::Unknown.is_known() && !Value::Null.is_unknown());
}

#[test]
fn equality_is_semantic_for_sets_and_numbers() {
    assert_eq!(
        Value::set([1.into(), 2.into()]),
        Value::set([2.into(), 1.into()])
    );
    assert_ne!(
        Value::set([1.into(), 1.into()]),
        Value::set([1.into(), 2.into()])
    );
    assert_ne!(
        Value::list([1.into(), 2.into()]),
        Value::list([2.into(), 1.into()])
    );
    assert_eq!(
        Value::from(2),
        Value::Number(Number::from_f64(2.0).unwrap())
    );
    assert_ne!(Value::list([]), Value::set([]));
}

#[test]
fn infers_types_for_dynamic_slots() {
    let v = Value::list([
        Value::object([("a", Value::Null), ("b", 1.into())]),
        Value::object([("a", "x".into()), ("b", Value::Unknown)]),
    ]);
    assert_eq!(
        v.infer_type().unwrap(),
        Type::list(Type::object([("a", Type::String), ("b", Type::Number)]))
    );
    let mixed = Value::object([("l", Value::list(["a".into(), 1.into()]))]);
    let err = mixed.to_msgpack(&Type::Dynamic).unwrap_err();
    assert_eq!(
        err.to_string(),
        "at .l[1]: elements differ in type (string and number)"
    );
}
