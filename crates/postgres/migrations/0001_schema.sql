-- The Tessera schema on PostgreSQL: the same tables and invariants as the SQLite
-- adapter. Instants are TEXT in one fixed-width UTC format (`2026-03-10T09:00:00.000000Z`)
-- so that both adapters store and compare them identically; money and points are
-- BIGINT. Every customer-scoped table carries customer_id (see docs/scaling.md).

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
-- Bumped by every configuration change, so that every server process notices it.
CREATE TABLE config_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO config_version (id, version) VALUES (1, 0);

CREATE TABLE customers (
    customer_id TEXT PRIMARY KEY,
    name TEXT,
    phone TEXT UNIQUE,
    email TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE cards (
    card TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (customer_id),
    card_type TEXT NOT NULL DEFAULT 'plastic'
        CHECK (card_type IN ('plastic', 'virtual', 'family', 'social'))
);
CREATE INDEX cards_by_customer ON cards (customer_id);

CREATE TABLE customer_accounts (
    customer_id TEXT PRIMARY KEY REFERENCES customers (customer_id),
    pending BIGINT NOT NULL CHECK (pending >= 0),
    available BIGINT NOT NULL
);
CREATE TABLE lots (
    lot_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (customer_id),
    receipt_id TEXT,
    points BIGINT NOT NULL CHECK (points > 0),
    remaining BIGINT NOT NULL CHECK (remaining >= 0 AND remaining <= points),
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
    entry_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    debit TEXT NOT NULL,
    credit TEXT NOT NULL CHECK (credit <> debit),
    amount BIGINT NOT NULL CHECK (amount > 0),
    lot_id TEXT,
    receipt_id TEXT,
    op_id TEXT,
    at TEXT NOT NULL
);
CREATE INDEX entries_by_customer ON entries (customer_id, entry_id);
CREATE INDEX entries_by_receipt ON entries (receipt_id) WHERE receipt_id IS NOT NULL;
CREATE UNIQUE INDEX entries_one_maturation ON entries (lot_id) WHERE kind = 'mature';

CREATE TABLE receipts (
    receipt_id TEXT PRIMARY KEY,
    customer_id TEXT,
    store_id TEXT NOT NULL,
    at TEXT NOT NULL,
    status TEXT NOT NULL,
    version BIGINT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX receipts_by_customer ON receipts (customer_id) WHERE customer_id IS NOT NULL;
CREATE TABLE receipt_versions (
    receipt_id TEXT NOT NULL REFERENCES receipts (receipt_id),
    version BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('commit', 'return', 'cancel')),
    op_id TEXT NOT NULL UNIQUE,
    request_hash TEXT NOT NULL,
    response BYTEA NOT NULL,
    terminal_id TEXT,
    at TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (receipt_id, version)
);

CREATE TABLE promotion_usage (
    promotion_id TEXT NOT NULL,
    key TEXT NOT NULL,
    uses BIGINT NOT NULL CHECK (uses >= 0),
    discount BIGINT NOT NULL CHECK (discount >= 0),
    PRIMARY KEY (promotion_id, key)
);

CREATE TABLE coupon_series (series_id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE coupons (
    code TEXT PRIMARY KEY,
    series_id TEXT NOT NULL REFERENCES coupon_series (series_id),
    customer_id TEXT,
    issued_by TEXT,
    valid_until TEXT,
    used_by TEXT,
    revoked BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX coupons_by_series ON coupons (series_id);
CREATE INDEX coupons_by_issuer ON coupons (issued_by) WHERE issued_by IS NOT NULL;
CREATE INDEX coupons_by_user ON coupons (used_by) WHERE used_by IS NOT NULL;
CREATE TABLE certificates (
    code TEXT PRIMARY KEY,
    amount BIGINT NOT NULL CHECK (amount > 0),
    balance BIGINT NOT NULL CHECK (balance >= 0 AND balance <= amount),
    customer_id TEXT,
    issued_by TEXT,
    valid_until TEXT,
    revoked BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX certificates_by_issuer ON certificates (issued_by) WHERE issued_by IS NOT NULL;
CREATE TABLE customer_grants (
    grant_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (customer_id),
    kind TEXT NOT NULL CHECK (kind IN ('tier', 'entitlement')),
    value TEXT NOT NULL,
    promotion_id TEXT,
    receipt_id TEXT,
    granted_at TEXT NOT NULL,
    until TEXT,
    revoked BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX customer_grants_by_customer ON customer_grants (customer_id, kind, granted_at);
CREATE INDEX customer_grants_by_receipt ON customer_grants (receipt_id) WHERE receipt_id IS NOT NULL;

CREATE TABLE segments (segment_id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE segment_members (
    segment_id TEXT NOT NULL REFERENCES segments (segment_id),
    customer_id TEXT NOT NULL REFERENCES customers (customer_id),
    PRIMARY KEY (segment_id, customer_id)
);
CREATE INDEX segment_members_by_customer ON segment_members (customer_id);
