//! Reports for the people who run training: a session's roster (CSV, XLSX) and dashboard,
//! a training body's DPC declaration list, a school's promotion export, and the
//! practitioner's own DPC record. Large exports are written page by page and streamed.

pub mod dpc;
pub mod roster;
pub mod routes;
pub mod service;
pub mod store;
