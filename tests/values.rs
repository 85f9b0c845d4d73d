//! Tests of the cty value model and its msgpack/JSON codecs against the bytes
//! Terraform itself puts on the wire (written out by hand from the published
//! object wire format), plus hostile input.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rootmail::proto::tfplugin6::DynamicValue;
use rootmail::tfplugin::value::{Number, PathStep, Type, Value, ValueError, ValuePath, MAX_DEPTH};

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

// ---------------------------------------------------------------- round trips

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

// ------------------------------------------------ bytes as Terraform writes them

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

#[test]
fn decodes_and_encodes_terraforms_object_bytes() {
    let bytes = terraform_alias_bytes();
    let value = Value::from_msgpack(&alias_type(), &bytes).unwrap();
    assert!(value.attr("id").is_unknown());
    assert_eq!(value.attr("owner").as_str(), Some("a@b.c"));
    assert!(value.attr("purpose").is_null());
    assert_eq!(value.to_msgpack(&alias_type()).unwrap(), bytes);
}

#[test]
fn accepts_attributes_in_any_order_and_any_unknown_extension() {
    // Reversed order; the unknown as ext8 code 0 with an empty body; then as a refined
    // unknown (code 12, refinements {1: false} meaning "not null").
    for unknown in [
        &[0xc7u8, 0x00, 0x00][..],
        &[0xc7, 0x03, 0x0c, 0x81, 0x01, 0xc2],
        &[0xd5, 0x07, 1, 2],
    ] {
        let bytes = cat(&[
            &[0x83],
            &fixstr("purpose"),
            &[0xc0],
            &fixstr("owner"),
            &fixstr("a@b.c"),
            &fixstr("id"),
            unknown,
        ]);
        let value = Value::from_msgpack(&alias_type(), &bytes).unwrap();
        assert_eq!(
            value,
            Value::object([
                ("id", Value::Unknown),
                ("owner", "a@b.c".into()),
                ("purpose", Value::Null)
            ])
        );
    }
}

#[test]
fn decodes_and_encodes_terraforms_dynamic_bytes() {
    // A dynamic holding a string: [bin(`"string"`), "hi"].
    let bytes = cat(&[&[0x92, 0xc4, 0x08], b"\"string\"", &fixstr("hi")]);
    let value = Value::from_msgpack(&Type::Dynamic, &bytes).unwrap();
    assert_eq!(value, Value::string("hi"));
    assert_eq!(value.to_msgpack(&Type::Dynamic).unwrap(), bytes);

    // A dynamic holding a list of strings, with the type JSON sent as a str.
    let type_json = br#"["list","string"]"#;
    let bytes = cat(&[
        &[0x92, 0xa0 | type_json.len() as u8],
        type_json,
        &[0x92],
        &fixstr("a"),
        &[0xc0],
    ]);
    assert_eq!(
        Value::from_msgpack(&Type::Dynamic, &bytes).unwrap(),
        Value::list(["a".into(), Value::Null])
    );

    // Null and unknown dynamics are just nil and the extension.
    assert_eq!(
        Value::from_msgpack(&Type::Dynamic, &[0xc0]).unwrap(),
        Value::Null
    );
    assert_eq!(
        Value::from_msgpack(&Type::Dynamic, &[0xd4, 0, 0]).unwrap(),
        Value::Unknown
    );
    assert_eq!(
        Value::Unknown.to_msgpack(&Type::Dynamic).unwrap(),
        vec![0xd4, 0, 0]
    );
    // A known type around an unknown value.
    let bytes = cat(&[&[0x92, 0xc4, 0x08], b"\"number\"", &[0xd4, 0, 0]]);
    assert_eq!(
        Value::from_msgpack(&Type::Dynamic, &bytes).unwrap(),
        Value::Unknown
    );
}

