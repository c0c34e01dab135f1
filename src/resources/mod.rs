//! An organisation's local resources (helpline, occupational health, referents, emergency
//! conduct…): the catalogue of fields, the values its admins give them (API and page), and
//! how a lesson shows them to a learner of that organisation.

pub mod fields;
pub mod fill;
pub mod routes;
pub mod service;
pub mod store;
