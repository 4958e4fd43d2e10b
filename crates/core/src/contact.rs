//! Normalising the contact fields of an imported customer: phone numbers to E.164,
//! emails, personal names, birthdays and gender. Each function returns either the
//! canonical form or a [`Rejection`] saying why the value was refused, so that an
//! import can report every bad field instead of dropping it. Canonical forms are
//! fixed points: normalising a normalised value returns it unchanged.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How values that leave something implicit are read: the country of a phone
/// number written without its country code, and the order of day and month in
/// slash- or dash-separated dates with the year last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NormalizeRules {
    /// The country of numbers written nationally (`8 916 123-45-67`, `9161234567`).
    pub default_country: Country,
    /// How `7/3/1985` is read. Dotted dates are always day first, ISO dates year first.
    pub date_order: DateOrder,
}

impl Default for NormalizeRules {
    fn default() -> Self {
        NormalizeRules {
            default_country: Country::Ru,
            date_order: DateOrder::DayMonthYear,
        }
    }
}

/// The order of day and month in a slash- or dash-separated date with the year last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateOrder {
    /// `7/3/1985` is the 7th of March.
    DayMonthYear,
    /// `7/3/1985` is the 3rd of July.
    MonthDayYear,
}

/// A country whose telephone numbering Tessera knows well enough to read numbers
/// written without a country code and to check their length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Country {
    Ru,
    Kz,
    Us,
    Ca,
    Gb,
    De,
    Ua,
    By,
}

/// The numbering facts of one country: the calling code, how many digits follow it
/// and the trunk prefixes dialled before a national number at home.
struct NumberPlan {
    calling_code: &'static str,
    national_min: usize,
    national_max: usize,
    trunk_prefixes: &'static [&'static str],
    /// North American numbers: the area code and the exchange never start with 0 or 1.
    north_american: bool,
}

impl Country {
    /// Every supported country.
    pub const ALL: [Country; 8] = [
        Country::Ru,
        Country::Kz,
        Country::Us,
        Country::Ca,
        Country::Gb,
        Country::De,
        Country::Ua,
        Country::By,
    ];

    /// The lower-case ISO 3166 alpha-2 code, also the serde form.
    pub fn as_str(self) -> &'static str {
        match self {
            Country::Ru => "ru",
            Country::Kz => "kz",
            Country::Us => "us",
            Country::Ca => "ca",
            Country::Gb => "gb",
            Country::De => "de",
            Country::Ua => "ua",
            Country::By => "by",
        }
    }

    /// The country of an ISO 3166 alpha-2 code, in either case.
    pub fn parse(code: &str) -> Option<Country> {
        let code = code.trim().to_ascii_lowercase();
        Country::ALL.into_iter().find(|c| c.as_str() == code)
    }

    /// The international calling code, without `+` (`"7"` for Russia).
    pub fn calling_code(self) -> &'static str {
        self.plan().calling_code
    }

    fn plan(self) -> NumberPlan {
        let plan = |calling_code, national_min, national_max, trunk_prefixes| NumberPlan {
            calling_code,
            national_min,
            national_max,
            trunk_prefixes,
            north_american: false,
        };
        match self {
            Country::Ru | Country::Kz => plan("7", 10, 10, &["8"]),
            Country::Us | Country::Ca => NumberPlan {
                north_american: true,
                // A leading 1 at home is the calling code itself.
                ..plan("1", 10, 10, &[])
            },
            Country::Gb => plan("44", 9, 10, &["0"]),
            // German numbers vary in length; E.164 allows 13 digits after +49.
            Country::De => plan("49", 6, 13, &["0"]),
            Country::Ua => plan("380", 9, 9, &["0"]),
            Country::By => plan("375", 9, 9, &["80", "0"]),
        }
    }
}

/// Why a contact value was refused. The snake_case code is stable: import reports
/// carry it per field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    Empty,
    InvalidCharacters,
    TooShort,
    TooLong,
    UnknownFormat,
    ImpossibleDate,
    OutOfRange,
    InFuture,
}

