//! The quiz engine: papers drawn at start, answers saved as the learner goes, grading on
//! the server by pure functions, deadlines enforced, results shown only as the quiz's
//! feedback policy allows, item statistics for the people who write the questions.

mod decide;
pub mod grade;
pub mod paper;
pub mod results;
pub mod routes;
pub mod service;
pub mod stats;
pub mod store;
pub mod view;
