//! The receipt write commands and what they produce.

use chrono::{DateTime, FixedOffset, Utc};
use std::sync::Arc;
use tessera_core::ledger::Balance;
use tessera_core::receipt::ReceiptRequest;
use tessera_core::refund::{ReceiptRecord, ReturnOutcome};
use tessera_core::snapshot::ConfigSnapshot;
use tessera_core::tier::TierProgram;

/// Turns the result of a write into the exact response bytes that are stored with it,
/// so that a retry returns the original response byte for byte.
pub type Renderer<T> = Arc<dyn Fn(&T) -> Vec<u8> + Send + Sync>;

/// The commit's renderer: the response bytes, and where in them lie the pieces it
/// spliced in from the quote ([`Committed::pieces`]).
pub type CommitRenderer = Arc<dyn Fn(&Committed) -> Rendered + Send + Sync>;

/// A commit response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    /// Where each of [`Committed::pieces`] lies in `bytes`, in their order; empty
    /// when the renderer used none.
    pub pieces: Vec<std::ops::Range<usize>>,
}

/// A response rendered whole.
impl From<Vec<u8>> for Rendered {
    fn from(bytes: Vec<u8>) -> Rendered {
        Rendered {
            bytes,
            pieces: Vec::new(),
        }
    }
}

/// Makes new coupon and certificate codes; see [`tessera_core::coupon::code_from_random`].
pub type CodeSource = Arc<dyn Fn() -> String + Send + Sync>;

/// Commit a receipt.
#[derive(Clone)]
pub struct CommitCommand {
    /// A validated receipt.
    pub request: ReceiptRequest,
    /// Hash of the request body: a retry with another hash is a conflict.
    pub request_hash: String,
    pub expect_to_pay: Option<i64>,
    pub config: Arc<ConfigSnapshot>,
    /// The id a new member gets when the receipt's card is unknown.
    pub new_customer_id: String,
    /// Makes a new unguessable coupon or certificate code (shown form).
    pub new_code: CodeSource,
    pub now: DateTime<Utc>,
    pub render: CommitRenderer,
    /// Whether the customer's profile has every field the program requires, as the
    /// server found it (it reads the profile, which the ledger read does not); `None`
    /// when the program requires none.
    pub profile_complete: Option<bool>,
    /// The server's own calculation of this receipt, reused when the commit reads the
    /// same inputs (see [`crate::quote`]).
    pub quote: crate::quote::QuoteSlot,
}

/// A committed receipt, as rendered into the commit response.
#[derive(Debug, Clone)]
pub struct Committed {
    pub record: ReceiptRecord,
    pub new_member: bool,
    /// When the commit reused the server's calculation of the receipt (its quote):
    /// the answer's parts the server rendered from that calculation, for the renderer
    /// to splice in instead of rendering them again on the writer's thread. Empty
    /// otherwise.
    pub pieces: Vec<Vec<u8>>,
}

/// Return some units of a committed receipt.
#[derive(Clone)]
pub struct ReturnCommand {
    pub receipt_id: String,
    /// Chosen by the till, unique in the program: the idempotency key.
    pub return_id: String,
    pub request_hash: String,
    pub at: DateTime<FixedOffset>,
    pub terminal_id: Option<String>,
    /// `(line number, qty in thousandths)`.
    pub lines: Vec<(u32, i64)>,
    pub now: DateTime<Utc>,
    pub render: Renderer<Returned>,
    /// The program's tier settings, if it has earned tiers: the return is a negative
    /// qualifying event.
    pub tiers: Option<TierProgram>,
}

/// Cancel a committed receipt: return everything not yet returned.
#[derive(Clone)]
pub struct CancelCommand {
    pub receipt_id: String,
    pub at: DateTime<FixedOffset>,
    pub terminal_id: Option<String>,
    pub now: DateTime<Utc>,
    pub render: Renderer<Returned>,
    /// The program's tier settings, if it has earned tiers: the cancel is a negative
    /// qualifying event.
    pub tiers: Option<TierProgram>,
}

/// A return or cancel, as rendered into its response.
#[derive(Debug, Clone)]
pub struct Returned {
    /// The return id, or `None` for a cancel.
    pub return_id: Option<String>,
    pub record: ReceiptRecord,
    pub outcome: ReturnOutcome,
    pub at: DateTime<FixedOffset>,
    /// The customer's balance after it, when the receipt had a customer.
    pub balance: Option<Balance>,
}
