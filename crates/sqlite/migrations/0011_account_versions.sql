-- A version for each customer's account. A calculate reads it with the ledger; the
-- commit that follows (on the writer) looks it up again, and when it is still the one
-- read, uses that ledger instead of reading the customer again. Adding a column with a
-- constant default does not rewrite the table.
ALTER TABLE customer_accounts ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

-- Every update of an account row advances its version, whatever statement made it and
-- whichever release of the server or tool sent it: balances change only together with
-- their row, so a ledger read at one version is the ledger at that version. The server
-- also updates the row when it commits a receipt that leaves the balances as they were,
-- or moves lots between customers. An update that sets the version itself is left as
-- it is (and with recursive triggers off, the default, this update fires no trigger).
CREATE TRIGGER customer_account_version AFTER UPDATE ON customer_accounts
FOR EACH ROW WHEN NEW.version = OLD.version
BEGIN
    UPDATE customer_accounts SET version = OLD.version + 1 WHERE rowid = NEW.rowid;
END;
