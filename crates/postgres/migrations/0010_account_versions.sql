-- A version for each customer's account. A calculate reads it with the ledger; the
-- commit that follows locks the account row, and when the version is still the one
-- read, it uses that ledger instead of reading it again (one statement of the commit's
-- transaction less). Adding a column with a constant default does not rewrite the
-- table.
ALTER TABLE customer_accounts ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

-- Every update of an account row advances its version, whatever statement made it and
-- whichever release of the server sent it (during a rolling upgrade the older
-- processes know nothing of versions): balances change only together with their row,
-- so a ledger read at one version is the ledger at that version. The server also
-- updates the row when it commits a receipt that leaves the balances as they were, or
-- moves lots between customers.
CREATE FUNCTION customer_account_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version + 1;
    RETURN NEW;
END
$$;
CREATE TRIGGER customer_account_version BEFORE UPDATE ON customer_accounts
    FOR EACH ROW EXECUTE FUNCTION customer_account_version();
