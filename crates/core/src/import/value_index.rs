//! The identifier values of an import: each value the file carries once, with the rows
//! and the existing profiles that carry it.

use crate::matching::Identifier;
use std::hash::{BuildHasherDefault, Hasher};

/// Every identifier value some row of the file carries, numbered in the order the rows
/// are given, with the rows and the existing profiles carrying each.
pub(super) struct ValueIndex<'a> {
    /// Each value's identifier and text (for an external id, the id in the import's
    /// source).
    pub values: Vec<(Identifier, &'a str)>,
    /// Row positions carrying each value, in the order the rows were added.
    pub rows: Postings,
    /// Existing profiles carrying each value, each once, ascending.
    pub existing: Postings,
}

/// The value of one identifier on a row or profile.
pub(super) type Carried<'a> = (Identifier, &'a str);

impl<'a> ValueIndex<'a> {
    /// Numbers the values of `rows` (in the order given) and finds the existing
    /// profiles carrying any of them. Existing values that no row carries are not kept.
    ///
    /// Both sides are sorted by a hash of the value and joined by merging, not looked up
    /// in a hash table: with millions of values on each side, sorting touches memory in
    /// order where a table would miss the cache on nearly every look-up.
    pub fn build<R, E>(rows: R, n_rows: usize, existing: E) -> ValueIndex<'a>
    where
        R: IntoIterator<Item = (u32, [Option<Carried<'a>>; 4])>,
        E: IntoIterator<Item = (u32, Carried<'a>)>,
    {
        // Every value a row carries with the row, in row order.
        let mut carried: Vec<(Carried<'a>, u32)> = Vec::with_capacity(n_rows * 3);
        for (position, values) in rows {
            carried.extend(values.into_iter().flatten().map(|value| (value, position)));
        }
        let mut by_hash: Vec<(u64, u32)> = carried
            .iter()
            .enumerate()
            .map(|(seq, (value, _))| (hash(*value), seq as u32))
            .collect();
        by_hash.sort_unstable();
        // Number the distinct values; equal hashes of different values (rare) are told
        // apart by comparing the text.
        let mut values: Vec<Carried<'a>> = Vec::new();
        let mut value_hashes: Vec<u64> = Vec::new();
        let mut row_pairs: Vec<(u32, u32)> = Vec::with_capacity(by_hash.len());
        let mut run_start = 0;
        while run_start < by_hash.len() {
            let run_hash = by_hash[run_start].0;
            let run_end = run_start
                + by_hash[run_start..]
                    .iter()
                    .take_while(|(h, _)| *h == run_hash)
                    .count();
            let first_id = values.len();
            for &(_, seq) in &by_hash[run_start..run_end] {
                let (value, position) = carried[seq as usize];
                let id = match values[first_id..].iter().position(|v| *v == value) {
                    Some(offset) => first_id + offset,
                    None => {
                        values.push(value);
                        value_hashes.push(run_hash);
                        values.len() - 1
                    }
                };
                row_pairs.push((id as u32, position));
            }
            run_start = run_end;
        }
        drop(carried);
        // The existing side: sorted the same way, then merged with the distinct values.
        let mut held: Vec<(u64, u32, Carried<'a>)> = existing
            .into_iter()
            .map(|(profile, value)| (hash(value), profile, value))
            .collect();
        held.sort_unstable_by_key(|&(h, profile, _)| (h, profile));
        let mut existing_pairs: Vec<(u32, u32)> = Vec::new();
        let mut id = 0usize;
        for (h, profile, value) in held {
            while id < value_hashes.len() && value_hashes[id] < h {
                id += 1;
            }
            let same_hash = value_hashes[id..].iter().take_while(|&&vh| vh == h).count();
            if let Some(offset) = values[id..id + same_hash].iter().position(|v| *v == value) {
                existing_pairs.push(((id + offset) as u32, profile));
            }
        }
        let n_values = values.len();
        let rows = Postings::build(n_values, &row_pairs);
        let mut existing = Postings::build(n_values, &existing_pairs);
        existing.sort_and_dedup();
        ValueIndex {
            values,
            rows,
            existing,
        }
    }
}

/// A 64-bit hash of an identifier value: FxHash over the text, then the finaliser of
/// MurmurHash3 so that every bit of the result depends on every bit of the text.
fn hash((on, text): Carried<'_>) -> u64 {
    let mut hasher = FxHasher::default();
    hasher.write_u8(on as u8);
    hasher.write(text.as_bytes());
    let mut h = hasher.hash ^ text.len() as u64;
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// For each value id, a list of numbers (rows or profiles): one flat array cut into
/// consecutive slices, built by counting.
pub(super) struct Postings {
    starts: Vec<u32>,
    items: Vec<u32>,
}

impl Postings {
    /// The lists of `(value id, item)` pairs, each in the order the pairs come.
    fn build(n_values: usize, pairs: &[(u32, u32)]) -> Postings {
        let mut starts = vec![0u32; n_values + 1];
        for &(id, _) in pairs {
            starts[id as usize + 1] += 1;
        }
        for idx in 1..starts.len() {
            starts[idx] += starts[idx - 1];
        }
        let mut next = starts.clone();
        let mut items = vec![0u32; pairs.len()];
        for &(id, item) in pairs {
            let slot = &mut next[id as usize];
            items[*slot as usize] = item;
            *slot += 1;
        }
        Postings { starts, items }
    }

    /// Sorts each list and drops repeated items (a profile listing a value twice).
    fn sort_and_dedup(&mut self) {
        let mut write = 0usize;
        let mut new_starts = Vec::with_capacity(self.starts.len());
        new_starts.push(0u32);
        for id in 0..self.starts.len() - 1 {
            let (start, end) = (self.starts[id] as usize, self.starts[id + 1] as usize);
            let list = &mut self.items[start..end];
            list.sort_unstable();
            let mut last = None;
            for read in start..end {
                let item = self.items[read];
                if last != Some(item) {
                    self.items[write] = item;
                    write += 1;
                    last = Some(item);
                }
            }
            new_starts.push(write as u32);
        }
        self.items.truncate(write);
        self.starts = new_starts;
    }

    /// The list of value `id`.
    pub fn get(&self, id: u32) -> &[u32] {
        let id = id as usize;
        match (self.starts.get(id), self.starts.get(id + 1)) {
            (Some(&start), Some(&end)) => &self.items[start as usize..end as usize],
            _ => &[],
        }
    }
}

/// FxHash (as in rustc): a multiply-rotate hash, several times faster than SipHash on
/// short keys. The keys come from the file, so a hostile file could force collisions;
/// that costs time, never a wrong answer.
#[derive(Default, Clone, Copy)]
pub(super) struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        // The multiply carries low bits upwards only; hashbrown picks buckets by the low
        // bits, so fold the high half down (as rustc-hash 2 does with a rotation).
        self.hash ^ (self.hash >> 32)
    }
}

/// A `HashMap` hasher builder for [`FxHasher`].
pub(super) type FastHash = BuildHasherDefault<FxHasher>;
