//! The import plan: which rows are one person, which existing customer each person is,
//! which existing customers to merge, and which pairs a person should review.
//!
//! [`plan`] works in these steps, each deterministic (the rows are taken in the order
//! of their row numbers, so shuffling the file changes no outcome):
//!
//! 1. **Values.** Every card, phone, email and external id (`source_id`, in the import's
//!    source) of the file is looked up among the existing profiles. A value counts the
//!    profiles carrying it: the existing ones plus the distinct people of the file (rows
//!    that do not disagree, by [`names_disagree`], count once, so a person listed twice,
//!    with a typo or without a middle name, does not make their own phone "shared"; rows
//!    with no name and no birthday count one each). A blocked value, or one carried by more
//!    than `max_profiles_per_value` profiles, is *withheld*: it matches nothing and is
//!    listed in [`Plan::withheld`] (unless one row alone carries it: then it would match
//!    nothing anyway).
//! 2. **Clusters.** Rows carrying one usable value are joined (union–find) when
//!    [`MatchRules::decide`] says merge, comparing the two clusters' representative rows
//!    (the row with the most of last name, first name, birthday and middle name, then the
//!    first): external ids first, then cards, phones and emails. A phone or email shared by
//!    people who disagree (mother and son) joins nothing and becomes a review candidate.
//! 3. **Existing customers.** Each cluster is decided against every existing profile it
//!    shares a usable value with. Those decided "merge" are the cluster's; its target is
//!    the one whose name and birthday agree with the cluster's (a card can link a customer
//!    who does not), then the most strongly linked (external id, card, phone, email), then
//!    the oldest. Each other existing customer of the cluster is merged into the target's
//!    group only when `decide` on the two profiles with the values that link them says
//!    merge *and* [`names_disagree`] does not hold: merging two accounts is not undone
//!    lightly, so even a card does not merge a Marina into a Sergei. Otherwise the pair
//!    goes to review (and a card of the other customer in the cluster is a
//!    [`CardConflict`]). **The survivor of a merge is the oldest customer**: the earliest
//!    `created_at`, profiles without one after those with one, then the smallest
//!    `customer_id`. Clusters that end up with the same target are one cluster.
//! 4. **Fuzzy.** Each cluster that is a new customer is compared by name and birthday with
//!    the existing profiles and with the other new clusters, blocked by compatible birthday
//!    and name initials (`birthday_index`); a pair at or above `fuzzy_threshold` is a
//!    review candidate. Clusters resolved to an existing customer are not compared: their
//!    identity is settled by an exact identifier.
//! 5. **Cards.** A card the file presents that ends up with more than one owner (an
//!    existing holder other than the cluster's target, or two clusters) is a
//!    [`CardConflict`]: it must not be moved silently.
//!
//! [`names_disagree`]: crate::matching::names_disagree

use super::planner::Planner;
use super::row::CleanRow;
use crate::matching::{FoldedPerson, Identifier, MatchKind, MatchRules};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What the planner needs of an existing customer: identifiers normalised as an import
/// normalises them (E.164 phones, lower-case emails, cards as `normalize_card` gives
/// them) and the folded name and birthday.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExistingProfile {
    pub customer_id: String,
    /// When the customer was created; decides the survivor of a merge.
    pub created_at: Option<DateTime<Utc>>,
    pub cards: Vec<String>,
    pub phones: Vec<String>,
    pub emails: Vec<String>,
    /// `(source, id)`: the customer's ids in the systems it was imported from.
    pub external_ids: Vec<(String, String)>,
    pub person: FoldedPerson,
}

/// Who a cluster of rows is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Target {
    /// A customer to create.
    New,
    /// An existing customer to update (the survivor, if a merge is planned).
    Existing {
        customer_id: String,
        /// The strongest identifier the rows share with the customer.
        on: Identifier,
    },
}

/// Rows of the file that are one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    /// Positions in the planned rows slice, by row number.
    pub rows: Vec<usize>,
    pub target: Target,
}

/// One side of a review candidate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// A cluster of the plan, by its index in [`Plan::clusters`].
    Cluster(usize),
    /// An existing customer (the survivor, if it is to be merged).
    Existing(String),
}

/// A pair a person should look at: maybe one customer, not merged automatically.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewCandidate {
    /// The smaller party of the pair.
    pub a: Party,
    pub b: Party,
    /// The name and birthday score, when both sides have the names and birthdays to
    /// compute it.
    pub score: Option<f64>,
    /// Exact on an identifier the people disagree on, or fuzzy.
    pub kind: MatchKind,
}

/// Existing customers to merge into one, because one cluster of rows is all of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedMerge {
    /// The customer kept: the oldest.
    pub survivor: String,
    /// The customers merged into it, sorted.
    pub merged: Vec<String>,
    /// The cluster whose rows link them, which targets the survivor.
    pub cluster: usize,
}

/// Why a value was not used for matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WithheldReason {
    /// A placeholder ([`MatchRules::is_blocked`]).
    Blocked,
    /// Carried by more than `max_profiles_per_value` profiles.
    Shared,
}

/// A value of the file that matched nothing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WithheldValue {
    pub on: Identifier,
    pub value: String,
    /// Profiles carrying it: existing ones plus distinct people of the file.
    pub n_profiles: usize,
    pub reason: WithheldReason,
}

/// A card the file presents that would end up with more than one customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardConflict {
    pub card: String,
    /// The clusters presenting it.
    pub clusters: Vec<usize>,
    /// The existing customers holding it (survivors after planned merges).
    pub held_by: Vec<String>,
}

/// What an import will do, for a storage layer to apply in bulk. Every list is sorted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// By their first row number. At most one cluster targets each existing customer.
    pub clusters: Vec<Cluster>,
    /// By survivor.
    pub merges: Vec<PlannedMerge>,
    /// By pair.
    pub candidates: Vec<ReviewCandidate>,
    /// By identifier, then value.
    pub withheld: Vec<WithheldValue>,
    /// By card. The card is to be left where it is (or unassigned) until reviewed.
    pub card_conflicts: Vec<CardConflict>,
}

impl Plan {
    /// Clusters that create a customer.
    pub fn n_new(&self) -> usize {
        self.clusters
            .iter()
            .filter(|c| c.target == Target::New)
            .count()
    }

    /// Clusters that update an existing customer.
    pub fn n_updated(&self) -> usize {
        self.clusters.len() - self.n_new()
    }

    /// Existing customers merged into another.
    pub fn n_merged(&self) -> usize {
        self.merges.iter().map(|m| m.merged.len()).sum()
    }
}

/// Plans importing `rows` from `source` against the `existing` customers (see the
/// module doc). Rows are referred to by their position in `rows`.
pub fn plan(
    rows: &[CleanRow],
    existing: &[ExistingProfile],
    rules: &MatchRules,
    source: &str,
) -> Plan {
    plan_with_threads(rows, existing, rules, source, 1)
}

/// [`plan`] with the fuzzy comparisons, the bulk of the work, shared among `n_threads`
/// threads. The plan is the same for any number of threads.
pub fn plan_with_threads(
    rows: &[CleanRow],
    existing: &[ExistingProfile],
    rules: &MatchRules,
    source: &str,
    n_threads: usize,
) -> Plan {
    let (mut planner, index) = Planner::new(rows, existing, rules, source);
    planner.n_threads = n_threads;
    planner.judge_values(&index);
    planner.join_rows(&index);
    planner.resolve_existing(&index);
    planner.finish(&index)
}
