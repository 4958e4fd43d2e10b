//! Renders write results into the exact response bytes stored with them, with
//! compact_json: serde_json's bytes, written faster.
//!
//! A calculation's answer is rendered in parts. Most of its bytes (lines, totals,
//! promotions and those that did not apply, messages, coupons) depend on the
//! calculation alone; [`calculation_answer`] renders them once when the till calculates,
//! the quote keeps them, and a commit that reuses the quote's calculation splices them
//! into its answer instead of rendering them again on the SQLite writer's thread. The
//! spliced bytes are those of `CalculationOut` rendered whole, field for field (checked
//! on every answer in debug builds, so by every HTTP test).

use serde::Serialize;
use std::ops::Range;
use std::sync::Arc;
use tessera_api::convert::{calculation_out, not_applied_out, return_out, rewards_out};
use tessera_api::receipt::{
    AppliedPromotionOut, BalanceAfterOut, CalculationOut, CouponOut, LineOut, NotAppliedRef,
    ProfileRequestOut, RewardsOut, TotalsOut,
};
use tessera_core::compact_json;
use tessera_core::pricing::NotApplied;
use tessera_store::{CommitRenderer, Committed, Rendered, Renderer, Returned};

/// The commit response.
pub fn commit_renderer() -> CommitRenderer {
    Arc::new(|committed: &Committed| {
        let spliced = spliced_commit(committed);
        debug_assert!(spliced.as_ref().is_none_or(|rendered| {
            rendered.bytes == whole_commit(committed)
                && rendered
                    .pieces
                    .iter()
                    .zip(&committed.pieces)
                    .all(|(range, piece)| rendered.bytes[range.clone()] == piece[..])
        }));
        spliced.unwrap_or_else(|| whole_commit(committed).into())
    })
}

/// The commit response rendered whole, from the record.
fn whole_commit(committed: &Committed) -> Vec<u8> {
    let record = &committed.record;
    let out = calculation_out(
        &record.receipt_id,
        &record.calculation,
        Some(record.version),
        committed.new_member,
        Some(&record.issued),
    );
    compact_json::to_vec(&out).unwrap_or_default()
}

/// The commit response from the pieces of the calculation it reused, when it has them.
fn spliced_commit(committed: &Committed) -> Option<Rendered> {
    let [lines, promotions, tail] = committed.pieces.as_slice() else {
        return None;
    };
    let record = &committed.record;
    let calc = &record.calculation;
    let balance = calc.balance.map(|b| BalanceAfterOut {
        available: b.available,
        pending: b.pending,
    });
    let mut answer = Answer::with_capacity(lines.len() + promotions.len() + tail.len() + 512);
    answer.fields(&Head {
        receipt_id: &record.receipt_id,
        status: "committed",
        version: Some(record.version),
        customer_id: calc.customer_id.as_deref(),
        new_member: committed.new_member,
    });
    let lines = answer.piece(lines);
    answer.fields(&RewardsPiece {
        rewards: &rewards_out(calc, Some(&record.issued)),
    });
    answer.fields(&AsksPiece {
        profile_requests: &[],
        cross_sell: &[],
    });
    let promotions = answer.piece(promotions);
    answer.fields(&BalancePiece {
        balance: balance.as_ref(),
    });
    let tail = answer.piece(tail);
    Some(Rendered {
        bytes: answer.finish()?,
        pieces: vec![lines, promotions, tail],
    })
}

