//! Sessions (cohorts of a course run by an organisation) and enrolments in them: self-
//! and admin enrolment, withdrawal, capacity under concurrency, bulk CSV import, and the
//! staff's correction of a DPC learner's professional numbers.

pub mod access;
pub mod import;
pub mod model;
pub mod numbers;
pub mod routes;
pub mod service;
pub mod store;
