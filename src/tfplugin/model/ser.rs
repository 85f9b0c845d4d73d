//! Writing models: a serde `Serializer` that builds a [`Value`].
//!
//! It builds lists for sequences, maps for maps and objects for structs; `conform`
//! then turns them into the kinds the schema's type asks for.

use std::collections::BTreeMap;

use serde::ser::{self, Serialize};

use super::{ModelError, UNKNOWN_MARKER};
use crate::tfplugin::value::{Number, Value};

pub(super) struct ValueSerializer;

/// Serializer methods that write a narrower number as the wider kind `$to`.
macro_rules! widen {
    ($wide:ident as $to:ty: $($method:ident($ty:ty)),*) => {$(
        fn $method(self, v: $ty) -> Result<Value, ModelError> {
            self.$wide(<$to>::from(v))
        }
    )*};
}

fn unsupported(what: &str) -> ModelError {
    ser::Error::custom(format!("{what} have no Terraform form"))
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = ModelError;
    type SerializeSeq = Sequence;
    type SerializeTuple = Sequence;
    type SerializeTupleStruct = Sequence;
    type SerializeTupleVariant = ser::Impossible<Value, ModelError>;
    type SerializeMap = Entries;
    type SerializeStruct = Entries;
    type SerializeStructVariant = ser::Impossible<Value, ModelError>;

    fn serialize_bool(self, v: bool) -> Result<Value, ModelError> {
        Ok(Value::Bool(v))
    }
    widen! { serialize_i64 as i64: serialize_i8(i8), serialize_i16(i16), serialize_i32(i32) }
    widen! { serialize_i64 as i64: serialize_u8(u8), serialize_u16(u16), serialize_u32(u32) }
    widen! { serialize_f64 as f64: serialize_f32(f32) }
    fn serialize_i64(self, v: i64) -> Result<Value, ModelError> {
        Ok(Value::Number(Number::from(v)))
    }
    fn serialize_u64(self, v: u64) -> Result<Value, ModelError> {
        Ok(Value::Number(Number::from(v)))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, ModelError> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| ser::Error::custom("NaN is not a Terraform number"))
    }
    fn serialize_char(self, v: char) -> Result<Value, ModelError> {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, ModelError> {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<Value, ModelError> {
        Err(unsupported("byte strings"))
    }
    fn serialize_none(self) -> Result<Value, ModelError> {
        Ok(Value::Null)
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<Value, ModelError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, ModelError> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<Value, ModelError> {
        Ok(if name == UNKNOWN_MARKER {
            Value::Unknown
        } else {
            Value::Null
        })
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, ModelError> {
        Ok(Value::String(variant.to_string()))
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, ModelError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<Value, ModelError> {
        Err(unsupported("enum variants with data"))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Sequence, ModelError> {
        Ok(Sequence(Vec::with_capacity(len.unwrap_or(0))))
    }
    fn serialize_tuple(self, len: usize) -> Result<Sequence, ModelError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Sequence, ModelError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, ModelError> {
        Err(unsupported("enum variants with data"))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Entries, ModelError> {
        Ok(Entries::new(false))
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Entries, ModelError> {
        Ok(Entries::new(true))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, ModelError> {
        Err(unsupported("enum variants with data"))
    }
}

pub(super) struct Sequence(Vec<Value>);

impl ser::SerializeSeq for Sequence {
    type Ok = Value;
    type Error = ModelError;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), ModelError> {
        self.0.push(value.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Value, ModelError> {
        Ok(Value::List(self.0))
    }
}

/// Tuples and tuple structs are written as sequences (`conform` makes a tuple
/// of one where the schema asks for it).
macro_rules! as_sequence {
    ($($kind:ident::$element:ident),*) => {$(
        impl ser::$kind for Sequence {
            type Ok = Value;
            type Error = ModelError;
            fn $element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), ModelError> {
                ser::SerializeSeq::serialize_element(self, value)
            }
            fn end(self) -> Result<Value, ModelError> {
                ser::SerializeSeq::end(self)
            }
        }
    )*};
}

as_sequence!(
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field
);

/// A struct's attributes or a map's entries; keys must be strings.
pub(super) struct Entries {
    entries: BTreeMap<String, Value>,
    key: Option<String>,
    object: bool,
}

impl Entries {
    fn new(object: bool) -> Self {
        Entries {
            entries: BTreeMap::new(),
            key: None,
            object,
        }
    }

    fn finish(self) -> Value {
        if self.object {
            Value::Object(self.entries)
        } else {
            Value::Map(self.entries)
        }
    }
}

impl ser::SerializeMap for Entries {
    type Ok = Value;
    type Error = ModelError;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), ModelError> {
        match key.serialize(ValueSerializer)? {
            Value::String(k) => {
                self.key = Some(k);
                Ok(())
            }
            _ => Err(ser::Error::custom("map keys must be strings")),
        }
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), ModelError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| <ModelError as ser::Error>::custom("a map value came before its key"))?;
        self.entries.insert(key, value.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Value, ModelError> {
        Ok(self.finish())
    }
}

impl ser::SerializeStruct for Entries {
    type Ok = Value;
    type Error = ModelError;
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ModelError> {
        self.entries
            .insert(key.to_string(), value.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Value, ModelError> {
        Ok(self.finish())
    }
}
