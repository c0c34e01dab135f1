//! qvt-campus: the e-learning backend for the QVT training of French health professionals.
//!
//! The library holds everything; `main.rs` only parses the command line and calls in here,
//! so integration tests and benchmarks drive exactly the code that runs in production.

pub mod app;
pub mod background;
pub mod catalog;
pub mod certificates;
pub(crate) mod codes;
pub mod completion;
pub mod config;
pub mod db;
pub mod demo;
pub mod du;
pub mod enrolment;
pub mod error;
pub mod fr;
pub mod http;
pub mod identity;
pub mod learning;
pub mod lti;
pub mod mail;
pub mod oidc;
pub mod ops;
pub mod pages;
pub mod pdf;
pub mod private;
pub mod quiz;
pub mod reports;
pub mod resources;
pub mod secret;
pub mod stale;
pub mod startup;
pub mod telemetry;
pub mod templates;
pub mod throttle;
