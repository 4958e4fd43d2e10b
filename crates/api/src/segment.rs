//! Customer segments.

use serde::{Deserialize, Serialize};
use tessera_core::segment::{MembershipChange, Segment};
use tessera_core::CoreError;
use utoipa::ToSchema;

/// A segment's settings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentBody {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// A segment with its member count.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SegmentOut {
    pub segment_id: String,
    pub name: String,
    pub description: Option<String>,
    pub members: u64,
}

/// Customers to add to and remove from a segment (at most 10000 ids in all).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembersBody {
    #[serde(default)]
    pub add: Vec<String>,
    #[serde(default)]
    pub remove: Vec<String>,
}

pub fn segment_from(segment_id: &str, body: SegmentBody) -> Result<Segment, CoreError> {
    let segment = Segment {
        segment_id: segment_id.to_string(),
        name: body.name.trim().to_string(),
        description: body.description,
    };
    segment.validate()?;
    Ok(segment)
}

pub fn members_from(body: MembersBody) -> Result<MembershipChange, CoreError> {
    let change = MembershipChange {
        add: body.add,
        remove: body.remove,
    };
    change.validate()?;
    Ok(change)
}

pub fn segment_out(segment: &Segment, members: u64) -> SegmentOut {
    SegmentOut {
        segment_id: segment.segment_id.clone(),
        name: segment.name.clone(),
        description: segment.description.clone(),
        members,
    }
}
