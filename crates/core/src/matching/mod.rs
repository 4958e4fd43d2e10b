//! Matching imported or duplicate customer records: which pairs are the same person.
//!
//! - **Exact** on a card, an external id, a phone or an email that both records carry.
//!   A card or an external id names an account, so a match on one merges
//!   automatically. A phone or an email names a contact that a family may share, so a
//!   match on one merges automatically only when the people do not clearly disagree
//!   ([`names_disagree`]: other birthdays, other first names, a man and a woman); when
//!   they do it goes to review (mother and son sharing `+7916…`).
//! - **Blocked values never match**: placeholder phones and emails ([`MatchRules`]) and
//!   any value carried by more than `max_profiles_per_value` profiles.
//! - **Fuzzy** on name and birthday ([`name_birthday_score`]); a pair scoring at least
//!   `fuzzy_threshold` goes to review, never merges by itself.
//!
//! Names are compared after [`fold_name`] with [`jaro_winkler`]. Everything here is
//! allocation-light: similarities of names up to 64 characters use the stack only, and
//! an import folds each record once ([`Person::fold`]) and scores folded records.

mod names;
mod person;
mod rules;
mod similarity;

pub use names::{fold_name, fold_name_into, is_diminutive_pair, DIMINUTIVES};
pub use person::{
    birthday_agreement, compatible_birthdays, folded_score, name_birthday_score, names_disagree,
    BirthdayAgreement, FoldedPerson, Person,
};
pub use rules::{
    Action, Decision, Identifier, MatchKind, MatchRules, SharedValue, DEFAULT_FUZZY_THRESHOLD,
};
pub use similarity::{damerau_levenshtein, jaro_winkler};
