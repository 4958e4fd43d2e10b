-- Configuration: stored as JSON documents of the core types, keyed by their ids.
CREATE TABLE program (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    body TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE stores (store_id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE products (sku TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE promotions (
    promotion_id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
);

-- Customers and the identifiers that point at exactly one of them.
CREATE TABLE customers (
    customer_id TEXT PRIMARY KEY,
    name TEXT,
    phone TEXT UNIQUE,
    email TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE cards (
    card TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (customer_id)
);
CREATE INDEX cards_by_customer ON cards (customer_id);

-- The ledger. customer_accounts materialises the two customer accounts' balances;
-- system accounts (issued, redeemed, expired) are sums over entries.
CREATE TABLE customer_accounts (
    customer_id TEXT PRIMARY KEY REFERENCES customers (customer_id),
    pending INTEGER NOT NULL CHECK (pending >= 0),
    available INTEGER NOT NULL
);
CREATE TABLE lots (
    lot_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (customer_id),
    receipt_id TEXT,
    points INTEGER NOT NULL CHECK (points > 0),
    remaining INTEGER NOT NULL CHECK (remaining >= 0 AND remaining <= points),
    state TEXT NOT NULL CHECK (state IN ('pending', 'available', 'expired')),
    earned_at TEXT NOT NULL,
    matures_at TEXT NOT NULL,
    expires_at TEXT
);
CREATE INDEX lots_open ON lots (customer_id) WHERE state = 'pending' OR remaining > 0;
CREATE INDEX lots_due_to_mature ON lots (matures_at) WHERE state = 'pending';
CREATE INDEX lots_due_to_expire ON lots (expires_at)
    WHERE state = 'available' AND remaining > 0 AND expires_at IS NOT NULL;
CREATE TABLE entries (
    entry_id INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    debit TEXT NOT NULL,
    credit TEXT NOT NULL CHECK (credit <> debit),
    amount INTEGER NOT NULL CHECK (amount > 0),
    lot_id TEXT,
    receipt_id TEXT,
    op_id TEXT,
    at TEXT NOT NULL
);
CREATE INDEX entries_by_customer ON entries (customer_id, entry_id);
CREATE INDEX entries_by_receipt ON entries (receipt_id) WHERE receipt_id IS NOT NULL;
-- A lot matures once.
CREATE UNIQUE INDEX entries_one_maturation ON entries (lot_id) WHERE kind = 'mature';

-- Receipts: the current record (JSON of the core ReceiptRecord) and every version
-- with the exact response it was answered with. op_id is the idempotency key of
-- each version: the receipt id for the commit, the return id, cancel/<receipt id>.
CREATE TABLE receipts (
    receipt_id TEXT PRIMARY KEY,
    customer_id TEXT,
    store_id TEXT NOT NULL,
    at TEXT NOT NULL,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX receipts_by_customer ON receipts (customer_id) WHERE customer_id IS NOT NULL;
CREATE TABLE receipt_versions (
    receipt_id TEXT NOT NULL REFERENCES receipts (receipt_id),
    version INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('commit', 'return', 'cancel')),
    op_id TEXT NOT NULL UNIQUE,
    request_hash TEXT NOT NULL,
    response BLOB NOT NULL,
    terminal_id TEXT,
    at TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (receipt_id, version)
);
