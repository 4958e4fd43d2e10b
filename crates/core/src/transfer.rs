//! Moving points between customers: merging one customer into another, and undoing
//! that merge.
//!
//! A transfer has two halves written in the same operation. The giver's ledger
//! ([`CustomerLedger::transfer_out`], [`CustomerLedger::transfer_lots_out`]) moves
//! points from its customer accounts into the `transfer` clearing account and hands
//! over the lots that held them; the receiver's ledger
//! ([`CustomerLedger::transfer_in`]) moves the same amounts from `transfer` into its
//! customer accounts and adopts the lots. So `transfer` sums to zero per `op_id` once
//! both halves are written, and no point is created or destroyed.
//!
//! A lot keeps its id, its dates, its state and its remaining points; only its
//! `customer_id` changes. Its `transfer_out` and `transfer_in` entries both name it,
//! so they cancel out in what its entries leave on it. A pending lot matures on the
//! receiver at its own `matures_at`, an available one expires at its own `expires_at`.
//!
//! Points no lot holds move too, in entries without a lot: after a return took more
//! than the customer's lots held the available balance is below what its lots hold
//! (possibly negative), and that debt goes with the points.

use crate::ledger::{Account, Context, CustomerLedger, EntryKind, Lot, LotState};
use crate::money::Points;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

/// Points and lots that left one customer's ledger, to be received by another's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// The customer the points left.
    pub from_customer_id: String,
    /// The merge or unmerge operation; stamped on the entries of both halves.
    pub op_id: String,
    /// When the operation happened; stamped on the entries of both halves.
    pub at: DateTime<Utc>,
    /// The lots that moved, oldest first, as the giver held them (its
    /// `customer_id`); their remaining points moved with them.
    pub lots: Vec<Lot>,
    /// Ids of the lots the giver created since it was loaded: they have no row yet,
    /// so the receiver reports them as new lots rather than changed ones.
    pub unsaved_lot_ids: BTreeSet<String>,
    /// Pending points moved without a lot (zero in a consistent ledger, where the
    /// pending balance is exactly what the pending lots hold).
    pub pending_without_lot: Points,
    /// Available points moved without a lot: negative for a debt a return left,
    /// positive for available points no lot held.
    pub available_without_lot: Points,
}

impl Transfer {
    /// The ids of the lots that moved, oldest first.
    pub fn lot_ids(&self) -> Vec<String> {
        self.lots.iter().map(|l| l.lot_id.clone()).collect()
    }

    /// Pending points moved, in lots and without.
    pub fn pending(&self) -> Points {
        self.lot_points(LotState::Pending) + self.pending_without_lot
    }

    /// Available points moved, in lots and without (negative when a debt moved).
    pub fn available(&self) -> Points {
        self.lot_points(LotState::Available) + self.available_without_lot
    }

    fn lot_points(&self, state: LotState) -> Points {
        let lots = self.lots.iter().filter(|l| l.state == state);
        lots.map(|l| l.remaining).sum()
    }
}

/// The customer account that holds a lot's remaining points, if any does.
fn account_of(lot: &Lot) -> Option<Account> {
    match lot.state {
        LotState::Pending => Some(Account::CustomerPending),
        LotState::Available => Some(Account::CustomerAvailable),
        LotState::Expired => None,
    }
}

impl CustomerLedger {
    /// Moves everything the customer holds out, for a merge into another customer:
    /// every lot with points left (pending or available) and whatever the balances
    /// hold beyond the lots. Afterwards both balances are zero and the ledger holds
    /// only spent or expired lots. Catch the ledger up to `at` first, as before any
    /// operation, so that lots due by then do not move still pending or unexpired.
    pub fn transfer_out(&mut self, op_id: &str, at: DateTime<Utc>) -> Transfer {
        let all: Vec<String> = self.lots.iter().map(|l| l.lot_id.clone()).collect();
        let mut transfer = self.move_lots_out(&all, op_id, at);
        let (pending, available) = (self.pending, self.available);
        let context = transfer_context(op_id, at);
        self.post_out(Account::CustomerPending, pending, &context);
        self.post_out(Account::CustomerAvailable, available, &context);
        transfer.pending_without_lot = pending;
        transfer.available_without_lot = available;
        transfer
    }

