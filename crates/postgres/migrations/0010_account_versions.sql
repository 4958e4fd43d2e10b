-- A version for each customer's account, advanced by every write of the customer's
-- balances or lots and by every receipt committed for them. A calculate reads it with
-- the ledger; the commit that follows locks the account row, and when the version is
-- still the one read, it uses that ledger instead of reading it again (one statement
-- of the commit's transaction less). Adding a column with a constant default does not
-- rewrite the table.
ALTER TABLE customer_accounts ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
