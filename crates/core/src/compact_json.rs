//! Compact JSON appended to a `Vec<u8>`: byte for byte what `serde_json::to_vec`
//! writes for the same value, in two thirds of the time.
//!
//! Why it exists: serialising the calculate and commit answers and the stored receipt
//! records with serde_json was a quarter of the server's instructions, most of it in
//! escaping strings, and most strings are struct field keys. serde_json writes each
//! token through an `io::Write` and a `Formatter` call, and scans every string byte by
//! byte. Here a field's `"key":` is written with one reservation, whether a string
//! needs any escape is told eight bytes at a time (one or two word tests for most
//! keys), a clean string is copied whole, and the error type is two words so that the
//! `Result` every value returns stays in registers. No unsafe code: the output is
//! UTF-8 because only whole `str`s and ASCII are ever appended.
//!
//! Why byte for byte: answers are stored as sent and replayed to retries, and bodies
//! are hashed for idempotency, so the bytes must stay what serde_json wrote. Every
//! rule of serde_json 1.x's compact serializer is kept, the odd ones included:
//! - a string escapes `"`, `\` and bytes below 0x20 only (`\b \t \n \f \r`, the rest
//!   as `\u00xx` in lower-case hex); `/`, 0x7f and non-ASCII are copied;
//! - integers as `itoa` writes them; floats as `zmij` writes them (the float writer
//!   of the serde_json in Cargo.lock, which replaced `ryu`), NaN and infinities as
//!   `null`;
//! - unit, `None` and unit structs are `null`, a unit variant is its name, the other
//!   variants are `{"Variant":...}`; bytes are an array of numbers;
//! - map keys as serde_json's `MapKeySerializer` takes them (see [`map_key`]);
//! - a `serde_json::value::RawValue` is copied as it is (serde_json's `raw_value`
//!   feature is on in this workspace through sqlx);
//! - a sequence or map announced with length 0 is closed at once, as serde_json does,
//!   even if elements follow.
//!
//! One difference: a `Display` that fails inside `collect_str` is an error here where
//! serde_json panics.

/// The part of a serializer that takes scalars only (a map key, a raw value): no
/// compound types, every method that would open one refuses with `$error`, and so do
/// a newtype variant and the scalar methods listed (by name and argument types).
macro_rules! scalars_only {
    ($error:expr => $($method:ident($($arg:ty),*);)*) => {
        type Ok = ();
        type Error = CompactJsonError;
        type SerializeSeq = serde::ser::Impossible<(), CompactJsonError>;
        type SerializeTuple = serde::ser::Impossible<(), CompactJsonError>;
        type SerializeTupleStruct = serde::ser::Impossible<(), CompactJsonError>;
        type SerializeTupleVariant = serde::ser::Impossible<(), CompactJsonError>;
        type SerializeMap = serde::ser::Impossible<(), CompactJsonError>;
        type SerializeStruct = serde::ser::Impossible<(), CompactJsonError>;
        type SerializeStructVariant = serde::ser::Impossible<(), CompactJsonError>;

        $(fn $method(self, $(_: $arg),*) -> Result<(), CompactJsonError> {
            Err($error)
        })*

        fn serialize_newtype_variant<T: serde::Serialize + ?Sized>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<(), CompactJsonError> {
            Err($error)
        }

        fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, CompactJsonError> {
            Err($error)
        }

        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, CompactJsonError> {
            Err($error)
        }

        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct, CompactJsonError> {
            Err($error)
        }

        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, CompactJsonError> {
            Err($error)
        }

        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, CompactJsonError> {
            Err($error)
        }

        fn serialize_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStruct, CompactJsonError> {
            Err($error)
        }

        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, CompactJsonError> {
            Err($error)
        }
    };
}

/// A serializer's ten integer methods, each handing its value to `self.$write`.
macro_rules! integers {
    ($write:ident) => {
        integers!($write: serialize_i8(i8), serialize_i16(i16), serialize_i32(i32),
            serialize_i64(i64), serialize_i128(i128), serialize_u8(u8), serialize_u16(u16),
            serialize_u32(u32), serialize_u64(u64), serialize_u128(u128));
    };
    ($write:ident: $($method:ident($ty:ty)),*) => {
        $(#[inline]
        fn $method(self, value: $ty) -> Result<(), CompactJsonError> {
            self.$write(value)
        })*
    };
}

