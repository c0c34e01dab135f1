//! The learning path: lessons opened and done, time on task measured from heartbeats and
//! kept as intervals (the evidence training bodies show their funders), the traceability
//! record, and completion.

pub mod clock;
pub mod routes;
pub mod service;
pub mod store;
pub mod trace;

pub use service::Learning;
