//! The writes of one receipt write, gathered and sent as one statement: each table's
//! rows go in as arrays (`UNNEST`), one data-modifying `WITH` query per table, so a
//! commit's lots, lot changes, entries, balance, counters, codes, certificates, new
//! rewards, receipt and stored response cost one round trip. The statement's text
//! depends only on which kinds of rows there are, never on how many, so each
//! connection prepares each variant once and keeps it in its statement cache.
//!
//! Only rows this transaction has already locked (or is creating) are written here:
//! the statement takes no lock another write could be waiting for in a different
//! order. Checks that a row was there to update are made on the counts it answers.

use crate::rows::db;
use crate::tiers::TierWrite;
use crate::time::ts;
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};
use tessera_core::compact_json;
use tessera_core::ledger::LedgerChanges;
use tessera_core::limits::UsageDelta;
use tessera_core::money::Money;
use tessera_core::refund::ReceiptRecord;
use tessera_store::{NewRewards, ReceiptVersion, StoreError, StoreResult};

/// The writes gathered so far, in no particular order: none reads another's result.
#[derive(Default)]
pub struct Batch<'a> {
    pub ledgers: Vec<&'a LedgerChanges>,
    /// Counter increments (their rows are locked already).
    pub usage: Vec<&'a UsageDelta>,
    /// Single-use codes to mark used by a receipt (their rows are locked already).
    pub coupons_used: Option<(Vec<&'a str>, &'a str)>,
    /// Certificate balance moves (their rows are locked already).
    pub certificates: Vec<(&'a str, Money)>,
    pub rewards: Option<&'a NewRewards>,
    /// The receipt's record and new version; `true`: a new receipt.
    pub receipt: Option<(&'a ReceiptRecord, &'a ReceiptVersion, bool)>,
    /// Tier records and events (of customers whose account rows are locked).
    pub tiers: Vec<&'a TierWrite>,
}

/// Adds `, name AS (` (or the first `WITH name AS (`).
fn open(query: &mut QueryBuilder<'_, Postgres>, first: &mut bool, name: &str) {
    query.push(if *first { "WITH " } else { ", " });
    *first = false;
    query.push(name).push(" AS (");
}

/// Distinct values, sorted.
fn distinct<'a>(values: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut values: Vec<&str> = values.collect();
    values.sort_unstable();
    values.dedup();
    values
}

