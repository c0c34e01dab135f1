//! The diploma over HTTP (under `/api/v1`): cohort settings, attendance, grades, thesis,
//! the jury's decisions and minutes, completion records, the registrar's transcript.

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::ToSchema;

use super::model::{Decision, Grade, Mention};
use super::service::{self, CohortView, DecisionInput, DuView, SeminarDay, ThesisInput};
use super::transcript;
use crate::app::AppState;
use crate::db;
use crate::du::service::UnitAt;
use crate::error::{AppError, Problem};
use crate::http::{attachment, csv, Fields, Json};
use crate::identity::auth::CurrentUser;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/sessions/{id}/du")
            .get(cohort)
            .put(set_cohort),
    )
    .service(web::resource("/sessions/{id}/du/minutes/close").post(close_minutes))
    .service(web::resource("/sessions/{id}/du/records").post(issue_records))
    .service(web::resource("/sessions/{id}/du/transcript.csv").get(transcript_csv))
    .service(web::resource("/sessions/{id}/du/transcript.pdf").get(transcript_pdf))
    .service(web::resource("/enrolments/{id}/du").get(file))
    .service(web::resource("/enrolments/{id}/du/units/{unit}/attendance").put(attendance))
    .service(web::resource("/enrolments/{id}/du/units/{unit}/grade").put(grade))
    .service(web::resource("/enrolments/{id}/du/thesis").put(thesis))
    .service(web::resource("/enrolments/{id}/du/decision").post(decide))
    .service(web::resource("/enrolments/{id}/du/record").post(issue_record));
}

/// A name as typed by staff: 1 to `max` characters, no control characters.
fn text(max: usize) -> impl Fn(&str) -> Result<String, String> {
    move |raw| {
        let value = raw.trim();
        if value.is_empty() || value.chars().count() > max {
            Err(format!("1 à {max} caractères"))
        } else if value.chars().any(char::is_control) {
            Err("caractères de contrôle interdits".into())
        } else {
            Ok(value.to_owned())
        }
    }
}

