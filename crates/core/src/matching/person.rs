//! Name and birthday: the people fuzzy matching compares, and their score.

use super::names::{fold_name, is_consonant, is_diminutive_pair};
use super::similarity::{damerau_levenshtein, jaro_winkler};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

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
/// ([`birthday_agreement`]). Compare with
/// [`MatchRules::fuzzy_threshold`](super::MatchRules::fuzzy_threshold).
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
