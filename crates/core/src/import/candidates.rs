//! Step 4 of the plan: the pairs a person should review, exact ones the rules do not
//! merge and fuzzy ones by name and birthday.

use super::birthday_index::{BirthdayIndex, Diminutives, Filing, SKETCH_BOUND};
use super::plan::{Party, ReviewCandidate};
use super::planner::{PlannedCluster, Planner};
use super::threads::in_parts;
use crate::matching::{folded_score, Action, FoldedPerson, MatchKind};
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

impl Planner<'_> {
    /// Exact matches the rules send to review: rows, clusters and existing profiles,
    /// and existing profiles one cluster links that were not merged.
    pub(super) fn exact_candidates(
        &mut self,
        clusters: &[PlannedCluster],
        cluster_of_root: &[u32],
        candidates: &mut Candidates,
    ) {
        // The strongest identifier of a pair is reported: add in identifier order.
        let mut row_reviews = std::mem::take(&mut self.row_reviews);
        row_reviews.sort_by_key(|&(_, _, on)| on);
        for (x, y, on) in row_reviews {
            let (cx, cy) = (
                self.cluster_of(cluster_of_root, x),
                self.cluster_of(cluster_of_root, y),
            );
            let score = folded_score(
                &self.folded[clusters[cx].rep as usize],
                &self.folded[clusters[cy].rep as usize],
            );
            candidates.add(
                Party::Cluster(cx),
                Party::Cluster(cy),
                score,
                MatchKind::Exact { on },
            );
        }
        let mut existing_reviews = std::mem::take(&mut self.existing_reviews);
        existing_reviews.sort_by_key(|&(_, _, on)| on);
        for (root, e, on) in existing_reviews {
            let cluster = self.cluster_of(cluster_of_root, root);
            if clusters[cluster].survivor == Some(self.survivor(e)) {
                continue;
            }
            let score = folded_score(
                &self.folded[clusters[cluster].rep as usize],
                &self.existing[e as usize].person,
            );
            let party = self.customer_id(e);
            candidates.add(
                Party::Cluster(cluster),
                party,
                score,
                MatchKind::Exact { on },
            );
        }
        let mut merge_reviews = std::mem::take(&mut self.merge_reviews);
        merge_reviews.sort_by_key(|&(_, _, on)| on);
        for (a, b, on) in merge_reviews {
            let score = folded_score(
                &self.existing[a as usize].person,
                &self.existing[b as usize].person,
            );
            let (a, b) = (self.customer_id(a), self.customer_id(b));
            candidates.add(a, b, score, MatchKind::Exact { on });
        }
    }

    /// Step 4: new clusters against existing profiles and against each other, by name
    /// and birthday. Clusters are looked up in birthday order, so that consecutive
    /// look-ups read neighbouring parts of the index.
    pub(super) fn fuzzy_candidates(
        &mut self,
        clusters: &[PlannedCluster],
        candidates: &mut Candidates,
    ) {
        let diminutives = Diminutives::new();
        let mut new_clusters: Vec<(u32, Filing)> = clusters
            .iter()
            .enumerate()
            .filter(|(_, c)| c.survivor.is_none())
            .filter_map(|(idx, c)| {
                Some((
                    idx as u32,
                    Filing::of(&self.folded[c.rep as usize], &diminutives)?,
                ))
            })
            .collect();
        if new_clusters.is_empty() {
            return;
        }
        new_clusters.sort_unstable_by_key(|(idx, filing)| (filing.birthday(), *idx));
        let sketched = self.rules.fuzzy_threshold > SKETCH_BOUND;
        let existing_index = (!self.existing.is_empty()).then(|| {
            BirthdayIndex::build(self.existing.iter().enumerate().filter_map(|(e, profile)| {
                Some((e as u32, Filing::of(&profile.person, &diminutives)?))
            }))
        });
        let new_index = BirthdayIndex::build(new_clusters.iter().copied());
        let this = &*self;
        let rep_of = |cluster: u32| &this.folded[clusters[cluster as usize].rep as usize];
        let compare = |part: &[(u32, Filing)]| {
            let mut found: Vec<u32> = Vec::new();
            let mut scored: Vec<(u32, f64)> = Vec::new();
            let mut pairs: Vec<(u32, Option<u32>, Option<u32>, f64)> = Vec::new();
            for (cluster, filing) in part {
                let person = rep_of(*cluster);
                if let Some(existing_index) = &existing_index {
                    found.clear();
                    existing_index.candidates(filing, sketched, false, &mut found);
                    this.score_found(person, &mut found, &mut scored, |e| {
                        &this.existing[e as usize].person
                    });
                    pairs.extend(
                        scored
                            .iter()
                            .map(|&(e, score)| (*cluster, Some(e), None, score)),
                    );
                }
                found.clear();
                new_index.candidates(filing, sketched, true, &mut found);
                // Pairs of one birthday are found from both sides: keep one.
                found.retain(|&other| {
                    other > *cluster || rep_of(other).birthday != Some(filing.birthday())
                });
                this.score_found(person, &mut found, &mut scored, rep_of);
                pairs.extend(
                    scored
                        .iter()
                        .map(|&(other, score)| (*cluster, None, Some(other), score)),
                );
            }
            pairs
        };
        let fuzzy_pairs: Vec<_> = in_parts(&new_clusters, self.n_threads, compare)
            .into_iter()
            .flatten()
            .collect();
        for (cluster, existing, other, score) in fuzzy_pairs {
            let b = match (existing, other) {
                (Some(e), _) => self.customer_id(e),
                (None, Some(other)) => Party::Cluster(other as usize),
                (None, None) => continue,
            };
            candidates.add(
                Party::Cluster(cluster as usize),
                b,
                Some(score),
                MatchKind::Fuzzy { score },
            );
        }
    }

    /// Scores `person` against each item `found` (deduplicated first) and keeps in
    /// `scored` those the rules send to review.
    fn score_found<'p>(
        &self,
        person: &FoldedPerson,
        found: &mut Vec<u32>,
        scored: &mut Vec<(u32, f64)>,
        person_of: impl Fn(u32) -> &'p FoldedPerson,
    ) {
        scored.clear();
        found.sort_unstable();
        found.dedup();
        for &item in found.iter() {
            let decision = self.rules.decide(&[], person, person_of(item));
            if let (Action::Review, MatchKind::Fuzzy { score }) = (decision.action, decision.kind) {
                scored.push((item, score));
            }
        }
    }
}

/// Review candidates by pair; the first added for a pair is kept.
#[derive(Default)]
pub(super) struct Candidates {
    pub(super) map: BTreeMap<(Party, Party), ReviewCandidate>,
}

impl Candidates {
    pub(super) fn add(&mut self, a: Party, b: Party, score: Option<f64>, kind: MatchKind) {
        if a == b {
            return;
        }
        let (a, b) = if a <= b { (a, b) } else { (b, a) };
        if let Entry::Vacant(slot) = self.map.entry((a.clone(), b.clone())) {
            slot.insert(ReviewCandidate { a, b, score, kind });
        }
    }
}
