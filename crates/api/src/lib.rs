//! Wire types of the Tessera HTTP API v1: what POS integrators and the back office
//! send and receive. They are separate from the core's domain types: requests are
//! converted (and validated) into domain values, and responses are built from them.
//! The OpenAPI document is generated from these types.

pub mod config;
pub mod convert;
pub mod coupon;
pub mod customer;
pub mod error;
pub mod receipt;
pub mod segment;

pub use config::*;
pub use coupon::*;
pub use customer::*;
pub use error::*;
pub use receipt::*;
pub use segment::*;
