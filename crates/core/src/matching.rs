//! Matching imported or duplicate customer records: which pairs are the same person.
//!
//! - **Exact** on a card, an external id, a phone or an email that both records carry.
//!   A card or an external id names an account, so a match on one merges
//!   automatically. A phone or an email names a contact that a family may share, so a
//!   match on one merges automatically only when the people do not clearly disagree
//!   ([`names_disagree`]: other birthdays, other first names, a man and a woman); when
//!   they do it goes to review (mother and son sharing `+7916…`).
//! - **Blocked values never match**: placeholder phones and emails ([`MatchRules`]) and
//!   any value carried by more than `max_profiles_per_value` profiles.
//! - **Fuzzy** on name and birthday ([`name_birthday_score`]); a pair scoring at least
//!   `fuzzy_threshold` goes to review, never merges by itself.
//!
//! Names are compared after [`fold_name`] with [`jaro_winkler`]. Everything here is
//! allocation-light: similarities of names up to 64 characters use the stack only, and
//! an import folds each record once ([`Person::fold`]) and scores folded records.

use crate::error::CoreError;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// The default `fuzzy_threshold`: a name-and-birthday score at or above it goes to
/// review. Same folded names score 1; a typo in one name about 0.98; a typo in both
/// names, or a diminutive and a swapped birthday, about 0.95; a missing first name
/// at most 0.90 (0.94 when the middle names agree).
pub const DEFAULT_FUZZY_THRESHOLD: f64 = 0.92;

/// What a pair's first names count for when one side has none.
const MISSING_FIRST_NAME: f64 = 0.80;
/// What a known diminutive counts for as a first-name similarity (Sasha / Aleksandr).
const DIMINUTIVE_SIMILARITY: f64 = 0.95;
/// The most two names more than a typo apart count for, however alike they look to
/// Jaro–Winkler (Marina / Irina 0.82, Nikita / Nikolai 0.82): a typo is one edit, or
/// two in names of [`LONG_NAME`] characters or more.
const BEYOND_TYPO_SIMILARITY: f64 = 0.70;
const LONG_NAME: usize = 8;
/// First names less similar than this are different people's (for [`names_disagree`]).
const FIRST_NAME_CONFLICT: f64 = 0.85;
/// Middle names at least this similar agree and add [`MIDDLE_AGREES_BONUS`]; below
/// [`MIDDLE_CONFLICT`] they disagree and subtract [`MIDDLE_CONFLICT_PENALTY`].
const MIDDLE_AGREES: f64 = 0.90;
const MIDDLE_AGREES_BONUS: f64 = 0.04;
const MIDDLE_CONFLICT: f64 = 0.80;
const MIDDLE_CONFLICT_PENALTY: f64 = 0.10;
/// Petrov and Petrova, or Aleksandr and Aleksandra: relatives, not a typo.
const GENDER_PENALTY: f64 = 0.20;
/// First and last names entered the wrong way round on one side.
const CROSSED_NAMES_PENALTY: f64 = 0.03;
const SWAPPED_BIRTHDAY_PENALTY: f64 = 0.02;
const BIRTHDAY_TYPO_PENALTY: f64 = 0.04;

/// Strings up to this many characters are compared without allocating.
const STACK_CHARS: usize = 64;

// ---------------------------------------------------------------------------------
// String similarity

/// The Jaro–Winkler similarity of two strings, on chars: 1 for equal strings, 0 for
/// strings with nothing in common (or one empty). Matching window
/// `max(len) / 2 - 1`, prefix scale 0.1 over at most 4 characters, applied at any
/// Jaro score. MARTHA / MARHTA: 0.961.
pub fn jaro_winkler(a: &str, b: &str) -> f64 {
    if a.is_ascii() && b.is_ascii() {
        return jaro_winkler_of(a.as_bytes(), b.as_bytes());
    }
    with_chars(a, |a| with_chars(b, |b| jaro_winkler_of(a, b)))
}

/// The Damerau–Levenshtein distance of two strings in its optimal string alignment
/// form, on chars: insertions, deletions, substitutions and swaps of neighbours, no
/// substring edited twice (so CA / ABC is 3, not 2).
pub fn damerau_levenshtein(a: &str, b: &str) -> usize {
    if a.is_ascii() && b.is_ascii() {
        return osa_of(a.as_bytes(), b.as_bytes());
    }
    with_chars(a, |a| with_chars(b, |b| osa_of(a, b)))
}

