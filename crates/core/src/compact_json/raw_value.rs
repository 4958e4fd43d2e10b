//! serde_json's `RawValue`: JSON text kept as it was, which serde_json serialises as
//! a struct and field both named [`TOKEN`] holding the text, and writes the text as
//! it is. Anything else inside that struct is refused as serde_json refuses it.

use super::CompactJsonError;
use serde::ser::{self, Serialize};

/// The name serde_json gives a raw value's struct and its one field.
pub(super) const TOKEN: &str = "$serde_json::private::RawValue";

/// Copies a raw value's text.
pub(super) struct RawValueEmitter<'o> {
    pub out: &'o mut Vec<u8>,
}

fn expected() -> CompactJsonError {
    CompactJsonError::Custom(Box::new("expected RawValue".into()))
}

impl ser::Serializer for RawValueEmitter<'_> {
    fn serialize_str(self, value: &str) -> Result<(), CompactJsonError> {
        self.out.extend_from_slice(value.as_bytes());
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<(), CompactJsonError> {
        Err(expected())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _value: &T,
    ) -> Result<(), CompactJsonError> {
        Err(expected())
    }

    scalars_only! { expected() =>
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_i128(i128);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_u128(u128);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_bytes(&[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }
}