impl Rejection {
    /// Every reason.
    pub const ALL: [Rejection; 8] = [
        Rejection::Empty,
        Rejection::InvalidCharacters,
        Rejection::TooShort,
        Rejection::TooLong,
        Rejection::UnknownFormat,
        Rejection::ImpossibleDate,
        Rejection::OutOfRange,
        Rejection::InFuture,
    ];

    /// The stable snake_case code, also the serde form.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::Empty => "empty",
            Rejection::InvalidCharacters => "invalid_characters",
            Rejection::TooShort => "too_short",
            Rejection::TooLong => "too_long",
            Rejection::UnknownFormat => "unknown_format",
            Rejection::ImpossibleDate => "impossible_date",
            Rejection::OutOfRange => "out_of_range",
            Rejection::InFuture => "in_future",
        }
    }

    /// The reason of a code.
    pub fn parse(code: &str) -> Option<Rejection> {
        Rejection::ALL.into_iter().find(|r| r.as_str() == code)
    }

    /// A human message: lowercase, no final period.
    pub fn message(self) -> &'static str {
        match self {
            Rejection::Empty => "the value is empty",
            Rejection::InvalidCharacters => "the value contains characters that are not allowed",
            Rejection::TooShort => "the value is too short",
            Rejection::TooLong => "the value is too long",
            Rejection::UnknownFormat => "the value is not in a recognised format",
            Rejection::ImpossibleDate => "the date does not exist in the calendar",
            Rejection::OutOfRange => "the value is outside the allowed range",
            Rejection::InFuture => "the date is in the future",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Rejection {}

/// Country-code prefixes ITU leaves unassigned (zone 0 and the spare codes 28x, 83x
/// and 89x). `+8 916 …`, a Russian number with its trunk prefix after the plus, is
/// the usual way to hit one.
const SPARE_CALLING_PREFIXES: [&str; 4] = ["0", "28", "83", "89"];

/// Normalises a phone number to E.164: `+`, the calling code and the national number.
///
/// Spaces, dashes, dots and parentheses are dropped. A number written with `+` or the
/// `00` international prefix carries its own country; its length is checked against
/// the country's plan when Tessera knows it, and against E.164's 8 to 15 digits
/// otherwise. Any other number is read in `rules.default_country`: with its calling
/// code but no `+` (`79161234567`), with a trunk prefix (`8 916 123-45-67`), or bare
/// (`9161234567`). A number of another country must therefore carry `+` or `00`.
pub fn phone(raw: &str, rules: &NormalizeRules) -> Result<String, Rejection> {
    let trimmed = raw.trim();
    let (plus, rest) = match trimmed.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    let mut digits = String::with_capacity(16);
    for c in rest.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else if !is_phone_separator(c) {
            return Err(Rejection::InvalidCharacters);
        }
    }
    if digits.is_empty() {
        return Err(Rejection::Empty);
    }
    let international = if plus {
        Some(digits.as_str())
    } else {
        digits.strip_prefix("00")
    };
    match international {
        Some(number) => international_number(number),
        None => national_number(&digits, rules.default_country),
    }
}

fn is_phone_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '-' | '.' | '(' | ')' | '\u{2010}'..='\u{2014}')
}

/// Checks the digits after `+` (calling code and national number).
fn international_number(number: &str) -> Result<String, Rejection> {
    if number.is_empty() {
        return Err(Rejection::TooShort);
    }
    if SPARE_CALLING_PREFIXES.iter().any(|p| number.starts_with(p)) {
        return Err(Rejection::UnknownFormat);
    }
    // Calling codes are prefix-free, so the first match is the only one.
    let known = Country::ALL
        .into_iter()
        .map(Country::plan)
        .find_map(|plan| {
            let national = number.strip_prefix(plan.calling_code)?;
            Some((plan, national))
        });
    match known {
        Some((plan, national)) => check_national(&plan, national)?,
        None if number.len() < 8 => return Err(Rejection::TooShort),
        None if number.len() > 15 => return Err(Rejection::TooLong),
        None => {}
    }
    Ok(format!("+{number}"))
}

