-- Coupon series and their codes, gift certificates, and the tiers and entitlements
-- promotions grant. Codes are stored normalised (upper-case, no separators).
CREATE TABLE coupon_series (
    series_id TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE coupons (
    code TEXT PRIMARY KEY,
    series_id TEXT NOT NULL REFERENCES coupon_series (series_id),
    customer_id TEXT,
    issued_by TEXT,
    valid_until TEXT,
    -- The committed receipt that used a single-use code; NULL while it is free.
    used_by TEXT,
    revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
);
CREATE INDEX coupons_by_series ON coupons (series_id);
CREATE INDEX coupons_by_issuer ON coupons (issued_by) WHERE issued_by IS NOT NULL;
CREATE INDEX coupons_by_user ON coupons (used_by) WHERE used_by IS NOT NULL;
CREATE TABLE certificates (
    code TEXT PRIMARY KEY,
    amount INTEGER NOT NULL CHECK (amount > 0),
    balance INTEGER NOT NULL CHECK (balance >= 0 AND balance <= amount),
    customer_id TEXT,
    issued_by TEXT,
    valid_until TEXT,
    revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
);
CREATE INDEX certificates_by_issuer ON certificates (issued_by) WHERE issued_by IS NOT NULL;
CREATE TABLE customer_grants (
    grant_id INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id TEXT NOT NULL REFERENCES customers (customer_id),
    kind TEXT NOT NULL CHECK (kind IN ('tier', 'entitlement')),
    value TEXT NOT NULL,
    promotion_id TEXT,
    receipt_id TEXT,
    granted_at TEXT NOT NULL,
    until TEXT,
    revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
);
CREATE INDEX customer_grants_by_customer ON customer_grants (customer_id, kind, granted_at);
CREATE INDEX customer_grants_by_receipt ON customer_grants (receipt_id) WHERE receipt_id IS NOT NULL;
