//! Small helpers over rusqlite: error mapping, typed column reads that fail as
//! `StoreError`, and placeholder lists.

use rusqlite::types::FromSql;
use rusqlite::Row;
use tessera_store::{StoreError, StoreResult};

/// A database failure.
pub fn db(error: rusqlite::Error) -> StoreError {
    StoreError::backend(error)
}

/// Whether the failure is a UNIQUE or PRIMARY KEY violation.
pub fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// Column reads that fail as a store error.
pub trait RowExt {
    fn at<T: FromSql>(&self, idx: usize) -> StoreResult<T>;
}

impl RowExt for Row<'_> {
    fn at<T: FromSql>(&self, idx: usize) -> StoreResult<T> {
        self.get(idx).map_err(db)
    }
}

/// `?, ?, ?` for `n` values.
pub fn marks(n: usize) -> String {
    let mut text = String::with_capacity(n * 3);
    for i in 0..n {
        if i > 0 {
            text.push_str(", ");
        }
        text.push('?');
    }
    text
}

/// Every row of a query, each read by `read`.
pub fn all<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
    mut read: impl FnMut(&Row) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut statement = conn.prepare_cached(sql).map_err(db)?;
    let mut rows = statement.query(params).map_err(db)?;
    let mut found = Vec::new();
    while let Some(row) = rows.next().map_err(db)? {
        found.push(read(row)?);
    }
    Ok(found)
}

/// The first row of a query, if any, read by `read`.
pub fn one<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
    read: impl FnOnce(&Row) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let mut statement = conn.prepare_cached(sql).map_err(db)?;
    let mut rows = statement.query(params).map_err(db)?;
    match rows.next().map_err(db)? {
        Some(row) => read(row).map(Some),
        None => Ok(None),
    }
}

/// Runs a statement; the number of rows it changed.
pub fn exec(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<usize> {
    conn.prepare_cached(sql)
        .and_then(|mut statement| statement.execute(params))
        .map_err(db)
}

/// Rows per statement of [`insert_many`]: enough to spread a statement's fixed cost
/// (cursors opened and closed on every index), few enough to stay far below
/// SQLite's limit on bound values.
const ROWS_PER_STATEMENT: usize = 64;

/// Runs `{insert} VALUES (…), (…) {tail}` over `values`, a flat list of rows of
/// `width` values each: [`ROWS_PER_STATEMENT`] rows a statement, the rest one a
/// statement. Returns the number of rows written.
pub fn insert_many(
    conn: &rusqlite::Connection,
    insert: &str,
    tail: &str,
    width: usize,
    values: &[&dyn rusqlite::ToSql],
) -> Result<usize, rusqlite::Error> {
    let row = format!("({})", marks(width));
    let sql = |n: usize| {
        format!(
            "{insert} VALUES {} {tail}",
            vec![row.as_str(); n].join(", ")
        )
    };
    let (many, one) = (sql(ROWS_PER_STATEMENT), sql(1));
    let full = ROWS_PER_STATEMENT * width;
    let mut written = 0;
    for chunk in values.chunks(full) {
        if chunk.len() == full {
            written += conn
                .prepare_cached(&many)?
                .execute(rusqlite::params_from_iter(chunk.iter()))?;
        } else {
            for row_values in chunk.chunks(width) {
                written += conn
                    .prepare_cached(&one)?
                    .execute(rusqlite::params_from_iter(row_values.iter()))?;
            }
        }
    }
    Ok(written)
}
