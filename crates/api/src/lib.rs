//! Wire types of the Tessera HTTP API v1: what POS integrators and the back office
//! send and receive. They are separate from the core's domain types: requests are
//! converted (and validated) into domain values, and responses are built from them.
//! The OpenAPI document is generated from these types.

pub mod access;
pub mod account;
pub mod actor;
pub mod config;
pub mod convert;
pub mod coupon;
pub mod customer;
pub mod error;
pub mod import;
pub mod merge;
pub mod privacy;
pub mod profile;
pub mod profile_patch;
pub mod receipt;
pub mod segment;
pub mod service_desk;
pub mod tier;
pub mod timeline;

pub use access::*;
pub use account::*;
pub use actor::*;
pub use config::*;
pub use coupon::*;
pub use customer::*;
pub use error::*;
pub use import::*;
pub use merge::*;
pub use privacy::*;
pub use profile::*;
pub use profile_patch::*;
pub use receipt::*;
pub use segment::*;
pub use service_desk::*;
pub use tier::*;
pub use timeline::*;