fn names(f: &mut Fields, field: &str, raw: &[String], required: bool) -> Vec<String> {
    if required && raw.is_empty() {
        f.error(field, "au moins un nom");
    }
    if raw.len() > 30 {
        f.error(field, "30 noms au plus");
    }
    raw.iter()
        .enumerate()
        .filter_map(|(i, n)| f.check(&format!("{field}[{i}]"), text(120)(n)))
        .collect()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CohortBody {
    /// The partner university of an inter-university diploma.
    partner_organisation_id: Option<String>,
    /// The responsible academics, as printed on the records.
    #[serde(default)]
    responsibles: Vec<String>,
}

/// The cohort's settings (org admins); the academic year is the session's.
#[utoipa::path(put, path = "/api/v1/sessions/{id}/du", tag = "du", security(("bearer" = [])), request_body = CohortBody, responses(
    (status = 200, body = CohortView), (status = 404, body = Problem), (status = 422, body = Problem),
))]
pub async fn set_cohort(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: Json<CohortBody>,
) -> Result<HttpResponse, AppError> {
    let mut f = Fields::new();
    let responsibles = names(&mut f, "responsibles", &body.0.responsibles, false);
    f.finish()?;
    let (id, s, partner) = (
        path.into_inner(),
        state.clone(),
        body.0.partner_organisation_id,
    );
    let view = db::run(&state.pool, move |conn| {
        service::set_cohort(conn, &s.courses, &user, &id, partner, responsibles)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[utoipa::path(get, path = "/api/v1/sessions/{id}/du", tag = "du", security(("bearer" = [])), responses(
    (status = 200, body = CohortView), (status = 404, body = Problem),
))]
pub async fn cohort(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (id, s) = (path.into_inner(), state.clone());
    let view = db::run(&state.pool, move |conn| {
        let (session, _) =
            service::session_for(conn, &s.courses, &user, &id, service::Gate::Staff)?;
        service::cohort_of(conn, &session)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttendanceBody {
    /// Every seminar day of the unit, replacing what was recorded.
    days: Vec<SeminarDay>,
}

/// A unit's seminar attendance (tutors and admins of the session's organisation).
#[utoipa::path(put, path = "/api/v1/enrolments/{id}/du/units/{unit}/attendance", tag = "du", security(("bearer" = [])), request_body = AttendanceBody, responses(
    (status = 204), (status = 404, body = Problem), (status = 422, body = Problem),
))]
pub async fn attendance(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
    body: Json<AttendanceBody>,
) -> Result<HttpResponse, AppError> {
    let days = body.0.days;
    let mut sorted: Vec<NaiveDate> = days.iter().map(|d| d.day).collect();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != days.len() {
        return Err(AppError::invalid("days", "un jour figure deux fois"));
    }
    if days.len() > 60 {
        return Err(AppError::invalid("days", "60 jours au plus"));
    }
    let ((id, unit), s) = (path.into_inner(), state.clone());
    db::run(&state.pool, move |conn| {
        service::set_attendance(
            conn,
            &s.courses,
            &user,
            UnitAt {
                enrolment_id: &id,
                unit_id: &unit,
            },
            &days,
        )
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GradeBody {
    /// Out of 20, two decimals at most.
    grade: f64,
}

/// A unit's grade (tutors and admins); every change is audited with the old value.
#[utoipa::path(put, path = "/api/v1/enrolments/{id}/du/units/{unit}/grade", tag = "du", security(("bearer" = [])), request_body = GradeBody, responses(
    (status = 204), (status = 404, body = Problem), (status = 422, body = Problem),
))]
pub async fn grade(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
    body: Json<GradeBody>,
) -> Result<HttpResponse, AppError> {
    let grade = Grade::parse(body.0.grade).map_err(|m| AppError::invalid("grade", m))?;
    let ((id, unit), s) = (path.into_inner(), state.clone());
    db::run(&state.pool, move |conn| {
        service::set_grade(
            conn,
            &s.courses,
            &user,
            UnitAt {
                enrolment_id: &id,
                unit_id: &unit,
            },
            grade,
        )
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThesisBody {
    title: String,
    supervisor: String,
    /// Out of 20, once defended.
    grade: Option<f64>,
    defended_on: Option<NaiveDate>,
}

/// The thesis (tutors and admins).
#[utoipa::path(put, path = "/api/v1/enrolments/{id}/du/thesis", tag = "du", security(("bearer" = [])), request_body = ThesisBody, responses(
    (status = 204), (status = 404, body = Problem), (status = 422, body = Problem),
))]
pub async fn thesis(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: Json<ThesisBody>,
) -> Result<HttpResponse, AppError> {
    let body = body.0;
    let mut f = Fields::new();
    let title = f.required("title", Some(&body.title), text(300));
    let supervisor = f.required("supervisor", Some(&body.supervisor), text(120));
    let grade = body.grade.and_then(|g| f.check("grade", Grade::parse(g)));
    f.finish()?;
    let input = ThesisInput {
        title: title.expect("checked"),
        supervisor: supervisor.expect("checked"),
        grade,
        defended_on: body.defended_on,
    };
    let (id, s) = (path.into_inner(), state.clone());
    db::run(&state.pool, move |conn| {
        service::set_thesis(conn, &s.courses, &user, &id, input)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The learner's diploma file: units, attendance, grades, thesis, proposal, decisions,
/// record (the learner and the staff of the session's organisation).
#[utoipa::path(get, path = "/api/v1/enrolments/{id}/du", tag = "du", security(("bearer" = [])), responses(
    (status = 200, body = DuView), (status = 404, body = Problem),
))]
pub async fn file(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (id, s) = (path.into_inner(), state.clone());
    let view = db::run(&state.pool, move |conn| {
        service::view(conn, &s.courses, &user, &id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// `admis`, `ajourne` or `absent`.
    decision: String,
    /// With `admis` only: `passable`, `assez_bien`, `bien`, `tres_bien`.
    mention: Option<String>,
    decided_on: NaiveDate,
    /// The jury members' names.
    jury: Vec<String>,
    /// Required once the minutes are closed.
    reason: Option<String>,
}

/// The jury's decision (org admins). Once the minutes are closed, a new decision needs a
/// reason; every decision is kept and audited.
#[utoipa::path(post, path = "/api/v1/enrolments/{id}/du/decision", tag = "du", security(("bearer" = [])), request_body = DecisionBody, responses(
    (status = 200, body = DuView), (status = 404, body = Problem), (status = 409, body = Problem, description = "grades missing"), (status = 422, body = Problem),
))]
pub async fn decide(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: Json<DecisionBody>,
) -> Result<HttpResponse, AppError> {
    let body = body.0;
    let mut f = Fields::new();
    let decision = f.required("decision", Some(&body.decision), Decision::parse);
    let mention = f.optional("mention", body.mention.as_deref(), Mention::parse);
    if mention.is_some() && decision.is_some_and(|d| d != Decision::Admis) {
        f.error("mention", "une mention ne va qu'avec « admis »");
    }
    let jury = names(&mut f, "jury", &body.jury, true);
    let reason = f.optional("reason", body.reason.as_deref(), text(500));
    f.finish()?;
    let input = DecisionInput {
        decision: decision.expect("checked"),
        mention,
        decided_on: body.decided_on,
        jury,
        reason,
    };
    let (id, s) = (path.into_inner(), state.clone());
    let view = db::run(&state.pool, move |conn| {
        service::decide(conn, &s.courses, &user, &id, input)
    })
    .await?;
    // The decision may have revoked a record: verifiers must see it now.
    state.status_lists.clear();
    Ok(HttpResponse::Ok().json(view))
}

/// Closes the jury's minutes (org admins): decisions become final.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/du/minutes/close", tag = "du", security(("bearer" = [])), responses(
    (status = 200, body = CohortView), (status = 404, body = Problem), (status = 409, body = Problem),
))]
pub async fn close_minutes(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (id, s) = (path.into_inner(), state.clone());
    let view = db::run(&state.pool, move |conn| {
        service::close_minutes(conn, &s.courses, &user, &id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Issues an admitted learner's numbered completion record (org admins, minutes closed):
/// 201 with the new record, 200 with the one in force.
#[utoipa::path(post, path = "/api/v1/enrolments/{id}/du/record", tag = "du", security(("bearer" = [])), responses(
    (status = 201, description = "{number, certificate_id}"), (status = 200, description = "the record in force"), (status = 404, body = Problem), (status = 409, body = Problem),
))]
pub async fn issue_record(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (id, s) = (path.into_inner(), state.clone());
    let (record, new) = db::run(&state.pool, move |conn| {
        service::issue_record(conn, &s.courses, &user, &id)
    })
    .await?;
    let body =
        serde_json::json!({ "number": record.number, "certificate_id": record.certificate_id });
    Ok(if new {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

/// Issues the records of every admitted learner of the cohort who has none yet.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/du/records", tag = "du", security(("bearer" = [])), responses(
    (status = 200, description = "{issued: [numbers]}"), (status = 404, body = Problem), (status = 409, body = Problem),
))]
pub async fn issue_records(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (id, s) = (path.into_inner(), state.clone());
    let issued = db::run(&state.pool, move |conn| {
        service::issue_records(conn, &s.courses, &user, &id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "issued": issued })))
}

