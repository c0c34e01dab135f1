//! The quiz engine over HTTP.

use std::collections::BTreeMap;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::overview::QuizOverview;
use super::results::{self, StatisticsView};
use super::service::{self, SavedView};
use super::view::AttemptView;
use crate::app::AppState;
use crate::completion::results::ResultsView;
use crate::db;
use crate::error::{AppError, Problem};
use crate::http::{is_json, parse_json, Json};
use crate::identity::auth::CurrentUser;
use crate::quiz::QuizAt;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/enrolments/{id}/quizzes/{quiz}").get(overview))
        .service(web::resource("/enrolments/{id}/quizzes/{quiz}/attempts").post(start))
        .service(web::resource("/enrolments/{id}/results").get(results))
        .service(web::resource("/enrolments/{id}/accommodation").put(accommodation))
        .service(web::resource("/attempts/{id}").get(show))
        .service(web::resource("/attempts/{id}/answers").put(save))
        .service(web::resource("/attempts/{id}/submit").post(submit))
        .service(web::resource("/sessions/{id}/quizzes/{quiz}/statistics").get(statistics));
}

/// A quiz before starting it: its rules, what it waits for, the attempts so far.
#[utoipa::path(get, path = "/api/v1/enrolments/{id}/quizzes/{quiz}", tag = "quiz", security(("bearer" = [])), responses(
    (status = 200, body = QuizOverview), (status = 404, body = Problem),
))]
pub async fn overview(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, quiz) = path.into_inner();
    let s = state.clone();
    let view = db::run(&state.pool, move |conn| {
        let at_quiz = QuizAt {
            enrolment_id: &id,
            quiz_id: &quiz,
        };
        super::overview::overview(
            conn,
            &s.courses,
            &user,
            at_quiz,
            chrono::Utc::now().naive_utc(),
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Starts an attempt (201), or returns the open one (200): questions without answers.
#[utoipa::path(post, path = "/api/v1/enrolments/{id}/quizzes/{quiz}/attempts", tag = "quiz", security(("bearer" = [])), responses(
    (status = 201, body = AttemptView), (status = 200, body = AttemptView, description = "the attempt already open"),
    (status = 404, body = Problem), (status = 409, body = Problem, description = "not open yet (lessons or quizzes missing, said in `detail`), already passed, no attempt left, withdrawn or closed"),
))]
pub async fn start(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    user.require_confirmed()?;
    let (id, quiz) = path.into_inner();
    let (view, created) = service::start_attempt(&state, user, id, quiz).await?;
    Ok(if created {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Answers {
    /// Question id → answer (see the grading rules); `null` clears an answer.
    #[schema(value_type = Object)]
    answers: BTreeMap<String, Value>,
}

/// Autosaves answers (partial; as often as needed) until the deadline.
#[utoipa::path(put, path = "/api/v1/attempts/{id}/answers", tag = "quiz", security(("bearer" = [])), request_body = Answers, responses(
    (status = 200, body = SavedView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem),
))]
pub async fn save(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: Json<Answers>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let answers = body.0.answers;
    let s = state.clone();
    let saved = db::run(&state.pool, move |conn| {
        service::save(conn, &s.courses, &user, &id, &answers)
    })
    .await?;
    Ok(HttpResponse::Ok().json(saved))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    /// Last answers, merged into the saved ones before grading (optional).
    #[schema(value_type = Object)]
    answers: Option<BTreeMap<String, Value>>,
}

