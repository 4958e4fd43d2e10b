//! JSON strings as serde_json escapes them: `"`, `\` and bytes below 0x20, nothing
//! else.
//!
//! Most strings (every field key, SKUs, ids) need no escape at all: a test of eight
//! bytes at a time tells so, and such a string is copied whole. Only one that needs an
//! escape is looked at byte by byte, its runs between escapes still copied whole.

use std::fmt;

/// For each byte, the letter of its escape (`\n` is `n`; `u` for `\u00xx`), or 0 when
/// it is written as it is. serde_json's table.
static ESCAPE: [u8; 256] = escape_table();

const fn escape_table() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";
const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any of the eight bytes of `word` needs an escape. Exact: each term is the
/// classic test for a byte below n (n at most 0x80) or a zero byte, which can be
/// wrong about which byte but not about whether there is one.
#[inline(always)]
fn needs_escape(word: u64) -> bool {
    let below_space = word.wrapping_sub(ONES * 0x20) & !word;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let has_quote = quote.wrapping_sub(ONES) & !quote;
    let has_backslash = backslash.wrapping_sub(ONES) & !backslash;
    (below_space | has_quote | has_backslash) & HIGHS != 0
}

/// Whether no byte of `bytes` needs an escape, in one or two word tests for the short
/// texts most are: words overlap rather than looping over a tail byte by byte.
#[inline(always)]
fn is_clean(bytes: &[u8]) -> bool {
    let word = |chunk: &[u8; 8]| u64::from_le_bytes(*chunk);
    let half = |chunk: &[u8; 4]| u64::from(u32::from_le_bytes(*chunk));
    if let Some(last) = bytes.last_chunk::<8>() {
        let mut rest = bytes;
        while let Some((chunk, tail)) = rest.split_first_chunk::<8>() {
            if needs_escape(word(chunk)) {
                return false;
            }
            rest = tail;
        }
        return rest.is_empty() || !needs_escape(word(last));
    }
    if let (Some(head), Some(tail)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
        return !needs_escape(half(head) | half(tail) << 32);
    }
    // 0 to 3 bytes: the first, middle and last are all of them; the rest of the word
    // is letters.
    match (bytes.first(), bytes.get(bytes.len() / 2), bytes.last()) {
        (Some(first), Some(middle), Some(last)) => !needs_escape(
            (ONES * u64::from(b'a')) << 24
                | u64::from(*first)
                | u64::from(*middle) << 8
                | u64::from(*last) << 16,
        ),
        _ => true,
    }
}

/// Appends `text` escaped, without quotes.
#[inline(always)]
pub(super) fn write_escaped(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    if is_clean(bytes) {
        out.extend_from_slice(bytes);
    } else {
        write_escaped_runs(out, bytes);
    }
}

/// Appends a text that needs escapes: the runs between them are copied whole.
#[cold]
#[inline(never)]
fn write_escaped_runs(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut start = 0;
    for (idx, byte) in bytes.iter().enumerate() {
        if ESCAPE[usize::from(*byte)] == 0 {
            continue;
        }
        out.extend_from_slice(bytes.get(start..idx).unwrap_or_default());
        write_escape(out, *byte);
        start = idx + 1;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
}

fn write_escape(out: &mut Vec<u8>, byte: u8) {
    match ESCAPE[usize::from(byte)] {
        b'u' => {
            out.extend_from_slice(b"\\u00");
            out.push(HEX_DIGITS[usize::from(byte >> 4)]);
            out.push(HEX_DIGITS[usize::from(byte & 0xf)]);
        }
        letter => {
            out.push(b'\\');
            out.push(letter);
        }
    }
}

/// Appends `"text"`.
#[inline(always)]
pub(super) fn write_quoted(out: &mut Vec<u8>, text: &str) {
    write_framed(out, text, b"\"");
}

/// Appends `"key":`, a member's key and its colon.
#[inline(always)]
pub(super) fn write_key(out: &mut Vec<u8>, key: &str) {
    write_framed(out, key, b"\":");
}

/// Appends `"`, `text` escaped and `close` (one or two bytes). Inlined, as are the
/// helpers of the clean path, into each struct field's code: a call per key cost more
/// than the few instructions of the test.
#[inline(always)]
fn write_framed(out: &mut Vec<u8>, text: &str, close: &[u8]) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 1 + close.len());
    out.push(b'"');
    write_escaped(out, text);
    out.extend_from_slice(close);
}

/// Escapes what is formatted into it, for `collect_str`.
pub(super) struct Escaping<'o>(pub &'o mut Vec<u8>);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        write_escaped(self.0, text);
        Ok(())
    }
}
