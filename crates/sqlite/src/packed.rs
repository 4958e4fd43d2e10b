//! Receipt records and stored responses are kept LZ4-compressed: they are most of
//! what a commit writes (about 7 KB of JSON for a 17-line receipt, 1–2 KB packed), and
//! every byte is written to the WAL and synced before the till gets its answer.
//!
//! A packed value is a BLOB: the tag byte `0x01`, the original length (4 bytes, little
//! endian), then the LZ4 block. Rows written before packing hold plain JSON (TEXT for
//! records, a BLOB starting with `{` for responses) and read as they are.

use crate::sql::db;
use rusqlite::types::ValueRef;
use rusqlite::Row;
use tessera_store::{StoreError, StoreResult};

const TAG: u8 = 0x01;

/// Packs `bytes` for storage, compressed straight after the tag and the length (the
/// library's own prepend-size call allocates, shrinks and then had to be shifted to
/// make room for the tag: three copies of every record on the writer's thread).
pub fn pack(bytes: &[u8]) -> Vec<u8> {
    const HEAD: usize = 5;
    let mut packed = vec![0u8; HEAD + lz4_flex::block::get_maximum_output_size(bytes.len())];
    packed[0] = TAG;
    // Values stored are request-sized JSON documents, far below 4 GiB.
    packed[1..HEAD].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
    match lz4_flex::block::compress_into(bytes, &mut packed[HEAD..]) {
        Ok(len) => packed.truncate(HEAD + len),
        // Cannot happen with a buffer of the maximum size; fall back to the library's
        // allocating call rather than lose the value.
        Err(_) => {
            packed.truncate(1);
            packed.extend(lz4_flex::block::compress_prepend_size(bytes));
        }
    }
    packed
}

/// The original bytes of a stored value, packed or not.
pub fn unpack(value: ValueRef<'_>) -> StoreResult<Vec<u8>> {
    match value {
        ValueRef::Blob([TAG, rest @ ..]) => lz4_flex::block::decompress_size_prepended(rest)
            .map_err(|e| StoreError::backend(format!("a packed value is damaged: {e}"))),
        ValueRef::Blob(bytes) | ValueRef::Text(bytes) => Ok(bytes.to_vec()),
        other => Err(StoreError::backend(format!(
            "a stored document has the type {:?}",
            other.data_type()
        ))),
    }
}

/// Column `idx` of `row`, unpacked.
pub fn column(row: &Row, idx: usize) -> StoreResult<Vec<u8>> {
    unpack(row.get_ref(idx).map_err(db)?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn packed_values_come_back_byte_for_byte() {
        let json = br#"{"receipt_id":"r1","lines":[{"line":1,"sku":"A","qty":1,"price":100},{"line":2,"sku":"A","qty":1,"price":100}]}"#;
        let packed = pack(json);
        assert_eq!(packed[0], TAG);
        assert_eq!(unpack(ValueRef::Blob(&packed)).unwrap(), json.to_vec());
        let empty = pack(b"");
        assert_eq!(unpack(ValueRef::Blob(&empty)).unwrap(), Vec::<u8>::new());
        // The layout is the one rows already stored use: tag, length, LZ4 block.
        let mut old = vec![TAG];
        old.extend(lz4_flex::block::compress_prepend_size(json));
        assert_eq!(packed, old);
        let big: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        assert_eq!(unpack(ValueRef::Blob(&pack(&big))).unwrap(), big);
    }

    #[test]
    fn plain_rows_from_before_packing_read_as_they_are() {
        assert_eq!(unpack(ValueRef::Text(b"{\"a\":1}")).unwrap(), b"{\"a\":1}");
        assert_eq!(unpack(ValueRef::Blob(b"{\"a\":1}")).unwrap(), b"{\"a\":1}");
    }

    #[test]
    fn damaged_or_mistyped_values_are_errors() {
        let mut packed = pack(&[b'x'; 500]);
        packed.truncate(packed.len() - 3);
        assert!(unpack(ValueRef::Blob(&packed)).is_err());
        assert!(unpack(ValueRef::Integer(7)).is_err());
        assert!(unpack(ValueRef::Null).is_err());
    }
}
