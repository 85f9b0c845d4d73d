//! Terraform (cty) values and their wire codecs.
//!
//! Terraform hands a provider every configuration, plan and state as a `DynamicValue`:
//! msgpack (or, on some state paths, JSON) shaped by a cty [`Type`] that the provider
//! published in its schema. This module decodes those bytes into a [`Value`] tree,
//! gives provider code convenient accessors, and encodes values back. The encoding
//! rules are Terraform's "wire format for Terraform objects": null is msgpack nil,
//! unknown is a msgpack extension, objects and maps are msgpack maps, and values of
//! type `dynamic` carry their runtime type next to them.
//!
//! A [`Value`] does not carry its type: the codecs always take the [`Type`] from the
//! schema. Decoding never panics on hostile input; every failure is a [`ValueError`]
//! that names where in the value it happened.

mod infer;
mod json;
mod msgpack;
mod number;
mod types;

use std::collections::BTreeMap;
use std::fmt;

pub use number::{Number, ParseNumberError};
pub use types::Type;

use crate::proto::tfplugin6::DynamicValue;

/// How deeply values (and types) may nest. Terraform schemas rarely go past ten
/// levels; the cap keeps hostile input from exhausting the stack.
pub const MAX_DEPTH: usize = 64;

/// A Terraform (cty) value.
///
/// `Null` and `Unknown` stand for a null or not-yet-known value of whatever type the
/// schema says is expected at that place. Sets are kept as the element list Terraform
/// sent; equality treats them as unordered, as Terraform does.
///
/// `Debug` shows string contents, so never log a value whose schema has sensitive
/// attributes; error messages from this module name places and types, never contents.
#[derive(Debug, Clone)]
pub enum Value {
    Null,
    /// A value Terraform will only know during apply (msgpack extension on the wire).
    Unknown,
    Bool(bool),
    Number(Number),
    String(String),
    List(Vec<Value>),
    Set(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Object(BTreeMap<String, Value>),
    Tuple(Vec<Value>),
}

/// One step into a value, as Terraform's attribute paths express them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathStep {
    /// An object attribute.
    Attribute(String),
    /// A map element.
    Key(String),
    /// A list, tuple or set element by position. Sets have no positions in Terraform,
    /// so an index into a set only helps a human reading the message.
    Index(usize),
}

/// Where inside a value something happened, e.g. `.owner` or `.tags["env"]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ValuePath {
    pub steps: Vec<PathStep>,
}

impl ValuePath {
    /// The path of the whole value.
    pub fn root() -> ValuePath {
        ValuePath::default()
    }

    /// This path extended by an object attribute.
    pub fn attribute(&self, name: impl Into<String>) -> ValuePath {
        self.with(PathStep::Attribute(name.into()))
    }

    /// This path extended by a map key.
    pub fn key(&self, key: impl Into<String>) -> ValuePath {
        self.with(PathStep::Key(key.into()))
    }

    /// This path extended by an element index.
    pub fn index(&self, index: usize) -> ValuePath {
        self.with(PathStep::Index(index))
    }

    /// True for the path of the whole value.
    pub fn is_root(&self) -> bool {
        self.steps.is_empty()
    }

    fn with(&self, step: PathStep) -> ValuePath {
        let mut steps = self.steps.clone();
        steps.push(step);
        ValuePath { steps }
    }
}

impl From<Vec<PathStep>> for ValuePath {
    fn from(steps: Vec<PathStep>) -> ValuePath {
        ValuePath { steps }
    }
}

impl fmt::Display for ValuePath {
    /// Terraform's notation: `.attr`, `["key"]`, `[0]`; the root prints as nothing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.steps {
            match step {
                PathStep::Attribute(name) => write!(f, ".{name}")?,
                PathStep::Key(key) => write!(f, "[{key:?}]")?,
                PathStep::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

/// Why a value or type could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The bytes are not well-formed msgpack.
    #[error("invalid msgpack: {0}")]
    Msgpack(String),
    /// The bytes are not well-formed JSON.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// A type's JSON form is not a cty type.
    #[error("invalid type: {0}")]
    Type(String),
    /// The value does not fit its type at `path`.
    #[error("{}{message}", at(path))]
    Mismatch { path: ValuePath, message: String },
}

fn at(path: &ValuePath) -> String {
    if path.is_root() {
        String::new()
    } else {
        format!("at {path}: ")
    }
}

impl ValueError {
    /// Where in the value the error happened, when it is about a particular place.
    pub fn path(&self) -> Option<&ValuePath> {
        match self {
            ValueError::Mismatch { path, .. } => Some(path),
            _ => None,
        }
    }

