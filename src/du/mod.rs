//! The university diploma "Soigner les soignants" as universities run it: per cohort,
//! seminar attendance, unit grades and the thesis entered by tutors; the jury's decisions
//! and minutes recorded by admins; numbered completion records issued as certificates
//! (same verification and VC-JWT); the registrar's transcript.

mod cohort;
mod file;
mod grades;
mod jury;
pub mod model;
mod records;
pub mod routes;
pub mod service;
pub mod store;
pub mod transcript;
