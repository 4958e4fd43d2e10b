-- Card types, and customer segments with explicit membership.
ALTER TABLE cards ADD COLUMN card_type TEXT NOT NULL DEFAULT 'plastic'
    CHECK (card_type IN ('plastic', 'virtual', 'family', 'social'));
CREATE TABLE segments (
    segment_id TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE segment_members (
    segment_id TEXT NOT NULL REFERENCES segments (segment_id),
    customer_id TEXT NOT NULL REFERENCES customers (customer_id),
    PRIMARY KEY (segment_id, customer_id)
);
CREATE INDEX segment_members_by_customer ON segment_members (customer_id);