/// Reads digits written without `+` or `00` as a number of `country`.
fn national_number(digits: &str, country: Country) -> Result<String, Rejection> {
    let plan = country.plan();
    // The calling code first: for countries with numbers of varying length a bare
    // national number could also start with it, but writing it is far more common.
    let with_code = digits.strip_prefix(plan.calling_code);
    let after_trunk = plan
        .trunk_prefixes
        .iter()
        .filter_map(|trunk| digits.strip_prefix(trunk));
    let national = with_code
        .into_iter()
        .chain(std::iter::once(digits))
        .chain(after_trunk)
        .find(|national| check_national(&plan, national).is_ok());
    if let Some(national) = national {
        return Ok(format!("+{}{national}", plan.calling_code));
    }
    let longest_prefix = plan
        .trunk_prefixes
        .iter()
        .map(|trunk| trunk.len())
        .chain(std::iter::once(plan.calling_code.len()))
        .max()
        .unwrap_or(0);
    if digits.len() < plan.national_min {
        Err(Rejection::TooShort)
    } else if digits.len() > plan.national_max + longest_prefix {
        Err(Rejection::TooLong)
    } else {
        Err(Rejection::UnknownFormat)
    }
}

/// Checks a national significant number (what follows the calling code).
fn check_national(plan: &NumberPlan, national: &str) -> Result<(), Rejection> {
    if national.len() < plan.national_min {
        return Err(Rejection::TooShort);
    }
    if national.len() > plan.national_max {
        return Err(Rejection::TooLong);
    }
    let bytes = national.as_bytes();
    let starts_ok = |idx: usize, lowest: u8| bytes.get(idx).is_some_and(|&b| b >= lowest);
    let shape_ok = if plan.north_american {
        starts_ok(0, b'2') && starts_ok(3, b'2')
    } else {
        starts_ok(0, b'1')
    };
    if shape_ok {
        Ok(())
    } else {
        Err(Rejection::UnknownFormat)
    }
}

/// Normalises an email address: trimmed and lower-cased, one `@`, a non-empty local
/// part of at most 64 bytes without leading, trailing or doubled dots, and a domain
/// of at least two dot-separated labels of letters, digits and hyphens; 254 bytes in
/// all. The domain is not looked up.
pub fn email(raw: &str) -> Result<String, Rejection> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err(Rejection::Empty);
    }
    if email.len() > 254 {
        return Err(Rejection::TooLong);
    }
    let allowed = |c: char| c.is_alphanumeric() || c == '@' || "!#$%&'*+-/=?^_`{|}~.".contains(c);
    if !email.chars().all(allowed) {
        return Err(Rejection::InvalidCharacters);
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(Rejection::UnknownFormat);
    };
    if domain.contains('@') || local.is_empty() {
        return Err(Rejection::UnknownFormat);
    }
    if local.len() > 64 {
        return Err(Rejection::TooLong);
    }
    if !domain
        .chars()
        .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
    {
        return Err(Rejection::InvalidCharacters);
    }
    if local.split('.').any(str::is_empty) {
        return Err(Rejection::UnknownFormat);
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |label: &&str| {
        !label.is_empty() && label.len() <= 63 && !label.starts_with('-') && !label.ends_with('-')
    };
    let top_level_ok = labels
        .last()
        .is_some_and(|top| !top.chars().all(|c| c.is_ascii_digit()));
    if labels.len() < 2 || !labels.iter().all(label_ok) || !top_level_ok {
        return Err(Rejection::UnknownFormat);
    }
    Ok(email)
}

/// The most characters a normalised name may have.
pub const NAME_MAX_CHARS: usize = 100;

