-- No query reads ledger entries by receipt through an index: returns and cancels find a
-- receipt's points through its record and the customer's ledger, and `tessera check`
-- scans every entry anyway. The index cost one more B-tree page written (to the WAL,
-- then copied back by the checkpointer) with almost every committed receipt.
DROP INDEX IF EXISTS entries_by_receipt;
