//! Receipt records and stored responses are kept LZ4-compressed: they are most of
//! what a commit writes (about 7 KB of JSON for a 17-line receipt, 1–2 KB packed), and
//! every byte is written to the WAL and synced before the till gets its answer.
//!
//! A packed value is a BLOB: the tag byte `0x01`, the original length (4 bytes, little
//! endian), then the LZ4 block. Rows written before packing hold plain JSON (TEXT for
//! records, a BLOB starting with `{` for responses) and read as they are.
//!
//! A value put together from parts packed earlier (a commit answer spliced from the
//! calculation's pieces, packed on the request's thread before the write was queued;
//! see [`block`]) is stored as blocks: the tag `0x02`, the original length, then each
//! block as its kind (`0` stored as is, `1` LZ4), its original length and its stored
//! length (4 bytes each, little endian) and its bytes. The blocks join into the value.

use crate::sql::db;
use rusqlite::types::ValueRef;
use rusqlite::Row;
use tessera_store::{StoreError, StoreResult};

const TAG: u8 = 0x01;
const BLOCKS: u8 = 0x02;
const STORED: u8 = 0;
const LZ4: u8 = 1;
/// A block's head: kind, original length, stored length.
const BLOCK_HEAD: usize = 9;
/// Gaps between ready blocks shorter than this are stored as they are: compressing a
/// few hundred bytes of ids and numbers saves little.
const SMALL: usize = 512;

/// Packs `bytes` for storage, compressed straight after the tag and the length (the
/// library's own prepend-size call allocates, shrinks and then had to be shifted to
/// make room for the tag: three copies of every record on the writer's thread).
pub fn pack(bytes: &[u8]) -> Vec<u8> {
    let mut packed = Vec::with_capacity(5 + lz4_flex::block::get_maximum_output_size(bytes.len()));
    packed.push(TAG);
    // Values stored are request-sized JSON documents, far below 4 GiB.
    packed.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    if !compress_onto(&mut packed, bytes) {
        // Fall back to the library's allocating call rather than lose the value.
        packed.truncate(1);
        packed.extend(lz4_flex::block::compress_prepend_size(bytes));
    }
    packed
}

/// Appends the LZ4 block of `bytes` to `out`, compressed in place into room of the
/// maximum size. False (and `out` as it was) if the library refuses, which it cannot
/// with that room.
fn compress_onto(out: &mut Vec<u8>, bytes: &[u8]) -> bool {
    let start = out.len();
    out.resize(
        start + lz4_flex::block::get_maximum_output_size(bytes.len()),
        0,
    );
    match lz4_flex::block::compress_into(bytes, &mut out[start..]) {
        Ok(len) => {
            out.truncate(start + len);
            true
        }
        Err(_) => {
            out.truncate(start);
            false
        }
    }
}

/// `bytes` as one block of a blocks value, LZ4-compressed: made ahead of the write, on
/// the request's thread, for [`pack_with`].
pub fn block(bytes: &[u8]) -> Vec<u8> {
    let mut block = Vec::new();
    push_block(&mut block, bytes, LZ4);
    block
}

fn push_block(out: &mut Vec<u8>, bytes: &[u8], kind: u8) {
    let head = out.len();
    out.push(kind);
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    let start = out.len();
    if kind != LZ4 || !compress_onto(out, bytes) {
        out[head] = STORED;
        out.extend_from_slice(bytes);
    }
    let stored = (out.len() - start) as u32;
    out[head + 5..start].copy_from_slice(&stored.to_le_bytes());
}

/// Packs `bytes`, of which the `ready` ranges (in order, not overlapping) were packed
/// earlier into the blocks given with them (by [`block`], from those very bytes); the
/// rest is packed here. Without usable blocks (none, out of order, or one whose length
/// is not its range's), packs the whole value as [`pack`] does.
pub fn pack_with(bytes: &[u8], ready: &[(std::ops::Range<usize>, &[u8])]) -> Vec<u8> {
    let mut end = 0;
    for (range, block) in ready {
        let fits = range.start >= end
            && range.end <= bytes.len()
            && block.len() >= BLOCK_HEAD
            && block[0] == LZ4
            && block[1..5] == (range.len() as u32).to_le_bytes();
        if !fits {
            return pack(bytes);
        }
        end = range.end;
    }
    if ready.is_empty() {
        return pack(bytes);
    }
    let mut out = Vec::with_capacity(
        5 + ready.iter().map(|(_, b)| b.len()).sum::<usize>() + bytes.len() / 4 + 64,
    );
    out.push(BLOCKS);
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    let gap = |out: &mut Vec<u8>, part: &[u8]| {
        if !part.is_empty() {
            push_block(out, part, if part.len() < SMALL { STORED } else { LZ4 });
        }
    };
    let mut at = 0;
    for (range, block) in ready {
        gap(&mut out, &bytes[at..range.start]);
        out.extend_from_slice(block);
        at = range.end;
    }
    gap(&mut out, &bytes[at..]);
    out
}