/// Normalises a personal name (a first, middle or last name, or a full name): trims
/// it, collapses inner whitespace, joins hyphenated parts (`Иванова - Петрова`) and
/// title-cases every word and hyphen part (`иВАНОВА-петрова` → `Иванова-Петрова`).
///
/// Letters of any script, spaces, hyphens, apostrophes and dots (initials) are
/// allowed. A letter after an apostrophe is capitalised (`O'Brien`) unless it is
/// Cyrillic, where the apostrophe sits inside a word (`В'ячеслав`). Inner capitals
/// such as in `McDonald` are not kept. Typographic dashes and apostrophes become
/// ASCII ones, and decomposed `й` and `ё` are composed.
pub fn name(raw: &str) -> Result<String, Rejection> {
    let mut chars: Vec<char> = Vec::with_capacity(raw.len());
    for word in raw.split_whitespace() {
        if !chars.is_empty() {
            chars.push(' ');
        }
        for c in word.chars() {
            let c = match c {
                '\u{2010}'..='\u{2014}' => '-',
                '\u{2018}' | '\u{2019}' | '\u{02BC}' => '\'',
                _ => c,
            };
            if let Some(composed) = chars.last().and_then(|&base| compose_cyrillic(base, c)) {
                chars.pop();
                chars.push(composed);
            } else {
                chars.push(c);
            }
        }
    }
    if chars.is_empty() {
        return Err(Rejection::Empty);
    }
    // Spaces beside a hyphen belong to the hyphen: "Иванова - Петрова".
    let mut joined: Vec<char> = Vec::with_capacity(chars.len());
    for (idx, &c) in chars.iter().enumerate() {
        let beside_hyphen = chars.get(idx + 1) == Some(&'-') || joined.last() == Some(&'-');
        if !(c == ' ' && beside_hyphen) {
            joined.push(c);
        }
    }
    if joined.len() > NAME_MAX_CHARS {
        return Err(Rejection::TooLong);
    }
    let allowed = |c: &char| {
        !c.is_numeric()
            && (c.is_alphabetic() || is_combining_mark(*c) || matches!(c, ' ' | '-' | '\'' | '.'))
    };
    if !joined.iter().all(allowed) {
        return Err(Rejection::InvalidCharacters);
    }
    let text: String = joined.iter().collect();
    let every_part_has_a_letter = text
        .split([' ', '-'])
        .all(|part| part.chars().any(char::is_alphabetic));
    if !every_part_has_a_letter {
        return Err(Rejection::UnknownFormat);
    }
    Ok(title_case(&joined))
}

fn title_case(chars: &[char]) -> String {
    let mut out = String::with_capacity(chars.len() * 2);
    let mut capitalise = true;
    for (idx, &c) in chars.iter().enumerate() {
        if c.is_alphabetic() {
            if capitalise {
                push_single_mapping(&mut out, c, c.to_uppercase());
            } else {
                push_single_mapping(&mut out, c, c.to_lowercase());
            }
            capitalise = false;
        } else if is_combining_mark(c) {
            out.push(c);
        } else {
            out.push(c);
            capitalise = match c {
                '\'' => !chars.get(idx + 1).copied().is_some_and(is_cyrillic),
                _ => true,
            };
        }
    }
    out
}

/// Pushes the case mapping of `c` when it is one character, else `c` itself: a
/// mapping such as `ß` → `SS` would not survive being normalised again.
fn push_single_mapping(out: &mut String, c: char, mut mapped: impl Iterator<Item = char>) {
    match (mapped.next(), mapped.next()) {
        (Some(single), None) => out.push(single),
        _ => out.push(c),
    }
}

fn compose_cyrillic(base: char, mark: char) -> Option<char> {
    match (base, mark) {
        ('и', '\u{0306}') => Some('й'),
        ('И', '\u{0306}') => Some('Й'),
        ('е', '\u{0308}') => Some('ё'),
        ('Е', '\u{0308}') => Some('Ё'),
        _ => None,
    }
}

fn is_combining_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}')
}

fn is_cyrillic(c: char) -> bool {
    matches!(
        c,
        '\u{0400}'..='\u{052F}' | '\u{1C80}'..='\u{1C8F}' | '\u{2DE0}'..='\u{2DFF}' | '\u{A640}'..='\u{A69F}'
    )
}

/// The earliest birth year accepted.
pub const BIRTH_YEAR_MIN: i32 = 1900;
/// The greatest age, in completed years, a birthday may give on `today`.
pub const AGE_MAX: i32 = 120;