    pub(crate) fn mismatch(path: &[PathStep], message: impl Into<String>) -> ValueError {
        ValueError::Mismatch {
            path: ValuePath::from(path.to_vec()),
            message: message.into(),
        }
    }

    /// A tuple of `found` elements where its type has `expected`.
    pub(crate) fn check_tuple_len(
        path: &[PathStep],
        expected: usize,
        found: usize,
    ) -> Result<(), ValueError> {
        if expected == found {
            return Ok(());
        }
        Err(ValueError::mismatch(
            path,
            format!("expected a tuple of {expected} elements, found {found}"),
        ))
    }

    fn too_deep(path: &[PathStep]) -> ValueError {
        ValueError::mismatch(
            path,
            format!("value nests more than {MAX_DEPTH} levels deep"),
        )
    }
}

static NULL: Value = Value::Null;

impl Value {
    /// Decodes msgpack as Terraform encodes it for type `ty`.
    pub fn from_msgpack(ty: &Type, bytes: &[u8]) -> Result<Value, ValueError> {
        msgpack::decode(ty, bytes)
    }

    /// Encodes this value as msgpack for type `ty`, the way Terraform expects it.
    pub fn to_msgpack(&self, ty: &Type) -> Result<Vec<u8>, ValueError> {
        msgpack::encode(self, ty)
    }

    /// Decodes JSON (state and `RawValue` upgrades) for type `ty`. Object attributes
    /// missing from the JSON read as null, as Terraform does.
    pub fn from_json(ty: &Type, bytes: &[u8]) -> Result<Value, ValueError> {
        json::decode(ty, bytes)
    }

    /// Encodes this value as JSON for type `ty`. Fails on unknown values and
    /// infinities, which JSON cannot carry.
    pub fn to_json(&self, ty: &Type) -> Result<Vec<u8>, ValueError> {
        json::encode(self, ty)
    }

    /// Decodes a `DynamicValue`: msgpack when present, else JSON, else null.
    pub fn from_dynamic(ty: &Type, dv: &DynamicValue) -> Result<Value, ValueError> {
        if !dv.msgpack.is_empty() {
            Value::from_msgpack(ty, &dv.msgpack)
        } else if !dv.json.is_empty() {
            Value::from_json(ty, &dv.json)
        } else {
            Ok(Value::Null)
        }
    }

    /// Encodes a `DynamicValue` as msgpack, the form Terraform accepts everywhere.
    pub fn to_dynamic(&self, ty: &Type) -> Result<DynamicValue, ValueError> {
        Ok(DynamicValue {
            msgpack: self.to_msgpack(ty)?,
            json: Vec::new(),
        })
    }

    /// A string value.
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// A number value.
    pub fn number(n: impl Into<Number>) -> Value {
        Value::Number(n.into())
    }

    /// An object value from `(attribute, value)` pairs.
    pub fn object<K: Into<String>>(attributes: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Object(by_name(attributes))
    }

    /// A map value from `(key, value)` pairs.
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(by_name(entries))
    }

    /// A list value.
    pub fn list(elements: impl IntoIterator<Item = Value>) -> Value {
        Value::List(elements.into_iter().collect())
    }

    /// A set value.
    pub fn set(elements: impl IntoIterator<Item = Value>) -> Value {
        Value::Set(elements.into_iter().collect())
    }

    /// A tuple value.
    pub fn tuple(elements: impl IntoIterator<Item = Value>) -> Value {
        Value::Tuple(elements.into_iter().collect())
    }

    /// The null value of `ty`. Values carry no type, so this is always `Value::Null`;
    /// it exists to make intent readable at call sites.
    pub fn null_of(_ty: &Type) -> Value {
        Value::Null
    }

    /// For an object type, an object with every attribute null (a handy starting
    /// point for building state); for any other type, null.
    pub fn object_of_nulls(ty: &Type) -> Value {
        match ty {
            Type::Object(attrs) => {
                Value::Object(attrs.keys().map(|k| (k.clone(), Value::Null)).collect())
            }
            _ => Value::Null,
        }
    }

