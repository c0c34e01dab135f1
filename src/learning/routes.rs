//! The learning path over HTTP (under `/api/v1/enrolments/{id}`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::activities::{self, ActivityView, AnswerInput};
use super::service::{self, BeatView, CompleteView, LessonView, ProgressView};
use super::{store, trace};
use crate::app::AppState;
use crate::db;
use crate::enrolment::access::readable_enrolment;
use crate::error::{AppError, Problem};
use crate::http::{attachment, Json};
use crate::identity::auth::{self, CurrentUser};
use crate::identity::store as identity;
use crate::learning::LessonAt;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/enrolments/{id}/lessons/{lesson}").get(open_lesson))
        .service(web::resource("/enrolments/{id}/lessons/{lesson}/complete").post(complete))
        .service(web::resource("/enrolments/{id}/lessons/{lesson}/heartbeat").post(heartbeat))
        .service(
            web::resource("/enrolments/{id}/lessons/{lesson}/activities/{activity}")
                .put(answer_activity),
        )
        .service(web::resource("/enrolments/{id}/progress").get(progress))
        .service(web::resource("/enrolments/{id}/trace.csv").get(trace_csv))
        .service(web::resource("/enrolments/{id}/trace.pdf").get(trace_pdf));
}

/// The lesson a `/enrolments/{id}/lessons/{lesson}` path names.
fn lesson_at<'a>(enrolment_id: &'a str, lesson_id: &'a str) -> LessonAt<'a> {
    LessonAt {
        enrolment_id,
        lesson_id,
    }
}

/// A lesson of the enrolment's pinned version; records the first view.
#[utoipa::path(get, path = "/api/v1/enrolments/{id}/lessons/{lesson}", tag = "learning", security(("bearer" = [])), responses(
    (status = 200, body = LessonView), (status = 404, body = Problem), (status = 409, body = Problem, description = "locked, withdrawn or closed"),
))]
pub async fn open_lesson(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, lesson) = path.into_inner();
    let s = state.clone();
    let view = db::run(&state.pool, move |conn| {
        service::open_lesson(conn, &s.courses, &user, lesson_at(&id, &lesson))
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Records the learner's answer to an activity of an opened lesson (until the course is
/// completed); the answer unlocks the activity's commentary.
#[utoipa::path(put, path = "/api/v1/enrolments/{id}/lessons/{lesson}/activities/{activity}", tag = "learning", security(("bearer" = [])), request_body = AnswerInput, responses(
    (status = 200, body = ActivityView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem),
))]
pub async fn answer_activity(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String, String)>,
    body: Json<AnswerInput>,
) -> Result<HttpResponse, AppError> {
    let (id, lesson, activity) = path.into_inner();
    let s = state.clone();
    let view = db::run(&state.pool, move |conn| {
        activities::answer(
            conn,
            &s.courses,
            &user,
            lesson_at(&id, &lesson),
            &activity,
            body.0,
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Marks a lesson done (after the course's minimum reading time); may complete the course.
#[utoipa::path(post, path = "/api/v1/enrolments/{id}/lessons/{lesson}/complete", tag = "learning", security(("bearer" = [])), responses(
    (status = 200, body = CompleteView), (status = 404, body = Problem), (status = 409, body = Problem),
))]
pub async fn complete(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, lesson) = path.into_inner();
    let s = state.clone();
    let view = db::run(&state.pool, move |conn| {
        service::complete_lesson(conn, &s.courses, &user, lesson_at(&id, &lesson))
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    /// A fresh id per heartbeat (a retry reuses it and counts nothing).
    beat_id: String,
}

/// Sent every 30 s while the lesson is visible and the learner active. The server decides
/// what it is worth; the answer says how many seconds were credited, the lesson's total
/// and what the minimum reading time still needs.
#[utoipa::path(post, path = "/api/v1/enrolments/{id}/lessons/{lesson}/heartbeat", tag = "learning", security(("bearer" = [])), request_body = Heartbeat, responses(
    (status = 200, body = BeatView), (status = 404, body = Problem), (status = 409, body = Problem),
))]
pub async fn heartbeat(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    body: Json<Heartbeat>,
) -> Result<HttpResponse, AppError> {
    let (id, lesson) = path.into_inner();
    let beat_id = body.0.beat_id;
    if beat_id.is_empty() || beat_id.len() > 64 {
        return Err(AppError::invalid("beat_id", "1 à 64 caractères"));
    }
    // The token alone names the account; its last full check (account and enrolment) is
    // what lets a beat be answered from memory.
    let token = auth::token_of(&request)?;
    let account = auth::account_of_token(&state, &token)?;
    let view = match service::heartbeat_from_memory(
        &state.courses,
        &state.learning,
        &account,
        lesson_at(&id, &lesson),
        &beat_id,
    ) {
        Some(view) => view?,
        None => {
            let user = auth::user_of_token(&state, &token).await?;
            let s = state.clone();
            db::run(&state.pool, move |conn| {
                service::heartbeat(
                    conn,
                    &s.courses,
                    &s.learning,
                    &user,
                    lesson_at(&id, &lesson),
                    &beat_id,
                )
            })
            .await?
        }
    };
    // A credit is answered only once written: a crash right after the answer keeps it.
    if view.credited_seconds > 0 {
        state.learning.commits.written().await?;
    }
    Ok(HttpResponse::Ok().json(view))
}

