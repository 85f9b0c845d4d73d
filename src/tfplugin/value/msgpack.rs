//! The msgpack codec: Terraform's main encoding of values on the wire.
//!
//! Bytes are first read into an `rmpv` tree (which bounds nesting and never
//! preallocates from untrusted lengths), then matched against the schema type.

use std::collections::BTreeMap;

use super::infer::infer_at;
use super::{value_kind, Number, PathStep, Type, Value, ValueError, MAX_DEPTH};

/// cty writes an unknown as extension 0 with a single zero byte (fixext1).
const UNKNOWN_EXT: i8 = 0;

pub(super) fn decode(ty: &Type, bytes: &[u8]) -> Result<Value, ValueError> {
    let mut rest = bytes;
    // rmpv spends up to three levels of its budget per container level (value, body,
    // string data), and a dynamic value adds a wrapper array: leave room for both.
    let raw = rmpv::decode::read_value_with_max_depth(&mut rest, 4 * MAX_DEPTH + 8)
        .map_err(read_error)?;
    if !rest.is_empty() {
        return Err(ValueError::Msgpack(format!(
            "{} unexpected bytes after the value",
            rest.len()
        )));
    }
    from_raw(ty, raw, &mut Vec::new(), 0)
}

fn read_error(e: rmpv::decode::Error) -> ValueError {
    use rmpv::decode::Error as E;
    ValueError::Msgpack(match e {
        E::InvalidMarkerRead(io) | E::InvalidDataRead(io)
            if io.kind() == std::io::ErrorKind::UnexpectedEof =>
        {
            "input ends in the middle of a value".to_owned()
        }
        E::DepthLimitExceeded => format!("value nests more than {MAX_DEPTH} levels deep"),
        other => other.to_string(),
    })
}

fn kind(raw: &rmpv::Value) -> &'static str {
    match raw {
        rmpv::Value::Nil => "null",
        rmpv::Value::Boolean(_) => "bool",
        rmpv::Value::Integer(_) => "integer",
        rmpv::Value::F32(_) | rmpv::Value::F64(_) => "float",
        rmpv::Value::String(_) => "string",
        rmpv::Value::Binary(_) => "binary",
        rmpv::Value::Array(_) => "array",
        rmpv::Value::Map(_) => "map",
        rmpv::Value::Ext(..) => "extension",
    }
}

fn expected(path: &[PathStep], what: impl std::fmt::Display, raw: &rmpv::Value) -> ValueError {
    ValueError::mismatch(path, format!("expected {what}, found {}", kind(raw)))
}

/// The text of a msgpack string, or an error naming the place.
fn text(path: &[PathStep], s: rmpv::Utf8String) -> Result<String, ValueError> {
    s.into_str()
        .ok_or_else(|| ValueError::mismatch(path, "string is not valid UTF-8"))
}

