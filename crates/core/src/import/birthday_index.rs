//! Blocking for fuzzy matching: people indexed by birthday and name initial, so that a
//! record is scored only against the few whose birthday can be its own
//! ([`compatible_birthdays`]) and whose names start alike.
//!
//! A person is filed under the initial (the first byte of the folded name) of their
//! last name and, if they have one, of their first name, so a typo or transliteration
//! after the first letter, a diminutive (Sasha Ivanov / Aleksandr Ivanov) and first and
//! last names written the wrong way round are all found. A pair whose initials share nothing is never
//! compared: that is the price of staying near linear.
//!
//! Within a bucket, a [`Sketch`] of each name (its set of letters and its length)
//! drops most pairs before they are scored: [`folded_score`](crate::matching::folded_score)
//! counts two names more than a typo apart (one edit, two from 8 characters) at most
//! 0.70, and one edit changes the letter set by at most two letters and the length by
//! at most one. So a pair whose names are all further apart than that scores at most
//! `(0.70 + 1) / 2 + 0.04` (a perfect other name and agreeing middle names), that is
//! [`SKETCH_BOUND`], and the sketches are used only when the threshold is above it.

use crate::contact::BIRTH_YEAR_MIN;
use crate::matching::{compatible_birthdays, FoldedPerson, DIMINUTIVES};
use chrono::{Datelike, NaiveDate};

/// The latest birth year compared (see [`Filing`]).
const LATEST_BIRTH_YEAR: i32 = 2100;

/// The highest name-and-birthday score a pair the sketches drop can reach.
pub(super) const SKETCH_BOUND: f64 = 0.89;
/// Names of at least this many characters may be two edits apart and still count as a
/// typo (as in `matching`).
const LONG_NAME: u8 = 8;

/// The letters and length of a folded name; a length of 0 for no name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NameSketch {
    /// Bit `n` for the `n`th Latin letter, bit 26 for a space, bit 27 for any other
    /// character.
    letters: u32,
    /// Characters, at most 255.
    len: u8,
}

impl NameSketch {
    fn of(name: &str) -> NameSketch {
        let mut letters = 0u32;
        let mut len = 0u8;
        for b in name.bytes() {
            letters |= match b {
                b'a'..=b'z' => 1 << (b - b'a'),
                b' ' => 1 << 26,
                _ => 1 << 27,
            };
            // A char is its leading byte plus continuation bytes (0b10xx_xxxx).
            if b & 0xc0 != 0x80 {
                len = len.saturating_add(1);
            }
        }
        NameSketch { letters, len }
    }

    /// Whether the names can be within a typo of each other.
    fn near(self, other: NameSketch) -> bool {
        let edits: u8 = if self.len.max(other.len) >= LONG_NAME {
            2
        } else {
            1
        };
        (self.letters ^ other.letters).count_ones() <= 2 * u32::from(edits)
            && self.len.abs_diff(other.len) <= edits
    }
}

/// The names of a person, sketched: 24 bytes, so that a bucket is read quickly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Sketch {
    last: NameSketch,
    /// Of length 0 when there is no first name.
    first: NameSketch,
    /// The full names of [`DIMINUTIVES`] the first name is or is a diminutive of, one
    /// bit each ([`Diminutives`]): two first names can be a diminutive pair only if
    /// they share one.
    first_full_names: u64,
}

impl Sketch {
    /// Whether the pair can score above [`SKETCH_BOUND`] (see the module doc).
    fn may_match(self, other: Sketch) -> bool {
        let both_firsts = self.first.len > 0 && other.first.len > 0;
        let firsts_may = !both_firsts
            || self.first.near(other.first)
            || self.first_full_names & other.first_full_names != 0;
        let straight = self.last.near(other.last) && firsts_may;
        let crossed = both_firsts && self.last.near(other.first) && self.first.near(other.last);
        straight || crossed
    }
}