/// Calls `f` with the chars of `s`, on the stack when there are few.
fn with_chars<R>(s: &str, f: impl FnOnce(&[char]) -> R) -> R {
    let mut buf = ['\0'; STACK_CHARS];
    let mut n_chars = 0;
    for c in s.chars() {
        match buf.get_mut(n_chars) {
            Some(slot) => *slot = c,
            None => return f(&s.chars().collect::<Vec<_>>()),
        }
        n_chars += 1;
    }
    f(&buf[..n_chars])
}

/// One flag per position of a string.
trait Flags {
    fn get(&self, idx: usize) -> bool;
    fn set(&mut self, idx: usize);
}

/// The bits of a `u64`, for strings of up to 64 characters.
impl Flags for u64 {
    fn get(&self, idx: usize) -> bool {
        self & (1 << idx) != 0
    }

    fn set(&mut self, idx: usize) {
        *self |= 1 << idx;
    }
}

impl Flags for Vec<bool> {
    fn get(&self, idx: usize) -> bool {
        self.as_slice().get(idx).copied().unwrap_or(false)
    }

    fn set(&mut self, idx: usize) {
        if let Some(flag) = self.get_mut(idx) {
            *flag = true;
        }
    }
}

fn jaro_winkler_of<T: Copy + Ord>(a: &[T], b: &[T]) -> f64 {
    // The greedy matching walks one side; a fixed order makes the result symmetric.
    let (a, b) = if a <= b { (a, b) } else { (b, a) };
    if a.is_empty() || b.is_empty() {
        return if a.len() == b.len() { 1.0 } else { 0.0 };
    }
    if a.len().max(b.len()) <= 64 {
        jaro_winkler_flagged(a, b, 0u64, 0u64)
    } else {
        jaro_winkler_flagged(a, b, vec![false; a.len()], vec![false; b.len()])
    }
}

fn jaro_winkler_flagged<T: Copy + Eq, F: Flags>(
    a: &[T],
    b: &[T],
    mut a_matched: F,
    mut b_matched: F,
) -> f64 {
    let window = (a.len().max(b.len()) / 2).saturating_sub(1);
    let mut n_matches = 0usize;
    for (a_idx, &ca) in a.iter().enumerate() {
        let hi = (a_idx + window + 1).min(b.len());
        let found = (a_idx.saturating_sub(window)..hi)
            .find(|&b_idx| !b_matched.get(b_idx) && b[b_idx] == ca);
        if let Some(b_idx) = found {
            a_matched.set(a_idx);
            b_matched.set(b_idx);
            n_matches += 1;
        }
    }
    if n_matches == 0 {
        return 0.0;
    }
    let mut n_out_of_order = 0usize;
    let mut b_idx = 0;
    for (a_idx, &ca) in a.iter().enumerate() {
        if !a_matched.get(a_idx) {
            continue;
        }
        while b_idx < b.len() && !b_matched.get(b_idx) {
            b_idx += 1;
        }
        if b.get(b_idx) != Some(&ca) {
            n_out_of_order += 1;
        }
        b_idx += 1;
    }
    let m = n_matches as f64;
    let transpositions = n_out_of_order as f64 / 2.0;
    let jaro = (m / a.len() as f64 + m / b.len() as f64 + (m - transpositions) / m) / 3.0;
    let prefix = a.iter().zip(b).take(4).take_while(|(x, y)| x == y).count();
    jaro + prefix as f64 * 0.1 * (1.0 - jaro)
}

fn osa_of<T: Copy + Eq>(a: &[T], b: &[T]) -> usize {
    // A common prefix or suffix costs nothing (no swap can straddle its edge), and a
    // typo pair is mostly that.
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[prefix..], &b[prefix..]);
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (a, b) = (&a[..a.len() - suffix], &b[..b.len() - suffix]);
    if a.is_empty() || b.is_empty() {
        return a.len().max(b.len());
    }
    // Three rows of the edit table: two rows back (for swaps), the last, the current.
    let width = b.len() + 1;
    let mut stack = [0usize; 3 * (STACK_CHARS + 1)];
    let mut heap = Vec::new();
    let rows: &mut [usize] = if 3 * width <= stack.len() {
        &mut stack[..3 * width]
    } else {
        heap.resize(3 * width, 0);
        &mut heap
    };
    let (mut two_ago, mut last, mut current) = (0, width, 2 * width);
    for (col, cell) in rows[last..last + width].iter_mut().enumerate() {
        *cell = col;
    }
    for (row, &ca) in a.iter().enumerate() {
        rows[current] = row + 1;
        for (col, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let mut best = (rows[last + col + 1] + 1)
                .min(rows[current + col] + 1)
                .min(rows[last + col] + cost);
            if row > 0 && col > 0 && a[row - 1] == cb && ca == b[col - 1] {
                best = best.min(rows[two_ago + col - 1] + 1);
            }
            rows[current + col + 1] = best;
        }
        (two_ago, last, current) = (last, current, two_ago);
    }
    rows[last + b.len()]
}