/// Matches one decoded msgpack value against `ty`. `depth` counts every nesting level,
/// including dynamic wrappers that add no step to the path.
fn from_raw(
    ty: &Type,
    raw: rmpv::Value,
    path: &mut Vec<PathStep>,
    depth: usize,
) -> Result<Value, ValueError> {
    use rmpv::Value as R;
    if depth > MAX_DEPTH {
        return Err(ValueError::too_deep(path));
    }
    match raw {
        R::Nil => return Ok(Value::Null),
        // Any extension code is an unknown; code 12 adds refinements, which we may ignore.
        R::Ext(..) => return Ok(Value::Unknown),
        _ => {}
    }
    match ty {
        Type::Bool => match raw {
            R::Boolean(b) => Ok(Value::Bool(b)),
            other => Err(expected(path, ty, &other)),
        },
        Type::Number => number(path, raw).map(Value::Number),
        Type::String => match raw {
            R::String(s) => text(path, s).map(Value::String),
            other => Err(expected(path, ty, &other)),
        },
        Type::List(element) | Type::Set(element) => {
            let R::Array(items) = raw else {
                return Err(expected(path, ty, &raw));
            };
            let items = elements(
                items.into_iter().map(|item| (element.as_ref(), item)),
                path,
                depth,
            )?;
            Ok(if matches!(ty, Type::Set(_)) {
                Value::Set(items)
            } else {
                Value::List(items)
            })
        }
        Type::Tuple(types) => {
            let R::Array(items) = raw else {
                return Err(expected(path, ty, &raw));
            };
            ValueError::check_tuple_len(path, types.len(), items.len())?;
            Ok(Value::Tuple(elements(
                types.iter().zip(items),
                path,
                depth,
            )?))
        }
        Type::Map(element) => {
            let R::Map(pairs) = raw else {
                return Err(expected(path, ty, &raw));
            };
            let entries = keyed(pairs, &MAP_KEYS, path, depth, |_, _| Ok(element))?;
            Ok(Value::Map(entries))
        }
        Type::Object(attr_types) => {
            let R::Map(pairs) = raw else {
                return Err(expected(path, ty, &raw));
            };
            let attrs = keyed(pairs, &ATTRIBUTE_NAMES, path, depth, |name, path| {
                attr_types.get(name).ok_or_else(|| {
                    ValueError::mismatch(path, format!("unsupported attribute {name:?}"))
                })
            })?;
            // Terraform always sends every attribute, null or not.
            if let Some(missing) = attr_types.keys().find(|name| !attrs.contains_key(*name)) {
                return Err(ValueError::mismatch(
                    path,
                    format!("missing attribute {missing:?}"),
                ));
            }
            Ok(Value::Object(attrs))
        }
        Type::Dynamic => {
            // [type JSON as binary (or string), value encoded for that type]
            let R::Array(pair) = raw else {
                return Err(expected(
                    path,
                    "a [type, value] pair for a dynamic value",
                    &raw,
                ));
            };
            let Ok([type_json, inner]) = <[R; 2]>::try_from(pair) else {
                return Err(ValueError::mismatch(
                    path,
                    "a dynamic value must be a [type, value] pair",
                ));
            };
            let type_json = match type_json {
                R::Binary(b) => b,
                R::String(s) => s.into_bytes(),
                other => return Err(expected(path, "type JSON", &other)),
            };
            let actual = Type::from_json_bytes(&type_json)
                .map_err(|e| ValueError::mismatch(path, format!("dynamic value has an {e}")))?;
            from_raw(&actual, inner, path, depth + 1)
        }
    }
}

/// Decodes array items, each against its own type, recording its index in the path.
/// How the keys of one kind of string-keyed msgpack map are named and placed.
struct Keys {
    /// What the keys must be (for "expected …" errors).
    what: &'static str,
    /// The path step into one entry.
    step: fn(String) -> PathStep,
    /// The error for a key given twice.
    twice: &'static str,
}

const MAP_KEYS: Keys = Keys {
    what: "string map keys",
    step: PathStep::Key,
    twice: "map key given twice",
};

const ATTRIBUTE_NAMES: Keys = Keys {
    what: "string attribute names",
    step: PathStep::Attribute,
    twice: "attribute given twice",
};

/// The entries of a map or object: string keys, each once, each value
/// decoded with the type `type_of` gives for its key.
fn keyed<'t>(
    pairs: Vec<(rmpv::Value, rmpv::Value)>,
    keys: &Keys,
    path: &mut Vec<PathStep>,
    depth: usize,
    type_of: impl Fn(&str, &[PathStep]) -> Result<&'t Type, ValueError>,
) -> Result<BTreeMap<String, Value>, ValueError> {
    let mut entries = BTreeMap::new();
    for (key, item) in pairs {
        let rmpv::Value::String(key) = key else {
            return Err(expected(path, keys.what, &key));
        };
        let key = text(path, key)?;
        let ty = type_of(&key, path)?;
        path.push((keys.step)(key.clone()));
        if entries.contains_key(&key) {
            return Err(ValueError::mismatch(path, keys.twice));
        }
        let item = from_raw(ty, item, path, depth + 1)?;
        path.pop();
        entries.insert(key, item);
    }
    Ok(entries)
}

fn elements<'t>(
    items: impl Iterator<Item = (&'t Type, rmpv::Value)>,
    path: &mut Vec<PathStep>,
    depth: usize,
) -> Result<Vec<Value>, ValueError> {
    let mut out = Vec::new();
    for (i, (ty, item)) in items.enumerate() {
        path.push(PathStep::Index(i));
        out.push(from_raw(ty, item, path, depth + 1)?);
        path.pop();
    }
    Ok(out)
}

