//! One row of an import: as read ([`RawRow`]), as normalised ([`CleanRow`]), and what
//! was refused on the way ([`FieldRejection`], [`RowError`]).

use super::column::{Column, Header};
use super::threads::in_parts;
use crate::consent::{Channel, ConsentEvent};
use crate::contact::{self, Gender, NormalizeRules, Rejection};
use crate::customer::normalize_card;
use crate::matching::Person;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// The most characters a `source_id` may have.
pub const SOURCE_ID_MAX_CHARS: usize = 128;
/// The most characters a city may have.
pub const CITY_MAX_CHARS: usize = 100;

/// A row as read from the file: the text of each column it has, untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRow<'a> {
    /// The 1-based number of the data row (the header is not counted).
    pub row: u64,
    /// The 1-based line of the file the row starts on.
    pub line: u64,
    /// The value of each column, indexed by [`Column::idx`]; `None` when the file has
    /// no such column.
    pub values: [Option<Cow<'a, str>>; Column::COUNT],
}

impl<'a> RawRow<'a> {
    /// A row with no values yet.
    pub fn new(row: u64, line: u64) -> RawRow<'a> {
        RawRow {
            row,
            line,
            values: Default::default(),
        }
    }

    /// The value of one column, if the file has it.
    pub fn get(&self, column: Column) -> Option<&str> {
        self.values[column.idx()].as_deref()
    }
}

/// A row normalised: every value canonical, every refused value left out (and
/// reported as a [`FieldRejection`]), every blank value absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanRow {
    /// The 1-based number of the data row.
    pub row: u64,
    /// The 1-based line of the file the row starts on.
    pub line: u64,
    /// The customer's id in the source system, trimmed.
    pub source_id: Option<String>,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub gender: Option<Gender>,
    pub birthday: Option<NaiveDate>,
    /// E.164.
    pub phone: Option<String>,
    /// Trimmed and lower-cased.
    pub email: Option<String>,
    /// As `customer::normalize_card` gives it.
    pub card: Option<String>,
    /// Trimmed, inner white space collapsed.
    pub city: Option<String>,
    pub consent_email: Option<bool>,
    pub consent_sms: Option<bool>,
    pub created_at: Option<DateTime<Utc>>,
}

impl CleanRow {
    /// The row's name and birthday, for matching.
    pub fn person(&self) -> Person<'_> {
        Person {
            first_name: self.first_name.as_deref(),
            middle_name: self.middle_name.as_deref(),
            last_name: self.last_name.as_deref(),
            birthday: self.birthday,
        }
    }

    /// The row's consents as events from `source`, at the row's `created_at` or, when
    /// it has none, at `default_at` (the import's time).
    pub fn consent_events(&self, source: &str, default_at: DateTime<Utc>) -> Vec<ConsentEvent> {
        let at = self.created_at.unwrap_or(default_at);
        [
            (Channel::Email, self.consent_email),
            (Channel::Sms, self.consent_sms),
        ]
        .into_iter()
        .filter_map(|(channel, granted)| {
            Some(ConsentEvent {
                channel,
                granted: granted?,
                at,
                source: source.to_string(),
            })
        })
        .collect()
    }
}

/// A value refused in one row, with the reason; the rest of the row is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldRejection {
    /// The 1-based number of the data row.
    pub row: u64,
    /// The 1-based line of the file the row starts on.
    pub line: u64,
    pub field: Column,
    /// The value as written.
    pub value: String,
    pub reason: Rejection,
}

/// Why a whole row could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowErrorCode {
    /// A CSV record with more or fewer fields than the header.
    WrongFieldCount,
    /// A CSV quote left open up to the end of the file.
    UnterminatedQuote,
    /// A JSON lines line that is not JSON.
    MalformedJson,
    /// A JSON lines line that is JSON but not an object.
    NotAnObject,
}

