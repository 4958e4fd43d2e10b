//! Merges of two profiles of one person, and the review queue of suggested merges.

use crate::convert::time_out;
use serde::{Deserialize, Serialize};
use tessera_core::CoreError;
use tessera_store::crm_command::CandidateFilter;
use tessera_store::profile::{CandidateStatus, MergeCandidate, MergeRecord};
use utoipa::{IntoParams, ToSchema};

/// Merges the customer `customer_id` into the customer of the path.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    /// The customer to absorb: its identifiers, cards, points and receipts go to the
    /// customer of the path, which survives.
    pub customer_id: String,
    #[serde(default)]
    pub actor: Option<String>,
    /// Default `api`.
    #[serde(default)]
    pub source: Option<String>,
}

/// A merge of `absorbed_id` into `survivor_id`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MergeOut {
    pub merge_id: String,
    pub survivor_id: String,
    pub absorbed_id: String,
    pub at: String,
    pub actor: Option<String>,
    /// `manual`, `candidate` or `import`.
    pub reason: String,
    /// How many lots with points left moved to the survivor.
    pub moved_lots: usize,
    /// How many spent or expired lots went with them.
    pub closed_lots: usize,
    /// Points moved outside lots (a negative balance after returns).
    pub moved_unlotted: i64,
    /// Customers merged into the absorbed one before, now pointing at the survivor.
    pub repointed: Vec<String>,
    /// Set when the merge was undone.
    pub undone_at: Option<String>,
}

/// Two profiles that may be one person.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CandidateOut {
    pub candidate_id: String,
    pub customer_a: String,
    pub customer_b: String,
    /// `exact:<identifier>` or `fuzzy`.
    pub kind: String,
    /// The name and birthday score of a fuzzy match, 1 for an exact one.
    pub score: f64,
    /// `open`, `accepted` or `rejected`.
    pub status: String,
    pub created_at: String,
    pub decided_at: Option<String>,
    pub decided_by: Option<String>,
    /// The merge an acceptance made.
    pub merge_id: Option<String>,
}

/// A page of the review queue, by candidate id.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CandidatesOut {
    pub candidates: Vec<CandidateOut>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<String>,
}

/// Filter and paging of the review queue.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CandidatesQuery {
    /// `open`, `accepted` or `rejected`; default all.
    pub status: Option<String>,
    /// Candidates with an id after this one.
    pub after: Option<String>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<u32>,
}

pub fn candidate_filter(query: CandidatesQuery) -> Result<CandidateFilter, CoreError> {
    let status =
        match query.status.as_deref() {
            None => None,
            Some(name) => Some(CandidateStatus::parse(name).ok_or_else(|| {
                CoreError::invalid("status", "must be open, accepted or rejected")
            })?),
        };
    Ok(CandidateFilter {
        status,
        after: query.after,
        limit: query.limit.unwrap_or(50).clamp(1, 500),
    })
}

pub fn merge_out(merge: &MergeRecord) -> MergeOut {
    MergeOut {
        merge_id: merge.merge_id.clone(),
        survivor_id: merge.survivor_id.clone(),
        absorbed_id: merge.absorbed_id.clone(),
        at: time_out(merge.at),
        actor: merge.actor.clone(),
        reason: merge.reason.clone(),
        moved_lots: merge.moved_lots.len(),
        closed_lots: merge.closed_lots.len(),
        moved_unlotted: merge.moved_unlotted,
        repointed: merge.repointed.clone(),
        undone_at: merge.undone_at.map(time_out),
    }
}

pub fn candidate_out(candidate: &MergeCandidate) -> CandidateOut {
    CandidateOut {
        candidate_id: candidate.candidate_id.clone(),
        customer_a: candidate.customer_a.clone(),
        customer_b: candidate.customer_b.clone(),
        kind: candidate.kind.clone(),
        score: candidate.score,
        status: candidate.status.as_str().to_string(),
        created_at: time_out(candidate.created_at),
        decided_at: candidate.decided_at.map(time_out),
        decided_by: candidate.decided_by.clone(),
        merge_id: candidate.merge_id.clone(),
    }
}

/// A page of candidates; `limit` is the page size asked for.
pub fn candidates_out(candidates: &[MergeCandidate], limit: u32) -> CandidatesOut {
    let next_after = (candidates.len() == limit as usize)
        .then(|| candidates.last().map(|c| c.candidate_id.clone()))
        .flatten();
    CandidatesOut {
        candidates: candidates.iter().map(candidate_out).collect(),
        next_after,
    }
}
