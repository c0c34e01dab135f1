//! Sessions and enrolments over HTTP (under `/api/v1`).

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::model::{self, CreateSession, EnrolmentMode, NewSession};
use super::service::{self, Enroller, SessionPatch};
use super::store::{self, Enrolment, Session};
use crate::app::AppState;
use crate::db;
use crate::enrolment::model::EnrolmentStatus;
use crate::error::{AppError, Problem};
use crate::http::{Fields, Json};
use crate::identity::auth::{require_staff, CurrentUser};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/organisations/{id}/sessions")
            .get(list_for_organisation)
            .post(create),
    )
    .service(web::resource("/sessions").get(public_list))
    .service(web::resource("/sessions/{id}").get(get).patch(update))
    .service(
        web::resource("/sessions/{id}/enrolments")
            .get(list_enrolments)
            .post(enrol),
    )
    .service(web::resource("/sessions/{id}/enrolments/import").post(super::import::import))
    .service(web::resource("/enrolments/{id}").delete(withdraw))
    .service(web::resource("/enrolments/{id}/professional-numbers").put(super::numbers::put))
    .service(web::resource("/me/enrolments").get(my_enrolments));
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    pub organisation_id: String,
    pub course: String,
    pub course_version_id: String,
    pub title: String,
    pub opens_on: NaiveDate,
    pub closes_on: NaiveDate,
    pub capacity: Option<i32>,
    pub enrolled: i32,
    pub seats_left: Option<i32>,
    pub enrolment_mode: EnrolmentMode,
    pub dpc_action_ref: Option<String>,
    pub dpc_session_no: Option<String>,
    /// The orientation prioritaire declared for this DPC session.
    pub dpc_orientation: Option<String>,
    pub odpc_number: Option<String>,
    pub academic_year: Option<String>,
    pub curriculum: Option<String>,
    pub closed: bool,
    /// Only practitioners whose RPPS Pro Santé Connect verified may enrol.
    pub requires_verified_rpps: bool,
}

impl From<Session> for SessionView {
    fn from(s: Session) -> Self {
        Self {
            seats_left: s.capacity.map(|c| (c - s.active_count).max(0)),
            id: s.id,
            organisation_id: s.organisation_id,
            course: s.course_slug,
            course_version_id: s.course_version_id,
            title: s.title,
            opens_on: s.opens_on,
            closes_on: s.closes_on,
            capacity: s.capacity,
            enrolled: s.active_count,
            enrolment_mode: s.enrolment_mode,
            dpc_action_ref: s.dpc_action_ref,
            dpc_session_no: s.dpc_session_no,
            dpc_orientation: s.dpc_orientation,
            odpc_number: s.odpc_number,
            academic_year: s.academic_year,
            curriculum: s.curriculum,
            closed: s.closed_at.is_some(),
            requires_verified_rpps: s.requires_verified_rpps,
        }
    }
}

/// Opens a session of a course, pinned to the course's current version (org admins).
#[utoipa::path(post, path = "/api/v1/organisations/{id}/sessions", tag = "enrolment", security(("bearer" = [])), request_body = CreateSession, responses(
    (status = 201, body = SessionView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem),
))]
pub async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: Json<CreateSession>,
) -> Result<HttpResponse, AppError> {
    let organisation_id = path.into_inner();
    let new = NewSession::try_from(body.0)?;
    let session = db::run(&state.pool, move |conn| {
        service::create_session(conn, &user, &organisation_id, new)
    })
    .await?;
    Ok(HttpResponse::Created().json(SessionView::from(session)))
}

