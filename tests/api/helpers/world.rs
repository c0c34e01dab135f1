//! A session of a course that is completed by reading its lessons, and learners going
//! through it up to their certificate.

use reqwest::Method;
use serde_json::{json, Value};

use super::{course_with_completion, day, lesson_ids, setup_with, Setup};
use crate::journeys::User;

const COURSE: &str = "qvt-formation-initiale";
/// The learners' name, with accents.
pub const NAME: &str = "Zoé Lefèvre-Müller";

pub struct World {
    pub s: Setup,
    pub course: &'static str,
    pub session: String,
    pub lessons: Vec<String>,
    _courses: tempfile::TempDir,
}

pub struct Learner {
    pub user: User,
    pub enrolment: String,
}

/// The university's QVT module session, students to come.
pub async fn world() -> World {
    world_of(COURSE).await
}

/// A session of `course`: the university's, or the training body's for a DPC course.
pub async fn world_of(course: &'static str) -> World {
    world_with(course, |_| {}).await
}

/// Like [`world_of`], the settings adjusted by `customize`.
pub async fn world_with(
    course: &'static str,
    customize: impl FnOnce(&mut qvt_campus::config::Settings),
) -> World {
    // Completed by reading every lesson (no minimum time, no quiz).
    let courses = course_with_completion(course, "min_lesson_seconds = 0");
    let dir = courses.path().to_path_buf();
    let s = setup_with(|s| {
        s.courses_dir = dir;
        customize(s);
    })
    .await;
    let session = if course.starts_with("dpc-") {
        let body = json!({ "course": course, "title": "Session de printemps", "opens_on": day(-1), "closes_on": day(10),
                           "enrolment_mode": "open", "dpc_action_ref": "1234 5678 901", "dpc_session_no": "3", "dpc_orientation": "12" });
        s.session(&s.odpc_admin, &s.training_body, body).await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    } else {
        s.qvt_session(json!({})).await
    };
    let lessons = lesson_ids(&s.app, course).await;
    World {
        s,
        course,
        session,
        lessons,
        _courses: courses,
    }
}

impl World {
    /// A student enrolled in the session, named with accents, every lesson but the last done.
    pub async fn nearly_done(&self, email: &str) -> Learner {
        let user = self.s.app.learner(email).await;
        let renamed = self
            .s
            .app
            .call(
                Method::PATCH,
                "/api/v1/me",
                &user.token,
                Some(&json!({ "full_name": NAME })),
            )
            .await;
        assert_eq!(renamed.status().as_u16(), 200);
        self.nearly_done_as(user).await
    }

    /// `user` enrolled in the session, every lesson but the last done.
    pub async fn nearly_done_as(&self, user: User) -> Learner {
        let enrolment: Value = self
            .s
            .enrol(&user, &self.session, json!({}))
            .await
            .json()
            .await
            .unwrap();
        let learner = Learner {
            user,
            enrolment: enrolment["id"].as_str().unwrap().to_owned(),
        };
        let (last, rest) = self.lessons.split_last().unwrap();
        for lesson in rest {
            self.open(&learner, lesson).await;
            assert_eq!(self.complete(&learner, lesson).await.status().as_u16(), 200);
        }
        self.open(&learner, last).await;
        learner
    }

    /// Opens the lesson and does its activities.
    pub async fn open(&self, l: &Learner, lesson: &str) {
        self.s
            .app
            .work_through(&l.user.token, &l.enrolment, lesson)
            .await;
    }

    pub async fn complete(&self, l: &Learner, lesson: &str) -> reqwest::Response {
        let path = format!(
            "/api/v1/enrolments/{}/lessons/{lesson}/complete",
            l.enrolment
        );
        self.s.app.post_as(&l.user.token, &path, &json!({})).await
    }

    /// Completes the course and returns the learner's certificate.
    pub async fn certified(&self, email: &str) -> (Learner, Value) {
        let learner = self.nearly_done(email).await;
        self.finish(learner).await
    }

    /// The last lesson done: the learner and their certificate.
    pub async fn finish(&self, learner: Learner) -> (Learner, Value) {
        let done = self.complete(&learner, self.lessons.last().unwrap()).await;
        assert_eq!(done.json::<Value>().await.unwrap()["completed_now"], true);
        let certificate = self.my_certificates(&learner).await[0].clone();
        (learner, certificate)
    }

    pub async fn my_certificates(&self, l: &Learner) -> Vec<Value> {
        self.s
            .app
            .get_json(&l.user.token, "/api/v1/me/certificates")
            .await
    }
}
