//! Typed models: serde between Terraform [`Value`]s and plain Rust structs.
//!
//! A resource describes its attributes once, in its schema, and reads and writes
//! them through a `#[derive(Serialize, Deserialize)]` struct whose field names are
//! the attribute names. [`from_value`] and [`to_value`] do the conversion; null and
//! unknown are explicit:
//!
//! - a null attribute reads into `Option<T>` as `None`, and into anything else as a
//!   [`ModelError::Null`] naming the attribute;
//! - an unknown attribute reads only into [`Field<T>`] (`Field::Unknown`); anywhere
//!   else it is a [`ModelError::Unknown`], never a silent default.
//!
//! [`conform`] gives a serialized value the exact kinds (list or set, map or object)
//! the schema's type asks for, and [`check_model`] proves in a unit test that a model
//! and its schema name the same attributes.

mod de;
mod ser;
mod typed;

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::diag::{AttributePath, Diagnostic};
use super::schema::Schema;
use super::value::{value_kind, Type, Value, ValuePath};

pub use typed::{Call, Outcome, Typed, TypedDataSource, TypedResource};

/// The name under which [`Field`] asks this module's (de)serializers for the
/// three-way null/unknown/known distinction; other formats see a plain value.
const FIELD_MARKER: &str = "$tfplugin::Field";
/// The unit-struct name [`Field::Unknown`] serializes as.
const UNKNOWN_MARKER: &str = "$tfplugin::Unknown";

/// An attribute as Terraform holds it while planning: known, null, or not known
/// until apply. Use it for attributes a model must carry through a plan unchanged;
/// `Option<T>` is enough where values are always known (state, apply).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Field<T> {
    Known(T),
    #[default]
    Null,
    Unknown,
}

impl<T> Field<T> {
    /// The value, when known and not null.
    pub fn known(&self) -> Option<&T> {
        match self {
            Field::Known(v) => Some(v),
            _ => None,
        }
    }

    /// True when the value will only be known during apply.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Field::Unknown)
    }
}

impl<T: Serialize> Serialize for Field<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Known(v) => v.serialize(serializer),
            Field::Null => serializer.serialize_none(),
            Field::Unknown => serializer.serialize_unit_struct(UNKNOWN_MARKER),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct(FIELD_MARKER, de::FieldVisitor::new())
    }
}

/// Why a value did not fit a model (or a model a value). Carries the attribute
/// path so diagnostics can point at the attribute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// A null where the model needs a value (use `Option<T>` for optional ones).
    #[error("{} is null but a value is needed", place(.path))]
    Null { path: ValuePath },
    /// An unknown where the model needs a known value (use `Field<T>` for those).
    #[error("{} is not known yet", place(.path))]
    Unknown { path: ValuePath },
    /// Anything else: a kind mismatch, an enum value the model does not know, a
    /// number out of range.
    #[error("{}: {message}", place(.path))]
    Invalid { path: ValuePath, message: String },
}

fn place(path: &ValuePath) -> String {
    if path.is_root() {
        "the value".to_string()
    } else {
        path.to_string().trim_start_matches('.').to_string()
    }
}

impl ModelError {
    /// Where in the value it happened.
    pub fn path(&self) -> &ValuePath {
        match self {
            ModelError::Null { path }
            | ModelError::Unknown { path }
            | ModelError::Invalid { path, .. } => path,
        }
    }

    /// Sets the path unless an inner step already did: the innermost place wins.
    fn at(mut self, at: &ValuePath) -> ModelError {
        let path = match &mut self {
            ModelError::Null { path }
            | ModelError::Unknown { path }
            | ModelError::Invalid { path, .. } => path,
        };
        if path.is_root() {
            *path = at.clone();
        }
        self
    }

    /// The error as a diagnostic pointing at its attribute.
    pub fn to_diagnostic(&self, summary: &str) -> Diagnostic {
        let d = Diagnostic::error(summary, self.to_string());
        if self.path().is_root() {
            d
        } else {
            d.at(AttributePath::from(self.path()))
        }
    }
}

impl serde::de::Error for ModelError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ModelError::Invalid {
            path: ValuePath::root(),
            message: msg.to_string(),
        }
    }
}

impl serde::ser::Error for ModelError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        <ModelError as serde::de::Error>::custom(msg)
    }
}

/// Reads a model from a value.
pub fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, ModelError> {
    T::deserialize(de::ValueDeserializer::new(value, ValuePath::root()))
}

/// Writes a model as a value of type `ty` (see [`conform`]).
pub fn to_value<T: Serialize>(model: &T, ty: &Type) -> Result<Value, ModelError> {
    let value = model.serialize(ser::ValueSerializer)?;
    conform(value, ty, &ValuePath::root())
}

/// The attribute names a struct model declares (after `rename`), in order; empty
/// when `M` is not a plain struct. For models of nested objects, whose type the
/// schema builds from a list of names.
pub fn fields<M: DeserializeOwned>() -> &'static [&'static str] {
    de::struct_fields::<M>().unwrap_or_default()
}

/// The values a serde enum takes in Terraform: its variant names after `rename`
/// (empty when `E` is not an enum), e.g. for a check that lists the allowed values.
pub fn variants<E: DeserializeOwned>() -> &'static [&'static str] {
    de::enum_variants::<E>().unwrap_or_default()
}

