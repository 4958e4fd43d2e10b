//! The points ledger rules: accounts, double entries, lots, maturation and expiry.
//!
//! Every change of points is an entry moving an amount from one account to another,
//! so the sum over all accounts is always zero. A customer has two accounts,
//! `customer_pending` (earned, still inside the return window) and
//! `customer_available` (spendable). Points are held in lots: every earning is a lot
//! with its own maturity and expiry; redemption consumes the oldest lots first and
//! expiry expires what is left of a lot.
//!
//! [`CustomerLedger`] holds one customer's open lots and balances, applies the rules
//! and records the entries it makes in a journal that the store then persists.
//! Moving points between customers (merges) is in [`crate::transfer`], staff
//! adjustments in [`crate::adjustment`].

use crate::error::{CoreError, ErrorCode};
use crate::money::Points;
use crate::program::Program;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A ledger account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Account {
    /// A customer's earned points that are not spendable yet.
    CustomerPending,
    /// A customer's spendable points; negative only after a return.
    CustomerAvailable,
    /// The program's source of earned points.
    Issued,
    /// Where points spent on receipts go.
    Redeemed,
    /// Where expired points go.
    Expired,
    /// The clearing account of points moving between customers (a merge or an
    /// unmerge): each operation credits it on the giver's side and debits it by the
    /// same amount on the receiver's, so it sums to zero per `op_id`.
    Transfer,
}

impl Account {
    /// The stored name of the account.
    pub fn as_str(self) -> &'static str {
        match self {
            Account::CustomerPending => "customer_pending",
            Account::CustomerAvailable => "customer_available",
            Account::Issued => "issued",
            Account::Redeemed => "redeemed",
            Account::Expired => "expired",
            Account::Transfer => "transfer",
        }
    }

    /// Parses a stored account name.
    pub fn parse(name: &str) -> Option<Account> {
        [
            Account::CustomerPending,
            Account::CustomerAvailable,
            Account::Issued,
            Account::Redeemed,
            Account::Expired,
            Account::Transfer,
        ]
        .into_iter()
        .find(|a| a.as_str() == name)
    }
}

/// Why an entry was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Earn,
    Mature,
    Redeem,
    RedeemRefund,
    EarnReversal,
    Expire,
    /// Points (a lot's remaining, or a balance no lot holds) leaving a customer for
    /// the `transfer` account in a merge or an unmerge.
    TransferOut,
    /// The mirror of `transfer_out` on the receiving customer.
    TransferIn,
    /// Points given or taken by staff (a service-desk adjustment).
    Adjust,
}

impl EntryKind {
    /// The stored name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Earn => "earn",
            EntryKind::Mature => "mature",
            EntryKind::Redeem => "redeem",
            EntryKind::RedeemRefund => "redeem_refund",
            EntryKind::EarnReversal => "earn_reversal",
            EntryKind::Expire => "expire",
            EntryKind::TransferOut => "transfer_out",
            EntryKind::TransferIn => "transfer_in",
            EntryKind::Adjust => "adjust",
        }
    }

    /// Parses a stored kind name.
    pub fn parse(name: &str) -> Option<EntryKind> {
        [
            EntryKind::Earn,
            EntryKind::Mature,
            EntryKind::Redeem,
            EntryKind::RedeemRefund,
            EntryKind::EarnReversal,
            EntryKind::Expire,
            EntryKind::TransferOut,
            EntryKind::TransferIn,
            EntryKind::Adjust,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }
}

/// One ledger entry: `amount` points move from `debit` to `credit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub customer_id: String,
    pub kind: EntryKind,
    pub debit: Account,
    pub credit: Account,
    pub amount: Points,
    pub lot_id: Option<String>,
    pub receipt_id: Option<String>,
    /// The operation that caused it: a return id, `cancel`, a merge or unmerge id, an
    /// adjustment id, or empty for a commit.
    pub op_id: Option<String>,
    pub at: DateTime<Utc>,
}