#[test]
fn decodes_every_msgpack_number_form() {
    let n = |bytes: &[u8]| Value::from_msgpack(&Type::Number, bytes).unwrap();
    assert_eq!(n(&[0x2a]), Value::from(42));
    assert_eq!(n(&[0xff]), Value::from(-1));
    assert_eq!(n(&[0xd0, 0xdf]), Value::from(-33));
    assert_eq!(n(&[0xcd, 0x01, 0x00]), Value::from(256));
    assert_eq!(n(&[0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]), Value::from(i64::MIN));
    assert_eq!(
        n(&[0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0]),
        num("9223372036854775808")
    );
    assert_eq!(n(&[0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]), num("1.5"));
    assert_eq!(n(&[0xca, 0x3f, 0xc0, 0, 0]), num("1.5"));
    // cty sends numbers no i64 or f64 holds as decimal strings.
    let big = "12345678901234567890.5";
    let bytes = cat(&[&[0xb6], big.as_bytes()]);
    assert_eq!(n(&bytes), num(big));
    assert_eq!(num(big).to_msgpack(&Type::Number).unwrap(), bytes);
    assert_eq!(n(&cat(&[&[0xa2], b"-7"])), Value::from(-7));
    assert_eq!(n(&cat(&[&[0xa4], b"1e+3"])), Value::from(1000));
}

/// Whole numbers go out as decimal text, the form Terraform reads its state file
/// in: Terraform 1.10-1.14 compare a refreshed state with the one from disk
/// precision and all, and a msgpack integer (64-bit) never equals the same number
/// parsed from text (512-bit), so `plan -refresh-only -detailed-exitcode` said 2.
#[test]
fn encodes_whole_numbers_as_the_text_terraforms_state_holds() {
    let enc = |v: Value| v.to_msgpack(&Type::Number).unwrap();
    assert_eq!(enc(Value::from(42)), cat(&[&[0xa2], b"42"]));
    assert_eq!(enc(Value::from(-1)), cat(&[&[0xa2], b"-1"]));
    assert_eq!(enc(Value::from(90)), cat(&[&[0xa2], b"90"]));
    assert_eq!(enc(num("1e+3")), cat(&[&[0xa4], b"1000"]));
    // A float Terraform sent (it sends one only when an f64 holds it exactly)
    // goes back as that float: its shortest text could name another number.
    assert_eq!(
        enc(Value::Number(Number::from_f64(1.5).unwrap())),
        vec![0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]
    );
    // Above i64::MAX cty would misread a uint64, so it goes out as text.
    assert_eq!(
        enc(Value::from(u64::MAX)),
        cat(&[&[0xb4], b"18446744073709551615"])
    );
}

#[test]
fn encodes_absent_object_attributes_as_null() {
    let value = Value::object([("owner", "a@b.c".into())]);
    let bytes = value.to_msgpack(&alias_type()).unwrap();
    let expected = cat(&[
        &[0x83],
        &fixstr("id"),
        &[0xc0],
        &fixstr("owner"),
        &fixstr("a@b.c"),
        &fixstr("purpose"),
        &[0xc0],
    ]);
    assert_eq!(bytes, expected);
}

// ------------------------------------------------------------------------ JSON

#[test]
fn decodes_state_json() {
    let ty = Type::object([
        ("id", Type::String),
        ("count", Type::Number),
        ("ratio", Type::Number),
        ("tags", Type::map(Type::String)),
        ("flags", Type::set(Type::Bool)),
        ("purpose", Type::String),
        ("extra", Type::Dynamic),
    ]);
    let json = br#" {
        "id": "x", "count": 123456789012345678901234567890, "ratio": 0.1,
        "tags": {"env": "prod"}, "flags": [true, false],
        "extra": {"type": ["list", "number"], "value": [1, 2.5]}
    } "#;
    let value = Value::from_json(&ty, json).unwrap();
    assert_eq!(value.attr("id").as_str(), Some("x"));
    assert_eq!(value.attr("count"), &num("123456789012345678901234567890"));
    assert_eq!(value.attr("ratio"), &num("0.1"));
    assert_eq!(value.attr("tags"), &Value::map([("env", "prod".into())]));
    assert_eq!(
        value.attr("flags"),
        &Value::set([false.into(), true.into()])
    );
    // Absent attributes read as null, as Terraform's own decoder does.
    assert!(value.attr("purpose").is_null());
    assert_eq!(value.attr("extra"), &Value::list([1.into(), num("2.5")]));

    let written = String::from_utf8(value.to_json(&ty).unwrap()).unwrap();
    assert_eq!(
        written,
        r#"{"count":123456789012345678901234567890,"extra":{"value":[1,2.5],"type":["list","number"]},"flags":[true,false],"id":"x","purpose":null,"ratio":0.1,"tags":{"env":"prod"}}"#
    );
}