/// A model (or one enum value) as a value without a schema type, e.g. an enum's
/// default as the string a schema declares as the attribute's default.
pub fn plain_value<T: Serialize>(model: &T) -> Result<Value, ModelError> {
    to_value(model, &Type::Dynamic)
}

/// The name Terraform shows for one value of a serde enum (its variant name after
/// `rename`); empty for anything that does not serialize as a string.
pub fn variant_name<E: Serialize>(value: &E) -> String {
    match plain_value(value) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

/// For `#[serde(deserialize_with = "null_as_default")]` on an attribute the schema
/// gives a default: null (a state written before the attribute existed) reads as
/// the model's default, so the default is declared once, on the Rust type.
pub fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

/// Gives a serialized value the kinds `ty` asks for: serde knows sequences and maps,
/// Terraform tells lists, sets and tuples, and maps and objects apart. Object
/// attributes missing from the value become null; attributes the type lacks are an
/// error, as are kinds that cannot be converted.
pub fn conform(value: Value, ty: &Type, path: &ValuePath) -> Result<Value, ModelError> {
    let mismatch = |found: &str| ModelError::Invalid {
        path: path.clone(),
        message: format!("expected {ty}, found {found}"),
    };
    let elements = |items: Vec<Value>, element: &Type| -> Result<Vec<Value>, ModelError> {
        items
            .into_iter()
            .enumerate()
            .map(|(i, v)| conform(v, element, &path.index(i)))
            .collect()
    };
    Ok(match (value, ty) {
        (v @ (Value::Null | Value::Unknown), _) | (v, Type::Dynamic) => v,
        (v @ (Value::Bool(_) | Value::Number(_) | Value::String(_)), _) => {
            let fits = matches!(
                (&v, ty),
                (Value::Bool(_), Type::Bool)
                    | (Value::Number(_), Type::Number)
                    | (Value::String(_), Type::String)
            );
            if !fits {
                return Err(mismatch(value_kind(&v)));
            }
            v
        }
        (Value::List(items) | Value::Set(items) | Value::Tuple(items), Type::List(element)) => {
            Value::List(elements(items, element)?)
        }
        (Value::List(items) | Value::Set(items) | Value::Tuple(items), Type::Set(element)) => {
            Value::Set(elements(items, element)?)
        }
        (Value::List(items) | Value::Set(items) | Value::Tuple(items), Type::Tuple(types)) => {
            if items.len() != types.len() {
                return Err(mismatch(&format!("{} elements", items.len())));
            }
            Value::Tuple(
                items
                    .into_iter()
                    .zip(types)
                    .enumerate()
                    .map(|(i, (v, t))| conform(v, t, &path.index(i)))
                    .collect::<Result<_, _>>()?,
            )
        }
        (Value::Map(entries) | Value::Object(entries), Type::Map(element)) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| {
                    let at = path.key(k.as_str());
                    Ok((k, conform(v, element, &at)?))
                })
                .collect::<Result<_, ModelError>>()?,
        ),
        (Value::Map(mut entries) | Value::Object(mut entries), Type::Object(attrs)) => {
            if let Some(extra) = entries.keys().find(|k| !attrs.contains_key(*k)) {
                return Err(ModelError::Invalid {
                    path: path.attribute(extra.as_str()),
                    message: "the model has this attribute but the schema does not".into(),
                });
            }
            Value::Object(
                attrs
                    .iter()
                    .map(|(name, t)| {
                        let v = entries.remove(name).unwrap_or(Value::Null);
                        Ok((name.clone(), conform(v, t, &path.attribute(name.as_str()))?))
                    })
                    .collect::<Result<_, ModelError>>()?,
            )
        }
        (v, _) => return Err(mismatch(value_kind(&v))),
    })
}

/// Checks that model `M` and `schema` name exactly the same top-level attributes,
/// and that `sample` (any instance of the model) serializes into the schema's type.
/// Meant for a unit test beside every resource and data source.
pub fn check_model<M: Serialize + DeserializeOwned>(
    schema: &Schema,
    sample: &M,
) -> Result<(), String> {
    let fields = de::struct_fields::<M>()
        .ok_or_else(|| "the model is not a plain struct (no flatten, no map)".to_string())?;
    let mut in_model: Vec<&str> = fields.to_vec();
    let mut in_schema: Vec<&str> = schema
        .block
        .attributes
        .iter()
        .map(|a| a.name.as_str())
        .chain(schema.block.blocks.iter().map(|b| b.name.as_str()))
        .collect();
    in_model.sort_unstable();
    in_schema.sort_unstable();
    if in_model != in_schema {
        let only = |a: &[&str], b: &[&str]| {
            a.iter()
                .filter(|n| !b.contains(n))
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(format!(
            "model and schema differ: only in the model [{}], only in the schema [{}]",
            only(&in_model, &in_schema),
            only(&in_schema, &in_model)
        ));
    }
    let value = to_value(sample, &schema.value_type()).map_err(|e| e.to_string())?;
    from_value::<M>(&value).map_err(|e| format!("the sample does not read back: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests;