/// The sessions of an organisation (its tutors and admins).
#[utoipa::path(get, path = "/api/v1/organisations/{id}/sessions", tag = "enrolment", security(("bearer" = [])), responses(
    (status = 200, body = [SessionView]), (status = 403, body = Problem), (status = 404, body = Problem),
))]
pub async fn list_for_organisation(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let organisation_id = path.into_inner();
    let sessions = db::run(&state.pool, move |conn| {
        require_staff(conn, &user, &organisation_id)?;
        Ok(store::sessions_of(conn, &organisation_id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(
        sessions
            .into_iter()
            .map(SessionView::from)
            .collect::<Vec<_>>(),
    ))
}

#[derive(Deserialize)]
pub struct CourseFilter {
    course: Option<String>,
}

/// Sessions open to enrolment today (public), optionally for one course.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "enrolment", params(("course" = Option<String>, Query, description = "course slug")), responses((status = 200, body = [SessionView])))]
pub async fn public_list(
    state: web::Data<AppState>,
    query: web::Query<CourseFilter>,
) -> Result<HttpResponse, AppError> {
    let course = query.into_inner().course;
    let sessions = db::run(&state.pool, move |conn| {
        Ok(store::public_sessions(
            conn,
            service::today(),
            course.as_deref(),
        )?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(
        sessions
            .into_iter()
            .map(SessionView::from)
            .collect::<Vec<_>>(),
    ))
}

/// One session, for its organisation's members, or anyone if it takes self-enrolments.
#[utoipa::path(get, path = "/api/v1/sessions/{id}", tag = "enrolment", security(("bearer" = [])), responses(
    (status = 200, body = SessionView), (status = 404, body = Problem),
))]
pub async fn get(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let session = db::run(&state.pool, move |conn| {
        service::visible_session(conn, &user, &id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(SessionView::from(session)))
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSession {
    title: Option<String>,
    opens_on: Option<String>,
    closes_on: Option<String>,
    /// `null` removes the limit.
    #[serde(default, deserialize_with = "present")]
    capacity: Option<Option<i64>>,
    enrolment_mode: Option<String>,
    enrolment_key: Option<String>,
    /// `true` closes the session to new enrolments; `false` reopens it.
    closed: Option<bool>,
    /// Only practitioners whose RPPS Pro Santé Connect verified may enrol from now on.
    requires_verified_rpps: Option<bool>,
}

/// Edits, closes or reopens a session (org admins).
#[utoipa::path(patch, path = "/api/v1/sessions/{id}", tag = "enrolment", security(("bearer" = [])), request_body = UpdateSession, responses(
    (status = 200, body = SessionView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem),
))]
pub async fn update(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: Json<UpdateSession>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let body = body.0;
    let mut f = Fields::new();
    let patch = SessionPatch {
        title: f.optional("title", body.title.as_deref(), model::parse_title),
        opens_on: f.optional("opens_on", body.opens_on.as_deref(), model::parse_date),
        closes_on: f.optional("closes_on", body.closes_on.as_deref(), model::parse_date),
        capacity: match body.capacity {
            None => None,
            Some(None) => Some(None),
            Some(Some(c)) => f.check("capacity", model::parse_capacity(c)).map(Some),
        },
        mode: f.optional(
            "enrolment_mode",
            body.enrolment_mode.as_deref(),
            EnrolmentMode::parse,
        ),
        key: f.optional(
            "enrolment_key",
            body.enrolment_key.as_deref(),
            model::parse_enrolment_key,
        ),
        closed: body.closed,
        requires_verified_rpps: body.requires_verified_rpps,
    };
    f.finish()?;
    let (session, stale) = db::run(&state.pool, move |conn| {
        service::update_session(conn, &user, &id, patch)
    })
    .await?;
    // A closed session stops crediting heartbeats at once.
    state.forget(stale);
    Ok(HttpResponse::Ok().json(SessionView::from(session)))
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct EnrolmentView {
    pub id: String,
    pub session_id: String,
    pub account_id: String,
    pub course_version_id: String,
    pub status: EnrolmentStatus,
    #[serde(with = "crate::http::timestamps::utc")]
    pub enrolled_at: NaiveDateTime,
    #[serde(with = "crate::http::timestamps::utc_option")]
    pub withdrawn_at: Option<NaiveDateTime>,
}

impl From<Enrolment> for EnrolmentView {
    fn from(e: Enrolment) -> Self {
        Self {
            id: e.id,
            session_id: e.session_id,
            account_id: e.account_id,
            course_version_id: e.course_version_id,
            status: e.status,
            enrolled_at: e.enrolled_at,
            withdrawn_at: e.withdrawn_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    /// Self-enrolment in a `key` session.
    enrolment_key: Option<String>,
    /// Enrolment of a member by an org admin.
    user_id: Option<String>,
}

/// Enrols the caller (optionally with the key), or a member when an org admin sends `user_id`.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/enrolments", tag = "enrolment", security(("bearer" = [])), request_body = EnrolRequest, responses(
    (status = 201, body = EnrolmentView), (status = 403, body = Problem), (status = 404, body = Problem),
    (status = 409, body = Problem, description = "full, closed or already enrolled"), (status = 422, body = Problem),
))]
pub async fn enrol(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<String>,
    body: Json<EnrolRequest>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let EnrolRequest {
        enrolment_key,
        user_id,
    } = body.0;
    let from = crate::http::client_ip(&req).to_string();
    let enrolment = db::run(&state.pool, move |conn| {
        let who = match &user_id {
            Some(account_id) => Enroller::Admin { account_id },
            None => Enroller::Learner {
                key: enrolment_key.as_deref(),
                from: &from,
            },
        };
        service::enrol(conn, &user, &id, who)
    })
    .await?;
    Ok(HttpResponse::Created().json(EnrolmentView::from(enrolment)))
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct LearnerView {
    pub enrolment: EnrolmentView,
    pub email: String,
    pub full_name: String,
    pub profession: String,
    pub student_number: Option<String>,
}

/// The learners of a session, active and withdrawn (its organisation's tutors and admins).
#[utoipa::path(get, path = "/api/v1/sessions/{id}/enrolments", tag = "enrolment", security(("bearer" = [])), responses(
    (status = 200, body = [LearnerView]), (status = 403, body = Problem), (status = 404, body = Problem),
))]
pub async fn list_enrolments(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let rows = db::run(&state.pool, move |conn| {
        service::staff_session(conn, &user, &id)?;
        Ok(store::enrolments_of_session(conn, &id)?)
    })
    .await?;
    let views: Vec<LearnerView> = rows
        .into_iter()
        .map(|(e, a)| LearnerView {
            enrolment: e.into(),
            email: a.email,
            full_name: a.full_name,
            profession: a.profession,
            student_number: a.student_number,
        })
        .collect();
    Ok(HttpResponse::Ok().json(views))
}

/// Withdraws an enrolment (its learner, or an admin of the organisation); history is kept.
#[utoipa::path(delete, path = "/api/v1/enrolments/{id}", tag = "enrolment", security(("bearer" = [])), responses(
    (status = 200, body = EnrolmentView), (status = 404, body = Problem), (status = 409, body = Problem),
))]
pub async fn withdraw(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (enrolment, stale) =
        db::run(&state.pool, move |conn| service::withdraw(conn, &user, &id)).await?;
    state.forget(stale);
    Ok(HttpResponse::Ok().json(EnrolmentView::from(enrolment)))
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct MyEnrolment {
    pub enrolment: EnrolmentView,
    pub session: SessionView,
}

/// The caller's enrolments, newest first.
#[utoipa::path(get, path = "/api/v1/me/enrolments", tag = "enrolment", security(("bearer" = [])), responses((status = 200, body = [MyEnrolment])))]
pub async fn my_enrolments(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let rows = db::run(&state.pool, move |conn| {
        Ok(store::enrolments_of_account(conn, &user.id)?)
    })
    .await?;
    let views: Vec<MyEnrolment> = rows
        .into_iter()
        .map(|(e, s)| MyEnrolment {
            enrolment: e.into(),
            session: s.into(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(views))
}