impl RowErrorCode {
    /// The stable snake_case code, also the serde form.
    pub fn as_str(self) -> &'static str {
        match self {
            RowErrorCode::WrongFieldCount => "wrong_field_count",
            RowErrorCode::UnterminatedQuote => "unterminated_quote",
            RowErrorCode::MalformedJson => "malformed_json",
            RowErrorCode::NotAnObject => "not_an_object",
        }
    }
}

/// A row that could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    /// The 1-based number of the data row.
    pub row: u64,
    /// The 1-based line of the file the row starts on.
    pub line: u64,
    pub code: RowErrorCode,
    /// What exactly, when there is more to say (`expected 13 fields, found 12`).
    pub detail: String,
}

impl RowError {
    /// A row error.
    pub fn new(row: u64, line: u64, code: RowErrorCode, detail: String) -> RowError {
        RowError {
            row,
            line,
            code,
            detail,
        }
    }
}

/// A file read and cleaned: the rows to plan with, and everything refused on the way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedInput {
    /// Data rows read, including those in `row_errors`.
    pub n_rows_read: u64,
    /// The rows that could be read, in file order.
    pub rows: Vec<CleanRow>,
    /// Refused values, in file order.
    pub rejections: Vec<FieldRejection>,
    /// Rows that could not be read, in file order.
    pub row_errors: Vec<RowError>,
    /// Header names (or JSON keys) that are no column, sorted, each once.
    pub unknown_columns: Vec<String>,
    /// Columns named more than once in the header; only the first is read.
    pub repeated_columns: Vec<Column>,
}

impl ParsedInput {
    /// An empty result for a file with `header`.
    pub fn new(header: &Header) -> ParsedInput {
        let mut unknown_columns = header.unknown.clone();
        unknown_columns.sort();
        unknown_columns.dedup();
        ParsedInput {
            unknown_columns,
            repeated_columns: header.repeated.clone(),
            ..ParsedInput::default()
        }
    }
}

/// Normalises raw rows, with the settings and the dates a row is judged against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowCleaner {
    pub rules: NormalizeRules,
    /// The date birthdays may not be after (the program's local date).
    pub today: NaiveDate,
    /// The instant `created_at` may not be after.
    pub now: DateTime<Utc>,
}

