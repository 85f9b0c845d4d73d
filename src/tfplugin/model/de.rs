//! Reading models: a serde `Deserializer` over a borrowed [`Value`].

use std::cell::Cell;
use std::collections::btree_map;
use std::marker::PhantomData;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use serde::forward_to_deserialize_any;

use super::{Field, ModelError, FIELD_MARKER};
use crate::tfplugin::value::{Value, ValuePath};

/// Deserializes one value; `path` is where it sits, for error messages.
pub(super) struct ValueDeserializer<'v> {
    value: &'v Value,
    path: ValuePath,
}

impl<'v> ValueDeserializer<'v> {
    pub(super) fn new(value: &'v Value, path: ValuePath) -> Self {
        ValueDeserializer { value, path }
    }

    fn null(&self) -> ModelError {
        ModelError::Null {
            path: self.path.clone(),
        }
    }

    fn unknown(&self) -> ModelError {
        ModelError::Unknown {
            path: self.path.clone(),
        }
    }
}

impl<'de> de::Deserializer<'de> for ValueDeserializer<'de> {
    type Error = ModelError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ModelError> {
        let path = self.path.clone();
        let result = match self.value {
            Value::Null => Err(self.null()),
            Value::Unknown => Err(self.unknown()),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => visitor.visit_i64(i),
                // Integers past i64 still fit a u64 model field; the rest are floats.
                None => match n.to_string().parse::<u64>() {
                    Ok(u) => visitor.visit_u64(u),
                    Err(_) => visitor.visit_f64(n.to_f64()),
                },
            },
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::List(items) | Value::Set(items) | Value::Tuple(items) => {
                visitor.visit_seq(Elements {
                    items: items.iter().enumerate(),
                    path: &self.path,
                })
            }
            Value::Object(entries) => visitor.visit_map(Entries {
                entries: entries.iter(),
                pending: None,
                path: &self.path,
                object: true,
            }),
            Value::Map(entries) => visitor.visit_map(Entries {
                entries: entries.iter(),
                pending: None,
                path: &self.path,
                object: false,
            }),
        };
        result.map_err(|e| e.at(&path))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ModelError> {
        match self.value {
            Value::Null => visitor.visit_none(),
            Value::Unknown => Err(self.unknown()),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ModelError> {
        match self.value {
            Value::Null => visitor.visit_unit(),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ModelError> {
        if name == FIELD_MARKER {
            // Field<T>: the only place where null and unknown are values, not errors.
            return match self.value {
                Value::Null => visitor.visit_none(),
                Value::Unknown => visitor.visit_unit(),
                _ => visitor.visit_newtype_struct(self),
            };
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ModelError> {
        // Terraform has no sum types: an enum attribute is a string naming the variant.
        match self.value {
            Value::String(s) => visitor
                .visit_enum(s.as_str().into_deserializer())
                .map_err(|e: ModelError| e.at(&self.path)),
            Value::Null => Err(self.null()),
            Value::Unknown => Err(self.unknown()),
            _ => Err(ModelError::Invalid {
                path: self.path.clone(),
                message: "expected a string naming one of the allowed values".into(),
            }),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ModelError> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit_struct seq tuple tuple_struct map struct identifier
    }
}

/// What `next_element_seed` and `next_key_seed` return.
type Next<'de, T> = Result<Option<<T as DeserializeSeed<'de>>::Value>, ModelError>;

/// The elements of a list, set or tuple.
struct Elements<'v, 'p> {
    items: std::iter::Enumerate<std::slice::Iter<'v, Value>>,
    path: &'p ValuePath,
}

impl<'de> SeqAccess<'de> for Elements<'de, '_> {
    type Error = ModelError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Next<'de, T> {
        let Some((i, item)) = self.items.next() else {
            return Ok(None);
        };
        let at = self.path.index(i);
        seed.deserialize(ValueDeserializer::new(item, at.clone()))
            .map(Some)
            .map_err(|e| e.at(&at))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// The attributes of an object or the entries of a map.
struct Entries<'v, 'p> {
    entries: btree_map::Iter<'v, String, Value>,
    pending: Option<(&'v String, &'v Value)>,
    path: &'p ValuePath,
    object: bool,
}

impl<'de> MapAccess<'de> for Entries<'de, '_> {
    type Error = ModelError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Next<'de, K> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.pending = Some((key, value));
        seed.deserialize(BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ModelError> {
        let Some((key, value)) = self.pending.take() else {
            return Err(de::Error::custom(
                "a map value was asked for before its key",
            ));
        };
        let at = if self.object {
            self.path.attribute(key.as_str())
        } else {
            self.path.key(key.as_str())
        };
        seed.deserialize(ValueDeserializer::new(value, at.clone()))
            .map_err(|e| e.at(&at))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// Reads [`Field`] from what `deserialize_newtype_struct` hands it.
pub(super) struct FieldVisitor<T>(PhantomData<T>);

impl<T> FieldVisitor<T> {
    pub(super) fn new() -> Self {
        FieldVisitor(PhantomData)
    }
}

impl<'de, T: de::Deserialize<'de>> Visitor<'de> for FieldVisitor<T> {
    type Value = Field<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a value, null or unknown")
    }

    fn visit_none<E: de::Error>(self) -> Result<Field<T>, E> {
        Ok(Field::Null)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Field<T>, E> {
        Ok(Field::Unknown)
    }

    fn visit_newtype_struct<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Field<T>, D::Error> {
        T::deserialize(deserializer).map(Field::Known)
    }
}

/// The field names a struct model declares (after `rename`), or `None` when `M`
/// is not a plain struct. Asks serde's derive rather than parsing anything.
pub(super) fn struct_fields<M: DeserializeOwned>() -> Option<Names> {
    names::<M>(Shape::Struct)
}

/// The variant names an enum declares (after `rename`), or `None` when `E` is
/// not an enum.
pub(super) fn enum_variants<E: DeserializeOwned>() -> Option<Names> {
    names::<E>(Shape::Enum)
}

#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Struct,
    Enum,
}

fn names<T: DeserializeOwned>(shape: Shape) -> Option<Names> {
    let seen = Cell::new(None);
    let _ = T::deserialize(NamesProbe { shape, seen: &seen });
    seen.get()
}

/// A deserializer that only records the field or variant list serde's derive
/// hands to `deserialize_struct` or `deserialize_enum`.
struct NamesProbe<'a> {
    shape: Shape,
    seen: &'a Cell<Option<Names>>,
}

type Names = &'static [&'static str];
type Probe<'de, V> = Result<<V as Visitor<'de>>::Value, ModelError>;

impl NamesProbe<'_> {
    /// Keeps `names` when they are the kind asked for; the probe always fails
    /// afterwards, since it has no value to give.
    fn record<T>(self, shape: Shape, names: Names) -> Result<T, ModelError> {
        if self.shape == shape {
            self.seen.set(Some(names));
        }
        Err(de::Error::custom("probe"))
    }
}

impl<'de> de::Deserializer<'de> for NamesProbe<'_> {
    type Error = ModelError;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, ModelError> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(self, _: &str, f: Names, _: V) -> Probe<'de, V> {
        self.record(Shape::Struct, f)
    }

    fn deserialize_enum<V: Visitor<'de>>(self, _: &str, v: Names, _: V) -> Probe<'de, V> {
        self.record(Shape::Enum, v)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map identifier ignored_any
    }
}
