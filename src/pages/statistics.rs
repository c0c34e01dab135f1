//! A quiz's item statistics for a session's staff: how often each question is drawn and
//! answered, how easy it is (facility) and whether it tells strong learners from weak ones
//! (discrimination), with a word on what to do about a question that does not work.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::page;
use super::render;
use super::session::Visitor;
use crate::app::AppState;
use crate::db;
use crate::quiz::results;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/gestion/sessions/{id}/quiz/{quiz}").get(statistics));
}

#[derive(Deserialize)]
struct Scope {
    /// `toutes`: every session of the organisation running the same course version.
    #[serde(default)]
    sessions: String,
}

/// What a reader should make of a question's figures (thresholds usual in item analysis).
fn advice(facility: Option<f64>, discrimination: Option<f64>) -> &'static str {
    match (facility, discrimination) {
        (None, _) => "Pas encore de réponse",
        (_, Some(d)) if d < 0.0 => {
            "À revoir : les meilleurs apprenants y échouent plus que les autres"
        }
        (Some(f), _) if f > 0.9 => "Très facile",
        (Some(f), _) if f < 0.3 => "Très difficile : vérifier l'énoncé et la réponse attendue",
        (_, Some(d)) if d < 0.2 => "Peu discriminante",
        (_, None) => "Trop peu de tentatives pour juger",
        _ => "Satisfaisante",
    }
}

fn percent(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| crate::fr::percent((v * 100.0).round()))
}

async fn statistics(
    state: web::Data<AppState>,
    visitor: Visitor,
    path: web::Path<(String, String)>,
    scope: web::Query<Scope>,
) -> HttpResponse {
    let (session_id, quiz_id) = path.into_inner();
    let all = scope.sessions == "toutes";
    page(state, visitor, |state, user, visitor| async move {
        let s = state.clone();
        let (id, quiz) = (session_id.clone(), quiz_id.clone());
        let (view, title, session_title) = db::run(&state.pool, move |conn| {
            let view = results::statistics(conn, &s.courses, &user, &id, &quiz, all)?;
            let session = crate::enrolment::service::staff_session(conn, &user, &id)?;
            let course = s.courses.get(conn, &session.course_version_id)?;
            let title = course
                .quizzes
                .iter()
                .find(|q| q.id == quiz)
                .map_or(quiz.clone(), |q| q.title.clone());
            Ok((view, title, session.title))
        })
        .await?;
        let items: Vec<Value> = view
            .items
            .iter()
            .map(|i| {
                let st = &i.statistics;
                json!({ "prompt": i.prompt, "drawn": st.drawn, "answered": st.answered,
                        "facility": percent(st.facility),
                        "discrimination": st.discrimination.map_or("—".into(), |d| crate::fr::fixed(d, 2)),
                        "advice": advice(st.facility, st.discrimination) })
            })
            .collect();
        render(
            &state,
            &visitor,
            "gestion-statistiques",
            &format!("Statistiques — {title}"),
            json!({ "session": { "id": session_id, "title": session_title }, "quiz": { "id": quiz_id, "title": title },
                    "attempts": view.attempts, "sessions": view.sessions, "all": all, "items": items }),
        )
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::advice;

    #[test]
    fn questions_that_do_not_work_are_named() {
        assert!(advice(Some(0.5), Some(-0.1)).starts_with("À revoir"));
        assert_eq!(advice(Some(0.95), Some(0.1)), "Très facile");
        assert!(advice(Some(0.2), Some(0.4)).starts_with("Très difficile"));
        assert_eq!(advice(Some(0.6), Some(0.1)), "Peu discriminante");
        assert_eq!(advice(Some(0.6), Some(0.4)), "Satisfaisante");
        assert_eq!(advice(None, None), "Pas encore de réponse");
    }
}
