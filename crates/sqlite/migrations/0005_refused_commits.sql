-- Commits refused for a balance (insufficient points, a short certificate): a retry of
-- the same receipt with the same body gets the same refusal.
CREATE TABLE refused_commits (
    receipt_id TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    error TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (receipt_id, request_hash)
);