/// Where a lot is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LotState {
    Pending,
    Available,
    Expired,
}

impl LotState {
    /// The stored name of the state.
    pub fn as_str(self) -> &'static str {
        match self {
            LotState::Pending => "pending",
            LotState::Available => "available",
            LotState::Expired => "expired",
        }
    }

    /// Parses a stored state name.
    pub fn parse(name: &str) -> Option<LotState> {
        [LotState::Pending, LotState::Available, LotState::Expired]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// Points earned together, maturing and expiring together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lot {
    pub lot_id: String,
    pub customer_id: String,
    pub receipt_id: Option<String>,
    pub points: Points,
    pub remaining: Points,
    pub state: LotState,
    pub earned_at: DateTime<Utc>,
    pub matures_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A customer's balance at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    pub available: Points,
    pub pending: Points,
    /// Upcoming expiries of available and pending points, soonest first.
    pub expiring: Vec<(DateTime<Utc>, Points)>,
}

/// One customer's ledger state: balances, open lots and the entries made so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerLedger {
    pub customer_id: String,
    /// Balance of the `customer_pending` account.
    pub pending: Points,
    /// Balance of the `customer_available` account.
    pub available: Points,
    /// Open lots (pending, or available with points left) and any lot loaded on
    /// purpose, such as the lots a receipt being returned touched.
    pub lots: Vec<Lot>,
    /// The store's version of the customer's account as it was read, where the store
    /// keeps one (both stores do: every write of the customer's balances or lots, and
    /// every receipt committed for them, advances it). Lets a commit use a ledger read
    /// before its transaction when the version it finds there is the same.
    pub version: Option<i64>,
    journal: Vec<Entry>,
    dirty: BTreeSet<String>,
    created: BTreeSet<String>,
}

/// What a ledger operation changed, for the store to persist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerChanges {
    pub customer_id: String,
    pub entries: Vec<Entry>,
    pub new_lots: Vec<Lot>,
    pub changed_lots: Vec<Lot>,
    pub pending: Points,
    pub available: Points,
}

impl LedgerChanges {
    /// Whether saving these changes writes the customer's account row (its balances):
    /// whenever an entry or a lot is written. Stores advance the account's version with
    /// that write.
    pub fn touches_account(&self) -> bool {
        !self.entries.is_empty() || !self.new_lots.is_empty() || !self.changed_lots.is_empty()
    }
}

impl CustomerLedger {
    /// A ledger loaded from storage.
    pub fn new(
        customer_id: String,
        pending: Points,
        available: Points,
        mut lots: Vec<Lot>,
    ) -> Self {
        lots.sort_by(|a, b| {
            a.earned_at
                .cmp(&b.earned_at)
                .then_with(|| a.lot_id.cmp(&b.lot_id))
        });
        CustomerLedger {
            customer_id,
            pending,
            available,
            lots,
            version: None,
            journal: Vec::new(),
            dirty: BTreeSet::new(),
            created: BTreeSet::new(),
        }
    }

    /// The journal and lot changes made since loading.
    pub fn into_changes(self) -> LedgerChanges {
        let mut changes = LedgerChanges {
            customer_id: self.customer_id,
            entries: self.journal,
            pending: self.pending,
            available: self.available,
            ..LedgerChanges::default()
        };
        for lot in self.lots {
            if self.created.contains(&lot.lot_id) {
                changes.new_lots.push(lot);
            } else if self.dirty.contains(&lot.lot_id) {
                changes.changed_lots.push(lot);
            }
        }
        changes
    }

    /// Entries made so far.
    pub fn journal(&self) -> &[Entry] {
        &self.journal
    }