#[test]
fn json_dynamic_accepts_either_key_order_and_null() {
    let a = Value::from_json(&Type::Dynamic, br#"{"value":"x","type":"string"}"#).unwrap();
    let b = Value::from_json(&Type::Dynamic, br#"{"type":"string","value":"x"}"#).unwrap();
    assert_eq!(a, Value::string("x"));
    assert_eq!(a, b);
    assert_eq!(
        Value::from_json(&Type::Dynamic, b"null").unwrap(),
        Value::Null
    );
    let null_inside =
        Value::from_json(&Type::Dynamic, br#"{"type":"number","value":null}"#).unwrap();
    assert_eq!(null_inside, Value::Null);
    assert_eq!(
        Value::string("x").to_json(&Type::Dynamic).unwrap(),
        br#"{"value":"x","type":"string"}"#
    );
}

#[test]
fn json_refuses_unknowns_and_infinities() {
    let err = Value::object([("id", Value::Unknown)])
        .to_json(&alias_type())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "at .id: an unknown value cannot be written as JSON"
    );
    let inf = Value::Number(Number::from_f64(f64::NEG_INFINITY).unwrap());
    assert!(inf.to_json(&Type::Number).is_err());
}

#[test]
fn json_numbers_keep_their_exact_text() {
    for text in [
        "0",
        "-5",
        "18446744073709551616",
        "0.1",
        "1e-7",
        "1.5e300",
        "-1e400",
    ] {
        let value = Value::from_json(&Type::Number, text.as_bytes()).unwrap();
        assert_eq!(
            String::from_utf8(value.to_json(&Type::Number).unwrap()).unwrap(),
            text
        );
    }
    // Other spellings come back in canonical form.
    let value = Value::from_json(&Type::Number, b"1.50E2").unwrap();
    assert_eq!(value, Value::from(150));
}

// ------------------------------------------------------------------ type JSON

#[test]
fn type_json_round_trips() {
    let types = [
        (Type::Bool, r#""bool""#),
        (Type::Number, r#""number""#),
        (Type::String, r#""string""#),
        (Type::Dynamic, r#""dynamic""#),
        (Type::list(Type::String), r#"["list","string"]"#),
        (
            Type::set(Type::list(Type::Number)),
            r#"["set",["list","number"]]"#,
        ),
        (Type::map(Type::Bool), r#"["map","bool"]"#),
        (
            Type::object([("b", Type::list(Type::String)), ("a", Type::Bool)]),
            r#"["object",{"a":"bool","b":["list","string"]}]"#,
        ),
        (
            Type::object(Vec::<(String, Type)>::new()),
            r#"["object",{}]"#,
        ),
        (
            Type::tuple([Type::String, Type::Dynamic]),
            r#"["tuple",["string","dynamic"]]"#,
        ),
        (Type::tuple([]), r#"["tuple",[]]"#),
    ];
    for (ty, json) in types {
        assert_eq!(String::from_utf8(ty.to_json_bytes()).unwrap(), json);
        assert_eq!(Type::from_json_bytes(json.as_bytes()).unwrap(), ty);
        assert_eq!(Type::from_json(&ty.to_json()).unwrap(), ty);
    }
}

#[test]
fn type_json_accepts_optional_attribute_markers() {
    let ty = Type::from_json_bytes(br#"["object",{"a":"string","b":"number"},["b"]]"#).unwrap();
    assert_eq!(ty, Type::object([("a", Type::String), ("b", Type::Number)]));
}

#[test]
fn type_json_rejects_nonsense() {
    for bad in [
        r#""strin""#,
        r#"["list"]"#,
        r#"["list","string","x"]"#,
        r#"["object",[]]"#,
        r#"["tuple",{}]"#,
        r#"["capsule","x"]"#,
        r#"5"#,
        r#"[]"#,
        r#"{"list":"string"}"#,
        r#"["list""#,
    ] {
        let err = Type::from_json_bytes(bad.as_bytes()).unwrap_err();
        assert!(matches!(err, ValueError::Type(_)), "{bad}: {err:?}");
    }
    let deep = format!("{}\"string\"{}", "[\"list\",".repeat(100), "]".repeat(100));
    assert!(Type::from_json_bytes(deep.as_bytes()).is_err());
}

#[test]
fn type_display_is_friendly() {
    assert_eq!(Type::String.to_string(), "string");
    assert_eq!(Type::list(Type::String).to_string(), "list of string");
    assert_eq!(
        Type::set(Type::map(Type::Number)).to_string(),
        "set of map of number"
    );
    assert_eq!(alias_type().to_string(), "object");
    assert_eq!(Type::tuple([]).to_string(), "tuple");
    assert_eq!(Type::Dynamic.to_string(), "dynamic");
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

// --------------------------------------------------------------- hostile input

#[test]
fn wrong_types_name_the_place() {
    let bytes = cat(&[
        &[0x83],
        &fixstr("id"),
        &[0xc0],
        &fixstr("owner"),
        &[0x05],
        &fixstr("purpose"),
        &[0xc0],
    ]);
    let err = Value::from_msgpack(&alias_type(), &bytes).unwrap_err();
    assert_eq!(err.to_string(), "at .owner: expected string, found integer");
    assert_eq!(err.path(), Some(&ValuePath::root().attribute("owner")));

    let ty = Type::object([("tags", Type::map(Type::list(Type::Bool)))]);
    let json = br#"{"tags": {"env": [true, "yes"]}}"#;
    let err = Value::from_json(&ty, json).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"at .tags["env"][1]: expected bool, found string"#
    );
    assert_eq!(
        err.path().unwrap().steps,
        vec![
            PathStep::Attribute("tags".into()),
            PathStep::Key("env".into()),
            PathStep::Index(1)
        ]
    );

    let err = Value::string("x").to_msgpack(&Type::Number).unwrap_err();
    assert_eq!(err.to_string(), "expected number, found string");
    let err = Value::object([("tags", Value::list([]))])
        .to_json(&ty)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "at .tags: expected map of list of bool, found list"
    );
}

#[test]
fn object_shape_errors() {
    let ty = alias_type();
    let missing = cat(&[&[0x82], &fixstr("id"), &[0xc0], &fixstr("owner"), &[0xc0]]);
    assert_eq!(
        Value::from_msgpack(&ty, &missing).unwrap_err().to_string(),
        r#"missing attribute "purpose""#
    );
    let extra = cat(&[&terraform_alias_bytes()[..], &[]]);
    let mut extra = extra;
    extra[0] = 0x84;
    extra.extend(fixstr("color"));
    extra.push(0xc0);
    assert_eq!(
        Value::from_msgpack(&ty, &extra).unwrap_err().to_string(),
        r#"unsupported attribute "color""#
    );
    let twice = cat(&[
        &[0x83],
        &fixstr("id"),
        &[0xc0],
        &fixstr("id"),
        &[0xc0],
        &fixstr("owner"),
        &[0xc0],
    ]);
    assert_eq!(
        Value::from_msgpack(&ty, &twice).unwrap_err().to_string(),
        "at .id: attribute given twice"
    );
    let int_key = cat(&[&[0x81, 0x01, 0xc0]]);
    assert!(Value::from_msgpack(&ty, &int_key).is_err());
    assert!(Value::from_json(&ty, br#"{"color": 1}"#).is_err());
    assert!(Value::from_json(&ty, br#"{"id": "a", "id": "b"}"#).is_err());
    assert!(Value::object([("color", 1.into())])
        .to_msgpack(&ty)
        .is_err());
}

#[test]
fn tuple_and_dynamic_shape_errors() {
    let ty = Type::tuple([Type::String, Type::String]);
    assert!(Value::from_msgpack(&ty, &cat(&[&[0x91], &fixstr("a")])).is_err());
    assert!(Value::from_json(&ty, br#"["a"]"#).is_err());
    assert!(Value::from_json(&ty, br#"["a","b","c"]"#).is_err());
    assert!(Value::tuple(["a".into()]).to_msgpack(&ty).is_err());

    let d = Type::Dynamic;
    assert!(Value::from_msgpack(&d, &[0x91, 0xc0]).is_err());
    assert!(Value::from_msgpack(&d, &fixstr("bare")).is_err());
    let bad_type = cat(&[&[0x92, 0xc4, 0x05], b"\"foo\"", &[0xc0]]);
    let err = Value::from_msgpack(&d, &bad_type).unwrap_err();
    assert!(err.to_string().contains("unknown primitive type"), "{err}");
    let mismatch = cat(&[&[0x92, 0xc4, 0x08], b"\"number\"", &fixstr("x")]);
    assert!(Value::from_msgpack(&d, &mismatch).is_err());
    assert!(Value::from_json(&d, br#"{"value":1}"#).is_err());
    assert!(Value::from_json(&d, br#"{"type":"number","value":1,"x":2}"#).is_err());
    assert!(Value::from_json(&d, br#""bare""#).is_err());
    assert!(Value::from_json(&d, br#"{"type":"number","value":"1"}"#).is_err());
}

#[test]
fn malformed_bytes_are_errors() {
    let ty = alias_type();
    let bytes = terraform_alias_bytes();
    for cut in 0..bytes.len() {
        let err = Value::from_msgpack(&ty, &bytes[..cut]).unwrap_err();
        assert!(matches!(err, ValueError::Msgpack(_)), "cut at {cut}: {err}");
    }
    let mut trailing = bytes.clone();
    trailing.push(0xc0);
    assert!(matches!(
        Value::from_msgpack(&ty, &trailing),
        Err(ValueError::Msgpack(_))
    ));
    assert_eq!(
        Value::from_msgpack(&Type::String, &[0xa2, 0xff, 0xfe])
            .unwrap_err()
            .to_string(),
        "string is not valid UTF-8"
    );
    assert!(Value::from_msgpack(&Type::Number, &cat(&[&[0xa3], b"abc"])).is_err());
    assert!(Value::from_msgpack(&Type::Number, &[0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1]).is_err()); // NaN
                                                                                                 // An array claiming four billion elements must fail fast, not allocate.
    assert!(
        Value::from_msgpack(&Type::list(Type::String), &[0xdd, 0xff, 0xff, 0xff, 0xff]).is_err()
    );

    let json = br#"{"id":"x","owner":"#;
    assert!(matches!(
        Value::from_json(&ty, json),
        Err(ValueError::Json(_))
    ));
    assert!(Value::from_json(&ty, b"{} x").is_err());
    assert!(Value::from_json(&ty, b"").is_err());
    assert!(Value::from_json(&Type::Number, b"\"12\"").is_err());
    assert!(Value::from_json(&Type::Number, b"[1]").is_err());
}

fn nested_list_type(levels: usize) -> Type {
    (0..levels).fold(Type::String, |t, _| Type::list(t))
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    // Within the limit is fine.
    let ok_type = nested_list_type(MAX_DEPTH - 1);
    let mut ok_bytes = vec![0x91; MAX_DEPTH - 1];
    ok_bytes.extend(fixstr("leaf"));
    assert!(Value::from_msgpack(&ok_type, &ok_bytes).is_ok());

    // Typed nesting beyond the limit.
    let deep_type = nested_list_type(200);
    let mut deep_bytes = vec![0x91; 200];
    deep_bytes.extend(fixstr("leaf"));
    let err = Value::from_msgpack(&deep_type, &deep_bytes).unwrap_err();
    assert!(err.to_string().contains("levels deep"), "{err}");
    let deep_json = format!("{}\"leaf\"{}", "[".repeat(200), "]".repeat(200));
    assert!(Value::from_json(&deep_type, deep_json.as_bytes()).is_err());

    // Untyped nesting: a million-level array and dynamics that wrap dynamics.
    let mut huge = vec![0x91; 1_000_000];
    huge.push(0xc0);
    for ty in [Type::Dynamic, Type::list(Type::String)] {
        assert!(Value::from_msgpack(&ty, &huge).is_err());
    }
    let mut wrapped = Vec::new();
    for _ in 0..5000 {
        wrapped.extend([0x92, 0xc4, 0x09]);
        wrapped.extend(b"\"dynamic\"");
    }
    wrapped.push(0xc0);
    assert!(Value::from_msgpack(&Type::Dynamic, &wrapped).is_err());
    let nested_json = format!(
        "{}null{}",
        r#"{"type":"dynamic","value":"#.repeat(5000),
        "}".repeat(5000)
    );
    assert!(Value::from_json(&Type::Dynamic, nested_json.as_bytes()).is_err());
    let huge_json = "[".repeat(1_000_000);
    assert!(Value::from_json(&Type::Dynamic, huge_json.as_bytes()).is_err());
    assert!(Value::from_json(&Type::Number, huge_json.as_bytes()).is_err());

    // Encoding refuses too-deep values instead of recursing without end.
    let deep_value = (0..200).fold(Value::string("leaf"), |v, _| Value::list([v]));
    assert!(deep_value.to_msgpack(&deep_type).is_err());
    assert!(deep_value.to_json(&deep_type).is_err());
    assert!(deep_value.to_msgpack(&Type::Dynamic).is_err());
}

#[test]
fn random_and_mutated_input_never_panics() {
    let mut rng = StdRng::seed_from_u64(0x5eed_cafe);
    let types = [
        alias_type(),
        Type::Dynamic,
        Type::list(Type::Dynamic),
        Type::map(Type::Number),
        Type::tuple([Type::Bool, Type::set(Type::String)]),
    ];
    let sample = Value::object([
        (
            "anything",
            Value::map([("k", Value::list([1.into(), num("1e40")]))]),
        ),
        ("name", "ü".into()),
    ]);
    let sample_type = Type::object([("anything", Type::Dynamic), ("name", Type::String)]);
    let valid_msgpack = sample.to_msgpack(&sample_type).unwrap();
    let valid_json = sample.to_json(&sample_type).unwrap();
    let mut decoded = 0;
    for _ in 0..4000 {
        let len = rng.random_range(0..48);
        let noise: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        for ty in &types {
            let _ = Value::from_msgpack(ty, &noise);
            let _ = Value::from_json(ty, &noise);
        }
        // Flip a few bytes of valid encodings to get deeper than pure noise does.
        for (valid, is_json) in [(&valid_msgpack, false), (&valid_json, true)] {
            let mut mutated = valid.clone();
            for _ in 0..rng.random_range(1..4) {
                let i = rng.random_range(0..mutated.len());
                mutated[i] = rng.random();
            }
            let result = if is_json {
                Value::from_json(&sample_type, &mutated)
            } else {
                Value::from_msgpack(&sample_type, &mutated)
            };
            if let Ok(v) = result {
                decoded += 1;
                // Whatever decodes must encode again.
                let _ = v.to_msgpack(&sample_type);
            }
        }
    }
    assert!(
        decoded > 0,
        "no mutation decoded: the loop is not exercising the decoders"
    );
}