mod compound;
mod map_key;
mod raw_value;
mod string;

use compound::{Compound, State, Struct};
use serde::ser::{self, Serialize};
use std::fmt::{self, Display, Write};

/// Why a value could not be written as JSON; the messages are serde_json's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompactJsonError {
    /// A map key that is not a string, a number, a bool, a char or a unit variant.
    #[error("key must be a string")]
    KeyMustBeAString,
    /// A float map key that is NaN or infinite.
    #[error("float key must be finite (got NaN or +/-inf)")]
    FloatKeyMustBeFinite,
    /// A struct named as serde_json's raw value token without its one field.
    #[error("expected value")]
    ExpectedValue,
    /// An error a `Serialize` implementation raised, or a failing `Display`. Boxed so
    /// that the `Result` every value returns fits in two registers.
    #[error("{0}")]
    Custom(Box<String>),
}

impl ser::Error for CompactJsonError {
    #[cold]
    fn custom<T: Display>(message: T) -> Self {
        CompactJsonError::Custom(Box::new(message.to_string()))
    }
}

/// Bytes a new document starts with. serde_json starts at 128; the documents written
/// on every request (answers, records) are several kilobytes, so a larger start saves
/// most of the copies of growing.
const INITIAL_CAPACITY: usize = 1024;

/// `value` as compact JSON.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CompactJsonError> {
    let mut out = Vec::with_capacity(INITIAL_CAPACITY);
    write(&mut out, value)?;
    Ok(out)
}

/// `value` as compact JSON text.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, CompactJsonError> {
    // Only whole `str`s and ASCII are written, so this check cannot fail; it reads the
    // bytes once, a small part of writing them.
    String::from_utf8(to_vec(value)?)
        .map_err(|_| CompactJsonError::Custom(Box::new("compact_json wrote invalid UTF-8".into())))
}

/// Appends `value` as compact JSON to `out`. On an error `out` may hold part of it.
pub fn write<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), CompactJsonError> {
    value.serialize(Serializer { out })
}

/// The serde serializer: appends one value to `out`.
struct Serializer<'o> {
    out: &'o mut Vec<u8>,
}

#[inline]
fn write_integer<I: itoa::Integer>(out: &mut Vec<u8>, value: I) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

impl<'o> Serializer<'o> {
    #[inline]
    fn integer<I: itoa::Integer>(self, value: I) -> Result<(), CompactJsonError> {
        write_integer(self.out, value);
        Ok(())
    }

    /// A float, or `null` for NaN and the infinities as serde_json writes them.
    #[inline]
    fn write_float<F: zmij::Float>(self, value: F, finite: bool) -> Result<(), CompactJsonError> {
        if finite {
            let mut buffer = zmij::Buffer::new();
            self.out
                .extend_from_slice(buffer.format_finite(value).as_bytes());
        } else {
            self.out.extend_from_slice(b"null");
        }
        Ok(())
    }

    #[inline]
    fn null(self) -> Result<(), CompactJsonError> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    /// Opens an array (`open` is `[]`) or an object (`{}`). One announced with a length
    /// of 0 is closed at once, as serde_json does.
    #[inline]
    fn open(self, len: Option<usize>, open: &[u8; 2]) -> Compound<'o> {
        if len == Some(0) {
            self.out.extend_from_slice(open);
            Compound::new(self.out, State::Empty)
        } else {
            self.out.extend_from_slice(&open[..1]);
            Compound::new(self.out, State::First)
        }
    }

    /// `{"variant":`, before a variant's content.
    #[inline]
    fn open_variant(&mut self, variant: &str) {
        self.out.push(b'{');
        string::write_key(self.out, variant);
    }
}