// ---------------------------------------------------------------------------------
// Folding names

/// Folds a name to the form names are compared in, so that spellings of one name in
/// Cyrillic and in the usual Latin transliterations come out equal or nearly:
/// "Юлия", "Yulia", "Julia", "Iuliia" all give `yulia`; "Сергей", "Sergey", "Sergei",
/// "Sergej" give `sergei`; "Александр", "Aleksandr", "Alexander" give `aleksandr`.
///
/// 1. Lower case. Words are split at white space, `-`, `_`, `.`, `,` and `/`, and joined
///    by one space; digits, apostrophes and other marks are dropped (`Natal'ya`).
/// 2. Cyrillic to Latin: а a, б b, в v, г g, д d, е/ё/э e, ж zh, з z, и/й i, к k, л l,
///    м m, н n, о o, п p, р r, с s, т t, у u, ф f, х kh, ц ts, ч ch, ш sh, щ shch,
///    ы y, ю yu, я ya, ь and ъ dropped (Ukrainian і/ї i, є e, ґ g). Latin letters with
///    diacritics lose them (é e, ü u; š sh, ž zh, č ch, ß ss). Then `j` is `y`, `w`
///    is `v`, `x` is `ks`. Other scripts are kept as they are.
/// 3. Variants of one sound, within each word:
///    - at the start, `i` before a vowel is `y` (`iulia`, `iakov`), and `ye` is `e`
///      (`yelena`, `yegor`);
///    - `kh` is `h` (`mikhail`/`mihail`), `ph` is `f`, `tz` is `ts`;
///    - elsewhere `y` is `i` next to a vowel or at the end (`natalya`, `mayorov`,
///      `dmitry`, `sergey`), except `yo` after a consonant, which is `e` (`fyodor`,
///      `pyotr`, `semyon`), and `y` between a vowel and `e`, which is dropped
///      (`andreyev`); `y` between consonants (ы, `rybakov`) stays;
///    - a final `ander` is `andr` (`aleksander`);
///    - a doubled consonant or `i` is one (`anna`/`ana`, `iia`/`ia`, `ii`/`i`); doubled
///      vowels stay, as a typo there must not look like a lost ending (`svetlaan`).
pub fn fold_name(name: &str) -> String {
    let mut folded = String::new();
    fold_name_into(name, &mut folded);
    folded
}

/// [`fold_name`] into a buffer the caller reuses (cleared first).
pub fn fold_name_into(name: &str, out: &mut String) {
    let mut bytes = std::mem::take(out).into_bytes();
    bytes.clear();
    transliterate(name, &mut bytes);
    let len = fold_variants(&mut bytes);
    bytes.truncate(len);
    // Only ASCII bytes are ever removed or rewritten, so the bytes stay UTF-8.
    *out = String::from_utf8(bytes).unwrap_or_default();
}

