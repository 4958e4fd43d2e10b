//! The storage port of Tessera.
//!
//! [`Store`] is what the server needs from a database. Adapters (SQLite, later
//! PostgreSQL) implement it, and they implement the receipt writes by giving the
//! shared orchestration in [`service`] a transaction through [`LedgerTx`]: the
//! decisions (pricing, ledger rules, idempotency) are made once, here and in the core,
//! and each adapter only reads and writes rows. [`contract`] is the test suite every
//! adapter must pass.

pub mod account;
pub mod audit;
pub mod check_ledger;
pub mod check_receipts;
pub mod check_vouchers;
pub mod command;
pub mod contract;
pub mod contract_access;
pub mod contract_accounts;
pub mod contract_crm;
pub mod contract_quotes;
pub mod contract_retries;
pub mod contract_tiers;
pub mod contract_vouchers;
pub mod crm;
pub mod crm_command;
pub mod customer_import;
pub mod error;
pub mod port;
pub mod profile;
pub mod profile_tx;
pub mod quote;
pub mod service;
pub mod tiers;

pub use audit::AuditFilter;
pub use command::*;
pub use error::StoreError;
pub use port::*;
pub use profile::*;
pub use profile_tx::ProfileTx;
