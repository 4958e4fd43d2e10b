//! Tessera's pure domain: money arithmetic, catalogue, program settings, promotions,
//! receipt pricing and the points ledger rules.
//!
//! Nothing in this crate does I/O, reads a clock or draws a random number: time and
//! ids are parameters. That makes every rule here deterministic and testable by table.

pub mod access;
pub mod adjustment;
pub mod audit;
pub mod catalog;
pub mod certificate;
pub mod compact_json;
pub mod consent;
pub mod contact;
pub mod coupon;
pub mod customer;
pub mod decimal;
pub mod digest;
pub mod error;
pub mod fast_hash;
pub mod import;
pub mod ledger;
pub mod limits;
pub mod matching;
pub mod money;
pub mod one_time_code;
pub mod otp;
pub mod pricing;
pub mod profile;
pub mod program;
pub mod promotion;
pub mod rate;
pub mod receipt;
pub mod refund;
pub mod reward;
pub mod segment;
pub mod snapshot;
pub mod tier;
pub mod transfer;
pub mod value_set;

pub use error::{CoreError, ErrorCode};