/// Step 1 and 2 of [`fold_name`].
fn transliterate(name: &str, out: &mut Vec<u8>) {
    for c in name.chars().flat_map(char::to_lowercase) {
        let latin: &str = match c {
            'a'..='z' => match c {
                'j' => "y",
                'w' => "v",
                'x' => "ks",
                _ => {
                    out.push(c as u8);
                    continue;
                }
            },
            'а' => "a",
            'б' => "b",
            'в' => "v",
            'г' | 'ґ' => "g",
            'д' => "d",
            'е' | 'ё' | 'э' | 'є' => "e",
            'ж' | 'ž' => "zh",
            'з' => "z",
            'и' | 'й' | 'і' | 'ї' => "i",
            'к' => "k",
            'л' => "l",
            'м' => "m",
            'н' => "n",
            'о' => "o",
            'п' => "p",
            'р' => "r",
            'с' => "s",
            'т' => "t",
            'у' => "u",
            'ф' => "f",
            'х' => "kh",
            'ц' => "ts",
            'ч' | 'č' => "ch",
            'ш' | 'š' => "sh",
            'щ' => "shch",
            'ы' => "y",
            'ю' => "yu",
            'я' => "ya",
            'ь' | 'ъ' => "",
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => "a",
            'ç' | 'ć' => "c",
            'è' | 'é' | 'ê' | 'ë' | 'ě' => "e",
            'ì' | 'í' | 'î' | 'ï' => "i",
            'ñ' | 'ń' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => "o",
            'ù' | 'ú' | 'û' | 'ü' | 'ů' => "u",
            'ý' | 'ÿ' => "y",
            'ß' => "ss",
            c if c.is_whitespace() || matches!(c, '-' | '_' | '.' | ',' | '/') => {
                if out.last().is_some_and(|last| *last != b' ') {
                    out.push(b' ');
                }
                continue;
            }
            c if c.is_alphabetic() => {
                let mut utf8 = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(latin.as_bytes());
    }
    if out.last() == Some(&b' ') {
        out.pop();
    }
}

fn is_vowel(c: u8) -> bool {
    matches!(c, b'a' | b'e' | b'i' | b'o' | b'u' | b'y')
}

fn is_consonant(c: u8) -> bool {
    c.is_ascii_lowercase() && !is_vowel(c)
}

/// Step 3 of [`fold_name`], in place over the transliterated bytes (every rule keeps
/// or shortens the text, so the write position never passes the read position).
/// Returns the folded length.
fn fold_variants(bytes: &mut [u8]) -> usize {
    let len = bytes.len();
    let (mut read, mut write, mut word_start) = (0, 0, 0);
    while read < len {
        let c = bytes[read];
        if c == b' ' {
            bytes[write] = b' ';
            write += 1;
            word_start = write;
            read += 1;
            continue;
        }
        // 0 stands for the end of the word on either side.
        let at = |idx: usize| match bytes.get(idx) {
            Some(b' ') | None => 0,
            Some(&c) => c,
        };
        let next = at(read + 1);
        let prev = if write > word_start {
            bytes[write - 1]
        } else {
            0
        };
        let (emitted, consumed) = if write == word_start {
            let c = if c == b'i' && matches!(next, b'a' | b'e' | b'o' | b'u') {
                b'y'
            } else {
                c
            };
            match (c, next) {
                (b'y', b'e') => (Some(b'e'), 2),
                (b'p', b'h') => (Some(b'f'), 2),
                (b'k', b'h') => (Some(b'h'), 2),
                _ => (Some(c), 1),
            }
        } else {
            match (c, next) {
                (b'p', b'h') => (Some(b'f'), 2),
                (b'k', b'h') => (Some(b'h'), 2),
                (b'z', _) if prev == b't' => (Some(b's'), 1),
                (b'y', b'o') if is_consonant(prev) => (Some(b'e'), 2),
                (b'y', b'e') if is_vowel(prev) => (None, 1),
                (b'y', _) if is_vowel(prev) || is_vowel(next) || next == 0 => (Some(b'i'), 1),
                (b'e', b'r')
                    if at(read + 2) == 0
                        && write >= word_start + 3
                        && bytes[write - 3..write] == *b"and" =>
                {
                    (None, 1)
                }
                _ => (Some(c), 1),
            }
        };
        if let Some(out) = emitted {
            let doubled =
                (out == b'i' || is_consonant(out)) && write > word_start && bytes[write - 1] == out;
            if !doubled {
                bytes[write] = out;
                write += 1;
            }
        }
        read += consumed;
    }
    write
}

/// Common diminutives and the full first names they stand for, both folded
/// ([`fold_name`] leaves every entry as it is).
pub const DIMINUTIVES: &[(&str, &str)] = &[
    ("sasha", "aleksandr"),
    ("sasha", "aleksandra"),
    ("shura", "aleksandr"),
    ("shura", "aleksandra"),
    ("sania", "aleksandr"),
    ("lesha", "aleksei"),
    ("alesha", "aleksei"),
    ("nastia", "anastasia"),
    ("tolia", "anatoli"),
    ("ania", "ana"),
    ("tema", "artem"),
    ("boria", "boris"),
    ("dasha", "daria"),
    ("dima", "dmitri"),
    ("mitia", "dmitri"),
    ("katia", "ekaterina"),
    ("lena", "elena"),
    ("zhenia", "evgeni"),
    ("zhenia", "evgenia"),
    ("galia", "galina"),
    ("grisha", "grigori"),
    ("ira", "irina"),
    ("vania", "ivan"),
    ("kostia", "konstantin"),
    ("ksiusha", "ksenia"),
    ("liuba", "liubov"),
    ("liuda", "liudmila"),
    ("mila", "liudmila"),
    ("maks", "maksim"),
    ("masha", "maria"),
    ("misha", "mihail"),
    ("nadia", "nadezhda"),
    ("natasha", "natalia"),
    ("kolia", "nikolai"),
    ("olia", "olga"),
    ("pasha", "pavel"),
    ("petia", "petr"),
    ("polia", "polina"),
    ("roma", "roman"),
    ("serezha", "sergei"),
    ("stas", "stanislav"),
    ("sveta", "svetlana"),
    ("tania", "tatiana"),
    ("valia", "valentina"),
    ("vasia", "vasili"),
    ("slava", "viacheslav"),
    ("slava", "vladislav"),
    ("slava", "yaroslav"),
    ("vika", "viktoria"),
    ("vitia", "viktor"),
    ("vitia", "vitali"),
    ("vlad", "vladislav"),
    ("vova", "vladimir"),
    ("volodia", "vladimir"),
    ("yura", "yuri"),
];

/// Whether two folded first names are one name: a diminutive and its full name, or two
/// diminutives of one name (Sasha and Shura). Equal names are not a pair.
pub fn is_diminutive_pair(a: &str, b: &str) -> bool {
    a != b
        && DIMINUTIVES.iter().any(|&(short, full)| {
            (short == a && (full == b || DIMINUTIVES.iter().any(|&(s, f)| s == b && f == full)))
                || (short == b && full == a)
        })
}

// ---------------------------------------------------------------------------------
// Name and birthday

/// A record's name and birthday as imported or stored, for fuzzy matching.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Person<'a> {
    pub first_name: Option<&'a str>,
    pub middle_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub birthday: Option<NaiveDate>,
}

/// A [`Person`] with its names folded once ([`fold_name`]); blank names are absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FoldedPerson {
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub birthday: Option<NaiveDate>,
}

