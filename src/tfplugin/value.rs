//! TEMPORARY stub of the cty value model, replaced by the `values` branch.
#![allow(missing_docs, dead_code)]
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
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

#[derive(Debug, Clone, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
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

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

static NULL: Value = Value::Null;

impl Type {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    pub fn to_json_bytes(&self) -> Vec<u8> {
        Vec::new()
    }
}

impl Value {
    pub fn from_dynamic(
        _ty: &Type,
        _dv: &crate::proto::tfplugin6::DynamicValue,
    ) -> Result<Value, ValueError> {
        Err(ValueError("stub".into()))
    }
    pub fn to_dynamic(
        &self,
        _ty: &Type,
    ) -> Result<crate::proto::tfplugin6::DynamicValue, ValueError> {
        Err(ValueError("stub".into()))
    }
    pub fn from_json(_ty: &Type, _b: &[u8]) -> Result<Value, ValueError> {
        Err(ValueError("stub".into()))
    }
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown)
    }
    pub fn is_known(&self) -> bool {
        !self.is_unknown()
    }
    pub fn is_fully_known(&self) -> bool {
        true
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(Number::Int(i)) => Some(*i),
            _ => None,
        }
    }
    pub fn attr(&self, name: &str) -> &Value {
        match self {
            Value::Object(m) => m.get(name).unwrap_or(&NULL),
            _ => &NULL,
        }
    }
    pub fn set_attr(&mut self, name: impl Into<String>, v: Value) {
        if let Value::Object(m) = self {
            m.insert(name.into(), v);
        }
    }
    pub fn object<I: IntoIterator<Item = (K, Value)>, K: Into<String>>(it: I) -> Value {
        Value::Object(it.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.into())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Number(Number::Int(i))
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Self {
        o.map(Into::into).unwrap_or(Value::Null)
    }
}
