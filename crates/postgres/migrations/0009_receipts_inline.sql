-- A receipt's record (about 5–7 KB of JSON for a 5–30 line receipt) and its stored
-- response (about 10 KB) compress to 2–3 KB each, just over PostgreSQL's default
-- target for a row (about 2 KB), so each one was moved out of line: two more inserts
-- (the TOAST table and its index) and their WAL for each value, with every commit.
-- With a target of about 4 KB the compressed values stay in their rows, which cost
-- less of the database's CPU and WAL per receipt on the bench (see
-- docs/performance.md). Larger values are still compressed and moved out of line;
-- rows already stored stay as they are.
ALTER TABLE receipts SET (toast_tuple_target = 4080);
ALTER TABLE receipt_versions SET (toast_tuple_target = 4080);
