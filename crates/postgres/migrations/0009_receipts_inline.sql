-- A receipt's record (about 5–7 KB of JSON for a 5–30 line receipt) compresses to
-- 2–3 KB, just over PostgreSQL's default target for a row (about 2 KB), so each one was
-- moved out of line: an insert into the TOAST table and its index, and their WAL, with
-- every commit. With a target of about 4 KB the compressed record stays in the row,
-- which cost about 8% less of the database's CPU per receipt on the bench (see
-- docs/performance.md). Larger records are still compressed and moved out of line;
-- rows already stored stay as they are.
ALTER TABLE receipts SET (toast_tuple_target = 4080);
