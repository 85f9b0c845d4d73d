//! Hostile input: wrong types and shapes name the place, malformed bytes are
//! errors, deep nesting is refused, and random input never panics.

use super::*;

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