/// Grades the attempt. Send an `Idempotency-Key` header: a replay (same key, same body byte
/// for byte) returns the same result. An empty body grades the saved answers; any other
/// body must be a JSON `Submission`.
#[utoipa::path(post, path = "/api/v1/attempts/{id}/submit", tag = "quiz", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "1–128 visible characters")),
    request_body(content = Submission, description = "optional: an empty body grades the saved answers"), responses(
    (status = 200, body = AttemptView), (status = 400, body = Problem, description = "malformed JSON"),
    (status = 404, body = Problem), (status = 409, body = Problem, description = "already submitted"),
    (status = 415, body = Problem, description = "a body that is not JSON"),
    (status = 422, body = Problem, description = "invalid answers, or the key reused with another body"),
))]
pub async fn submit(
    state: web::Data<AppState>,
    user: CurrentUser,
    request: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let key = match request.headers().get("idempotency-key") {
        None => None,
        Some(value) => match value.to_str() {
            Ok(k) if !k.is_empty() && k.len() <= 128 && k.bytes().all(|b| b.is_ascii_graphic()) => {
                Some(k.to_owned())
            }
            _ => {
                return Err(AppError::invalid(
                    "Idempotency-Key",
                    "1 à 128 caractères visibles",
                ))
            }
        },
    };
    // Read here rather than by an optional extractor, which would take a malformed body
    // for no body and grade the saved answers instead of saying what is wrong.
    let answers = if body.is_empty() {
        None
    } else if !is_json(&request) {
        return Err(AppError::unsupported_media_type("application/json"));
    } else {
        parse_json::<Submission>(&body)?.answers
    };
    let submission = service::Submission {
        key,
        body_hash: service::request_hash(&body),
        answers,
    };
    let view = service::submit_attempt(&state, user, path.into_inner(), submission).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// An attempt; results and feedback as the policy allows.
#[utoipa::path(get, path = "/api/v1/attempts/{id}", tag = "quiz", security(("bearer" = [])), responses(
    (status = 200, body = AttemptView), (status = 404, body = Problem),
))]
pub async fn show(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let s = state.clone();
    let view = db::run(&state.pool, move |conn| {
        service::show(conn, &s.courses, &user, &id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Scores per quiz and the pre/post-test gain of an enrolment.
#[utoipa::path(get, path = "/api/v1/enrolments/{id}/results", tag = "quiz", security(("bearer" = [])), responses(
    (status = 200, body = ResultsView), (status = 404, body = Problem),
))]
pub async fn results(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let s = state.clone();
    let view = db::run(&state.pool, move |conn| {
        results::results(conn, &s.courses, &user, &id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Accommodation {
    /// Extra time on timed quizzes, in percent of the limit (33 for a tiers-temps); 0 removes it.
    extra_time_percent: i32,
}

/// Sets a learner's extra time on timed quizzes; org admins of the session.
#[utoipa::path(put, path = "/api/v1/enrolments/{id}/accommodation", tag = "quiz", security(("bearer" = [])), request_body = Accommodation, responses(
    (status = 200, description = "{extra_time_percent}"), (status = 404, body = Problem), (status = 422, body = Problem),
))]
pub async fn accommodation(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: Json<Accommodation>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let percent = body.0.extra_time_percent;
    let set = db::run(&state.pool, move |conn| {
        service::set_extra_time(conn, &user, &id, percent)
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "extra_time_percent": set })))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatisticsQuery {
    /// `all`: every session of the organisation running the same course.
    scope: Option<String>,
}

/// Item statistics of a quiz (facility, discrimination); tutors and admins of the session.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/quizzes/{quiz}/statistics", tag = "quiz", security(("bearer" = [])), params(StatisticsQuery), responses(
    (status = 200, body = StatisticsView), (status = 404, body = Problem), (status = 422, body = Problem),
))]
pub async fn statistics(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
    query: web::Query<StatisticsQuery>,
) -> Result<HttpResponse, AppError> {
    let all = match query.into_inner().scope.as_deref() {
        None | Some("session") => false,
        Some("all") => true,
        Some(_) => return Err(AppError::invalid("scope", "session ou all")),
    };
    let (id, quiz) = path.into_inner();
    let s = state.clone();
    let view = db::run(&state.pool, move |conn| {
        results::statistics(conn, &s.courses, &user, &id, &quiz, all)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}
