//! The msgpack bytes as Terraform writes them, decoded and written back alike.

use super::*;

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