impl Person<'_> {
    /// Folds the names, to score this record against many others.
    pub fn fold(&self) -> FoldedPerson {
        let fold = |name: Option<&str>| name.map(fold_name).filter(|n| !n.is_empty());
        FoldedPerson {
            first_name: fold(self.first_name),
            middle_name: fold(self.middle_name),
            last_name: fold(self.last_name),
            birthday: self.birthday,
        }
    }
}

/// How two birthdays can be one person's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BirthdayAgreement {
    Same,
    /// Day and month swapped: 01.02 and 02.01 of one year.
    DayMonthSwapped,
    /// One digit of the two-digit day differs (03 and 08, 12 and 22), same month and
    /// year.
    DayTypo,
}

/// Whether two birthdays can be one person's, and how; `None` if they cannot.
pub fn birthday_agreement(a: NaiveDate, b: NaiveDate) -> Option<BirthdayAgreement> {
    if a == b {
        return Some(BirthdayAgreement::Same);
    }
    if a.year() != b.year() {
        return None;
    }
    if a.month() == b.month() {
        let tens_equal = a.day() / 10 == b.day() / 10;
        let units_equal = a.day() % 10 == b.day() % 10;
        return (tens_equal != units_equal).then_some(BirthdayAgreement::DayTypo);
    }
    (a.day() == b.month() && a.month() == b.day()).then_some(BirthdayAgreement::DayMonthSwapped)
}

/// Every birthday [`birthday_agreement`] accepts with `date`, `date` first: the keys an
/// import looks up to find fuzzy candidates (at most 1 + 1 + 3 + 9).
pub fn compatible_birthdays(date: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    let (year, month, day) = (date.year(), date.month(), date.day());
    let swapped = NaiveDate::from_ymd_opt(year, day, month).filter(|_| day != month);
    let tens = (0..=3)
        .filter(move |tens| *tens != day / 10)
        .filter_map(move |tens| NaiveDate::from_ymd_opt(year, month, tens * 10 + day % 10));
    let units = (0..=9)
        .filter(move |units| *units != day % 10)
        .filter_map(move |units| NaiveDate::from_ymd_opt(year, month, day / 10 * 10 + units));
    std::iter::once(date)
        .chain(swapped)
        .chain(tens)
        .chain(units)
}