    /// Moves the named lots' remaining points out, and `available_without_lot`
    /// points no lot holds (negative: a debt goes back), for an unmerge.
    ///
    /// Undoing a merge right after it gives back exactly what moved: pass the merge
    /// transfer's [`lot_ids`](Transfer::lot_ids) and
    /// [`available_without_lot`](Transfer::available_without_lot). When the receiver
    /// spent or lost some of those points in between, what is left goes back: each
    /// named lot moves with its current remaining points (a lot spent to nothing or
    /// expired stays, a lot no longer in the ledger is skipped), a pending lot that
    /// matured meanwhile goes back available. A positive `available_without_lot` is
    /// limited to what the available balance still holds after the lots left, so an
    /// unmerge never makes the giver's balance negative or more negative; a debt
    /// always goes back whole. No lot's remaining can go negative. (So an immediate
    /// undo is exact except for positive points without a lot, which a consistent
    /// ledger never holds, going back from a receiver whose own balance was negative.)
    pub fn transfer_lots_out(
        &mut self,
        lot_ids: &[String],
        available_without_lot: Points,
        op_id: &str,
        at: DateTime<Utc>,
    ) -> Transfer {
        let mut transfer = self.move_lots_out(lot_ids, op_id, at);
        let context = transfer_context(op_id, at);
        let without_lot = if available_without_lot > 0 {
            available_without_lot.min(self.available.max(0))
        } else {
            available_without_lot
        };
        self.post_out(Account::CustomerAvailable, without_lot, &context);
        transfer.available_without_lot = without_lot;
        transfer
    }

    /// Receives a transfer another ledger made: writes the mirror entries from
    /// `transfer` into this customer's accounts (with the transfer's `op_id` and
    /// `at`) and adopts its lots, which keep their ids, dates, state and remaining
    /// points and now belong to this customer. Adopted lots are reported among the
    /// changed lots, or among the new ones when the giver created them unsaved.
    pub fn transfer_in(&mut self, transfer: Transfer) {
        let Transfer {
            op_id,
            at,
            lots,
            unsaved_lot_ids,
            pending_without_lot,
            available_without_lot,
            ..
        } = transfer;
        let context = transfer_context(&op_id, at);
        for mut lot in lots {
            if let Some(account) = account_of(&lot) {
                self.post(
                    EntryKind::TransferIn,
                    Account::Transfer,
                    account,
                    lot.remaining,
                    Some(&lot.lot_id),
                    &context,
                );
            }
            lot.customer_id = self.customer_id.clone();
            let created = unsaved_lot_ids.contains(&lot.lot_id);
            self.insert_lot(lot, created);
        }
        let kind = EntryKind::TransferIn;
        for (account, amount) in [
            (Account::CustomerPending, pending_without_lot),
            (Account::CustomerAvailable, available_without_lot),
        ] {
            if amount >= 0 {
                self.post(kind, Account::Transfer, account, amount, None, &context);
            } else {
                self.post(kind, account, Account::Transfer, -amount, None, &context);
            }
        }
    }

    /// Moves the named lots that still hold points into a new transfer, each with a
    /// `transfer_out` entry of its remaining points.
    fn move_lots_out(&mut self, lot_ids: &[String], op_id: &str, at: DateTime<Utc>) -> Transfer {
        let context = transfer_context(op_id, at);
        let named: BTreeSet<&str> = lot_ids.iter().map(String::as_str).collect();
        // Lots with nothing left (spent, expired) stay: there is nothing to move.
        let moving: Vec<(String, Account, Points)> = self
            .lots
            .iter()
            .filter(|l| named.contains(l.lot_id.as_str()) && l.remaining > 0)
            .filter_map(|l| Some((l.lot_id.clone(), account_of(l)?, l.remaining)))
            .collect();
        let mut lots = Vec::new();
        let mut unsaved_lot_ids = BTreeSet::new();
        for (lot_id, account, remaining) in moving {
            let kind = EntryKind::TransferOut;
            let to = Account::Transfer;
            self.post(kind, account, to, remaining, Some(&lot_id), &context);
            if let Some((lot, created)) = self.remove_lot(&lot_id) {
                if created {
                    unsaved_lot_ids.insert(lot_id);
                }
                lots.push(lot);
            }
        }
        Transfer {
            from_customer_id: self.customer_id.clone(),
            op_id: op_id.to_string(),
            at,
            lots,
            unsaved_lot_ids,
            pending_without_lot: 0,
            available_without_lot: 0,
        }
    }

    /// A `transfer_out` entry without a lot moving `amount` out of `account`; a
    /// negative amount (a debt) moves the other way.
    fn post_out(&mut self, account: Account, amount: Points, context: &Context<'_>) {
        let kind = EntryKind::TransferOut;
        if amount >= 0 {
            self.post(kind, account, Account::Transfer, amount, None, context);
        } else {
            self.post(kind, Account::Transfer, account, -amount, None, context);
        }
    }
}

/// What a transfer's entries are stamped with: the operation, no receipt.
fn transfer_context(op_id: &str, at: DateTime<Utc>) -> Context<'_> {
    Context {
        receipt_id: None,
        op_id: Some(op_id),
        now: at,
    }
}
