//! The learning path: lessons opened and done, time on task measured from heartbeats and
//! kept as intervals (the evidence training bodies show their funders), the traceability
//! record, and completion.

pub mod activities;
pub mod clock;
pub mod commit;
pub mod routes;
pub mod service;
pub mod store;
pub mod trace;

pub use service::Learning;

/// One lesson of one enrolment, the pair every lesson operation is about: named fields, so
/// the two ids (both strings) cannot be passed the wrong way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LessonAt<'a> {
    pub enrolment_id: &'a str,
    pub lesson_id: &'a str,
}
