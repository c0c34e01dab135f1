//! Completion: the rules that say an enrolment is complete, evaluated in the transaction of
//! the event that may satisfy the last of them, and the certificate that completion earns,
//! issued in that same transaction (and re-issued after a correction).
//!
//! Learning (lessons done, time flushed) and quiz (a passing grade) call [`evaluate`]; this
//! module reads their records through its own queries (`store`) and never calls them, and
//! certificates only write what this module hands them: quiz → completion → certificates
//! and learning → completion → certificates, with no way back.

pub mod results;
pub mod routes;
pub mod rules;
pub mod service;
pub mod store;

pub use service::{evaluate, issue_missing};