/// The cohort's transcript for the registrar, one line per learner (org admins).
#[utoipa::path(get, path = "/api/v1/sessions/{id}/du/transcript.csv", tag = "du", security(("bearer" = [])), params(("bom" = Option<bool>, Query, description = "byte-order mark first")), responses(
    (status = 200, content_type = "text/csv"), (status = 404, body = Problem),
))]
pub async fn transcript_csv(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    query: web::Query<std::collections::HashMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    let mut f = Fields::new();
    let bom = csv::bom(&query, &mut f);
    f.finish()?;
    let body = rendered(state, user, path.into_inner(), move |t| {
        transcript::csv(t, bom)
    })
    .await?;
    Ok(attachment(
        body,
        "text/csv; charset=utf-8",
        "releve-de-notes.csv",
    ))
}

/// The same transcript as an A4 PDF.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/du/transcript.pdf", tag = "du", security(("bearer" = [])), responses(
    (status = 200, content_type = "application/pdf"), (status = 404, body = Problem),
))]
pub async fn transcript_pdf(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let body = rendered(state, user, path.into_inner(), transcript::pdf).await?;
    Ok(attachment(body, "application/pdf", "releve-de-notes.pdf"))
}

async fn rendered(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: String,
    render: impl FnOnce(&service::Transcript) -> anyhow::Result<Vec<u8>> + Send + 'static,
) -> Result<Vec<u8>, AppError> {
    let s = state.clone();
    db::run(&state.pool, move |conn| {
        let t = service::transcript(conn, &s.courses, &user, &id)?;
        Ok(render(&t)?)
    })
    .await
}
