//! The values a promotion selects lines by (SKUs, categories, brands, tags).
//!
//! Pricing checks every line of a receipt against every candidate promotion's list,
//! and a list of twenty SKUs that share a prefix (`SKU-000123`) cost twenty string
//! comparisons per line: a third of the engine's time with 200 promotions. A
//! [`ValueSet`] keeps the values as given (they are stored and shown in that order)
//! with a 64-bit hash of each beside them, so a long list is searched by comparing
//! integers and only a matching hash compares the strings.

use crate::fast_hash::fnv;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::ops::Deref;

/// Up to this many values are compared directly: hashing the line's value would cost
/// more than the comparisons it saves.
const LINEAR: usize = 4;

/// A list of values with a hash of each; equal to another when the values are equal.
#[derive(Debug, Clone, Default)]
pub struct ValueSet {
    values: Vec<String>,
    hashes: Vec<u64>,
}

impl ValueSet {
    /// The values in the order given, duplicates kept.
    pub fn new(values: Vec<String>) -> ValueSet {
        let hashes = if values.len() > LINEAR {
            values.iter().map(|v| fnv(v.as_bytes())).collect()
        } else {
            Vec::new()
        };
        ValueSet { values, hashes }
    }

    /// Whether `value` is one of the values.
    pub fn contains(&self, value: &str) -> bool {
        if self.hashes.is_empty() {
            return self.values.iter().any(|v| v == value);
        }
        let wanted = fnv(value.as_bytes());
        self.hashes
            .iter()
            .zip(&self.values)
            .any(|(&h, v)| h == wanted && v == value)
    }

    /// Whether any of `values` is one of the values.
    pub fn contains_any<'a>(&self, mut values: impl Iterator<Item = &'a String>) -> bool {
        values.any(|v| self.contains(v))
    }
}

impl Deref for ValueSet {
    type Target = [String];

    fn deref(&self) -> &[String] {
        &self.values
    }
}

impl PartialEq for ValueSet {
    fn eq(&self, other: &ValueSet) -> bool {
        self.values == other.values
    }
}

impl Eq for ValueSet {}

impl From<Vec<String>> for ValueSet {
    fn from(values: Vec<String>) -> ValueSet {
        ValueSet::new(values)
    }
}

impl FromIterator<String> for ValueSet {
    fn from_iter<I: IntoIterator<Item = String>>(values: I) -> ValueSet {
        ValueSet::new(values.into_iter().collect())
    }
}

impl<const N: usize> From<[&str; N]> for ValueSet {
    fn from(values: [&str; N]) -> ValueSet {
        ValueSet::new(values.iter().map(|v| v.to_string()).collect())
    }
}

impl Serialize for ValueSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.values.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ValueSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ValueSet, D::Error> {
        Vec::<String>::deserialize(deserializer).map(ValueSet::new)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_and_long_lists_find_exactly_their_values() {
        let short = ValueSet::from(["shoes", "bags"]);
        assert!(short.contains("bags"));
        assert!(!short.contains("bag"));
        let skus: Vec<String> = (0..20).map(|i| format!("SKU-{i:06}")).collect();
        let long = ValueSet::new(skus.clone());
        assert!(skus.iter().all(|s| long.contains(s)));
        assert!(!long.contains("SKU-000020"));
        assert!(!long.contains(""));
        assert!(long.contains_any([String::from("x"), skus[7].clone()].iter()));
        assert!(!long.contains_any([String::from("x")].iter()));
    }

    #[test]
    fn it_reads_and_writes_as_the_plain_list_in_its_order() {
        let set: ValueSet = serde_json::from_str(r#"["b","a","c","d","e","a"]"#).unwrap();
        assert_eq!(set.len(), 6);
        assert_eq!(
            serde_json::to_string(&set).unwrap(),
            r#"["b","a","c","d","e","a"]"#
        );
        assert_eq!(set, ValueSet::from(["b", "a", "c", "d", "e", "a"]));
        assert_ne!(set, ValueSet::from(["a", "b", "c", "d", "e", "a"]));
    }

    proptest! {
        #[test]
        fn contains_agrees_with_a_linear_search(
            values in prop::collection::vec("[a-c]{0,3}", 0..12),
            probe in "[a-c]{0,3}",
        ) {
            let set = ValueSet::new(values.clone());
            prop_assert_eq!(set.contains(&probe), values.contains(&probe));
        }
    }
}