    /// Records an entry and moves the customer's balances by it. Posting nothing is a
    /// no-op, so callers need not filter zero amounts.
    pub(crate) fn post(
        &mut self,
        kind: EntryKind,
        debit: Account,
        credit: Account,
        amount: Points,
        lot_id: Option<&str>,
        context: &Context<'_>,
    ) {
        if amount == 0 {
            return;
        }
        for (account, delta) in [(debit, -amount), (credit, amount)] {
            match account {
                Account::CustomerPending => self.pending += delta,
                Account::CustomerAvailable => self.available += delta,
                _ => {}
            }
        }
        self.journal.push(Entry {
            customer_id: self.customer_id.clone(),
            kind,
            debit,
            credit,
            amount,
            lot_id: lot_id.map(str::to_string),
            receipt_id: context.receipt_id.map(str::to_string),
            op_id: context.op_id.map(str::to_string),
            at: context.now,
        });
        if let Some(lot_id) = lot_id {
            self.dirty.insert(lot_id.to_string());
        }
    }

    /// Matures and expires every lot that is due at `now`. Running it twice changes
    /// nothing the second time.
    pub fn catch_up(&mut self, now: DateTime<Utc>) {
        let context = Context {
            receipt_id: None,
            op_id: None,
            now,
        };
        for idx in 0..self.lots.len() {
            let lot = &self.lots[idx];
            let lot_id = lot.lot_id.clone();
            let receipt_id = lot.receipt_id.clone();
            let context = Context {
                receipt_id: receipt_id.as_deref(),
                ..context
            };
            if lot.state == LotState::Pending && lot.matures_at <= now {
                let remaining = lot.remaining;
                self.post(
                    EntryKind::Mature,
                    Account::CustomerPending,
                    Account::CustomerAvailable,
                    remaining,
                    Some(&lot_id),
                    &context,
                );
                self.lots[idx].state = LotState::Available;
                self.dirty.insert(lot_id.clone());
            }
            let lot = &self.lots[idx];
            if lot.state == LotState::Available && lot.expires_at.is_some_and(|at| at <= now) {
                let remaining = lot.remaining;
                self.post(
                    EntryKind::Expire,
                    Account::CustomerAvailable,
                    Account::Expired,
                    remaining,
                    Some(&lot_id),
                    &context,
                );
                self.lots[idx].remaining = 0;
                self.lots[idx].state = LotState::Expired;
                self.dirty.insert(lot_id);
            }
        }
    }

    /// Adds a pending lot of earned points. Call [`catch_up`](Self::catch_up) after it
    /// when the lot may already be due (no pending period, or an old receipt).
    pub fn earn(
        &mut self,
        lot_id: String,
        points: Points,
        earned_at: DateTime<Utc>,
        program: &Program,
        context: &Context<'_>,
    ) {
        self.earn_expiring(lot_id, points, earned_at, program, None, context);
    }

    /// [`earn`](Self::earn) with an expiry of its own: the lot expires
    /// `expires_in_days` after it matures (`None`: the program's expiry).
    pub fn earn_expiring(
        &mut self,
        lot_id: String,
        points: Points,
        earned_at: DateTime<Utc>,
        program: &Program,
        expires_in_days: Option<u32>,
        context: &Context<'_>,
    ) {
        if points <= 0 {
            return;
        }
        let matures_at = earned_at + Duration::days(program.pending_days as i64);
        let expiry_days = expires_in_days.unwrap_or(program.expiry_days);
        let expires_at = (expiry_days > 0).then(|| matures_at + Duration::days(expiry_days as i64));
        self.lots.push(Lot {
            lot_id: lot_id.clone(),
            customer_id: self.customer_id.clone(),
            receipt_id: context.receipt_id.map(str::to_string),
            points,
            remaining: points,
            state: LotState::Pending,
            earned_at,
            matures_at,
            expires_at,
        });
        self.created.insert(lot_id.clone());
        self.post(
            EntryKind::Earn,
            Account::Issued,
            Account::CustomerPending,
            points,
            Some(&lot_id),
            context,
        );
    }