impl Batch<'_> {
    pub fn is_empty(&self) -> bool {
        self.ledgers
            .iter()
            .all(|c| c.new_lots.is_empty() && c.changed_lots.is_empty() && c.entries.is_empty())
            && self.usage.is_empty()
            && self.coupons_used.is_none()
            && self.certificates.is_empty()
            && self.rewards.is_none_or(|r| r.is_empty())
            && self.receipt.is_none()
            && self.tiers.is_empty()
    }

    /// Sends the writes as one statement (nothing when there is nothing to write).
    pub async fn write(&self, conn: &mut PgConnection) -> StoreResult<()> {
        if self.is_empty() {
            return Ok(());
        }
        let mut query = QueryBuilder::<Postgres>::new("");
        let mut first = true;
        // The counts checked after the statement: (name of the query, rows expected,
        // what it means when they differ).
        let mut checks: Vec<(&str, usize, String)> = Vec::new();

        let lots: Vec<_> = self.ledgers.iter().flat_map(|c| &c.new_lots).collect();
        if !lots.is_empty() {
            open(&mut query, &mut first, "lots_new");
            query.push(
                "INSERT INTO lots (lot_id, customer_id, receipt_id, points, remaining, state, earned_at, matures_at, expires_at)
                 SELECT * FROM UNNEST(",
            );
            query.push_bind(lots.iter().map(|l| l.lot_id.clone()).collect::<Vec<_>>());
            query.push("::TEXT[], ");
            query.push_bind(
                lots.iter()
                    .map(|l| l.customer_id.clone())
                    .collect::<Vec<_>>(),
            );
            query.push("::TEXT[], ");
            query.push_bind(
                lots.iter()
                    .map(|l| l.receipt_id.clone())
                    .collect::<Vec<_>>(),
            );
            query.push("::TEXT[], ");
            query.push_bind(lots.iter().map(|l| l.points).collect::<Vec<_>>());
            query.push("::INT8[], ");
            query.push_bind(lots.iter().map(|l| l.remaining).collect::<Vec<_>>());
            query.push("::INT8[], ");
            query.push_bind(
                lots.iter()
                    .map(|l| l.state.as_str().to_string())
                    .collect::<Vec<_>>(),
            );
            query.push("::TEXT[], ");
            query.push_bind(lots.iter().map(|l| ts(l.earned_at)).collect::<Vec<_>>());
            query.push("::TEXT[], ");
            query.push_bind(lots.iter().map(|l| ts(l.matures_at)).collect::<Vec<_>>());
            query.push("::TEXT[], ");
            query.push_bind(
                lots.iter()
                    .map(|l| l.expires_at.map(ts))
                    .collect::<Vec<_>>(),
            );
            query.push("::TEXT[]))");
        }

        let changed: Vec<_> = self.ledgers.iter().flat_map(|c| &c.changed_lots).collect();
        if !changed.is_empty() {
            open(&mut query, &mut first, "lots_changed");
            query.push("UPDATE lots SET remaining = v.remaining, state = v.state, customer_id = v.customer_id FROM UNNEST(");
            query.push_bind(changed.iter().map(|l| l.lot_id.clone()).collect::<Vec<_>>());
            query.push("::TEXT[], ");
            query.push_bind(changed.iter().map(|l| l.remaining).collect::<Vec<_>>());
            query.push("::INT8[], ");
            query.push_bind(
                changed
                    .iter()
                    .map(|l| l.state.as_str().to_string())
                    .collect::<Vec<_>>(),
            );
            query.push("::TEXT[], ");
            query.push_bind(
                changed
                    .iter()
                    .map(|l| l.customer_id.clone())
                    .collect::<Vec<_>>(),
            );
            query.push(
                "::TEXT[]) AS v (lot_id, remaining, state, customer_id) WHERE lots.lot_id = v.lot_id)",
            );
        }

        let entries: Vec<_> = self.ledgers.iter().flat_map(|c| &c.entries).collect();
        if !entries.is_empty() {
            // Inserted in the order they were made: `entry_id` is the paging cursor.
            open(&mut query, &mut first, "entries_new");
            query.push(
                "INSERT INTO entries (customer_id, kind, debit, credit, amount, lot_id, receipt_id, op_id, at)
                 SELECT customer_id, kind, debit, credit, amount, lot_id, receipt_id, op_id, at FROM UNNEST(",
            );
            query.push_bind(
                entries
                    .iter()
                    .map(|e| e.customer_id.clone())
                    .collect::<Vec<_>>(),
            );
            query.push("::TEXT[], ");
            query.push_bind(
                entries
                    .iter()
                    .map(|e| e.kind.as_str().to_string())
                    .collect::<Vec<_>>(),
            );
            query.push("::TEXT[], ");
            query.push_bind(
                entries
                    .iter()
                    .map(|e| e.debit.as_str().to_string())
                    .collect::<Vec<_>>(),
            );
            query.push("::TEXT[], ");
            query.push_bind(
                entries
                    .iter()
                    .map(|e| e.credit.as_str().to_string())
                    .collect::<Vec<_>>(),
            );
            query.push("::TEXT[], ");
            query.push_bind(entries.iter().map(|e| e.amount).collect::<Vec<_>>());
            query.push("::INT8[], ");
            query.push_bind(entries.iter().map(|e| e.lot_id.clone()).collect::<Vec<_>>());
            query.push("::TEXT[], ");
            query.push_bind(
                entries
                    .iter()
                    .map(|e| e.receipt_id.clone())
                    .collect::<Vec<_>>(),
            );
            query.push("::TEXT[], ");
            query.push_bind(entries.iter().map(|e| e.op_id.clone()).collect::<Vec<_>>());
            query.push("::TEXT[], ");
            query.push_bind(entries.iter().map(|e| ts(e.at)).collect::<Vec<_>>());
            query.push(
                "::TEXT[]) WITH ORDINALITY AS e (customer_id, kind, debit, credit, amount, lot_id, receipt_id, op_id, at, n)
                 ORDER BY n)",
            );
        }

        let touched: Vec<&&LedgerChanges> = self
            .ledgers
            .iter()
            .filter(|c| c.touches_account())
            .collect();
        if !touched.is_empty() {
            open(&mut query, &mut first, "accounts");
            query.push(
                "INSERT INTO customer_accounts (customer_id, pending, available) SELECT * FROM UNNEST(",
            );
            query.push_bind(
                touched
                    .iter()
                    .map(|c| c.customer_id.clone())
                    .collect::<Vec<_>>(),
            );
            query.push("::TEXT[], ");
            query.push_bind(touched.iter().map(|c| c.pending).collect::<Vec<_>>());
            query.push("::INT8[], ");
            query.push_bind(touched.iter().map(|c| c.available).collect::<Vec<_>>());
            query.push(
                "::INT8[]) ON CONFLICT (customer_id) DO UPDATE SET pending = excluded.pending, available = excluded.available)",
            );
        }

        if !self.usage.is_empty() {
            // Summed per counter: a row can be changed only once per statement.
            open(&mut query, &mut first, "usage_added");
            query.push(
                "INSERT INTO promotion_usage (promotion_id, key, uses, discount)
                 SELECT promotion_id, key, SUM(uses)::INT8, SUM(discount)::INT8 FROM UNNEST(",
            );
            query.push_bind(
                self.usage
                    .iter()
                    .map(|d| d.promotion_id.clone())
                    .collect::<Vec<_>>(),
            );
            query.push("::TEXT[], ");
            query.push_bind(self.usage.iter().map(|d| d.key.clone()).collect::<Vec<_>>());
            query.push("::TEXT[], ");
            query.push_bind(self.usage.iter().map(|d| d.uses).collect::<Vec<_>>());
            query.push("::INT8[], ");
            query.push_bind(self.usage.iter().map(|d| d.discount).collect::<Vec<_>>());
            query.push(
                "::INT8[]) AS d (promotion_id, key, uses, discount)
                 GROUP BY promotion_id, key ORDER BY promotion_id, key
                 ON CONFLICT (promotion_id, key) DO UPDATE SET uses = promotion_usage.uses + excluded.uses,
                     discount = promotion_usage.discount + excluded.discount)",
            );
        }

        if let Some((codes, receipt_id)) = &self.coupons_used {
            let codes = distinct(codes.iter().copied());
            open(&mut query, &mut first, "coupons_used");
            query.push("UPDATE coupons SET used_by = ");
            query.push_bind(receipt_id.to_string());
            query.push(" WHERE code = ANY(");
            query.push_bind(codes.iter().map(|c| c.to_string()).collect::<Vec<_>>());
            query.push("::TEXT[]) AND (used_by IS NULL OR used_by = ");
            query.push_bind(receipt_id.to_string());
            query.push(") RETURNING 1)");
            checks.push((
                "coupons_used",
                codes.len(),
                format!("coupons {codes:?} were not all free to mark used"),
            ));
        }

        if !self.certificates.is_empty() {
            // Summed per code: a row can be changed only once per statement.
            let codes = distinct(self.certificates.iter().map(|(code, _)| *code));
            open(&mut query, &mut first, "certificates_moved");
            query.push(
                "UPDATE certificates SET balance = certificates.balance + m.delta
                 FROM (SELECT code, SUM(delta)::INT8 AS delta FROM UNNEST(",
            );
            query.push_bind(
                self.certificates
                    .iter()
                    .map(|(code, _)| code.to_string())
                    .collect::<Vec<_>>(),
            );
            query.push("::TEXT[], ");
            query.push_bind(
                self.certificates
                    .iter()
                    .map(|(_, delta)| *delta)
                    .collect::<Vec<_>>(),
            );
            query.push(
                "::INT8[]) AS d (code, delta) GROUP BY code) m
                 WHERE certificates.code = m.code RETURNING 1)",
            );
            checks.push((
                "certificates_moved",
                codes.len(),
                format!("not every certificate of {codes:?} exists"),
            ));
        }

        if let Some(rewards) = self.rewards {
            if !rewards.coupons.is_empty() {
                open(&mut query, &mut first, "coupons_new");
                push_coupons(&mut query, &rewards.coupons);
                query.push(")");
            }
            let certificates = &rewards.certificates;
            if !certificates.is_empty() {
                open(&mut query, &mut first, "certificates_new");
                query.push(
                    "INSERT INTO certificates (code, amount, balance, customer_id, issued_by, valid_until, revoked)
                     SELECT * FROM UNNEST(",
                );
                query.push_bind(
                    certificates
                        .iter()
                        .map(|c| c.code.clone())
                        .collect::<Vec<_>>(),
                );
                query.push("::TEXT[], ");
                query.push_bind(certificates.iter().map(|c| c.amount).collect::<Vec<_>>());
                query.push("::INT8[], ");
                query.push_bind(certificates.iter().map(|c| c.balance).collect::<Vec<_>>());
                query.push("::INT8[], ");
                query.push_bind(
                    certificates
                        .iter()
                        .map(|c| c.customer_id.clone())
                        .collect::<Vec<_>>(),
                );
                query.push("::TEXT[], ");
                query.push_bind(
                    certificates
                        .iter()
                        .map(|c| c.issued_by.clone())
                        .collect::<Vec<_>>(),
                );
                query.push("::TEXT[], ");
                query.push_bind(
                    certificates
                        .iter()
                        .map(|c| c.valid_until.map(ts))
                        .collect::<Vec<_>>(),
                );
                query.push("::TEXT[], ");
                query.push_bind(certificates.iter().map(|c| c.revoked).collect::<Vec<_>>());
                query.push("::BOOL[]))");
            }
            let grants = &rewards.grants;
            if !grants.is_empty() {
                // In the order they were made: `grant_id` orders grants of one instant.
                open(&mut query, &mut first, "grants_new");
                query.push(
                    "INSERT INTO customer_grants (customer_id, kind, value, promotion_id, receipt_id, granted_at, until, revoked)
                     SELECT customer_id, kind, value, promotion_id, receipt_id, granted_at, until, revoked FROM UNNEST(",
                );
                query.push_bind(
                    grants
                        .iter()
                        .map(|g| g.customer_id.clone())
                        .collect::<Vec<_>>(),
                );
                query.push("::TEXT[], ");
                query.push_bind(
                    grants
                        .iter()
                        .map(|g| g.kind.as_str().to_string())
                        .collect::<Vec<_>>(),
                );
                query.push("::TEXT[], ");
                query.push_bind(grants.iter().map(|g| g.value.clone()).collect::<Vec<_>>());
                query.push("::TEXT[], ");
                query.push_bind(
                    grants
                        .iter()
                        .map(|g| g.promotion_id.clone())
                        .collect::<Vec<_>>(),
                );
                query.push("::TEXT[], ");
                query.push_bind(
                    grants
                        .iter()
                        .map(|g| g.receipt_id.clone())
                        .collect::<Vec<_>>(),
                );
                query.push("::TEXT[], ");
                query.push_bind(grants.iter().map(|g| ts(g.granted_at)).collect::<Vec<_>>());
                query.push("::TEXT[], ");
                query.push_bind(grants.iter().map(|g| g.until.map(ts)).collect::<Vec<_>>());
                query.push("::TEXT[], ");
                query.push_bind(grants.iter().map(|g| g.revoked).collect::<Vec<_>>());
                query.push(
                    "::BOOL[]) WITH ORDINALITY AS g (customer_id, kind, value, promotion_id, receipt_id, granted_at, until, revoked, n)
                     ORDER BY n)",
                );
            }
        }

        crate::tiers::push(&mut query, &self.tiers, |query, name| {
            open(query, &mut first, name)
        });

        if let Some((record, version, insert)) = self.receipt {
            // A new receipt of a customer advances their account's version even when
            // it leaves their ledger as it was: whether they bought before is part of
            // what a commit reads with the ledger (see `rows::find_ledger`). Any update
            // of the row does (migration 10's trigger), as every balance write does.
            if let (true, Some(customer_id)) = (insert, &record.customer_id) {
                if !touched.iter().any(|c| &c.customer_id == customer_id) {
                    open(&mut query, &mut first, "receipt_account");
                    query.push(
                        "UPDATE customer_accounts SET version = version WHERE customer_id = ",
                    );
                    query.push_bind(customer_id.clone());
                    query.push(")");
                }
            }
            let body = compact_json::to_string(record).map_err(StoreError::backend)?;
            open(&mut query, &mut first, "receipt");
            if insert {
                query.push("INSERT INTO receipts (receipt_id, customer_id, store_id, at, status, version, record) VALUES (");
                let mut values = query.separated(", ");
                values.push_bind(record.receipt_id.clone());
                values.push_bind(record.customer_id.clone());
                values.push_bind(record.store_id.clone());
                values.push_bind(record.at.to_rfc3339());
                values.push_bind(record.status.as_str());
                values.push_bind(record.version as i64);
                values.push_bind(body);
                query.push("))");
            } else {
                query.push("UPDATE receipts SET status = ");
                query.push_bind(record.status.as_str());
                query.push(", version = ");
                query.push_bind(record.version as i64);
                query.push(", record = ");
                query.push_bind(body);
                query.push(" WHERE receipt_id = ");
                query.push_bind(record.receipt_id.clone());
                query.push(")");
            }
            open(&mut query, &mut first, "receipt_version");
            query.push("INSERT INTO receipt_versions (receipt_id, version, kind, op_id, request_hash, response, terminal_id, at, recorded_at) VALUES (");
            let mut values = query.separated(", ");
            values.push_bind(version.receipt_id.clone());
            values.push_bind(version.version as i64);
            values.push_bind(version.kind.clone());
            values.push_bind(version.op_id.clone());
            values.push_bind(version.request_hash.clone());
            values.push_bind(version.response.clone());
            values.push_bind(version.terminal_id.clone());
            values.push_bind(version.at.to_rfc3339());
            values.push_bind(ts(version.recorded_at));
            query.push("))");
        }

        query.push(" SELECT ");
        if checks.is_empty() {
            query.push("0::INT8");
        }
        for (idx, (name, ..)) in checks.iter().enumerate() {
            if idx > 0 {
                query.push(", ");
            }
            query.push(format!("(SELECT COUNT(*) FROM {name})"));
        }
        let row = query.build().fetch_one(&mut *conn).await.map_err(db)?;
        for (idx, (_, expected, problem)) in checks.into_iter().enumerate() {
            let written: i64 = row.try_get(idx).map_err(db)?;
            if usize::try_from(written).ok() != Some(expected) {
                return Err(StoreError::backend(problem));
            }
        }
        Ok(())
    }
}

/// `INSERT INTO coupons ... SELECT * FROM UNNEST(...)` of these codes.
pub fn push_coupons(
    query: &mut QueryBuilder<'_, Postgres>,
    coupons: &[tessera_core::coupon::Coupon],
) {
    query.push(
        "INSERT INTO coupons (code, series_id, customer_id, issued_by, valid_until, used_by, revoked)
         SELECT * FROM UNNEST(",
    );
    query.push_bind(coupons.iter().map(|c| c.code.clone()).collect::<Vec<_>>());
    query.push("::TEXT[], ");
    query.push_bind(
        coupons
            .iter()
            .map(|c| c.series_id.clone())
            .collect::<Vec<_>>(),
    );
    query.push("::TEXT[], ");
    query.push_bind(
        coupons
            .iter()
            .map(|c| c.customer_id.clone())
            .collect::<Vec<_>>(),
    );
    query.push("::TEXT[], ");
    query.push_bind(
        coupons
            .iter()
            .map(|c| c.issued_by.clone())
            .collect::<Vec<_>>(),
    );
    query.push("::TEXT[], ");
    query.push_bind(
        coupons
            .iter()
            .map(|c| c.valid_until.map(ts))
            .collect::<Vec<_>>(),
    );
    query.push("::TEXT[], ");
    query.push_bind(
        coupons
            .iter()
            .map(|c| c.used_by.clone())
            .collect::<Vec<_>>(),
    );
    query.push("::TEXT[], ");
    query.push_bind(coupons.iter().map(|c| c.revoked).collect::<Vec<_>>());
    query.push("::BOOL[])");
}
