//! Map keys as serde_json's `MapKeySerializer` takes them: a string, a char or a unit
//! variant as a string; a bool or a number quoted (`"true"`, `"-3"`, `"1.5"`; a float
//! key must be finite); a newtype struct or `Some` as what it holds. Everything else
//! (`None`, unit, bytes, sequences, maps, structs, other variants) is refused.

use super::{string, write_integer, CompactJsonError, Serializer};
use serde::ser::{self, Serialize};
use std::fmt::Display;

/// Writes one map key.
pub(super) struct MapKeySerializer<'o> {
    pub out: &'o mut Vec<u8>,
}

impl MapKeySerializer<'_> {
    fn quoted_integer<I: itoa::Integer>(self, value: I) -> Result<(), CompactJsonError> {
        self.out.push(b'"');
        write_integer(self.out, value);
        self.out.push(b'"');
        Ok(())
    }

    fn quoted_float<F: zmij::Float>(self, value: F, finite: bool) -> Result<(), CompactJsonError> {
        if !finite {
            return Err(CompactJsonError::FloatKeyMustBeFinite);
        }
        self.out.push(b'"');
        Serializer {
            out: &mut *self.out,
        }
        .write_float(value, true)?;
        self.out.push(b'"');
        Ok(())
    }
}

impl ser::Serializer for MapKeySerializer<'_> {
    fn serialize_str(self, value: &str) -> Result<(), CompactJsonError> {
        string::write_quoted(self.out, value);
        Ok(())
    }

    fn serialize_char(self, value: char) -> Result<(), CompactJsonError> {
        string::write_quoted(self.out, value.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _variant_index: u32,
        variant: &'static str,
    ) -> Result<(), CompactJsonError> {
        string::write_quoted(self.out, variant);
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), CompactJsonError> {
        value.serialize(self)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), CompactJsonError> {
        value.serialize(self)
    }

    fn serialize_bool(self, value: bool) -> Result<(), CompactJsonError> {
        self.out.extend_from_slice(if value {
            b"\"true\"" as &[u8]
        } else {
            b"\"false\""
        });
        Ok(())
    }

    integers!(quoted_integer);

    fn serialize_f32(self, value: f32) -> Result<(), CompactJsonError> {
        self.quoted_float(value, value.is_finite())
    }

    fn serialize_f64(self, value: f64) -> Result<(), CompactJsonError> {
        self.quoted_float(value, value.is_finite())
    }

    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result<(), CompactJsonError> {
        ser::Serializer::collect_str(Serializer { out: self.out }, value)
    }

    scalars_only! { CompactJsonError::KeyMustBeAString =>
        serialize_bytes(&[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(&'static str);
    }
}
