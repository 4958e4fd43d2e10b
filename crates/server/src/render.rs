//! Renders write results into the exact response bytes stored with them, with
//! compact_json: serde_json's bytes, written faster.

use std::sync::Arc;
use tessera_api::convert::{calculation_out, return_out};
use tessera_core::compact_json;
use tessera_store::{Committed, Renderer, Returned};

/// The commit response.
pub fn commit_renderer() -> Renderer<Committed> {
    Arc::new(|committed: &Committed| {
        let record = &committed.record;
        let out = calculation_out(
            &record.receipt_id,
            &record.calculation,
            Some(record.version),
            committed.new_member,
            Some(&record.issued),
        );
        compact_json::to_vec(&out).unwrap_or_default()
    })
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