impl<'o> ser::Serializer for Serializer<'o> {
    type Ok = ();
    type Error = CompactJsonError;
    type SerializeSeq = Compound<'o>;
    type SerializeTuple = Compound<'o>;
    type SerializeTupleStruct = Compound<'o>;
    type SerializeTupleVariant = Compound<'o>;
    type SerializeMap = Compound<'o>;
    type SerializeStruct = Struct<'o>;
    type SerializeStructVariant = Compound<'o>;

    #[inline]
    fn serialize_bool(self, value: bool) -> Result<(), CompactJsonError> {
        self.out
            .extend_from_slice(if value { b"true" as &[u8] } else { b"false" });
        Ok(())
    }

    integers!(integer);

    #[inline]
    fn serialize_f32(self, value: f32) -> Result<(), CompactJsonError> {
        self.write_float(value, value.is_finite())
    }

    #[inline]
    fn serialize_f64(self, value: f64) -> Result<(), CompactJsonError> {
        self.write_float(value, value.is_finite())
    }

    #[inline]
    fn serialize_char(self, value: char) -> Result<(), CompactJsonError> {
        string::write_quoted(self.out, value.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    #[inline]
    fn serialize_str(self, value: &str) -> Result<(), CompactJsonError> {
        string::write_quoted(self.out, value);
        Ok(())
    }

    #[inline]
    fn serialize_bytes(self, value: &[u8]) -> Result<(), CompactJsonError> {
        self.out.push(b'[');
        for (idx, byte) in value.iter().enumerate() {
            if idx > 0 {
                self.out.push(b',');
            }
            write_integer(self.out, *byte);
        }
        self.out.push(b']');
        Ok(())
    }

    #[inline]
    fn serialize_none(self) -> Result<(), CompactJsonError> {
        self.null()
    }

    #[inline]
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), CompactJsonError> {
        value.serialize(self)
    }

    #[inline]
    fn serialize_unit(self) -> Result<(), CompactJsonError> {
        self.null()
    }

    #[inline]
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), CompactJsonError> {
        self.null()
    }

    #[inline]
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _variant_index: u32,
        variant: &'static str,
    ) -> Result<(), CompactJsonError> {
        string::write_quoted(self.out, variant);
        Ok(())
    }

    #[inline]
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), CompactJsonError> {
        value.serialize(self)
    }

    #[inline]
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        mut self,
        _name: &'static str,
        _variant_index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), CompactJsonError> {
        self.open_variant(variant);
        value.serialize(Serializer {
            out: &mut *self.out,
        })?;
        self.out.push(b'}');
        Ok(())
    }

    #[inline]
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'o>, CompactJsonError> {
        Ok(self.open(len, b"[]"))
    }

    #[inline]
    fn serialize_tuple(self, len: usize) -> Result<Compound<'o>, CompactJsonError> {
        Ok(self.open(Some(len), b"[]"))
    }

    #[inline]
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'o>, CompactJsonError> {
        Ok(self.open(Some(len), b"[]"))
    }

    #[inline]
    fn serialize_tuple_variant(
        mut self,
        _name: &'static str,
        _variant_index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'o>, CompactJsonError> {
        self.open_variant(variant);
        Ok(self.open(Some(len), b"[]"))
    }

    #[inline]
    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'o>, CompactJsonError> {
        Ok(self.open(len, b"{}"))
    }

    #[inline]
    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Struct<'o>, CompactJsonError> {
        if name == raw_value::TOKEN {
            return Ok(Struct::Raw(self.out));
        }
        Ok(Struct::Fields(self.open(Some(len), b"{}")))
    }

    #[inline]
    fn serialize_struct_variant(
        mut self,
        _name: &'static str,
        _variant_index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'o>, CompactJsonError> {
        self.open_variant(variant);
        Ok(self.open(Some(len), b"{}"))
    }

    /// Writes the text as it is formatted, escaping each piece, with no `String` of
    /// its own (chrono's times are serialised this way).
    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result<(), CompactJsonError> {
        self.out.push(b'"');
        write!(string::Escaping(self.out), "{value}").map_err(|fmt::Error| {
            CompactJsonError::Custom(Box::new(
                "a Display implementation returned an error".into(),
            ))
        })?;
        self.out.push(b'"');
        Ok(())
    }
}
