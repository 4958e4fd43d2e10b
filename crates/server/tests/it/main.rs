//! HTTP integration tests of `tessera-server`: a real server on a loopback port over a
//! fresh SQLite file per test, driven with reqwest. One binary, a module per area.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod access;
mod answers;
mod config;
mod coupons;
mod customers;
mod errors;
mod helpers;
mod import;
mod merges;
mod offline;
mod openapi;
mod privacy;
mod profiles;
mod promotions;
mod quotes;
mod receipts;
mod rewards;
mod segments;
mod self_service;
mod service_desk;
mod staff;
mod tiers;
mod till_profile;
