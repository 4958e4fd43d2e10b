//! The planner behind [`plan`](super::plan()): its state and steps 1 to 3 and 5 of
//! the plan (values, clusters, existing customers, cards); the candidates of step 4
//! are in `candidates`.

use super::candidates::Candidates;
use super::disjoint_sets::DisjointSets;
use super::plan::{
    CardConflict, Cluster, ExistingProfile, Party, Plan, PlannedMerge, Target, WithheldReason,
    WithheldValue,
};
use super::row::CleanRow;
use super::value_index::{Carried, FastHash, ValueIndex};
use crate::matching::{
    fold_name_into, names_disagree, Action, FoldedPerson, Identifier, MatchKind, MatchRules,
    SharedValue,
};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};

/// A value's identifier and text, as [`MatchRules::decide`] wants it.
fn shared<'a>(value: Carried<'a>, n_profiles: u32) -> SharedValue<'a> {
    SharedValue {
        on: value.0,
        value: value.1,
        n_profiles: n_profiles as usize,
    }
}

/// How much of a person a row has, to choose a cluster's representative.
fn completeness(person: &FoldedPerson) -> u8 {
    u8::from(person.last_name.is_some()) * 4
        + u8::from(person.first_name.is_some()) * 4
        + u8::from(person.birthday.is_some()) * 2
        + u8::from(person.middle_name.is_some())
}

/// How many people the rows (positions, in row-number order) are, counting until more
/// than `cap`: a row is a new person when it disagrees ([`names_disagree`]) with each
/// person counted so far, so the variants of one person (a typo, a missing middle name,
/// a swapped birthday) count once and a mother and her son twice. A row without a
/// name or a birthday cannot be told apart from anyone: each counts.
fn count_people(rows: &[u32], folded: &[FoldedPerson], cap: usize) -> usize {
    if rows.len() <= 1 {
        return rows.len();
    }
    let mut people: Vec<&FoldedPerson> = Vec::new();
    let mut n_anonymous = 0;
    for &row in rows {
        let person = &folded[row as usize];
        if person_key(person) == (None, None, None) {
            n_anonymous += 1;
        } else if people.iter().all(|known| names_disagree(known, person)) {
            people.push(person);
        }
        if people.len() + n_anonymous > cap {
            break;
        }
    }
    people.len() + n_anonymous
}

/// The folded last and first names and birthday of a row.
type PersonKey<'p> = (Option<&'p str>, Option<&'p str>, Option<NaiveDate>);

fn person_key(person: &FoldedPerson) -> PersonKey<'_> {
    (
        person.last_name.as_deref(),
        person.first_name.as_deref(),
        person.birthday,
    )
}

/// How many distinct last and first names and birthdays the rows have (rows with none
/// count one each): what a withheld shared value reports, as [`count_people`] stops
/// early.
fn count_keys<'p>(
    rows: &[u32],
    folded: &'p [FoldedPerson],
    keys: &mut Vec<PersonKey<'p>>,
) -> usize {
    keys.clear();
    keys.extend(rows.iter().map(|&p| person_key(&folded[p as usize])));
    let n_anonymous = keys.iter().filter(|k| **k == (None, None, None)).count();
    keys.retain(|k| *k != (None, None, None));
    keys.sort_unstable();
    keys.dedup();
    keys.len() + n_anonymous
}

/// The order customers age in: the earliest `created_at`, unknown last, then the id.
fn age_key(profile: &ExistingProfile) -> (bool, Option<DateTime<Utc>>, &str) {
    (
        profile.created_at.is_none(),
        profile.created_at,
        &profile.customer_id,
    )
}

/// The rows' names and birthdays folded. A file repeats few first and middle names
/// and not many last names, so each distinct name is folded once and copied after.
fn fold_rows<'r>(rows: &'r [CleanRow]) -> Vec<FoldedPerson> {
    let mut cache: HashMap<&'r str, String, FastHash> = HashMap::default();
    let mut buffer = String::new();
    let mut fold = |name: Option<&'r str>| -> Option<String> {
        let name = name?;
        if let Some(folded) = cache.get(name) {
            return (!folded.is_empty()).then(|| folded.clone());
        }
        fold_name_into(name, &mut buffer);
        cache.insert(name, buffer.clone());
        (!buffer.is_empty()).then(|| buffer.clone())
    };
    rows.iter()
        .map(|row| FoldedPerson {
            first_name: fold(row.first_name.as_deref()),
            middle_name: fold(row.middle_name.as_deref()),
            last_name: fold(row.last_name.as_deref()),
            birthday: row.birthday,
        })
        .collect()
}