/// How likely two records are one person by name and birthday, in [0, 1]; `None`
/// unless both have a birthday and a last name and the birthdays agree
/// ([`birthday_agreement`]). Compare with [`MatchRules::fuzzy_threshold`].
///
/// On folded names: the mean of the last names' and the first names' Jaro–Winkler
/// similarities, where names more than a typo apart by Damerau–Levenshtein (one edit,
/// two from 8 characters) count at most 0.70, a known diminutive 0.95 and a first name
/// missing on either side 0.80; or the mean of the crossed pairs less 0.03, when one
/// side has first and last name the wrong way round. Then middle names on both sides
/// add 0.04 when they agree (≥ 0.90) and subtract 0.10 when they differ (< 0.80);
/// names of the other gender (Petrov / Petrova, Aleksandr / Aleksandra) subtract 0.20
/// each; a swapped birthday subtracts 0.02, a typo in the day 0.04.
pub fn name_birthday_score(a: &Person<'_>, b: &Person<'_>) -> Option<f64> {
    // Cheap refusals first: most candidate pairs stop here without folding.
    birthday_agreement(a.birthday?, b.birthday?)?;
    let present = |name: Option<&str>| name.is_some_and(|n| !n.trim().is_empty());
    if !present(a.last_name) || !present(b.last_name) {
        return None;
    }
    folded_score(&a.fold(), &b.fold())
}

/// [`name_birthday_score`] of records folded beforehand.
pub fn folded_score(a: &FoldedPerson, b: &FoldedPerson) -> Option<f64> {
    let agreement = birthday_agreement(a.birthday?, b.birthday?)?;
    let (last_a, last_b) = (a.last_name.as_deref()?, b.last_name.as_deref()?);
    let firsts = a.first_name.as_deref().zip(b.first_name.as_deref());
    let last = name_similarity(last_a, last_b);
    let mut score = match firsts {
        Some((first_a, first_b)) => (last + first_name_similarity(first_a, first_b)) / 2.0,
        None => (last + MISSING_FIRST_NAME) / 2.0,
    };
    if let Some((first_a, first_b)) = firsts {
        if score < 1.0 - CROSSED_NAMES_PENALTY {
            let crossed = (name_similarity(last_a, first_b) + name_similarity(first_a, last_b))
                / 2.0
                - CROSSED_NAMES_PENALTY;
            score = score.max(crossed);
        }
        if gender_differs(first_a, first_b) {
            score -= GENDER_PENALTY;
        }
    }
    if gender_differs(last_a, last_b) {
        score -= GENDER_PENALTY;
    }
    if let (Some(middle_a), Some(middle_b)) = (&a.middle_name, &b.middle_name) {
        let middle = name_similarity(middle_a, middle_b);
        if middle >= MIDDLE_AGREES {
            score += MIDDLE_AGREES_BONUS;
        } else if middle < MIDDLE_CONFLICT {
            score -= MIDDLE_CONFLICT_PENALTY;
        }
    }
    score -= match agreement {
        BirthdayAgreement::Same => 0.0,
        BirthdayAgreement::DayMonthSwapped => SWAPPED_BIRTHDAY_PENALTY,
        BirthdayAgreement::DayTypo => BIRTHDAY_TYPO_PENALTY,
    };
    Some(score.clamp(0.0, 1.0))
}

/// Whether two folded records are clearly different people, whatever else they share:
/// birthdays on both sides that cannot be one person's, first names on both sides
/// that differ (Jaro–Winkler below 0.85 or more than a typo apart, and not diminutives
/// of one name), or names of the other gender. Different last names alone are not a
/// disagreement (a marriage), nor is a name or birthday missing on one side.
pub fn names_disagree(a: &FoldedPerson, b: &FoldedPerson) -> bool {
    if let (Some(x), Some(y)) = (a.birthday, b.birthday) {
        if birthday_agreement(x, y).is_none() {
            return true;
        }
    }
    if let (Some(x), Some(y)) = (&a.first_name, &b.first_name) {
        if first_name_similarity(x, y) < FIRST_NAME_CONFLICT || gender_differs(x, y) {
            return true;
        }
    }
    matches!((&a.last_name, &b.last_name), (Some(x), Some(y)) if gender_differs(x, y))
}

