//! A CSV reader after RFC 4180, over text already in memory: fields quoted with `"`,
//! a quote inside a quoted field doubled, records ended by CRLF or LF, line breaks
//! allowed inside quotes, a UTF-8 byte order mark skipped. Unquoted fields borrow the
//! text; only a field with a doubled quote is copied.
//!
//! The separator is found from the header line: the one of `,`, `;` and tab that
//! occurs most often outside quotes (`,` when none does), since spreadsheet exports
//! in many locales write `;`.
//!
//! It is lenient where RFC 4180 leaves a choice and the intent is plain: a quote
//! inside an unquoted field is kept as it is, text after a closing quote is appended
//! to the field, and blank lines are skipped. A quote left open runs to the end of the
//! text; that record is reported as a [`RowError`] and the reading stops there.

use super::column::Header;
use super::row::{ParsedInput, RawRow, RowCleaner, RowError, RowErrorCode};
use crate::error::CoreError;
use std::borrow::Cow;

/// Reads the records of CSV text one after another.
#[derive(Debug, Clone)]
pub struct CsvReader<'a> {
    text: &'a str,
    pos: usize,
    /// The 1-based line the next record starts on.
    line: u64,
    separator: u8,
}

/// Where a record was and what went wrong with it, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordPlace {
    /// The 1-based line the record starts on.
    pub line: u64,
    /// `Some(RowErrorCode::UnterminatedQuote)` when a quote was left open.
    pub error: Option<RowErrorCode>,
}

impl<'a> CsvReader<'a> {
    /// A reader over `text`, with the separator found from its first line.
    pub fn new(text: &'a str) -> CsvReader<'a> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        CsvReader {
            text,
            pos: 0,
            line: 1,
            separator: detect_separator(text),
        }
    }

    /// The field separator in use.
    pub fn separator(&self) -> char {
        char::from(self.separator)
    }

    /// Reads the next non-blank record into `fields` (cleared first); `None` at the end.
    pub fn next_record(&mut self, fields: &mut Vec<Cow<'a, str>>) -> Option<RecordPlace> {
        loop {
            fields.clear();
            if self.pos >= self.text.len() {
                return None;
            }
            let line = self.line;
            let error = self.read_record(fields);
            let blank = fields.len() == 1 && fields[0].is_empty();
            if !blank || error.is_some() {
                return Some(RecordPlace { line, error });
            }
        }
    }

    /// Reads one record from `self.pos`, through its line break.
    fn read_record(&mut self, fields: &mut Vec<Cow<'a, str>>) -> Option<RowErrorCode> {
        let text = self.text;
        let bytes = text.as_bytes();
        loop {
            let (field, error) = if bytes.get(self.pos) == Some(&b'"') {
                self.read_quoted()
            } else {
                (Cow::Borrowed(self.read_unquoted()), None)
            };
            fields.push(field);
            if error.is_some() {
                self.pos = bytes.len();
                return error;
            }
            match bytes.get(self.pos) {
                Some(&b) if b == self.separator => self.pos += 1,
                Some(b'\r') if bytes.get(self.pos + 1) == Some(&b'\n') => {
                    self.pos += 2;
                    self.line += 1;
                    return None;
                }
                Some(b'\n') => {
                    self.pos += 1;
                    self.line += 1;
                    return None;
                }
                // The end of the text: fields stop only at a separator or line break.
                _ => return None,
            }
        }
    }