/// Per lesson and quiz: state and time; overall percentage; what completion still needs.
#[utoipa::path(get, path = "/api/v1/enrolments/{id}/progress", tag = "learning", security(("bearer" = [])), responses(
    (status = 200, body = ProgressView), (status = 404, body = Problem),
))]
pub async fn progress(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let s = state.clone();
    let view = db::run(&state.pool, move |conn| {
        service::progress(conn, &s.courses, &user, &id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// The traceability record (relevé de connexion) as CSV, for the learner and the staff of
/// the session's organisation.
#[utoipa::path(get, path = "/api/v1/enrolments/{id}/trace.csv", tag = "learning", security(("bearer" = [])), responses(
    (status = 200, content_type = "text/csv"), (status = 404, body = Problem),
))]
pub async fn trace_csv(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let body = trace_of(state, user, path.into_inner(), |t| t.csv()).await?;
    Ok(attachment(
        body,
        "text/csv; charset=utf-8",
        "releve-de-connexion.csv",
    ))
}

/// The same record as an A4 PDF, ready to hand to a funder.
#[utoipa::path(get, path = "/api/v1/enrolments/{id}/trace.pdf", tag = "learning", security(("bearer" = [])), responses(
    (status = 200, content_type = "application/pdf"), (status = 404, body = Problem),
))]
pub async fn trace_pdf(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let body = trace_of(state, user, path.into_inner(), |t| t.pdf()).await?;
    Ok(attachment(
        body,
        "application/pdf",
        "releve-de-connexion.pdf",
    ))
}

/// The record holds every credit answered (each is written first, see `commit`);
/// rendering runs off the actix workers with the query.
async fn trace_of(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: String,
    render: fn(&trace::Trace) -> anyhow::Result<Vec<u8>>,
) -> Result<Vec<u8>, AppError> {
    let s = state.clone();
    db::run(&state.pool, move |conn| {
        let (enrolment, session) = readable_enrolment(conn, &user, &id)?;
        let course = s.courses.get(conn, &enrolment.course_version_id)?;
        let account = identity::account(conn, &enrolment.account_id)?;
        let intervals = store::intervals_of(conn, &id)?;
        let now = chrono::Utc::now().naive_utc();
        let answers = activities::answers_of(conn, &id)?;
        let record = trace::Trace::new(&account, &session, &course, &intervals, now)
            .with_activities(&course, &answers);
        Ok(render(&record)?)
    })
    .await
}