/// The names of [`DIMINUTIVES`] and the full names each stands for, as bit sets.
pub(super) struct Diminutives {
    /// Every name of the table, sorted, with its set of full names.
    names: Vec<(&'static str, u64)>,
}

impl Diminutives {
    pub fn new() -> Diminutives {
        let mut fulls: Vec<&str> = DIMINUTIVES.iter().map(|&(_, full)| full).collect();
        fulls.sort_unstable();
        fulls.dedup();
        // Were there more full names than bits, the last ones would share a bit: the
        // sets would still hold every true pair.
        let bit = |full: &str| {
            let idx = fulls.binary_search(&full).unwrap_or(0).min(63);
            1u64 << idx
        };
        let mut names: Vec<(&'static str, u64)> = Vec::new();
        for &(short, full) in DIMINUTIVES {
            names.push((short, bit(full)));
            names.push((full, bit(full)));
        }
        names.sort_unstable_by_key(|&(name, _)| name);
        let mut merged: Vec<(&'static str, u64)> = Vec::with_capacity(names.len());
        for (name, bits) in names {
            match merged.last_mut() {
                Some(last) if last.0 == name => last.1 |= bits,
                _ => merged.push((name, bits)),
            }
        }
        Diminutives { names: merged }
    }

    fn full_names(&self, name: &str) -> u64 {
        self.names
            .binary_search_by_key(&name, |&(n, _)| n)
            .map_or(0, |idx| self.names[idx].1)
    }
}

/// What fuzzy matching knows of a person: birthday, initials and sketch; `None` when
/// they cannot be scored (no birthday or no last name) or their birthday is before
/// [`BIRTH_YEAR_MIN`] or after [`LATEST_BIRTH_YEAR`] (placeholders of old systems,
/// which an import refuses anyway, and which would make the index as long as the
/// centuries between them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Filing {
    birthday: NaiveDate,
    last_initial: u8,
    first_initial: Option<u8>,
    sketch: Sketch,
}

impl Filing {
    pub fn of(person: &FoldedPerson, diminutives: &Diminutives) -> Option<Filing> {
        let birthday = person
            .birthday
            .filter(|b| (BIRTH_YEAR_MIN..=LATEST_BIRTH_YEAR).contains(&b.year()))?;
        let last = person.last_name.as_deref()?;
        let first = person.first_name.as_deref();
        Some(Filing {
            birthday,
            last_initial: *last.as_bytes().first()?,
            first_initial: first.and_then(|f| f.as_bytes().first().copied()),
            sketch: Sketch {
                last: NameSketch::of(last),
                first: first.map_or(NameSketch { letters: 0, len: 0 }, NameSketch::of),
                first_full_names: first.map_or(0, |f| diminutives.full_names(f)),
            },
        })
    }

    pub fn birthday(&self) -> NaiveDate {
        self.birthday
    }

    fn initials(&self) -> impl Iterator<Item = u8> + '_ {
        let first = self.first_initial.filter(|&f| f != self.last_initial);
        std::iter::once(self.last_initial).chain(first)
    }
}

/// One person filed under one initial.
#[derive(Debug, Clone, Copy)]
struct Entry {
    item: u32,
    sketch: Sketch,
}

/// People indexed by name initial, then birthday: the entries of one initial and day
/// are found without a search, and the days a birthday is compatible with lie close
/// together.
pub(super) struct BirthdayIndex {
    /// The day number ([`Datelike::num_days_from_ce`]) of the first day of each initial.
    first_day: i32,
    /// Days from `first_day` to the last birthday, plus one.
    n_days: usize,
    /// The row of `starts` of each initial byte, `u16::MAX` for one no name starts with.
    initial_row: [u16; 256],
    /// For each initial present, where each day's entries start; a final entry ends the
    /// last day of the last initial.
    starts: Vec<u32>,
    /// Sorted by initial, then day, then item.
    entries: Vec<Entry>,
}

impl BirthdayIndex {
    /// Indexes people by item number.
    pub fn build(people: impl IntoIterator<Item = (u32, Filing)>) -> BirthdayIndex {
        let mut filed: Vec<(u8, i32, Entry)> = Vec::new();
        for (item, filing) in people {
            let day = filing.birthday.num_days_from_ce();
            for initial in filing.initials() {
                let entry = Entry {
                    item,
                    sketch: filing.sketch,
                };
                filed.push((initial, day, entry));
            }
        }
        filed.sort_unstable_by_key(|(initial, day, e)| (*initial, *day, e.item));
        let first_day = filed.iter().map(|f| f.1).min().unwrap_or(0);
        let last_day = filed.iter().map(|f| f.1).max().unwrap_or(0);
        let n_days = (last_day - first_day) as usize + 1;
        let mut initial_row = [u16::MAX; 256];
        let mut n_rows = 0usize;
        for &(initial, _, _) in &filed {
            if initial_row[usize::from(initial)] == u16::MAX {
                initial_row[usize::from(initial)] = n_rows as u16;
                n_rows += 1;
            }
        }
        let mut starts = vec![0u32; n_rows * n_days + 1];
        for &(initial, day, _) in &filed {
            let slot = usize::from(initial_row[usize::from(initial)]) * n_days
                + (day - first_day) as usize;
            starts[slot + 1] += 1;
        }
        for idx in 1..starts.len() {
            starts[idx] += starts[idx - 1];
        }
        let entries = filed.into_iter().map(|(_, _, entry)| entry).collect();
        BirthdayIndex {
            first_day,
            n_days,
            initial_row,
            starts,
            entries,
        }
    }