fn number(path: &[PathStep], raw: rmpv::Value) -> Result<Number, ValueError> {
    use rmpv::Value as R;
    match raw {
        R::Integer(i) => match (i.as_i64(), i.as_u64()) {
            (Some(i), _) => Ok(Number::from(i)),
            (None, Some(u)) => Ok(Number::from(u)),
            // rmpv integers always fit i64 or u64.
            (None, None) => Err(ValueError::mismatch(path, "integer out of range")),
        },
        R::F32(f) => float(path, f.into()),
        R::F64(f) => float(path, f),
        R::String(s) => {
            let s = text(path, s)?;
            s.parse()
                .map_err(|e| ValueError::mismatch(path, format!("expected a number, but {e}")))
        }
        other => Err(expected(path, Type::Number, &other)),
    }
}

fn float(path: &[PathStep], f: f64) -> Result<Number, ValueError> {
    Number::from_f64(f).ok_or_else(|| ValueError::mismatch(path, "NaN is not a number"))
}

pub(super) fn encode(value: &Value, ty: &Type) -> Result<Vec<u8>, ValueError> {
    let raw = to_raw(value, ty, &mut Vec::new())?;
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, &raw).map_err(|e| ValueError::Msgpack(e.to_string()))?;
    Ok(out)
}

fn to_raw(value: &Value, ty: &Type, path: &mut Vec<PathStep>) -> Result<rmpv::Value, ValueError> {
    use rmpv::Value as R;
    if path.len() > MAX_DEPTH {
        return Err(ValueError::too_deep(path));
    }
    let mismatch = |path: &[PathStep]| {
        ValueError::mismatch(path, format!("expected {ty}, found {}", value_kind(value)))
    };
    Ok(match (value, ty) {
        (Value::Null, _) => R::Nil,
        (Value::Unknown, _) => R::Ext(UNKNOWN_EXT, vec![0]),
        (_, Type::Dynamic) => {
            let actual = infer_at(value, path)?;
            // `actual` never contains `dynamic` where `value` holds data, so this ends.
            let inner = to_raw(value, &actual, path)?;
            R::Array(vec![R::Binary(actual.to_json_bytes()), inner])
        }
        (Value::Bool(b), Type::Bool) => R::Boolean(*b),
        (Value::Number(n), Type::Number) => n.to_msgpack(),
        (Value::String(s), Type::String) => R::from(s.as_str()),
        (Value::List(items), Type::List(element)) | (Value::Set(items), Type::Set(element)) => {
            R::Array(encode_elements(
                items.iter().map(|v| (v, element.as_ref())),
                path,
            )?)
        }
        (Value::Tuple(items), Type::Tuple(types)) => {
            ValueError::check_tuple_len(path, types.len(), items.len())?;
            R::Array(encode_elements(items.iter().zip(types), path)?)
        }
        (Value::Map(entries), Type::Map(element)) => {
            let mut pairs = Vec::with_capacity(entries.len());
            for (key, item) in entries {
                path.push(PathStep::Key(key.clone()));
                pairs.push((R::from(key.as_str()), to_raw(item, element, path)?));
                path.pop();
            }
            R::Map(pairs)
        }
        (Value::Object(attrs), Type::Object(attr_types)) => {
            if let Some(extra) = attrs.keys().find(|name| !attr_types.contains_key(*name)) {
                return Err(ValueError::mismatch(
                    path,
                    format!("unsupported attribute {extra:?}"),
                ));
            }
            let mut pairs = Vec::with_capacity(attr_types.len());
            for (name, attr_type) in attr_types {
                // Terraform requires every attribute; an absent one is sent as null.
                let item = attrs.get(name).unwrap_or(&Value::Null);
                path.push(PathStep::Attribute(name.clone()));
                pairs.push((R::from(name.as_str()), to_raw(item, attr_type, path)?));
                path.pop();
            }
            R::Map(pairs)
        }
        _ => return Err(mismatch(path)),
    })
}

fn encode_elements<'v, 't>(
    items: impl Iterator<Item = (&'v Value, &'t Type)>,
    path: &mut Vec<PathStep>,
) -> Result<Vec<rmpv::Value>, ValueError> {
    let mut out = Vec::new();
    for (i, (item, ty)) in items.enumerate() {
        path.push(PathStep::Index(i));
        out.push(to_raw(item, ty, path)?);
        path.pop();
    }
    Ok(out)
}