    /// An unquoted field from `self.pos` up to the separator or line break.
    fn read_unquoted(&mut self) -> &'a str {
        let text = self.text;
        let bytes = text.as_bytes();
        let start = self.pos;
        let mut end = start;
        while end < bytes.len() {
            let b = bytes[end];
            if b == self.separator || b == b'\n' {
                break;
            }
            if b == b'\r' && bytes.get(end + 1) == Some(&b'\n') {
                break;
            }
            end += 1;
        }
        self.pos = end;
        // Separators and line breaks are ASCII, so both ends are char boundaries.
        text.get(start..end).unwrap_or_default()
    }

    /// A quoted field from the opening quote at `self.pos`, and any text after its
    /// closing quote up to the separator or line break.
    fn read_quoted(&mut self) -> (Cow<'a, str>, Option<RowErrorCode>) {
        let text = self.text;
        let bytes = text.as_bytes();
        let mut start = self.pos + 1;
        let mut owned: Option<String> = None;
        let mut at = start;
        loop {
            let Some(offset) = bytes[at..].iter().position(|&b| b == b'"' || b == b'\n') else {
                self.pos = bytes.len();
                return (Cow::Borrowed(""), Some(RowErrorCode::UnterminatedQuote));
            };
            at += offset;
            if bytes[at] == b'\n' {
                self.line += 1;
                at += 1;
                continue;
            }
            let piece = text.get(start..at).unwrap_or_default();
            if bytes.get(at + 1) == Some(&b'"') {
                // A doubled quote: one quote of the value.
                let buffer = owned.get_or_insert_with(String::new);
                buffer.push_str(piece);
                buffer.push('"');
                at += 2;
                start = at;
                continue;
            }
            self.pos = at + 1;
            let mut value = match owned {
                Some(mut buffer) => {
                    buffer.push_str(piece);
                    Cow::Owned(buffer)
                }
                None => Cow::Borrowed(piece),
            };
            let trailing = self.read_unquoted();
            if !trailing.is_empty() {
                value.to_mut().push_str(trailing);
            }
            return (value, None);
        }
    }
}

/// The separator of the first line: the most frequent of `,`, `;` and tab outside
/// quotes, `,` on a tie or when there is none.
fn detect_separator(text: &str) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for b in text.bytes() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let candidates = [b',', b';', b'\t'];
    let mut best = 0;
    for idx in 1..candidates.len() {
        if counts[idx] > counts[best] {
            best = idx;
        }
    }
    candidates[best]
}

/// Reads CSV text with a header line and cleans every row: the whole of a CSV import
/// short of planning. Fails only when the text has no header or the header names no
/// known column.
pub fn read_csv(text: &str, cleaner: &RowCleaner) -> Result<ParsedInput, CoreError> {
    read_csv_with_threads(text, cleaner, 1)
}

/// [`read_csv`] cleaning rows on `n_threads` threads (the text is split into records on
/// the calling thread). The result is the same for any number of threads.
pub fn read_csv_with_threads(
    text: &str,
    cleaner: &RowCleaner,
    n_threads: usize,
) -> Result<ParsedInput, CoreError> {
    let mut reader = CsvReader::new(text);
    let mut fields = Vec::with_capacity(16);
    let Some(place) = reader.next_record(&mut fields) else {
        return Err(CoreError::invalid("file", "the file is empty"));
    };
    if place.error.is_some() {
        return Err(CoreError::invalid(
            "file",
            "the header has an unterminated quote",
        ));
    }
    let header = Header::parse(fields.iter().map(|f| f.as_ref()));
    if !header.has_known_column() {
        return Err(CoreError::invalid(
            "file",
            "the header names no known column (source_id, first_name, last_name, phone, email, card, ...)",
        ));
    }
    let mut parsed = ParsedInput::new(&header);
    let mut batch: Vec<RawRow<'_>> = Vec::with_capacity(BATCH_ROWS);
    let mut row_number = 0u64;
    while let Some(place) = reader.next_record(&mut fields) {
        row_number += 1;
        parsed.n_rows_read += 1;
        if let Some(code) = place.error {
            parsed
                .row_errors
                .push(RowError::new(row_number, place.line, code, String::new()));
            continue;
        }
        if fields.len() != header.positions.len() {
            let detail = format!(
                "expected {} fields, found {}",
                header.positions.len(),
                fields.len()
            );
            parsed.row_errors.push(RowError::new(
                row_number,
                place.line,
                RowErrorCode::WrongFieldCount,
                detail,
            ));
            continue;
        }
        let mut raw = RawRow::new(row_number, place.line);
        for (column, field) in header.positions.iter().zip(fields.drain(..)) {
            if let Some(column) = column {
                raw.values[column.idx()] = Some(field);
            }
        }
        batch.push(raw);
        if batch.len() == BATCH_ROWS {
            cleaner.clean_all(&batch, n_threads, &mut parsed);
            batch.clear();
        }
    }
    cleaner.clean_all(&batch, n_threads, &mut parsed);
    Ok(parsed)
}

/// Rows split into records before they are cleaned together: enough to share among
/// threads, few enough to keep the raw rows in memory small.
const BATCH_ROWS: usize = 16 * 1024;
