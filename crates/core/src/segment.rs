//! Customer segments: named sets of customers that promotions can be for
//! (`audience.segments`). Membership is kept explicitly (added and removed through the
//! API, e.g. from a marketer's list); rule-based segments computed from purchase
//! behaviour come with the CRM.

use crate::catalog::{validate_id, validate_name};
use crate::error::CoreError;
use serde::{Deserialize, Serialize};

/// The most customers one membership change may name.
pub const MAX_MEMBERS_PER_CHANGE: usize = 10_000;

/// A segment of customers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub segment_id: String,
    pub name: String,
    pub description: Option<String>,
}

impl Segment {
    /// Checks the segment's fields.
    pub fn validate(&self) -> Result<(), CoreError> {
        validate_id("segment_id", &self.segment_id)?;
        validate_name("name", &self.name)?;
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 2000)
        {
            return Err(CoreError::invalid(
                "description",
                "must be at most 2000 characters",
            ));
        }
        Ok(())
    }
}

/// Customers to add to and remove from a segment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MembershipChange {
    pub add: Vec<String>,
    pub remove: Vec<String>,
}

impl MembershipChange {
    /// Checks the ids: valid, at most [`MAX_MEMBERS_PER_CHANGE`] in all, none both
    /// added and removed.
    pub fn validate(&self) -> Result<(), CoreError> {
        if self.add.len() + self.remove.len() > MAX_MEMBERS_PER_CHANGE {
            return Err(CoreError::invalid(
                "add",
                format!("a change names at most {MAX_MEMBERS_PER_CHANGE} customers"),
            ));
        }
        for (list, ids) in [("add", &self.add), ("remove", &self.remove)] {
            for (idx, id) in ids.iter().enumerate() {
                validate_id(&format!("{list}[{idx}]"), id)?;
            }
        }
        if let Some((idx, _)) = self
            .remove
            .iter()
            .enumerate()
            .find(|(_, id)| self.add.contains(id))
        {
            return Err(CoreError::invalid(
                format!("remove[{idx}]"),
                "a customer cannot be added and removed at once",
            ));
        }
        Ok(())
    }
}