/// The Jaro–Winkler similarity of two folded names, at most
/// [`BEYOND_TYPO_SIMILARITY`] when they are more than a typo apart.
fn name_similarity(a: &str, b: &str) -> f64 {
    let similarity = jaro_winkler(a, b);
    if similarity <= BEYOND_TYPO_SIMILARITY || a == b {
        return similarity;
    }
    let n_chars = a.chars().count().max(b.chars().count());
    let allowance = if n_chars >= LONG_NAME { 2 } else { 1 };
    if damerau_levenshtein(a, b) > allowance {
        BEYOND_TYPO_SIMILARITY
    } else {
        similarity
    }
}

fn first_name_similarity(a: &str, b: &str) -> f64 {
    let similarity = name_similarity(a, b);
    if similarity < DIMINUTIVE_SIMILARITY && is_diminutive_pair(a, b) {
        DIMINUTIVE_SIMILARITY
    } else {
        similarity
    }
}

/// Whether two folded names are one name's masculine and feminine forms: `ivanov` and
/// `ivanova`, `aleksandr` and `aleksandra` (a consonant then `a`), `vysotski` /
/// `tolstoi` and `vysotskaia` / `tolstaia` (adjectival endings).
fn gender_differs(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let plus_a = long.strip_suffix('a') == Some(short)
        && short.len() >= 4
        && short.bytes().last().is_some_and(is_consonant);
    let adjectival = |masculine: &str, feminine: &str| {
        let stem = feminine.strip_suffix("aia");
        let masculine_stem = masculine
            .strip_suffix("oi")
            .or_else(|| masculine.strip_suffix('i'));
        stem.is_some_and(|stem| stem.len() >= 2 && Some(stem) == masculine_stem)
    };
    plus_a || adjectival(a, b) || adjectival(b, a)
}

// ---------------------------------------------------------------------------------
// Identifiers, blocked values and the decision

/// An identifier two records can match exactly on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Identifier {
    /// The record's id in the system it was imported from: names one account.
    ExternalId,
    /// A loyalty card number: names one account.
    Card,
    /// A phone: a family may share it.
    Phone,
    /// An email: a family may share it.
    Email,
}

impl Identifier {
    /// Whether the identifier names an account rather than a contact.
    fn names_account(self) -> bool {
        matches!(self, Identifier::ExternalId | Identifier::Card)
    }
}

/// An identifier value both records of a pair carry, as normalised
/// (`customer::normalize_phone`, `normalize_email`, `normalize_card`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedValue<'a> {
    pub on: Identifier,
    pub value: &'a str,
    /// How many profiles carry the value, the pair's two included.
    pub n_profiles: usize,
}

/// What matched a pair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum MatchKind {
    /// An identifier both carry, not blocked.
    Exact {
        on: Identifier,
    },
    /// Name and birthday, scoring at least the threshold.
    Fuzzy {
        score: f64,
    },
    None,
}

/// What to do with a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Merge without asking.
    Merge,
    /// Put before a person in the review queue.
    Review,
    /// Keep both records.
    None,
}

/// A pair's match and what to do with it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub kind: MatchKind,
    pub action: Action,
}

/// The matching settings of a program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatchRules {
    /// The least [`name_birthday_score`] that sends a pair to review
    /// ([`DEFAULT_FUZZY_THRESHOLD`]).
    pub fuzzy_threshold: f64,
    /// K: a value carried by more than this many profiles never matches (3).
    pub max_profiles_per_value: usize,
    /// Normalised phones that never match. Besides these, a number whose national
    /// part (after a 1 to 3 digit country code) is one digit repeated never matches.
    pub blocked_phones: Vec<String>,
    /// Emails that never match.
    pub blocked_emails: Vec<String>,
    /// Domains whose emails never match.
    pub blocked_email_domains: Vec<String>,
    /// Local parts (before `@`) that never match, at any domain. Besides these, a
    /// local part of one character repeated (`a@`, `111@`) never matches.
    pub blocked_email_local_parts: Vec<String>,
}

