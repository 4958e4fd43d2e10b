//! Engine tests of `tessera-core`: pricing tables and properties, the ledger model,
//! and returns. One integration-test binary with a module per area.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod access;
mod adjustment;
mod audit;
mod compact_json;
mod consent;
mod contact;
mod effect_returns;
mod effects;
mod fixtures;
mod import;
mod ledger;
mod ledger_model;
mod matching;
mod one_time_code;
mod otp;
mod pricing;
mod profile;
mod rate;
mod returns;
mod rewards;
mod stacking;
mod tier;
mod tier_history;
mod transfer;