    /// Spends `points` from the oldest available lots. Returns the lots consumed and
    /// how much from each, in consumption order.
    pub fn redeem(
        &mut self,
        points: Points,
        context: &Context<'_>,
    ) -> Result<Vec<(String, Points)>, CoreError> {
        if points < 0 {
            return Err(CoreError::invalid("redeem_points", "must not be negative"));
        }
        // Paying nothing with points is always possible, even for a customer a return
        // left with a negative available balance.
        if points == 0 {
            return Ok(Vec::new());
        }
        self.consume_available(
            points,
            EntryKind::Redeem,
            Account::Redeemed,
            "redeem_points",
            context,
        )
    }

    /// Takes `points` (positive) from the oldest available lots into `to` with entries
    /// of `kind`: what [`redeem`](Self::redeem) and a negative adjustment do. Refuses
    /// with `insufficient_points` on `field` when the available balance is short.
    pub(crate) fn consume_available(
        &mut self,
        points: Points,
        kind: EntryKind,
        to: Account,
        field: &str,
        context: &Context<'_>,
    ) -> Result<Vec<(String, Points)>, CoreError> {
        if points > self.available {
            return Err(CoreError::field(
                ErrorCode::InsufficientPoints,
                field,
                format!(
                    "{points} points requested but only {} are available",
                    self.available.max(0)
                ),
            ));
        }
        let mut left = points;
        let mut consumed = Vec::new();
        for idx in 0..self.lots.len() {
            if left == 0 {
                break;
            }
            let lot = &self.lots[idx];
            if lot.state != LotState::Available || lot.remaining <= 0 {
                continue;
            }
            let take = lot.remaining.min(left);
            let lot_id = lot.lot_id.clone();
            self.lots[idx].remaining -= take;
            left -= take;
            self.post(
                kind,
                Account::CustomerAvailable,
                to,
                take,
                Some(&lot_id),
                context,
            );
            consumed.push((lot_id, take));
        }
        if left > 0 {
            // The available balance covered the request but the lots did not: the
            // stored state is inconsistent, which `tessera check` reports.
            return Err(CoreError::new(
                ErrorCode::Internal,
                "available lots do not cover the available balance",
            ));
        }
        Ok(consumed)
    }

    /// Gives back `points` that paid for a receipt, to the lots they came from. The
    /// points of `consumed` (in consumption order) are given back from the end, after
    /// skipping `already_refunded` points that earlier returns gave back. Points going
    /// back to a lot that has expired expire again at once.
    pub fn refund_redemption(
        &mut self,
        points: Points,
        consumed: &[(String, Points)],
        already_refunded: Points,
        context: &Context<'_>,
    ) {
        let mut skip = already_refunded;
        let mut left = points;
        for (lot_id, taken) in consumed.iter().rev() {
            if left == 0 {
                break;
            }
            let skipped = skip.min(*taken);
            skip -= skipped;
            let give = (*taken - skipped).min(left);
            if give == 0 {
                continue;
            }
            left -= give;
            let expired = match self.lots.iter_mut().find(|l| &l.lot_id == lot_id) {
                Some(lot) => {
                    let expired = lot.state == LotState::Expired
                        || lot.expires_at.is_some_and(|at| at <= context.now);
                    if !expired {
                        lot.remaining += give;
                    }
                    expired
                }
                None => true,
            };
            self.post(
                EntryKind::RedeemRefund,
                Account::Redeemed,
                Account::CustomerAvailable,
                give,
                Some(lot_id),
                context,
            );
            if expired {
                self.post(
                    EntryKind::Expire,
                    Account::CustomerAvailable,
                    Account::Expired,
                    give,
                    Some(lot_id),
                    context,
                );
            }
        }
        if left > 0 {
            // More points to give back than the receipt consumed cannot happen for a
            // valid receipt; give them back without a lot rather than lose them.
            self.post(
                EntryKind::RedeemRefund,
                Account::Redeemed,
                Account::CustomerAvailable,
                left,
                None,
                context,
            );
        }
    }