/// A cluster's decided exact link to an existing profile.
struct Link {
    existing: u32,
    on: Identifier,
    /// Whether the cluster and the profile disagree ([`names_disagree`]): possible on
    /// a card or an external id, which merge all the same.
    disagrees: bool,
    /// Ids of the values linking them.
    values: Vec<u32>,
}

/// What the planner knows as it goes: the rows, their union–find, the merge groups of
/// the existing customers and the pairs it has sent to review.
pub(super) struct Planner<'a> {
    pub(super) n_threads: usize,
    pub(super) rows: &'a [CleanRow],
    pub(super) existing: &'a [ExistingProfile],
    pub(super) rules: &'a MatchRules,
    /// Each row position's place in row-number order.
    pub(super) rank: Vec<u32>,
    /// Row positions in row-number order.
    pub(super) order: Vec<u32>,
    pub(super) folded: Vec<FoldedPerson>,
    /// Per value: the profiles carrying it, and whether it may match.
    pub(super) n_profiles: Vec<u32>,
    pub(super) usable: Vec<bool>,
    pub(super) withheld: Vec<WithheldValue>,
    pub(super) row_sets: DisjointSets,
    /// Per cluster root: its representative row.
    pub(super) row_rep: Vec<u32>,
    /// Exact pairs of rows that the rules send to review.
    pub(super) row_reviews: Vec<(u32, u32, Identifier)>,
    pub(super) existing_sets: DisjointSets,
    /// Per existing root: the oldest profile of its group.
    pub(super) existing_rep: Vec<u32>,
    /// Per cluster root, the existing profile it targets (before merges are resolved).
    pub(super) targets: Vec<Option<(u32, Identifier)>>,
    /// Exact cluster–existing pairs sent to review (cluster root, profile).
    pub(super) existing_reviews: Vec<(u32, u32, Identifier)>,
    /// Existing pairs linked by a cluster but not merged.
    pub(super) merge_reviews: Vec<(u32, u32, Identifier)>,
    /// Existing profiles merged with another.
    pub(super) merged_profiles: Vec<u32>,
}

