//! Values of every type through msgpack and JSON and back unchanged, unknowns
//! and nulls included.

use super::*;

#[test]
fn primitives_round_trip() {
    for ty in [Type::Bool, Type::Number, Type::String, Type::Dynamic] {
        roundtrip_both(&ty, &Value::Null);
        roundtrip_msgpack(&ty, &Value::Unknown);
    }
    roundtrip_both(&Type::Bool, &Value::Bool(true));
    roundtrip_both(&Type::Bool, &Value::Bool(false));
    for s in [
        "",
        "plain",
        "ünïcødé ✉ 日本語 🦀",
        "quote \" backslash \\ newline \n tab \t nul \0",
    ] {
        roundtrip_both(&Type::String, &Value::string(s));
    }
    let long = "x".repeat(70_000);
    roundtrip_both(&Type::String, &Value::string(long));
}

#[test]
fn numbers_round_trip() {
    let texts = [
        "0",
        "1",
        "-1",
        "127",
        "-32",
        "-33",
        "255",
        "65536",
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",  // 2^63
        "18446744073709551616", // 2^64
        "-123456789012345678901234567890",
        "0.5",
        "-2.5e-10",
        "3.14159265358979323846264338327950288419716939937510",
        "1e400",
    ];
    for t in texts {
        roundtrip_both(&Type::Number, &num(t));
    }
    for f in [
        1.5,
        -0.1,
        1e300,
        f64::MIN_POSITIVE,
        2f64.powi(63),
        -2f64.powi(70),
    ] {
        roundtrip_both(&Type::Number, &Value::Number(Number::from_f64(f).unwrap()));
    }
    roundtrip_msgpack(
        &Type::Number,
        &Value::Number(Number::from_f64(f64::INFINITY).unwrap()),
    );
    roundtrip_both(&Type::Number, &Value::from(u64::MAX));
    roundtrip_both(&Type::Number, &Value::from(i64::MIN));
}

#[test]
fn collections_round_trip() {
    let strings = Type::list(Type::String);
    roundtrip_both(&strings, &Value::list([]));
    roundtrip_both(
        &strings,
        &Value::list(["a".into(), Value::Null, "c".into()]),
    );
    roundtrip_msgpack(&strings, &Value::list(["a".into(), Value::Unknown]));

    let set = Type::set(Type::Number);
    roundtrip_both(&set, &Value::set([1.into(), 2.into(), num("1e30")]));
    roundtrip_msgpack(&set, &Value::set([Value::Unknown, 3.into()]));

    let map = Type::map(Type::Bool);
    roundtrip_both(
        &map,
        &Value::map([("a", true.into()), ("", false.into()), ("ü", Value::Null)]),
    );
    roundtrip_msgpack(&map, &Value::map([("later", Value::Unknown)]));

    let tuple = Type::tuple([Type::String, Type::Number, Type::list(Type::Bool)]);
    roundtrip_both(
        &tuple,
        &Value::tuple(["x".into(), 7.into(), Value::list([true.into()])]),
    );
    roundtrip_msgpack(
        &tuple,
        &Value::tuple([Value::Unknown, Value::Null, Value::Unknown]),
    );
    roundtrip_both(&Type::tuple([]), &Value::tuple([]));
}

#[test]
fn objects_round_trip_with_nested_nulls_and_unknowns() {
    let ty = Type::object([
        ("id", Type::String),
        ("tags", Type::map(Type::String)),
        ("ports", Type::list(Type::Number)),
        (
            "nested",
            Type::list(Type::object([
                ("name", Type::String),
                ("enabled", Type::Bool),
            ])),
        ),
    ]);
    let known = Value::object([
        ("id", "abc".into()),
        ("tags", Value::map([("env", "prod".into())])),
        ("ports", Value::list([80.into(), 443.into()])),
        (
            "nested",
            Value::list([Value::object([
                ("name", "one".into()),
                ("enabled", Value::Null),
            ])]),
        ),
    ]);
    roundtrip_both(&ty, &known);

    let partly_unknown = Value::object([
        ("id", Value::Unknown),
        ("tags", Value::map([("env", Value::Unknown)])),
        ("ports", Value::list([Value::Unknown, 443.into()])),
        (
            "nested",
            Value::list([Value::object([
                ("name", Value::Unknown),
                ("enabled", true.into()),
            ])]),
        ),
    ]);
    roundtrip_msgpack(&ty, &partly_unknown);
    assert!(partly_unknown.is_known());
    assert!(!partly_unknown.is_fully_known());
    assert!(known.is_fully_known());
    roundtrip_both(&ty, &Value::Null);
}

#[test]
fn dynamic_values_round_trip() {
    let dynamic = Type::Dynamic;
    for value in [
        Value::string("text"),
        Value::from(12),
        num("123456789012345678901234567890"),
        Value::Bool(true),
        Value::list(["a".into(), Value::Null]),
        Value::set([1.into()]),
        Value::map([("k", Value::list([]))]),
        Value::object([
            ("a", "x".into()),
            ("b", Value::tuple([1.into(), "y".into()])),
        ]),
        Value::tuple([]),
    ] {
        roundtrip_both(&dynamic, &value);
    }
    roundtrip_msgpack(&dynamic, &Value::object([("later", Value::Unknown)]));
    let holder = Type::object([
        ("anything", Type::Dynamic),
        ("many", Type::list(Type::Dynamic)),
    ]);
    roundtrip_both(
        &holder,
        &Value::object([
            ("anything", Value::map([("a", 1.into())])),
            ("many", Value::list(["s".into(), 2.into(), Value::Null])),
        ]),
    );
}

#[test]
fn dynamic_value_round_trip_through_dynamic_value_message() {
    let ty = alias_type();
    let value = Value::object([
        ("id", Value::Unknown),
        ("owner", "a@b.c".into()),
        ("purpose", Value::Null),
    ]);
    let dv = value.to_dynamic(&ty).unwrap();
    assert!(dv.json.is_empty());
    assert_eq!(Value::from_dynamic(&ty, &dv).unwrap(), value);

    let as_json = DynamicValue {
        msgpack: Vec::new(),
        json: br#"{"id":"x","owner":"o","purpose":"p"}"#.to_vec(),
    };
    assert_eq!(
        Value::from_dynamic(&ty, &as_json).unwrap(),
        Value::object([
            ("id", "x".into()),
            ("owner", "o".into()),
            ("purpose", "p".into())
        ])
    );
    assert_eq!(
        Value::from_dynamic(&ty, &DynamicValue::default()).unwrap(),
        Value::Null
    );
}
