//! Arrays and objects being written: the separators between their members and how
//! they close.

use super::map_key::MapKeySerializer;
use super::raw_value::{RawValueEmitter, TOKEN};
use super::{string, CompactJsonError, Serializer};
use serde::ser::{self, Serialize};

/// Where an array or object is, as serde_json tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    /// Announced with length 0 and closed already: it writes no closing bracket. A
    /// member sent anyway is still written, after a comma, as serde_json does.
    Empty,
    /// Open, with no member yet.
    First,
    /// Open, with members.
    Rest,
}

/// An open array or object, and a tuple, struct or variant written as one.
pub struct Compound<'o> {
    out: &'o mut Vec<u8>,
    state: State,
}

impl<'o> Compound<'o> {
    #[inline]
    pub(super) fn new(out: &'o mut Vec<u8>, state: State) -> Self {
        Compound { out, state }
    }

    /// The comma before every member but the first.
    #[inline]
    fn separate(&mut self) {
        if self.state != State::First {
            self.out.push(b',');
        }
        self.state = State::Rest;
    }

    #[inline]
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CompactJsonError> {
        self.separate();
        value.serialize(Serializer {
            out: &mut *self.out,
        })
    }

    /// A struct's field: its key is a name in the program, written with its colon in
    /// one go.
    #[inline]
    fn field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), CompactJsonError> {
        self.separate();
        string::write_key(self.out, key);
        value.serialize(Serializer {
            out: &mut *self.out,
        })
    }

    /// Writes `close` unless the compound was closed when it was opened.
    #[inline]
    fn close(self, close: u8) -> &'o mut Vec<u8> {
        if self.state != State::Empty {
            self.out.push(close);
        }
        self.out
    }
}

/// The four array-like compounds: every member is an element, closed by `]` and then
/// `$after` (`}` for a tuple variant's `{"Variant":[...]}`).
macro_rules! array_like {
    ($($trait:ident::$add:ident, then $after:literal;)*) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = CompactJsonError;

            #[inline]
            fn $add<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CompactJsonError> {
                self.element(value)
            }

            #[inline]
            fn end(self) -> Result<(), CompactJsonError> {
                self.close(b']').extend_from_slice($after);
                Ok(())
            }
        }
    )*};
}

array_like! {
    SerializeSeq::serialize_element, then b"";
    SerializeTuple::serialize_element, then b"";
    SerializeTupleStruct::serialize_field, then b"";
    SerializeTupleVariant::serialize_field, then b"}";
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = CompactJsonError;

    #[inline]
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), CompactJsonError> {
        self.separate();
        key.serialize(MapKeySerializer {
            out: &mut *self.out,
        })
    }

    #[inline]
    fn serialize_value<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<(), CompactJsonError> {
        self.out.push(b':');
        value.serialize(Serializer {
            out: &mut *self.out,
        })
    }

    #[inline]
    fn end(self) -> Result<(), CompactJsonError> {
        self.close(b'}');
        Ok(())
    }
}

/// `{"Variant":{...}}`.
impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = CompactJsonError;

    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), CompactJsonError> {
        self.field(key, value)
    }

    #[inline]
    fn end(self) -> Result<(), CompactJsonError> {
        self.close(b'}').push(b'}');
        Ok(())
    }
}

/// A struct being written: an object, or serde_json's raw value, which is copied.
pub enum Struct<'o> {
    Fields(Compound<'o>),
    Raw(&'o mut Vec<u8>),
}

impl ser::SerializeStruct for Struct<'_> {
    type Ok = ();
    type Error = CompactJsonError;

    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), CompactJsonError> {
        match self {
            Struct::Fields(compound) => compound.field(key, value),
            Struct::Raw(out) if key == TOKEN => value.serialize(RawValueEmitter { out }),
            Struct::Raw(_) => Err(CompactJsonError::ExpectedValue),
        }
    }

    #[inline]
    fn end(self) -> Result<(), CompactJsonError> {
        if let Struct::Fields(compound) = self {
            compound.close(b'}');
        }
        Ok(())
    }
}
