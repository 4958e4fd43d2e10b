//! The columns an import file may carry, and mapping a header onto them.

use serde::{Deserialize, Serialize};

/// A column of a customer import file (a CSV header name or a JSON lines key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Column {
    SourceId,
    FirstName,
    MiddleName,
    LastName,
    Gender,
    Birthday,
    Phone,
    Email,
    Card,
    City,
    ConsentEmail,
    ConsentSms,
    CreatedAt,
}

impl Column {
    /// How many columns there are.
    pub const COUNT: usize = 13;

    /// Every column, in the documented header order.
    pub const ALL: [Column; Column::COUNT] = [
        Column::SourceId,
        Column::FirstName,
        Column::MiddleName,
        Column::LastName,
        Column::Gender,
        Column::Birthday,
        Column::Phone,
        Column::Email,
        Column::Card,
        Column::City,
        Column::ConsentEmail,
        Column::ConsentSms,
        Column::CreatedAt,
    ];

    /// The header name, also the serde form.
    pub fn as_str(self) -> &'static str {
        match self {
            Column::SourceId => "source_id",
            Column::FirstName => "first_name",
            Column::MiddleName => "middle_name",
            Column::LastName => "last_name",
            Column::Gender => "gender",
            Column::Birthday => "birthday",
            Column::Phone => "phone",
            Column::Email => "email",
            Column::Card => "card",
            Column::City => "city",
            Column::ConsentEmail => "consent_email",
            Column::ConsentSms => "consent_sms",
            Column::CreatedAt => "created_at",
        }
    }

    /// The column a header name stands for: trimmed, in any case.
    pub fn parse(name: &str) -> Option<Column> {
        let name = name.trim();
        Column::ALL
            .into_iter()
            .find(|column| column.as_str().eq_ignore_ascii_case(name))
    }

    /// The position of the column in [`Column::ALL`], to index per-column arrays.
    pub fn idx(self) -> usize {
        self as usize
    }
}

/// A file's header mapped onto columns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// The column at each position of a record; `None` for a position that is not read
    /// (an unknown or repeated name).
    pub positions: Vec<Option<Column>>,
    /// Header names that are no column, as written (trimmed), in file order.
    pub unknown: Vec<String>,
    /// Columns named more than once; only the first is read.
    pub repeated: Vec<Column>,
}

impl Header {
    /// Maps header names onto columns.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Header {
        let mut header = Header::default();
        let mut seen = [false; Column::COUNT];
        for name in names {
            let column = Column::parse(name);
            match column {
                Some(column) if seen[column.idx()] => {
                    if !header.repeated.contains(&column) {
                        header.repeated.push(column);
                    }
                    header.positions.push(None);
                }
                Some(column) => {
                    seen[column.idx()] = true;
                    header.positions.push(Some(column));
                }
                None => {
                    header.unknown.push(name.trim().to_string());
                    header.positions.push(None);
                }
            }
        }
        header
    }

    /// Whether any position is read.
    pub fn has_known_column(&self) -> bool {
        self.positions.iter().any(Option::is_some)
    }
}
