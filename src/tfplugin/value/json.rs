//! The JSON codec: how Terraform stores state and sends some state to providers.
//!
//! Decoding is driven by the type, straight from the JSON text, so that numbers are
//! read from their exact digits (a generic JSON tree would round big ones to `f64`).
//! Failures inside the walk are recorded with their path in a side slot, because
//! serde's own errors can only carry a message.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::infer::infer_at;
use super::{value_kind, Number, PathStep, Type, Value, ValueError, ValuePath, MAX_DEPTH};

pub(super) fn decode(ty: &Type, bytes: &[u8]) -> Result<Value, ValueError> {
    let failure = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let seed = Seed {
        ty,
        path: ValuePath::root(),
        depth: 0,
        failure: &failure,
    };
    let result = seed.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    result.map_err(|e| {
        failure
            .take()
            .unwrap_or_else(|| ValueError::Json(e.to_string()))
    })
}

/// Decodes one JSON value of type `ty` found at `path`.
struct Seed<'a> {
    ty: &'a Type,
    path: ValuePath,
    depth: usize,
    failure: &'a RefCell<Option<ValueError>>,
}

impl<'a> Seed<'a> {
    fn child(&self, ty: &'a Type, path: ValuePath) -> Seed<'a> {
        Seed {
            ty,
            path,
            depth: self.depth + 1,
            failure: self.failure,
        }
    }

    /// Records a type mismatch at this place and returns serde's error to unwind with.
    fn fail<E: de::Error>(&self, message: impl Into<String>) -> E {
        let error = ValueError::Mismatch {
            path: self.path.clone(),
            message: message.into(),
        };
        let text = error.to_string();
        self.failure.borrow_mut().get_or_insert(error);
        E::custom(text)
    }

    fn found<E: de::Error>(&self, kind: &str) -> E {
        self.fail(format!("expected {}, found {kind}", self.ty))
    }

    fn number<E: de::Error>(&self, raw: &RawValue) -> Result<Value, E> {
        let text = raw.get().trim();
        match text.as_bytes().first() {
            Some(b'n') => Ok(Value::Null),
            Some(b'-' | b'0'..=b'9') => text
                .parse::<Number>()
                .map(Value::Number)
                .map_err(|e| self.fail(e.to_string())),
            Some(b'"') => Err(self.found("string")),
            Some(b't' | b'f') => Err(self.found("bool")),
            Some(b'[') => Err(self.found("array")),
            _ => Err(self.found("object")),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        if self.depth > MAX_DEPTH {
            return Err(self.fail(format!("value nests more than {MAX_DEPTH} levels deep")));
        }
        match self.ty {
            // Take the number's exact text rather than serde_json's f64 rounding.
            Type::Number => {
                let raw = <Box<RawValue>>::deserialize(deserializer)?;
                self.number(&raw)
            }
            _ => deserializer.deserialize_any(self),
        }
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a JSON value of type {}", self.ty)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        match self.ty {
            Type::Bool => Ok(Value::Bool(b)),
            Type::Dynamic => Err(self
                .fail("expected a {\"value\", \"type\"} object for a dynamic value, found bool")),
            _ => Err(self.found("bool")),
        }
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Value, E> {
        Err(self.found("number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Value, E> {
        Err(self.found("number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Value, E> {
        Err(self.found("number"))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        match self.ty {
            Type::String => Ok(Value::String(s.to_owned())),
            _ => Err(self.found("string")),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        match self.ty {
            Type::List(element) | Type::Set(element) => {
                while let Some(item) =
                    seq.next_element_seed(self.child(element, self.path.index(items.len())))?
                {
                    items.push(item);
                }
                Ok(if matches!(self.ty, Type::Set(_)) {
                    Value::Set(items)
                } else {
                    Value::List(items)
                })
            }
            Type::Tuple(types) => {
                for element in types {
                    match seq
                        .next_element_seed(self.child(element, self.path.index(items.len())))?
                    {
                        Some(item) => items.push(item),
                        None => {
                            return Err(self.fail(format!(
                                "expected a tuple of {} elements, found {}",
                                types.len(),
                                items.len()
                            )))
                        }
                    }
                }
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(self.fail(format!(
                        "expected a tuple of {} elements, found more",
                        types.len()
                    )));
                }
                Ok(Value::Tuple(items))
            }
            _ => Err(self.found("array")),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        match self.ty {
            Type::Map(element) => {
                let mut entries = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    let child = self.child(element, self.path.key(key.as_str()));
                    if entries.contains_key(&key) {
                        return Err(child.fail("map key given twice"));
                    }
                    let item = map.next_value_seed(child)?;
                    entries.insert(key, item);
                }
                Ok(Value::Map(entries))
            }
            Type::Object(attr_types) => {
                let mut attrs = BTreeMap::new();
                while let Some(name) = map.next_key::<String>()? {
                    let Some(attr_type) = attr_types.get(&name) else {
                        return Err(self.fail(format!("unsupported attribute {name:?}")));
                    };
                    let child = self.child(attr_type, self.path.attribute(name.as_str()));
                    if attrs.contains_key(&name) {
                        return Err(child.fail("attribute given twice"));
                    }
                    let item = map.next_value_seed(child)?;
                    attrs.insert(name, item);
                }
                // Terraform's JSON decoder reads absent attributes as null.
                for name in attr_types.keys() {
                    attrs.entry(name.clone()).or_insert(Value::Null);
                }
                Ok(Value::Object(attrs))
            }
            Type::Dynamic => self.dynamic(map),
            _ => Err(self.found("object")),
        }
    }
}

impl Seed<'_> {
    /// `{"value": ..., "type": ...}` in either order: the value is kept as raw text
    /// until its type is known.
    fn dynamic<'de, A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut actual = None;
        let mut raw: Option<Box<RawValue>> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "type" => {
                    let json: serde_json::Value = map.next_value()?;
                    let ty = Type::from_json(&json)
                        .map_err(|e| self.fail(format!("dynamic value has an {e}")))?;
                    actual = Some(ty);
                }
                "value" => raw = Some(map.next_value()?),
                other => {
                    return Err(self.fail(format!("unexpected key {other:?} in a dynamic value")))
                }
            }
        }
        let (Some(actual), Some(raw)) = (actual, raw) else {
            return Err(self.fail("a dynamic value needs both \"value\" and \"type\""));
        };
        let mut inner = serde_json::Deserializer::from_str(raw.get());
        self.child(&actual, self.path.clone())
            .deserialize(&mut inner)
            .map_err(de::Error::custom)
    }
}

pub(super) fn encode(value: &Value, ty: &Type) -> Result<Vec<u8>, ValueError> {
    let mut out = Vec::new();
    write(&mut out, value, ty, &mut Vec::new())?;
    Ok(out)
}

fn write(
    out: &mut Vec<u8>,
    value: &Value,
    ty: &Type,
    path: &mut Vec<PathStep>,
) -> Result<(), ValueError> {
    if path.len() > MAX_DEPTH {
        return Err(ValueError::too_deep(path));
    }
    match (value, ty) {
        (Value::Null, _) => out.extend_from_slice(b"null"),
        (Value::Unknown, _) => {
            return Err(ValueError::mismatch(
                path,
                "an unknown value cannot be written as JSON",
            ))
        }
        (_, Type::Dynamic) => {
            let actual = infer_at(value, path)?;
            out.extend_from_slice(b"{\"value\":");
            write(out, value, &actual, path)?;
            out.extend_from_slice(b",\"type\":");
            out.extend_from_slice(&actual.to_json_bytes());
            out.push(b'}');
        }
        (Value::Bool(b), Type::Bool) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        (Value::Number(n), Type::Number) => {
            if n.is_infinite() {
                return Err(ValueError::mismatch(
                    path,
                    "infinity cannot be written as JSON",
                ));
            }
            out.extend_from_slice(n.to_string().as_bytes());
        }
        (Value::String(s), Type::String) => write_string(out, s),
        (Value::List(items), Type::List(element)) | (Value::Set(items), Type::Set(element)) => {
            write_array(out, items.iter().map(|v| (v, element.as_ref())), path)?
        }
        (Value::Tuple(items), Type::Tuple(types)) => {
            ValueError::check_tuple_len(path, types.len(), items.len())?;
            write_array(out, items.iter().zip(types), path)?
        }
        (Value::Map(entries), Type::Map(element)) => write_object(
            out,
            entries
                .iter()
                .map(|(k, v)| (k, v, element.as_ref(), PathStep::Key(k.clone()))),
            path,
        )?,
        (Value::Object(attrs), Type::Object(attr_types)) => {
            if let Some(extra) = attrs.keys().find(|name| !attr_types.contains_key(*name)) {
                return Err(ValueError::mismatch(
                    path,
                    format!("unsupported attribute {extra:?}"),
                ));
            }
            write_object(
                out,
                attr_types.iter().map(|(name, t)| {
                    let v = attrs.get(name).unwrap_or(&Value::Null);
                    (name, v, t, PathStep::Attribute(name.clone()))
                }),
                path,
            )?
        }
        _ => {
            return Err(ValueError::mismatch(
                path,
                format!("expected {ty}, found {}", value_kind(value)),
            ))
        }
    }
    Ok(())
}

fn write_string(out: &mut Vec<u8>, s: &str) {
    // A JSON string's text is exactly what serde_json prints for a string value.
    out.extend_from_slice(serde_json::Value::from(s).to_string().as_bytes());
}

fn write_array<'a>(
    out: &mut Vec<u8>,
    items: impl Iterator<Item = (&'a Value, &'a Type)>,
    path: &mut Vec<PathStep>,
) -> Result<(), ValueError> {
    out.push(b'[');
    for (i, (item, ty)) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        path.push(PathStep::Index(i));
        write(out, item, ty, path)?;
        path.pop();
    }
    out.push(b']');
    Ok(())
}

fn write_object<'a>(
    out: &mut Vec<u8>,
    entries: impl Iterator<Item = (&'a String, &'a Value, &'a Type, PathStep)>,
    path: &mut Vec<PathStep>,
) -> Result<(), ValueError> {
    out.push(b'{');
    for (i, (key, item, ty, step)) in entries.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(out, key);
        out.push(b':');
        path.push(step);
        write(out, item, ty, path)?;
        path.pop();
    }
    out.push(b'}');
    Ok(())
}