impl RowCleaner {
    /// Normalises `rows` on up to `n_threads` threads and appends the clean rows and the
    /// refused values to `parsed`, in the order of `rows`.
    pub fn clean_all(&self, rows: &[RawRow<'_>], n_threads: usize, parsed: &mut ParsedInput) {
        let clean_part = |part: &[RawRow<'_>]| {
            let mut rejections = Vec::new();
            let clean: Vec<CleanRow> = part
                .iter()
                .map(|raw| self.clean(raw, &mut rejections))
                .collect();
            (clean, rejections)
        };
        for (clean, rejections) in in_parts(rows, n_threads, clean_part) {
            parsed.rows.extend(clean);
            parsed.rejections.extend(rejections);
        }
    }

    /// Normalises `raw`, pushing a [`FieldRejection`] for each refused value.
    pub fn clean(&self, raw: &RawRow<'_>, rejections: &mut Vec<FieldRejection>) -> CleanRow {
        let mut out = CleanRow {
            row: raw.row,
            line: raw.line,
            ..CleanRow::default()
        };
        let mut take = Field { raw, rejections };
        let rules = &self.rules;
        out.source_id = take.value(Column::SourceId, source_id);
        out.first_name = take.value(Column::FirstName, contact::name);
        out.middle_name = take.value(Column::MiddleName, contact::name);
        out.last_name = take.value(Column::LastName, contact::name);
        out.gender = take.value(Column::Gender, contact::gender);
        out.birthday = take.value(Column::Birthday, |v| {
            contact::birthday(v, rules, self.today)
        });
        out.phone = take.value(Column::Phone, |v| contact::phone(v, rules));
        out.email = take.value(Column::Email, contact::email);
        out.card = take.value(Column::Card, card);
        out.city = take.value(Column::City, city);
        out.consent_email = take.value(Column::ConsentEmail, parse_consent);
        out.consent_sms = take.value(Column::ConsentSms, parse_consent);
        out.created_at = take.value(Column::CreatedAt, |v| parse_created_at(v, self.now));
        out
    }
}

/// One raw row's values on their way to a clean row, and where refusals go.
struct Field<'r, 'a> {
    raw: &'r RawRow<'a>,
    rejections: &'r mut Vec<FieldRejection>,
}

impl Field<'_, '_> {
    /// The column's value normalised by `normalize`: `None` when blank or refused (and
    /// then reported).
    fn value<T>(
        &mut self,
        column: Column,
        normalize: impl FnOnce(&str) -> Result<T, Rejection>,
    ) -> Option<T> {
        let value = self.raw.get(column)?;
        if value.trim().is_empty() {
            return None;
        }
        match normalize(value) {
            Ok(normalized) => Some(normalized),
            Err(reason) => {
                self.rejections.push(FieldRejection {
                    row: self.raw.row,
                    line: self.raw.line,
                    field: column,
                    value: value.to_string(),
                    reason,
                });
                None
            }
        }
    }
}

fn source_id(raw: &str) -> Result<String, Rejection> {
    let value = raw.trim();
    if value.chars().any(char::is_control) {
        return Err(Rejection::InvalidCharacters);
    }
    if value.chars().count() > SOURCE_ID_MAX_CHARS {
        return Err(Rejection::TooLong);
    }
    Ok(value.to_string())
}

/// A card as `customer::normalize_card` gives it, with the reason it refuses one.
fn card(raw: &str) -> Result<String, Rejection> {
    normalize_card(raw).map_err(|_| {
        let n_chars = raw.chars().filter(|c| !c.is_whitespace()).count();
        if n_chars < 4 {
            Rejection::TooShort
        } else if n_chars > 32 {
            Rejection::TooLong
        } else {
            Rejection::InvalidCharacters
        }
    })
}

fn city(raw: &str) -> Result<String, Rejection> {
    let mut city = String::with_capacity(raw.len());
    for word in raw.split_whitespace() {
        if !city.is_empty() {
            city.push(' ');
        }
        city.push_str(word);
    }
    if city.chars().any(char::is_control) {
        return Err(Rejection::InvalidCharacters);
    }
    if city.chars().count() > CITY_MAX_CHARS {
        return Err(Rejection::TooLong);
    }
    Ok(city)
}

/// Reads a consent flag in any case: `1`, `true`, `yes`, `y`, `да`, `д` grant; `0`,
/// `false`, `no`, `n`, `нет`, `н` withhold.
pub fn parse_consent(raw: &str) -> Result<bool, Rejection> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(Rejection::Empty);
    }
    let is = |words: &[&str]| {
        words
            .iter()
            .any(|w| w.eq_ignore_ascii_case(text) || (!w.is_ascii() && text.to_lowercase() == **w))
    };
    if is(&["1", "true", "yes", "y", "да", "д"]) {
        Ok(true)
    } else if is(&["0", "false", "no", "n", "нет", "н"]) {
        Ok(false)
    } else {
        Err(Rejection::UnknownFormat)
    }
}

/// Reads when a customer was created in the source system: RFC 3339
/// (`2021-04-05T10:20:30+03:00`), or `2021-04-05 10:20:30`, `2021-04-05T10:20:30` and
/// `2021-04-05` (UTC, fractions of a second allowed). It may not be after `now`.
pub fn parse_created_at(raw: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, Rejection> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(Rejection::Empty);
    }
    let at = if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        at.with_timezone(&Utc)
    } else if let Some(at) = ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
    {
        at.and_utc()
    } else {
        let date =
            NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|error| match error.kind() {
                chrono::format::ParseErrorKind::OutOfRange
                | chrono::format::ParseErrorKind::Impossible => Rejection::ImpossibleDate,
                _ => Rejection::UnknownFormat,
            })?;
        date.and_time(chrono::NaiveTime::MIN).and_utc()
    };
    if at > now {
        return Err(Rejection::InFuture);
    }
    Ok(at)
}