impl<'a> Planner<'a> {
    pub(super) fn new(
        rows: &'a [CleanRow],
        existing: &'a [ExistingProfile],
        rules: &'a MatchRules,
        source: &'a str,
    ) -> (Planner<'a>, ValueIndex<'a>) {
        let n_rows = rows.len();
        let mut order: Vec<u32> = (0..n_rows as u32).collect();
        if !rows.windows(2).all(|w| w[0].row <= w[1].row) {
            order.sort_by_key(|&p| (rows[p as usize].row, p));
        }
        let mut rank = vec![0u32; n_rows];
        for (idx, &p) in order.iter().enumerate() {
            rank[p as usize] = idx as u32;
        }
        let folded = fold_rows(rows);
        let row_values = order.iter().map(|&p| {
            let row = &rows[p as usize];
            let carried = [
                row.source_id
                    .as_deref()
                    .map(|v| (Identifier::ExternalId, v)),
                row.card.as_deref().map(|v| (Identifier::Card, v)),
                row.phone.as_deref().map(|v| (Identifier::Phone, v)),
                row.email.as_deref().map(|v| (Identifier::Email, v)),
            ];
            (p, carried)
        });
        let existing_values = existing.iter().enumerate().flat_map(|(e, profile)| {
            let e = e as u32;
            let tagged = |on: Identifier, values: &'a [String]| {
                values.iter().map(move |v| (e, (on, v.as_str())))
            };
            tagged(Identifier::Card, &profile.cards)
                .chain(tagged(Identifier::Phone, &profile.phones))
                .chain(tagged(Identifier::Email, &profile.emails))
                .chain(
                    profile
                        .external_ids
                        .iter()
                        .filter(move |(s, _)| s == source)
                        .map(move |(_, id)| (e, (Identifier::ExternalId, id.as_str()))),
                )
        });
        let index = ValueIndex::build(row_values, n_rows, existing_values);
        let planner = Planner {
            n_threads: 1,
            rows,
            existing,
            rules,
            rank,
            order,
            folded,
            n_profiles: Vec::new(),
            usable: Vec::new(),
            withheld: Vec::new(),
            row_sets: DisjointSets::new(n_rows),
            row_rep: (0..n_rows as u32).collect(),
            row_reviews: Vec::new(),
            existing_sets: DisjointSets::new(existing.len()),
            existing_rep: (0..existing.len() as u32).collect(),
            targets: vec![None; n_rows],
            existing_reviews: Vec::new(),
            merge_reviews: Vec::new(),
            merged_profiles: Vec::new(),
        };
        (planner, index)
    }

    /// Step 1: counts each value's profiles and withholds the blocked and shared ones.
    pub(super) fn judge_values(&mut self, index: &ValueIndex<'a>) {
        let n_values = index.values.len();
        self.n_profiles = Vec::with_capacity(n_values);
        self.usable = Vec::with_capacity(n_values);
        let mut keys: Vec<PersonKey<'_>> = Vec::new();
        let max = self.rules.max_profiles_per_value;
        for id in 0..n_values as u32 {
            let rows = index.rows.get(id);
            let n_existing = index.existing.get(id).len();
            // Enough people to know whether the value is shared by more than K.
            let cap = (max + 1).saturating_sub(n_existing);
            let mut n_people = count_people(rows, &self.folded, cap);
            if n_people > cap {
                // Withheld as shared: report how many distinct names and birthdays.
                n_people = n_people.max(count_keys(rows, &self.folded, &mut keys));
            }
            let n_profiles = n_existing + n_people;
            if rows.len() + n_existing <= 1 {
                // Carried by one row alone: it matches nothing, blocked or not.
                self.n_profiles.push(n_profiles as u32);
                self.usable.push(false);
                continue;
            }
            let value = index.values[id as usize];
            let as_shared = SharedValue {
                on: value.0,
                value: value.1,
                n_profiles,
            };
            let usable = self.rules.is_usable(&as_shared);
            if !usable {
                let reason = if self.rules.is_blocked(value.0, value.1) {
                    WithheldReason::Blocked
                } else {
                    WithheldReason::Shared
                };
                self.withheld.push(WithheldValue {
                    on: value.0,
                    value: value.1.to_string(),
                    n_profiles,
                    reason,
                });
            }
            self.n_profiles.push(n_profiles as u32);
            self.usable.push(usable);
        }
    }

    /// The better representative of two rows: more complete, then earlier.
    fn better_rep(&self, a: u32, b: u32) -> u32 {
        let key = |p: u32| {
            (
                std::cmp::Reverse(completeness(&self.folded[p as usize])),
                self.rank[p as usize],
            )
        };
        if key(a) <= key(b) {
            a
        } else {
            b
        }
    }

    fn union_rows(&mut self, a: u32, b: u32) {
        if let Some((root, absorbed)) = self.row_sets.union(a, b) {
            let rep = self.better_rep(self.row_rep[root as usize], self.row_rep[absorbed as usize]);
            self.row_rep[root as usize] = rep;
        }
    }

    fn rep_person(&mut self, row: u32) -> &FoldedPerson {
        let root = self.row_sets.find(row);
        &self.folded[self.row_rep[root as usize] as usize]
    }

    /// Step 2: joins the rows that carry one usable value and are one person.
    pub(super) fn join_rows(&mut self, index: &ValueIndex<'a>) {
        let n_values = index.values.len() as u32;
        let mut heads: Vec<u32> = Vec::new();
        for kind in [
            Identifier::ExternalId,
            Identifier::Card,
            Identifier::Phone,
            Identifier::Email,
        ] {
            for id in 0..n_values {
                let value = index.values[id as usize];
                let rows = index.rows.get(id);
                if value.0 != kind || !self.usable[id as usize] || rows.len() < 2 {
                    continue;
                }
                let value = shared(value, self.n_profiles[id as usize]);
                heads.clear();
                for &row in rows {
                    let mut joined = false;
                    for &head in &heads {
                        if self.row_sets.find(head) == self.row_sets.find(row) {
                            joined = true;
                            continue;
                        }
                        let rules = self.rules;
                        let head_person = self.rep_person(head).clone();
                        let decision = rules.decide(&[value], &head_person, self.rep_person(row));
                        match decision.action {
                            Action::Merge => {
                                self.union_rows(head, row);
                                joined = true;
                            }
                            Action::Review => self.row_reviews.push((head, row, value.on)),
                            Action::None => {}
                        }
                    }
                    if !joined {
                        heads.push(row);
                    }
                }
            }
        }
    }

    fn union_existing(&mut self, a: u32, b: u32) {
        if let Some((root, absorbed)) = self.existing_sets.union(a, b) {
            let (x, y) = (
                self.existing_rep[root as usize],
                self.existing_rep[absorbed as usize],
            );
            let older =
                if age_key(&self.existing[x as usize]) <= age_key(&self.existing[y as usize]) {
                    x
                } else {
                    y
                };
            self.existing_rep[root as usize] = older;
        }
    }

    /// The profile an existing one ends up as: the survivor of its merge group.
    pub(super) fn survivor(&mut self, profile: u32) -> u32 {
        let root = self.existing_sets.find(profile);
        self.existing_rep[root as usize]
    }

    /// Step 3: decides clusters against the existing profiles they share values with.
    pub(super) fn resolve_existing(&mut self, index: &ValueIndex<'a>) {
        // (first rank of the cluster, profile, value id, cluster root)
        let mut first_rank = vec![u32::MAX; self.rows.len()];
        for &p in &self.order {
            let root = self.row_sets.find(p) as usize;
            first_rank[root] = first_rank[root].min(self.rank[p as usize]);
        }
        let mut pairs: Vec<(u32, u32, u32, u32)> = Vec::new();
        for id in 0..index.values.len() as u32 {
            let holders = index.existing.get(id);
            if holders.is_empty() || !self.usable[id as usize] {
                continue;
            }
            for &row in index.rows.get(id) {
                let root = self.row_sets.find(row);
                for &e in holders {
                    pairs.push((first_rank[root as usize], e, id, root));
                }
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        // Decide each (cluster, profile) pair on all the values they share.
        let mut links_by_cluster: Vec<(u32, Link)> = Vec::new();
        let mut start = 0;
        while start < pairs.len() {
            let (_, e, _, root) = pairs[start];
            let end = start
                + pairs[start..]
                    .iter()
                    .take_while(|q| q.1 == e && q.3 == root)
                    .count();
            let values: Vec<u32> = pairs[start..end].iter().map(|q| q.2).collect();
            start = end;
            let shared_values: Vec<SharedValue<'_>> = values
                .iter()
                .map(|&id| shared(index.values[id as usize], self.n_profiles[id as usize]))
                .collect();
            let person = self.rep_person(root).clone();
            let decision =
                self.rules
                    .decide(&shared_values, &person, &self.existing[e as usize].person);
            let MatchKind::Exact { on } = decision.kind else {
                continue;
            };
            match decision.action {
                Action::Merge => links_by_cluster.push((
                    root,
                    Link {
                        existing: e,
                        on,
                        disagrees: names_disagree(&person, &self.existing[e as usize].person),
                        values,
                    },
                )),
                Action::Review => self.existing_reviews.push((root, e, on)),
                Action::None => {}
            }
        }
        // Per cluster: the target, and the other profiles merged into its group.
        let mut start = 0;
        while start < links_by_cluster.len() {
            let root = links_by_cluster[start].0;
            let end = start
                + links_by_cluster[start..]
                    .iter()
                    .take_while(|l| l.0 == root)
                    .count();
            let links = &links_by_cluster[start..end];
            start = end;
            let key = |link: &Link| {
                (
                    link.disagrees,
                    link.on,
                    age_key(&self.existing[link.existing as usize]),
                )
            };
            let Some(target) = links
                .iter()
                .map(|(_, link)| link)
                .min_by(|x, y| key(x).cmp(&key(y)))
            else {
                continue;
            };
            let (target_profile, target_on) = (target.existing, target.on);
            self.targets[root as usize] = Some((target_profile, target_on));
            for (_, link) in links {
                if link.existing == target_profile {
                    continue;
                }
                self.merge_into(index, target_profile, link);
            }
        }
        // Clusters that target one customer are one cluster.
        let mut cluster_of_survivor: BTreeMap<u32, u32> = BTreeMap::new();
        let mut by_rank: Vec<(u32, u32)> = (0..self.rows.len() as u32)
            .filter(|&root| self.targets[root as usize].is_some())
            .map(|root| (first_rank[root as usize], root))
            .collect();
        by_rank.sort_unstable();
        for (_, root) in by_rank {
            let Some((profile, on)) = self.targets[root as usize] else {
                continue;
            };
            let survivor = self.survivor(profile);
            match cluster_of_survivor.entry(survivor) {
                Entry::Vacant(slot) => {
                    slot.insert(root);
                }
                Entry::Occupied(slot) => {
                    let first = *slot.get();
                    let first_on = self.targets[first as usize].map_or(on, |t| t.1.min(on));
                    self.union_rows(first, root);
                    let new_root = self.row_sets.find(first);
                    self.targets[new_root as usize] = Some((survivor, first_on));
                }
            }
        }
    }

    /// Merges the profile of `link` into `target`'s group when the rules allow,
    /// otherwise sends the pair to review.
    fn merge_into(&mut self, index: &ValueIndex<'a>, target: u32, link: &Link) {
        let (a, b) = (self.survivor(target), self.survivor(link.existing));
        if a == b {
            return;
        }
        let shared_values: Vec<SharedValue<'_>> = link
            .values
            .iter()
            .map(|&id| shared(index.values[id as usize], self.n_profiles[id as usize]))
            .collect();
        let (person_a, person_b) = (
            &self.existing[a as usize].person,
            &self.existing[b as usize].person,
        );
        let decision = self.rules.decide(&shared_values, person_a, person_b);
        if decision.action == Action::Merge && !names_disagree(person_a, person_b) {
            self.union_existing(a, b);
            self.merged_profiles.push(a);
            self.merged_profiles.push(b);
        } else {
            self.merge_reviews.push((a, b, link.on));
        }
    }

    /// Steps 4 and 5, and the sorted plan.
    pub(super) fn finish(mut self, index: &ValueIndex<'a>) -> Plan {
        let (clusters, cluster_of_root) = self.clusters();
        let mut candidates = Candidates::default();
        self.exact_candidates(&clusters, &cluster_of_root, &mut candidates);
        self.fuzzy_candidates(&clusters, &mut candidates);
        let merges = self.merges(&clusters);
        let card_conflicts = self.card_conflicts(index, &clusters, &cluster_of_root);
        let mut withheld = std::mem::take(&mut self.withheld);
        withheld.sort_unstable();
        Plan {
            clusters: clusters.into_iter().map(|c| c.cluster).collect(),
            merges,
            candidates: candidates.map.into_values().collect(),
            withheld,
            card_conflicts,
        }
    }

    /// The clusters numbered by their first row, and each root's cluster number.
    fn clusters(&mut self) -> (Vec<PlannedCluster>, Vec<u32>) {
        let mut cluster_of_root = vec![u32::MAX; self.rows.len()];
        let mut clusters: Vec<PlannedCluster> = Vec::new();
        for idx in 0..self.order.len() {
            let p = self.order[idx];
            let root = self.row_sets.find(p);
            if cluster_of_root[root as usize] == u32::MAX {
                cluster_of_root[root as usize] = clusters.len() as u32;
                let (target, survivor) = match self.targets[root as usize] {
                    Some((profile, on)) => {
                        let survivor = self.survivor(profile);
                        let customer_id = self.existing[survivor as usize].customer_id.clone();
                        (Target::Existing { customer_id, on }, Some(survivor))
                    }
                    None => (Target::New, None),
                };
                clusters.push(PlannedCluster {
                    cluster: Cluster {
                        rows: Vec::with_capacity(1),
                        target,
                    },
                    rep: self.row_rep[root as usize],
                    survivor,
                });
            }
            clusters[cluster_of_root[root as usize] as usize]
                .cluster
                .rows
                .push(p as usize);
        }
        (clusters, cluster_of_root)
    }

    pub(super) fn cluster_of(&mut self, cluster_of_root: &[u32], row: u32) -> usize {
        cluster_of_root[self.row_sets.find(row) as usize] as usize
    }

    pub(super) fn customer_id(&mut self, profile: u32) -> Party {
        let survivor = self.survivor(profile);
        Party::Existing(self.existing[survivor as usize].customer_id.clone())
    }

    /// The planned merges, by survivor.
    fn merges(&mut self, clusters: &[PlannedCluster]) -> Vec<PlannedMerge> {
        let mut merged = std::mem::take(&mut self.merged_profiles);
        merged.sort_unstable();
        merged.dedup();
        let mut cluster_of_survivor: BTreeMap<u32, usize> = BTreeMap::new();
        for (idx, cluster) in clusters.iter().enumerate() {
            if let Some(survivor) = cluster.survivor {
                cluster_of_survivor.insert(survivor, idx);
            }
        }
        let mut groups: BTreeMap<u32, Vec<String>> = BTreeMap::new();
        for profile in merged {
            let survivor = self.survivor(profile);
            if survivor != profile {
                groups
                    .entry(survivor)
                    .or_default()
                    .push(self.existing[profile as usize].customer_id.clone());
            }
        }
        let mut merges: Vec<PlannedMerge> = groups
            .into_iter()
            .filter_map(|(survivor, mut merged)| {
                merged.sort();
                Some(PlannedMerge {
                    survivor: self.existing[survivor as usize].customer_id.clone(),
                    merged,
                    cluster: *cluster_of_survivor.get(&survivor)?,
                })
            })
            .collect();
        merges.sort_by(|a, b| a.survivor.cmp(&b.survivor));
        merges
    }

    /// Step 5: cards that would end up with more than one customer.
    fn card_conflicts(
        &mut self,
        index: &ValueIndex<'a>,
        clusters: &[PlannedCluster],
        cluster_of_root: &[u32],
    ) -> Vec<CardConflict> {
        let mut conflicts = Vec::new();
        let mut presenting: Vec<usize> = Vec::new();
        let mut holders: Vec<u32> = Vec::new();
        for id in 0..index.values.len() as u32 {
            let (on, card) = index.values[id as usize];
            if on != Identifier::Card {
                continue;
            }
            presenting.clear();
            for &row in index.rows.get(id) {
                let cluster = self.cluster_of(cluster_of_root, row);
                presenting.push(cluster);
            }
            presenting.sort_unstable();
            presenting.dedup();
            holders.clear();
            for &e in index.existing.get(id) {
                let survivor = self.survivor(e);
                holders.push(survivor);
            }
            holders.sort_unstable();
            holders.dedup();
            // Owners: each holder, and each presenting cluster's target (itself if new).
            let new_owners = presenting
                .iter()
                .filter(|&&c| clusters[c].survivor.is_none())
                .count();
            let mut targets: Vec<u32> = presenting
                .iter()
                .filter_map(|&c| clusters[c].survivor)
                .filter(|survivor| holders.binary_search(survivor).is_err())
                .collect();
            targets.sort_unstable();
            targets.dedup();
            if holders.len() + targets.len() + new_owners > 1 {
                let mut held_by: Vec<String> = holders
                    .iter()
                    .map(|&e| self.existing[e as usize].customer_id.clone())
                    .collect();
                held_by.sort();
                conflicts.push(CardConflict {
                    card: card.to_string(),
                    clusters: presenting.clone(),
                    held_by,
                });
            }
        }
        conflicts.sort_by(|a, b| a.card.cmp(&b.card));
        conflicts
    }
}

/// A cluster while the plan is finished: with its representative row and its target's
/// profile.
pub(super) struct PlannedCluster {
    pub(super) cluster: Cluster,
    pub(super) rep: u32,
    pub(super) survivor: Option<u32>,
}
