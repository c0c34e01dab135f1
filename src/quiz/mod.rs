//! The quiz engine: papers drawn at start, answers saved as the learner goes, grading on
//! the server by pure functions, deadlines enforced, results shown only as the quiz's
//! feedback policy allows, item statistics for the people who write the questions.

mod decide;
mod facts;
pub mod grade;
pub mod overview;
pub mod paper;
pub mod results;
pub mod routes;
pub mod service;
pub mod stats;
pub mod store;
pub mod view;

/// One quiz of one enrolment: named fields, so the two ids (both strings) cannot be passed
/// the wrong way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuizAt<'a> {
    pub enrolment_id: &'a str,
    pub quiz_id: &'a str,
}
