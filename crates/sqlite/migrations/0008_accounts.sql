-- Customers' one-time codes and TOTP secrets, sign-in sessions, staff users.
CREATE TABLE customer_totp (
    customer_id TEXT PRIMARY KEY,
    -- base32; the server shows the app its current code.
    secret TEXT NOT NULL,
    last_step INTEGER,
    last_receipt TEXT
) STRICT;

CREATE TABLE customer_codes (
    customer_id TEXT NOT NULL,
    -- redeem or login
    purpose TEXT NOT NULL,
    code_hash TEXT,
    expires_at INTEGER,
    used_for TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    window_started_at INTEGER,
    locked_until INTEGER,
    PRIMARY KEY (customer_id, purpose)
) STRICT;

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    -- customer or staff
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT
) STRICT;
CREATE INDEX sessions_by_subject ON sessions (kind, subject);

CREATE TABLE staff_users (
    username TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    disabled_at TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    window_started_at INTEGER,
    locked_until INTEGER
) STRICT;
