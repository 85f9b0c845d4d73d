//! cty types and their compact JSON form.
//!
//! Schemas carry each attribute's type as JSON (`"string"`, `["list","string"]`,
//! `["object",{"a":"bool"}]`), and dynamic values carry their runtime type the same way.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::json;

use super::{ValueError, MAX_DEPTH};

/// A Terraform (cty) type.
///
/// `Dynamic` is cty's "any type decided at runtime" (`DynamicPseudoType`). Optional
/// object attributes only exist in type constraints, never in the types of values or
/// schema attributes, so they are not modelled.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Type {
    Bool,
    Number,
    String,
    Dynamic,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Object(BTreeMap<String, Type>),
    Tuple(Vec<Type>),
}

impl Type {
    /// `list(element)`.
    pub fn list(element: Type) -> Type {
        Type::List(Box::new(element))
    }

    /// `set(element)`.
    pub fn set(element: Type) -> Type {
        Type::Set(Box::new(element))
    }

    /// `map(element)`.
    pub fn map(element: Type) -> Type {
        Type::Map(Box::new(element))
    }

    /// `object({...})` from `(name, type)` pairs.
    pub fn object<K: Into<String>>(attributes: impl IntoIterator<Item = (K, Type)>) -> Type {
        Type::Object(super::by_name(attributes))
    }

    /// `tuple([...])`.
    pub fn tuple(elements: impl IntoIterator<Item = Type>) -> Type {
        Type::Tuple(elements.into_iter().collect())
    }

    /// The type of attribute `name` when this is an object type that has it.
    pub fn attribute(&self, name: &str) -> Option<&Type> {
        match self {
            Type::Object(attrs) => attrs.get(name),
            _ => None,
        }
    }

    /// The element type of a list, set or map.
    pub fn element(&self) -> Option<&Type> {
        match self {
            Type::List(t) | Type::Set(t) | Type::Map(t) => Some(t),
            _ => None,
        }
    }

    /// The cty JSON form of this type, as schemas and dynamic values carry it.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Type::Bool => json!("bool"),
            Type::Number => json!("number"),
            Type::String => json!("string"),
            Type::Dynamic => json!("dynamic"),
            Type::List(t) => json!(["list", t.to_json()]),
            Type::Set(t) => json!(["set", t.to_json()]),
            Type::Map(t) => json!(["map", t.to_json()]),
            Type::Object(attrs) => {
                let attrs: serde_json::Map<String, serde_json::Value> = attrs
                    .iter()
                    .map(|(k, t)| (k.clone(), t.to_json()))
                    .collect();
                json!(["object", attrs])
            }
            Type::Tuple(elements) => {
                json!([
                    "tuple",
                    elements.iter().map(Type::to_json).collect::<Vec<_>>()
                ])
            }
        }
    }

    /// [`Type::to_json`] serialized compactly, for `Schema.Attribute.type`.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        self.to_json().to_string().into_bytes()
    }

    /// Reads a cty type from its JSON form. The three-element object form that lists
    /// optional attributes is accepted; the optional markers are dropped.
    pub fn from_json(json: &serde_json::Value) -> Result<Type, ValueError> {
        type_from_json(json, 0)
    }

    /// [`Type::from_json`] from serialized JSON bytes.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Type, ValueError> {
        let json: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| ValueError::Type(e.to_string()))?;
        Type::from_json(&json)
    }
}

fn type_from_json(json: &serde_json::Value, depth: usize) -> Result<Type, ValueError> {
    use serde_json::Value as J;
    if depth > MAX_DEPTH {
        return Err(ValueError::Type(format!(
            "type nests more than {MAX_DEPTH} levels deep"
        )));
    }
    let nested = |j: &J| type_from_json(j, depth + 1);
    match json {
        J::String(name) => match name.as_str() {
            "bool" => Ok(Type::Bool),
            "number" => Ok(Type::Number),
            "string" => Ok(Type::String),
            "dynamic" => Ok(Type::Dynamic),
            other => Err(ValueError::Type(format!(
                "unknown primitive type {other:?}"
            ))),
        },
        J::Array(parts) => {
            let kind = parts.first().and_then(J::as_str).ok_or_else(|| {
                ValueError::Type("a complex type must be an array starting with its kind".into())
            })?;
            let arg = match (kind, parts.len()) {
                (_, 2) | ("object", 3) => &parts[1],
                _ => {
                    return Err(ValueError::Type(format!(
                        "type {kind:?} needs exactly one argument, found {}",
                        parts.len() - 1
                    )))
                }
            };
            match kind {
                "list" => Ok(Type::list(nested(arg)?)),
                "set" => Ok(Type::set(nested(arg)?)),
                "map" => Ok(Type::map(nested(arg)?)),
                "object" => {
                    let attrs = arg.as_object().ok_or_else(|| {
                        ValueError::Type("object attributes must be a JSON object".into())
                    })?;
                    let attrs = attrs
                        .iter()
                        .map(|(k, t)| Ok((k.clone(), nested(t)?)))
                        .collect::<Result<_, ValueError>>()?;
                    Ok(Type::Object(attrs))
                }
                "tuple" => {
                    let elements = arg.as_array().ok_or_else(|| {
                        ValueError::Type("tuple elements must be a JSON array".into())
                    })?;
                    Ok(Type::Tuple(
                        elements.iter().map(nested).collect::<Result<_, _>>()?,
                    ))
                }
                other => Err(ValueError::Type(format!("unknown type kind {other:?}"))),
            }
        }
        other => Err(ValueError::Type(format!(
            "a type must be a string or an array, found {}",
            json_kind(other)
        ))),
    }
}

fn json_kind(json: &serde_json::Value) -> &'static str {
    match json {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

impl fmt::Display for Type {
    /// Friendly names as Terraform prints them: `string`, `list of string`, `object`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Bool => f.write_str("bool"),
            Type::Number => f.write_str("number"),
            Type::String => f.write_str("string"),
            Type::Dynamic => f.write_str("dynamic"),
            Type::List(t) => write!(f, "list of {t}"),
            Type::Set(t) => write!(f, "set of {t}"),
            Type::Map(t) => write!(f, "map of {t}"),
            Type::Object(_) => f.write_str("object"),
            Type::Tuple(_) => f.write_str("tuple"),
        }
    }
}