/// The value of a blocks value (the bytes after its tag).
fn unpack_blocks(rest: &[u8]) -> Result<Vec<u8>, String> {
    let number = |at: usize| -> Result<usize, String> {
        rest.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or_else(|| "cut short".to_string())
    };
    let total = number(0)?;
    let mut out = vec![0u8; total];
    let (mut at, mut filled) = (4, 0);
    while at < rest.len() {
        let kind = rest[at];
        let (raw, stored) = (number(at + 1)?, number(at + 5)?);
        let data = rest
            .get(at + BLOCK_HEAD..at + BLOCK_HEAD + stored)
            .ok_or("a block is cut short")?;
        let into = out
            .get_mut(filled..filled + raw)
            .ok_or("the blocks are longer than the value")?;
        let made = match kind {
            STORED if stored == raw => {
                into.copy_from_slice(data);
                raw
            }
            LZ4 => lz4_flex::block::decompress_into(data, into).map_err(|e| e.to_string())?,
            _ => return Err(format!("a block of kind {kind}")),
        };
        if made != raw {
            return Err("a block is not its stated length".to_string());
        }
        filled += raw;
        at += BLOCK_HEAD + stored;
    }
    if filled != total {
        return Err("the blocks are shorter than the value".to_string());
    }
    Ok(out)
}

/// The original bytes of a stored value, packed or not.
pub fn unpack(value: ValueRef<'_>) -> StoreResult<Vec<u8>> {
    match value {
        ValueRef::Blob([TAG, rest @ ..]) => lz4_flex::block::decompress_size_prepended(rest)
            .map_err(|e| StoreError::backend(format!("a packed value is damaged: {e}"))),
        ValueRef::Blob([BLOCKS, rest @ ..]) => unpack_blocks(rest)
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
    fn values_spliced_from_blocks_packed_earlier_come_back_byte_for_byte() {
        let head = br#"{"receipt_id":"r1","status":"committed","#;
        let lines: Vec<u8> = (0..40)
            .flat_map(|i| format!(r#"{{"line":{i},"sku":"A","qty":1,"price":100}},"#).into_bytes())
            .collect();
        let middle = [b'm'; 700];
        let tail = br#""balance":{"available":12,"pending":3}}"#;
        let value = [&head[..], &lines, &middle, &lines, tail].concat();
        let first = head.len()..head.len() + lines.len();
        let second = first.end + middle.len()..first.end + middle.len() + lines.len();
        let packed_lines = block(&lines);
        let ready = [
            (first.clone(), &packed_lines[..]),
            (second.clone(), &packed_lines[..]),
        ];
        let packed = pack_with(&value, &ready);
        assert_eq!(packed[0], BLOCKS);
        assert!(packed.len() < value.len() / 2, "{} bytes", packed.len());
        assert_eq!(unpack(ValueRef::Blob(&packed)).unwrap(), value);
        // Ready blocks at the very start and end, with no gap around them.
        let whole = pack_with(&lines, &[(0..lines.len(), &packed_lines[..])]);
        assert_eq!(unpack(ValueRef::Blob(&whole)).unwrap(), lines);

        // Blocks that do not fit their ranges are not used: the value is packed whole.
        let short = block(&lines[1..]);
        let wrong = [(first.clone(), &short[..])];
        assert_eq!(pack_with(&value, &wrong), pack(&value));
        let backwards = [
            (second.clone(), &packed_lines[..]),
            (first.clone(), &packed_lines[..]),
        ];
        assert_eq!(pack_with(&value, &backwards), pack(&value));
        let outside = [(
            value.len() - 10..value.len() + lines.len() - 10,
            &packed_lines[..],
        )];
        assert_eq!(pack_with(&value, &outside), pack(&value));
        assert_eq!(pack_with(&value, &[]), pack(&value));

        // Damage anywhere in the blocks is an error, never other bytes.
        for cut in [1, 6, 20, packed.len() / 2, packed.len() - 1] {
            assert!(
                unpack(ValueRef::Blob(&packed[..cut])).is_err(),
                "cut at {cut}"
            );
        }
        let mut longer = packed.clone();
        longer.extend_from_slice(&[STORED, 1, 0, 0, 0, 1, 0, 0, 0, b'x']);
        assert!(unpack(ValueRef::Blob(&longer)).is_err());
        let mut kind = packed.clone();
        kind[5] = 7;
        assert!(unpack(ValueRef::Blob(&kind)).is_err());
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
