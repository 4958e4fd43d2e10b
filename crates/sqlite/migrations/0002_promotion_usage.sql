-- Promotion limits and budgets: uses and money given under each key (total,
-- store:<id>, customer:<id>, customer:<id>:<local date>), checked and moved inside the
-- commit's transaction.
CREATE TABLE promotion_usage (
    promotion_id TEXT NOT NULL,
    key TEXT NOT NULL,
    uses INTEGER NOT NULL CHECK (uses >= 0),
    discount INTEGER NOT NULL CHECK (discount >= 0),
    PRIMARY KEY (promotion_id, key)
);
