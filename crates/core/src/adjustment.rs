//! Points given or taken by staff at the service desk.
//!
//! A positive adjustment is a new available lot of its own, issued at once and
//! expiring like earned points; a negative one spends available points oldest lot
//! first, exactly as paying with points does. Both write entries of kind `adjust`
//! stamped with the adjustment id as their `op_id`.

use crate::error::{CoreError, ErrorCode};
use crate::ledger::{Account, Context, CustomerLedger, EntryKind, Lot, LotState};
use crate::money::Points;
use crate::program::Program;
use chrono::{DateTime, Duration, Utc};

/// The id of the lot a positive adjustment creates: derived from the adjustment id,
/// so that a retried adjustment names the same lot.
pub fn adjustment_lot_id(adjustment_id: &str) -> String {
    format!("adj:{adjustment_id}")
}

impl CustomerLedger {
    /// Adjusts the available balance by `points` at `at`.
    ///
    /// Positive: a new available lot [`adjustment_lot_id`] with an
    /// `issued → customer_available` entry, expiring `program.expiry_days` after `at`
    /// (never when 0), as earned points expire that long after they mature.
    /// Negative: takes the points from the oldest available lots with
    /// `customer_available → issued` entries, refused with `insufficient_points` when
    /// the available balance is short. Zero is refused as an invalid `points`; an
    /// adjustment whose lot this ledger already holds with `adjustment_conflict`.
    pub fn adjust(
        &mut self,
        points: Points,
        adjustment_id: &str,
        at: DateTime<Utc>,
        program: &Program,
    ) -> Result<(), CoreError> {
        let context = Context {
            receipt_id: None,
            op_id: Some(adjustment_id),
            now: at,
        };
        if points == 0 {
            return Err(CoreError::invalid("points", "must not be zero"));
        }
        if points < 0 {
            let points = points.checked_neg().ok_or_else(|| {
                CoreError::invalid("points", "must be more than the smallest integer")
            })?;
            let to = Account::Issued;
            self.consume_available(points, EntryKind::Adjust, to, "points", &context)?;
            return Ok(());
        }
        let lot_id = adjustment_lot_id(adjustment_id);
        if self.lots.iter().any(|l| l.lot_id == lot_id) {
            return Err(CoreError::new(
                ErrorCode::AdjustmentConflict,
                format!("adjustment {adjustment_id:?} was already applied"),
            ));
        }
        let expires_at =
            (program.expiry_days > 0).then(|| at + Duration::days(i64::from(program.expiry_days)));
        let lot = Lot {
            lot_id: lot_id.clone(),
            customer_id: self.customer_id.clone(),
            receipt_id: None,
            points,
            remaining: points,
            state: LotState::Available,
            earned_at: at,
            matures_at: at,
            expires_at,
        };
        self.insert_lot(lot, true);
        let (from, to) = (Account::Issued, Account::CustomerAvailable);
        self.post(EntryKind::Adjust, from, to, points, Some(&lot_id), &context);
        Ok(())
    }
}
