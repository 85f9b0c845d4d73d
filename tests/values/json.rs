//! State JSON and type JSON: what Terraform writes is read, nonsense refused.

use super::*;

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