/// Reads a birthday written as `1985-03-07` (ISO), `07.03.1985` (always day first)
/// or `7/3/1985` and `07-03-1985` (in `rules.date_order`), optionally followed by a
/// midnight time as exports write it (`1985-03-07 00:00:00`). Day and month may have one or two digits;
/// the year needs four, so `7/3/85` is refused. The date must exist, fall in or after
/// 1900, not after `today` (the caller's date, as the core has no clock), and give an
/// age of at most 120.
pub fn birthday(
    raw: &str,
    rules: &NormalizeRules,
    today: NaiveDate,
) -> Result<NaiveDate, Rejection> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(Rejection::Empty);
    }
    let text = without_midnight(text).ok_or(Rejection::UnknownFormat)?;
    let (year, month, day) = date_parts(text, rules.date_order).ok_or(Rejection::UnknownFormat)?;
    let date = NaiveDate::from_ymd_opt(year, month, day).ok_or(Rejection::ImpossibleDate)?;
    if year < BIRTH_YEAR_MIN {
        return Err(Rejection::OutOfRange);
    }
    if date > today {
        return Err(Rejection::InFuture);
    }
    let birthday_to_come = (today.month(), today.day()) < (date.month(), date.day());
    let age = today.year() - date.year() - i32::from(birthday_to_come);
    if age > AGE_MAX {
        return Err(Rejection::OutOfRange);
    }
    Ok(date)
}

/// The date without a trailing midnight time, as spreadsheet and accounting-system
/// exports write dates (`1985-03-07 00:00:00`, `07.03.1985 0:00`, `1985-03-07T00:00:00Z`);
/// `None` for any other time of day, which is not a plain date.
fn without_midnight(text: &str) -> Option<&str> {
    let Some(at) = text.find([' ', 'T']) else {
        return Some(text);
    };
    let time = text[at + 1..].trim().trim_end_matches('Z');
    let midnight = time
        .split([':', '.'])
        .all(|part| !part.is_empty() && part.len() <= 3 && part.bytes().all(|b| b == b'0'));
    (midnight && time.contains(':')).then(|| text[..at].trim_end())
}

/// Splits a date into year, month and day by its separator, or `None` when it has
/// another shape. A dash with the year first is ISO; with the year last it reads like
/// a slash, in the configured order.
fn date_parts(text: &str, order: DateOrder) -> Option<(i32, u32, u32)> {
    let separator = ['-', '.', '/'].into_iter().find(|&s| text.contains(s))?;
    let parts: Vec<&str> = text.split(separator).collect();
    let [first, second, third] = parts.as_slice() else {
        return None;
    };
    let (year, month, day) = match (separator, order) {
        ('-', _) if first.len() == 4 => (first, second, third),
        ('.', _) | ('/' | '-', DateOrder::DayMonthYear) => (third, second, first),
        _ => (third, first, second),
    };
    let number = |part: &str, lengths: std::ops::RangeInclusive<usize>| {
        if lengths.contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit()) {
            part.parse::<u32>().ok()
        } else {
            None
        }
    };
    let year = i32::try_from(number(year, 4..=4)?).ok()?;
    Some((year, number(month, 1..=2)?, number(day, 1..=2)?))
}

/// A customer's gender as recorded in a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    Female,
    Male,
}

impl Gender {
    /// The snake_case form, also the serde form.
    pub fn as_str(self) -> &'static str {
        match self {
            Gender::Female => "female",
            Gender::Male => "male",
        }
    }
}

/// Reads a gender written in English or Russian, in any case: `m`, `male`, `man`,
/// `f`, `female`, `woman`, `м`, `муж`, `мужской`, `ж`, `жен`, `женский`; an
/// abbreviation may end with a dot (`муж.`).
pub fn gender(raw: &str) -> Result<Gender, Rejection> {
    let text = raw.trim().to_lowercase();
    if text.is_empty() {
        return Err(Rejection::Empty);
    }
    let word = text.strip_suffix('.').unwrap_or(&text);
    match word {
        "m" | "male" | "man" | "м" | "муж" | "мужской" => Ok(Gender::Male),
        "f" | "female" | "woman" | "ж" | "жен" | "женский" => Ok(Gender::Female),
        _ => Err(Rejection::UnknownFormat),
    }
}
