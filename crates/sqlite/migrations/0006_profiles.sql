-- Customer profiles (issue 5): the profile document with field provenance and
-- consents, merges and their review queue, phones, emails and external ids, card
-- status, name search keys, the history of changes, staff adjustments.
ALTER TABLE customers ADD COLUMN profile TEXT NOT NULL DEFAULT '{}';
ALTER TABLE customers ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CHECK (status IN ('active', 'merged', 'erased'));
-- Set while status = 'merged': the customer now holding this one's points.
ALTER TABLE customers ADD COLUMN merged_into TEXT;
ALTER TABLE customers ADD COLUMN updated_at TEXT;
CREATE INDEX customers_merged_into ON customers (merged_into) WHERE merged_into IS NOT NULL;
-- The few merged and erased customers, for `tessera check`.
CREATE INDEX customers_not_active ON customers (status) WHERE status <> 'active';

-- Phones, emails and external ids (<source>:<id>). A phone or external id names one
-- customer; an email may be shared (a family).
CREATE TABLE customer_identifiers (
    kind TEXT NOT NULL CHECK (kind IN ('phone', 'email', 'external')),
    value TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers (customer_id),
    source TEXT NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (kind, value, customer_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX customer_identifiers_unique ON customer_identifiers (kind, value)
    WHERE kind <> 'email';
CREATE INDEX customer_identifiers_by_customer ON customer_identifiers (customer_id);

-- customers.phone and customers.email move here; the columns stay, always NULL
-- (SQLite cannot drop a UNIQUE column). The legacy name becomes the document's name,
-- beside the registration StoredProfile::from_customer records; the name's search keys
-- need the Rust folding, so schema.rs writes them after this script.
INSERT INTO customer_identifiers (kind, value, customer_id, source, added_at)
    SELECT 'phone', phone, customer_id, 'api', created_at FROM customers WHERE phone IS NOT NULL;
INSERT INTO customer_identifiers (kind, value, customer_id, source, added_at)
    SELECT 'email', email, customer_id, 'api', created_at FROM customers WHERE email IS NOT NULL;
UPDATE customers SET
    profile = CASE WHEN name IS NULL
        THEN json_object('registration', json_object('source', 'api', 'at', created_at))
        ELSE json_object('registration', json_object('source', 'api', 'at', created_at),
                         'name', json_object('value', name, 'at', created_at, 'source', 'api'))
        END,
    updated_at = created_at,
    phone = NULL,
    email = NULL;

-- A merge gives the absorbed customer's closed lots to the survivor too. lots_open
-- finds the open ones; this finds the others without a scan of every lot. It is
-- partial (disjoint from lots_open) so that the open-lot reads of every receipt keep
-- choosing lots_open.
CREATE INDEX lots_closed ON lots (customer_id) WHERE remaining = 0 AND state <> 'pending';

ALTER TABLE cards ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CHECK (status IN ('active', 'blocked', 'replaced'));

-- Folded name keys (tessera_core::profile::search_keys) for prefix search.
CREATE TABLE customer_name_keys (
    key TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    PRIMARY KEY (key, customer_id)
) WITHOUT ROWID;
CREATE INDEX customer_name_keys_by_customer ON customer_name_keys (customer_id);

CREATE TABLE profile_events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id TEXT NOT NULL,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    actor TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX profile_events_by_customer ON profile_events (customer_id, event_id);

-- record: the MergeRecord as JSON (both profiles before the merge, the lots moved).
CREATE TABLE merges (
    merge_id TEXT PRIMARY KEY,
    survivor_id TEXT NOT NULL,
    absorbed_id TEXT NOT NULL,
    at TEXT NOT NULL,
    undone_at TEXT,
    record TEXT NOT NULL
);
-- Both sides, undone merges included: an erasure scrubs every merge a customer was in.
CREATE INDEX merges_by_survivor ON merges (survivor_id);
CREATE INDEX merges_by_absorbed ON merges (absorbed_id);
CREATE UNIQUE INDEX merges_in_force ON merges (absorbed_id) WHERE undone_at IS NULL;

CREATE TABLE merge_candidates (
    candidate_id TEXT PRIMARY KEY,
    customer_a TEXT NOT NULL,
    customer_b TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'accepted', 'rejected')),
    record TEXT NOT NULL
);
CREATE UNIQUE INDEX merge_candidates_open_pair ON merge_candidates (customer_a, customer_b)
    WHERE status = 'open';
CREATE INDEX merge_candidates_by_status ON merge_candidates (status, candidate_id);

CREATE TABLE adjustments (
    key TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response BLOB NOT NULL,
    at TEXT NOT NULL
);
