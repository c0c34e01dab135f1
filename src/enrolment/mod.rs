//! Sessions (cohorts of a course run by an organisation) and enrolments in them: self-
//! and admin enrolment, withdrawal, capacity under concurrency, and bulk CSV import.

pub mod access;
pub mod import;
pub mod model;
pub mod routes;
pub mod service;
pub mod store;
