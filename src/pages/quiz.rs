//! The page before a quiz: its rules, what it waits for, the attempts so far, and the one
//! button that starts a counted, timed attempt (« Commencer »).

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::page;
use super::render;
use super::session::Visitor;
use crate::app::AppState;
use crate::db;
use crate::quiz::overview::overview;
use crate::quiz::QuizAt;

pub(super) async fn intro(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (enrolment_id, quiz_id) = path.into_inner();
    page(state, visitor, |state, user, visitor| async move {
        let s = state.clone();
        let o = db::run(&state.pool, move |conn| {
            let at_quiz = QuizAt {
                enrolment_id: &enrolment_id,
                quiz_id: &quiz_id,
            };
            overview(conn, &s.courses, &user, at_quiz, chrono::Utc::now().naive_utc())
        })
        .await?;
        let attempts: Vec<_> = o
            .attempts
            .iter()
            .map(|a| {
                let outcome = match (a.submitted, a.percent) {
                    (false, _) => "en cours".to_owned(),
                    (true, Some(p)) => {
                        let score = crate::fr::percent(p);
                        match (o.assessed, a.passed) {
                            (true, Some(true)) => format!("{score}, réussi"),
                            (true, _) => format!("{score}, non réussi"),
                            (false, _) => score,
                        }
                    }
                    (true, None) => "rendue".to_owned(),
                };
                json!({ "href": format!("/tentatives/{}", a.id), "number": a.number, "outcome": outcome })
            })
            .collect();
        let title = o.title.clone();
        render(
            &state,
            &visitor,
            "quiz-intro",
            &title,
            json!({
                "title": o.title, "items": o.item_count, "time_limit": o.time_limit_minutes,
                "max_attempts": o.max_attempts, "attempts_left": o.attempts_left,
                "pass_mark": o.pass_mark, "assessed": o.assessed, "feedback_note": o.feedback_note,
                "can_start": o.can_start, "blocked": o.blocked, "passed": o.passed && o.assessed,
                "resume": o.open_attempt.map(|id| format!("/tentatives/{id}")),
                "action": format!("/apprendre/{}/quiz/{}", o.enrolment_id, o.quiz_id),
                "back": format!("/apprendre/{}", o.enrolment_id),
                "attempts": attempts,
            }),
        )
    })
    .await
}