    /// The entries filed under `initial` and `date`.
    fn bucket(&self, initial: u8, date: NaiveDate) -> &[Entry] {
        let row = self.initial_row[usize::from(initial)];
        let Ok(day) = usize::try_from(date.num_days_from_ce() - self.first_day) else {
            return &[];
        };
        if row == u16::MAX || day >= self.n_days {
            return &[];
        }
        let slot = usize::from(row) * self.n_days + day;
        match (self.starts.get(slot), self.starts.get(slot + 1)) {
            (Some(&start), Some(&end)) => &self.entries[start as usize..end as usize],
            _ => &[],
        }
    }

    /// Pushes onto `out` the items filed under a birthday compatible with `filing`'s
    /// and one of its initials, and, when `sketched`, whose sketch may match. An item
    /// may be pushed twice (under both initials). With `from_own_birthday`, only
    /// birthdays on or after `filing`'s are looked at: to find each pair of one
    /// population once, as compatibility is symmetric.
    pub fn candidates(
        &self,
        filing: &Filing,
        sketched: bool,
        from_own_birthday: bool,
        out: &mut Vec<u32>,
    ) {
        for date in compatible_birthdays(filing.birthday) {
            if from_own_birthday && date < filing.birthday {
                continue;
            }
            for initial in filing.initials() {
                out.extend(
                    self.bucket(initial, date)
                        .iter()
                        .filter(|e| !sketched || filing.sketch.may_match(e.sketch))
                        .map(|e| e.item),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::{folded_score, Person, DEFAULT_FUZZY_THRESHOLD};

    fn folded(last: &str, first: &str, middle: &str) -> FoldedPerson {
        Person {
            first_name: (!first.is_empty()).then_some(first),
            middle_name: (!middle.is_empty()).then_some(middle),
            last_name: Some(last),
            birthday: NaiveDate::from_ymd_opt(1985, 3, 7),
        }
        .fold()
    }

    /// Every pair of a list of similar names that scores above the bound passes the
    /// sketches: the sketches only ever drop pairs that could not be candidates.
    #[test]
    fn sketches_never_drop_a_pair_above_the_bound() {
        const { assert!(SKETCH_BOUND < DEFAULT_FUZZY_THRESHOLD) };
        let lasts = [
            "Иванов",
            "Иванова",
            "Ivanof",
            "Иваноа",
            "Petrov",
            "Петрова",
            "Smirnv",
            "Smirnova",
            "Konstantinopolsky",
            "Константинопольский",
            "Ли",
            "Lee",
        ];
        let firsts = [
            "",
            "Anna",
            "Ana",
            "Аня",
            "Sasha",
            "Александр",
            "Alexander",
            "Natalya",
            "Наталья",
            "Natasha",
            "Ivan",
            "Пётр",
        ];
        let middles = ["", "Ivanovich"];
        let diminutives = Diminutives::new();
        let mut people = Vec::new();
        for last in lasts {
            for first in firsts {
                for middle in middles {
                    people.push(folded(last, first, middle));
                }
            }
        }
        let (mut n_above, mut n_dropped) = (0, 0);
        for a in &people {
            let Some(fa) = Filing::of(a, &diminutives) else {
                continue;
            };
            for b in &people {
                let Some(fb) = Filing::of(b, &diminutives) else {
                    continue;
                };
                let score = folded_score(a, b).unwrap_or(0.0);
                if score > SKETCH_BOUND {
                    n_above += 1;
                    assert!(fa.sketch.may_match(fb.sketch), "{a:?} / {b:?}: {score}");
                } else if !fa.sketch.may_match(fb.sketch) {
                    n_dropped += 1;
                }
            }
        }
        // Not vacuous: many pairs score above the bound, and many are dropped.
        assert!(
            n_above > 1000 && n_dropped > 10_000,
            "{n_above} {n_dropped}"
        );
    }
}
