//! JSON lines input: one object per line with the CSV column names as keys. Values are
//! strings; consents may also be booleans, and numbers are read as the text they are
//! written as (a phone or a card written as a number). `null` is a missing value.
//! Keys map onto columns as header names do, and unknown keys are listed the same
//! way. Blank lines are skipped; a line that is not a JSON object is a [`RowError`].

use super::column::{Column, Header};
use super::row::{ParsedInput, RawRow, RowCleaner, RowError, RowErrorCode};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeSet;

/// Reads JSON lines text and cleans every row. Never fails as a whole: an empty text
/// gives no rows.
pub fn read_json_lines(text: &str, cleaner: &RowCleaner) -> ParsedInput {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parsed = ParsedInput::new(&Header::default());
    let mut unknown = BTreeSet::new();
    let mut repeated = BTreeSet::new();
    let mut row_number = 0u64;
    for (line_idx, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        row_number += 1;
        parsed.n_rows_read += 1;
        let line_number = line_idx as u64 + 1;
        let object = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(object)) => object,
            Ok(_) => {
                parsed.row_errors.push(RowError::new(
                    row_number,
                    line_number,
                    RowErrorCode::NotAnObject,
                    String::new(),
                ));
                continue;
            }
            Err(error) => {
                parsed.row_errors.push(RowError::new(
                    row_number,
                    line_number,
                    RowErrorCode::MalformedJson,
                    error.to_string(),
                ));
                continue;
            }
        };
        let mut raw = RawRow::new(row_number, line_number);
        for (key, value) in object {
            let Some(column) = Column::parse(&key) else {
                unknown.insert(key.trim().to_string());
                continue;
            };
            let slot = &mut raw.values[column.idx()];
            if slot.is_some() {
                // `Phone` and `phone` in one object: the first is read, as in a header.
                repeated.insert(column);
                continue;
            }
            *slot = match value {
                Value::Null => None,
                Value::String(text) => Some(Cow::Owned(text)),
                Value::Bool(flag) => Some(Cow::Borrowed(if flag { "true" } else { "false" })),
                // Numbers as written; arrays and objects as JSON text, which no column
                // accepts, so they are reported as refused values.
                other => Some(Cow::Owned(other.to_string())),
            };
        }
        let clean = cleaner.clean(&raw, &mut parsed.rejections);
        parsed.rows.push(clean);
    }
    parsed.unknown_columns = unknown.into_iter().collect();
    parsed.repeated_columns = repeated.into_iter().collect();
    parsed
}
