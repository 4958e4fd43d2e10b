-- Status levels (tiers): each customer's evaluated state and their qualifying events.
-- (Version 6 is left to another change; a gap in versions is fine.)

-- The state as of the customer's last receipt, return or cancel, or of the daily job.
-- Written under the customer's account row lock.
CREATE TABLE tier_states (
    customer_id TEXT PRIMARY KEY REFERENCES customers (customer_id),
    tier TEXT NOT NULL,
    reached_at TEXT,
    below_since TEXT,
    evaluated_at TEXT NOT NULL,
    -- When the level next changes with no new event; the daily job's index.
    reevaluate_at TEXT
);
CREATE INDEX tier_states_due ON tier_states (reevaluate_at) WHERE reevaluate_at IS NOT NULL;

-- A receipt (positive) or a return or cancel (negative), in both metrics, so a program
-- that changes its metric needs no backfill. Append-only.
CREATE TABLE tier_events (
    event_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (customer_id),
    at TEXT NOT NULL,
    -- Net money spent, minor units.
    spend BIGINT NOT NULL,
    points_earned BIGINT NOT NULL
);
CREATE INDEX tier_events_by_customer ON tier_events (customer_id, at);