impl Default for MatchRules {
    fn default() -> Self {
        let strings = |values: &[&str]| values.iter().map(|v| v.to_string()).collect();
        MatchRules {
            fuzzy_threshold: DEFAULT_FUZZY_THRESHOLD,
            max_profiles_per_value: 3,
            blocked_phones: strings(&[
                "+70000000000",
                "+71111111111",
                "+79999999999",
                "+71234567890",
                "+79000000000",
                "+79111111111",
                "+79123456789",
                "+79876543210",
            ]),
            blocked_emails: strings(&[
                "test@test.ru",
                "test@test.com",
                "noemail@noemail.com",
                "no@no.ru",
                "no@no.com",
                "net@net.ru",
                "mail@mail.ru",
                "email@email.com",
                "123@mail.ru",
            ]),
            blocked_email_domains: strings(&[
                "example.com",
                "example.org",
                "example.net",
                "example.ru",
                "test.ru",
                "test.com",
                "noemail.com",
                "noemail.ru",
                "no.ru",
                "none.ru",
            ]),
            blocked_email_local_parts: strings(&[
                "test", "noemail", "no-email", "no_email", "nomail", "no", "none", "net", "null",
                "nobody", "unknown", "email", "asdf", "qwerty",
            ]),
        }
    }
}

impl MatchRules {
    /// Checks the settings: a threshold in (0, 1], K at least 2 (the pair itself).
    pub fn validate(&self) -> Result<(), CoreError> {
        if !(self.fuzzy_threshold > 0.0 && self.fuzzy_threshold <= 1.0) {
            return Err(CoreError::invalid(
                "fuzzy_threshold",
                "must be above 0 and at most 1",
            ));
        }
        if self.max_profiles_per_value < 2 {
            return Err(CoreError::invalid(
                "max_profiles_per_value",
                "must be at least 2",
            ));
        }
        Ok(())
    }

    /// Whether a normalised phone (`+` and digits) is a placeholder that never matches.
    pub fn is_blocked_phone(&self, e164: &str) -> bool {
        if self.blocked_phones.iter().any(|p| p == e164) {
            return true;
        }
        let digits = e164.strip_prefix('+').unwrap_or(e164).as_bytes();
        (1..=3).any(|country_len| {
            digits.get(country_len..).is_some_and(|national| {
                national.len() >= 6 && national.iter().all(|d| Some(d) == national.first())
            })
        })
    }

    /// Whether an email is a placeholder that never matches (a value with no `@` is).
    pub fn is_blocked_email(&self, email: &str) -> bool {
        let Some((local, domain)) = email.rsplit_once('@') else {
            return true;
        };
        let listed =
            |list: &[String], value: &str| list.iter().any(|v| v.eq_ignore_ascii_case(value));
        listed(&self.blocked_emails, email)
            || listed(&self.blocked_email_domains, domain)
            || listed(&self.blocked_email_local_parts, local)
            || local.chars().all(|c| local.starts_with(c))
    }

    /// Whether a value never matches on its own: a blocked phone or email, or a card
    /// or external id that is blank or one character repeated (`0000000`).
    pub fn is_blocked(&self, on: Identifier, value: &str) -> bool {
        match on {
            Identifier::Phone => self.is_blocked_phone(value),
            Identifier::Email => self.is_blocked_email(value),
            Identifier::Card | Identifier::ExternalId => {
                let value = value.trim();
                value.chars().all(|c| value.starts_with(c))
            }
        }
    }

    /// Whether a shared value can match the pair: not blocked and carried by at most K
    /// profiles.
    pub fn is_usable(&self, shared: &SharedValue<'_>) -> bool {
        shared.n_profiles <= self.max_profiles_per_value
            && !self.is_blocked(shared.on, shared.value)
    }

    /// Decides a candidate pair from the identifier values both carry and their names
    /// and birthdays:
    ///
    /// 1. a usable external id or card: exact, merge;
    /// 2. a usable phone or email: exact, merge, unless [`names_disagree`] (a family
    ///    sharing a phone): then exact, review;
    /// 3. [`folded_score`] at least `fuzzy_threshold`: fuzzy, review;
    /// 4. otherwise no match.
    ///
    /// When several values match, the first kind in [`Identifier`] order is reported.
    pub fn decide(
        &self,
        shared: &[SharedValue<'_>],
        a: &FoldedPerson,
        b: &FoldedPerson,
    ) -> Decision {
        let exact = shared
            .iter()
            .filter(|value| self.is_usable(value))
            .map(|value| value.on)
            .min();
        if let Some(on) = exact {
            let action = if on.names_account() || !names_disagree(a, b) {
                Action::Merge
            } else {
                Action::Review
            };
            return Decision {
                kind: MatchKind::Exact { on },
                action,
            };
        }
        match folded_score(a, b) {
            Some(score) if score >= self.fuzzy_threshold => Decision {
                kind: MatchKind::Fuzzy { score },
                action: Action::Review,
            },
            _ => Decision {
                kind: MatchKind::None,
                action: Action::None,
            },
        }
    }
}