    /// True for a known null.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// True when the value itself is unknown.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown)
    }

    /// True unless the value itself is unknown (parts of it still may be).
    pub fn is_known(&self) -> bool {
        !self.is_unknown()
    }

    /// True when nothing anywhere inside the value is unknown.
    pub fn is_fully_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => true,
            Value::List(items) | Value::Set(items) | Value::Tuple(items) => {
                items.iter().all(Value::is_fully_known)
            }
            Value::Map(entries) | Value::Object(entries) => {
                entries.values().all(Value::is_fully_known)
            }
        }
    }

    /// The string, for a known string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, for a known bool value.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number, for a known number value.
    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// The number as an `i64`, for a known whole number in range.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number().and_then(Number::as_i64)
    }

    /// The elements of a known list, set or tuple.
    pub fn as_elements(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) | Value::Set(items) | Value::Tuple(items) => Some(items),
            _ => None,
        }
    }

    /// The entries of a known map or the attributes of a known object.
    pub fn as_entries(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(entries) | Value::Object(entries) => Some(entries),
            _ => None,
        }
    }

    /// Attribute `name` of an object; `&Value::Null` when absent or when this is not a
    /// known object (so `config.attr("a").attr("b")` never fails).
    pub fn attr(&self, name: &str) -> &Value {
        match self {
            Value::Object(attrs) => attrs.get(name).unwrap_or(&NULL),
            _ => &NULL,
        }
    }

    /// Attribute `name` of an object, for changing it in place.
    pub fn attr_mut(&mut self, name: &str) -> Option<&mut Value> {
        match self {
            Value::Object(attrs) => attrs.get_mut(name),
            _ => None,
        }
    }

    /// Sets attribute `name`. A value that is not an object (null, unknown, ...)
    /// is first replaced by an empty object.
    pub fn set_attr(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        if !matches!(self, Value::Object(_)) {
            *self = Value::Object(BTreeMap::new());
        }
        if let Value::Object(attrs) = self {
            attrs.insert(name.into(), value.into());
        }
    }

    /// [`Value::set_attr`] in builder form.
    pub fn with_attr(mut self, name: impl Into<String>, value: impl Into<Value>) -> Value {
        self.set_attr(name, value);
        self
    }

    /// The most specific type that describes this value, used to encode values of
    /// type `dynamic`. Null and unknown give `dynamic`; elements of a collection must
    /// agree on one type (nulls and unknowns fit any).
    pub fn infer_type(&self) -> Result<Type, ValueError> {
        infer::infer_type(self, &mut Vec::new())
    }
}

/// A short name for what a value is, for error messages.
pub(crate) fn value_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Unknown => "unknown",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::List(_) => "list",
        Value::Set(_) => "set",
        Value::Map(_) => "map",
        Value::Object(_) => "object",
        Value::Tuple(_) => "tuple",
    }
}

impl PartialEq for Value {
    /// Structural equality, except that sets compare without regard to order.
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) | (Value::Unknown, Value::Unknown) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::List(a), Value::List(b)) | (Value::Tuple(a), Value::Tuple(b)) => a == b,
            (Value::Map(a), Value::Map(b)) | (Value::Object(a), Value::Object(b)) => a == b,
            (Value::Set(a), Value::Set(b)) => same_elements(a, b),
            _ => false,
        }
    }
}

impl Eq for Value {}

/// Multiset equality; quadratic, which is fine for the sizes Terraform sets reach.
fn same_elements(a: &[Value], b: &[Value]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut matched = vec![false; b.len()];
    a.iter().all(|x| {
        let found = b
            .iter()
            .enumerate()
            .position(|(i, y)| !matched[i] && x == y);
        if let Some(i) = found {
            matched[i] = true;
        }
        found.is_some()
    })
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<&String> for Value {
    fn from(s: &String) -> Value {
        Value::String(s.clone())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

/// `(name, item)` pairs by name: the attributes of objects and object types, a map's entries.
fn by_name<K: Into<String>, T>(pairs: impl IntoIterator<Item = (K, T)>) -> BTreeMap<String, T> {
    pairs.into_iter().map(|(k, t)| (k.into(), t)).collect()
}

/// Integers become numbers, exactly.
macro_rules! value_from_integer {
    ($($int:ty),*) => {$(
        impl From<$int> for Value {
            fn from(i: $int) -> Value {
                Value::Number(i.into())
            }
        }
    )*};
}
value_from_integer!(i64, i32, u32, u64);

impl From<Number> for Value {
    fn from(n: Number) -> Value {
        Value::Number(n)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    /// `None` becomes null.
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}