    /// Takes back `points` a receipt earned: first from the receipt's own lot
    /// (pending or available), then from the customer's other available lots oldest
    /// first, and what is still missing makes the available balance negative.
    pub fn reverse_earn(
        &mut self,
        points: Points,
        earn_lot_id: Option<&str>,
        context: &Context<'_>,
    ) {
        let mut left = points;
        let order: Vec<usize> = {
            let own = self
                .lots
                .iter()
                .position(|l| Some(l.lot_id.as_str()) == earn_lot_id);
            let others = (0..self.lots.len())
                .filter(|idx| Some(*idx) != own && self.lots[*idx].state == LotState::Available);
            own.into_iter().chain(others).collect()
        };
        for idx in order {
            if left == 0 {
                break;
            }
            let lot = &self.lots[idx];
            let from = match lot.state {
                LotState::Pending => Account::CustomerPending,
                LotState::Available => Account::CustomerAvailable,
                LotState::Expired => continue,
            };
            let take = lot.remaining.min(left);
            if take <= 0 {
                continue;
            }
            let lot_id = lot.lot_id.clone();
            self.lots[idx].remaining -= take;
            left -= take;
            self.post(
                EntryKind::EarnReversal,
                from,
                Account::Issued,
                take,
                Some(&lot_id),
                context,
            );
        }
        if left > 0 {
            self.post(
                EntryKind::EarnReversal,
                Account::CustomerAvailable,
                Account::Issued,
                left,
                None,
                context,
            );
        }
    }

    /// Adds `lot` where the oldest-first order puts it, replacing a lot of the same id.
    /// `created`: the lot has no row yet, so [`into_changes`](Self::into_changes)
    /// reports it among the new lots; otherwise among the changed ones.
    pub(crate) fn insert_lot(&mut self, lot: Lot, created: bool) {
        self.lots.retain(|l| l.lot_id != lot.lot_id);
        let idx = self.lots.partition_point(|l| {
            (l.earned_at, l.lot_id.as_str()) <= (lot.earned_at, lot.lot_id.as_str())
        });
        if created {
            self.dirty.remove(&lot.lot_id);
            self.created.insert(lot.lot_id.clone());
        } else {
            self.created.remove(&lot.lot_id);
            self.dirty.insert(lot.lot_id.clone());
        }
        self.lots.insert(idx, lot);
    }

    /// Takes the lot `lot_id` out of this ledger, which then no longer reports it.
    /// Returns the lot and whether it was created since loading (has no row yet).
    pub(crate) fn remove_lot(&mut self, lot_id: &str) -> Option<(Lot, bool)> {
        let idx = self.lots.iter().position(|l| l.lot_id == lot_id)?;
        let lot = self.lots.remove(idx);
        self.dirty.remove(lot_id);
        let created = self.created.remove(lot_id);
        Some((lot, created))
    }

    /// The balance as it will be at `at` (not before the ledger's last catch-up):
    /// pending lots due by then count as available, lots expired by then are gone.
    pub fn balance_at(&self, at: DateTime<Utc>) -> Balance {
        let mut available = self.available;
        let mut pending = self.pending;
        let mut expiring: std::collections::BTreeMap<DateTime<Utc>, Points> =
            std::collections::BTreeMap::new();
        for lot in &self.lots {
            if lot.remaining <= 0 || lot.state == LotState::Expired {
                continue;
            }
            let matured = lot.state == LotState::Available || lot.matures_at <= at;
            if lot.state == LotState::Pending && matured {
                pending -= lot.remaining;
                available += lot.remaining;
            }
            match lot.expires_at {
                Some(expires_at) if matured && expires_at <= at => available -= lot.remaining,
                Some(expires_at) => *expiring.entry(expires_at).or_default() += lot.remaining,
                None => {}
            }
        }
        Balance {
            available,
            pending,
            expiring: expiring.into_iter().collect(),
        }
    }
}

/// What an operation on the ledger is about, stamped on every entry it makes.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub receipt_id: Option<&'a str>,
    pub op_id: Option<&'a str>,
    pub now: DateTime<Utc>,
}