/// The calculate answer `out` with the calculation's `not_applied` (which `out`
/// leaves empty), and the parts of it that depend on its calculation alone (lines and
/// totals; promotions and those that did not apply; messages and coupons) for the
/// quote to keep.
pub fn calculation_answer(
    out: &CalculationOut,
    not_applied: &[NotApplied],
) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut answer = Answer::with_capacity(16 * 1024);
    answer.fields(&Head {
        receipt_id: &out.receipt_id,
        status: &out.status,
        version: out.version,
        customer_id: out.customer_id.as_deref(),
        new_member: out.new_member,
    });
    let lines = answer.fields(&LinesPiece {
        lines: &out.lines,
        totals: &out.totals,
    });
    answer.fields(&RewardsPiece {
        rewards: &out.rewards,
    });
    answer.fields(&AsksPiece {
        profile_requests: &out.profile_requests,
        cross_sell: &[],
    });
    let promotions = answer.fields(&PromotionsPiece {
        promotions: &out.promotions,
        not_applied: not_applied.iter().map(NotAppliedRef::from).collect(),
    });
    answer.fields(&BalancePiece {
        balance: out.balance.as_ref(),
    });
    let tail = answer.fields(&TailPiece {
        messages: &out.messages,
        receipt_messages: &out.receipt_messages,
        coupons: &out.coupons,
    });
    let pieces = [lines, promotions, tail]
        .map(|range| answer.bytes[range].to_vec())
        .to_vec();
    let whole = || {
        let mut whole = out.clone();
        whole.not_applied = not_applied_out(not_applied);
        compact_json::to_vec(&whole).unwrap_or_default()
    };
    match answer.finish() {
        Some(bytes) => {
            debug_assert!(bytes == whole());
            (bytes, pieces)
        }
        // Rendered whole, and no pieces: the commit renders its answer itself.
        None => (whole(), Vec::new()),
    }
}

/// A JSON object written field by field: each part is a struct whose fields join
/// the object's, or a piece (fields rendered earlier).
struct Answer {
    bytes: Vec<u8>,
    /// A part could not be serialised (none can: these structs have no maps); the
    /// caller then renders the answer whole.
    failed: bool,
}

impl Answer {
    fn with_capacity(capacity: usize) -> Answer {
        Answer {
            bytes: Vec::with_capacity(capacity),
            failed: false,
        }
    }

    /// Appends `value`'s fields; where they lie in the object.
    fn fields(&mut self, value: &impl Serialize) -> Range<usize> {
        let start = self.bytes.len();
        if compact_json::write(&mut self.bytes, value).is_err() {
            self.failed = true;
            self.bytes.truncate(start);
            self.bytes.extend_from_slice(b"{}");
        }
        // `{"a":1}` after other fields becomes `,"a":1`; the first keeps its brace.
        if start > 0 {
            self.bytes[start] = b',';
        }
        self.bytes.pop();
        start + 1..self.bytes.len()
    }

    /// Appends fields rendered earlier; where they lie in the object.
    fn piece(&mut self, fields: &[u8]) -> Range<usize> {
        self.bytes
            .push(if self.bytes.is_empty() { b'{' } else { b',' });
        let start = self.bytes.len();
        self.bytes.extend_from_slice(fields);
        start..self.bytes.len()
    }

    /// The object, unless a part failed.
    fn finish(mut self) -> Option<Vec<u8>> {
        self.bytes.push(b'}');
        (!self.failed).then_some(self.bytes)
    }
}

#[derive(Serialize)]
struct Head<'a> {
    receipt_id: &'a str,
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<u32>,
    customer_id: Option<&'a str>,
    new_member: bool,
}

#[derive(Serialize)]
struct LinesPiece<'a> {
    lines: &'a [LineOut],
    totals: &'a TotalsOut,
}

#[derive(Serialize)]
struct RewardsPiece<'a> {
    rewards: &'a RewardsOut,
}

#[derive(Serialize)]
struct AsksPiece<'a> {
    profile_requests: &'a [ProfileRequestOut],
    cross_sell: &'a [serde_json::Value],
}

#[derive(Serialize)]
struct PromotionsPiece<'a> {
    promotions: &'a [AppliedPromotionOut],
    not_applied: Vec<NotAppliedRef<'a>>,
}

#[derive(Serialize)]
struct BalancePiece<'a> {
    balance: Option<&'a BalanceAfterOut>,
}

#[derive(Serialize)]
struct TailPiece<'a> {
    messages: &'a [String],
    receipt_messages: &'a [String],
    coupons: &'a [CouponOut],
}

/// The return and cancel response.
pub fn return_renderer() -> Renderer<Returned> {
    Arc::new(|returned: &Returned| {
        let out = return_out(
            &returned.record,
            returned.return_id.as_deref(),
            &returned.outcome,
            returned.balance.as_ref(),
        );
        compact_json::to_vec(&out).unwrap_or_default()
    })
}
