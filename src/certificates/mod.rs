//! Certificates: issued once per completed enrolment inside the completion transaction,
//! with an immutable snapshot of what they attest; rendered as PDF and HTML from the
//! templates in `templates/certificates/`; signed as Open Badges 3.0 VC-JWTs; revocable
//! through a Bitstring Status List; verifiable by anyone from their code.

pub mod credential;
pub mod keys;
pub mod model;
pub mod render;
pub mod routes;
pub mod service;
pub mod status;
pub mod store;
