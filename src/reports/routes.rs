//! Reports over HTTP (under `/api/v1`). Checks and look-ups first, so a refusal is a
//! proper problem; then the file is produced on a blocking thread while it is sent.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use chrono::{Datelike, NaiveDate, Utc};

use super::dpc::{self, DpcRecord};
use super::roster::Dashboard;
use super::service;
use crate::app::AppState;
use crate::catalog::model::CourseKind;
use crate::db;
use crate::error::{AppError, Problem};
use crate::http::csv;
use crate::http::stream::stream_blocking;
use crate::http::{attachment, download, Fields};
use crate::identity::auth::CurrentUser;
use crate::identity::store as identity;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/sessions/{id}/report.csv").get(roster_csv))
        .service(web::resource("/sessions/{id}/report.xlsx").get(roster_xlsx))
        .service(web::resource("/sessions/{id}/dashboard").get(dashboard))
        .service(web::resource("/organisations/{id}/dpc-declarations.csv").get(dpc_declarations))
        .service(web::resource("/organisations/{id}/promotion.csv").get(promotion))
        .service(web::resource("/me/dpc").get(my_dpc))
        .service(web::resource("/me/dpc.pdf").get(my_dpc_pdf));
}

type Query = web::Query<HashMap<String, String>>;

fn date(raw: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|d| (2000..=2100).contains(&d.year()))
        .ok_or_else(|| "date AAAA-MM-JJ attendue (entre 2000 et 2100)".into())
}

/// The session's roster, one line per enrolment (its organisation's staff), streamed.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/report.csv", tag = "reports", security(("bearer" = [])), params(("bom" = Option<bool>, Query, description = "byte-order mark first")), responses(
    (status = 200, content_type = "text/csv"), (status = 404, body = Problem),
))]
pub async fn roster_csv(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    query: Query,
) -> Result<HttpResponse, AppError> {
    let mut f = Fields::new();
    let bom = csv::bom(&query, &mut f);
    f.finish()?;
    let (id, s) = (path.into_inner(), state.clone());
    let (session, course) = db::run(&state.pool, move |conn| {
        service::staff_session(conn, &s.courses, &user, &id)
    })
    .await?;
    let pool = state.pool.clone();
    let body = stream_blocking("roster csv", move |out| {
        service::roster_csv(&pool, &course, &session.id, out, bom)
    });
    Ok(download("text/csv; charset=utf-8", "inscrits.csv").streaming(body))
}

/// The same roster as an Excel workbook.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/report.xlsx", tag = "reports", security(("bearer" = [])), responses(
    (status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), (status = 404, body = Problem),
))]
pub async fn roster_xlsx(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (id, s) = (path.into_inner(), state.clone());
    let (session, course) = db::run(&state.pool, move |conn| {
        service::staff_session(conn, &s.courses, &user, &id)
    })
    .await?;
    let pool = state.pool.clone();
    let body = stream_blocking("roster xlsx", move |out| {
        service::roster_xlsx(&pool, &course, &session.id, out)
    });
    Ok(download(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "inscrits.xlsx",
    )
    .streaming(body))
}

/// A session at a glance (its organisation's staff).
#[utoipa::path(get, path = "/api/v1/sessions/{id}/dashboard", tag = "reports", security(("bearer" = [])), responses(
    (status = 200, body = Dashboard), (status = 404, body = Problem),
))]
pub async fn dashboard(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (id, s) = (path.into_inner(), state.clone());
    let (session, course) = db::run(&state.pool, move |conn| {
        service::staff_session(conn, &s.courses, &user, &id)
    })
    .await?;
    let pool = state.pool.clone();
    let figures =
        web::block(move || service::dashboard(&pool, &course, &session.id, Utc::now().naive_utc()))
            .await
            .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))??;
    Ok(HttpResponse::Ok().json(figures))
}

/// The participants who completed the training body's DPC sessions over `from`..`to`
/// (inclusive; default: the current year), for its declarations.
#[utoipa::path(get, path = "/api/v1/organisations/{id}/dpc-declarations.csv", tag = "reports", security(("bearer" = [])), params(
    ("from" = Option<String>, Query, description = "AAAA-MM-JJ"), ("to" = Option<String>, Query, description = "AAAA-MM-JJ"), ("bom" = Option<bool>, Query),
), responses((status = 200, content_type = "text/csv"), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn dpc_declarations(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    query: Query,
) -> Result<HttpResponse, AppError> {
    let today = crate::fr::paris_today();
    let mut f = Fields::new();
    let from = f
        .optional("from", query.get("from").map(String::as_str), date)
        .unwrap_or_else(|| NaiveDate::from_ymd_opt(today.year(), 1, 1).expect("a date"));
    let to = f
        .optional("to", query.get("to").map(String::as_str), date)
        .unwrap_or(today);
    if to < from {
        f.error("to", "la fin précède le début");
    }
    let bom = csv::bom(&query, &mut f);
    f.finish()?;
    let (id, s) = (path.into_inner(), state.clone());
    let sessions = db::run(&state.pool, move |conn| {
        service::staff_sessions(conn, &s.courses, &user, &id, CourseKind::Dpc)
    })
    .await?;
    let pool = state.pool.clone();
    let body = stream_blocking("dpc declarations", move |out| {
        service::dpc_declarations(&pool, &sessions, from, to, out, bom)
    });
    Ok(download("text/csv; charset=utf-8", "declarations-dpc.csv").streaming(body))
}

/// The QVT module's validation per student, for the curriculum's records (a university's
/// or a nursing school's staff); `academic_year` keeps one year's sessions.
#[utoipa::path(get, path = "/api/v1/organisations/{id}/promotion.csv", tag = "reports", security(("bearer" = [])), params(
    ("academic_year" = Option<String>, Query, description = "2026-2027"), ("bom" = Option<bool>, Query),
), responses((status = 200, content_type = "text/csv"), (status = 404, body = Problem)))]
pub async fn promotion(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    query: Query,
) -> Result<HttpResponse, AppError> {
    let mut f = Fields::new();
    let bom = csv::bom(&query, &mut f);
    f.finish()?;
    let year = query.get("academic_year").cloned();
    let (id, s) = (path.into_inner(), state.clone());
    let sessions = db::run(&state.pool, move |conn| {
        let sessions =
            service::staff_sessions(conn, &s.courses, &user, &id, CourseKind::InitialModule)?;
        Ok(sessions
            .into_iter()
            .filter(|(session, _)| year.is_none() || session.academic_year == year)
            .collect::<Vec<_>>())
    })
    .await?;
    let pool = state.pool.clone();
    let body = stream_blocking("promotion", move |out| {
        service::promotion(&pool, &sessions, out, bom)
    });
    Ok(download("text/csv; charset=utf-8", "promotion-module-qvt.csv").streaming(body))
}

fn day_of(query: &Query) -> Result<NaiveDate, AppError> {
    let mut f = Fields::new();
    let day = f.optional("date", query.get("date").map(String::as_str), date);
    f.finish()?;
    Ok(day.unwrap_or_else(crate::fr::paris_today))
}

/// The caller's DPC record over the period a date counts for (default: today).
#[utoipa::path(get, path = "/api/v1/me/dpc", tag = "reports", security(("bearer" = [])), params(("date" = Option<String>, Query, description = "AAAA-MM-JJ")), responses(
    (status = 200, body = DpcRecord), (status = 404, body = Problem),
))]
pub async fn my_dpc(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: Query,
) -> Result<HttpResponse, AppError> {
    let day = day_of(&query)?;
    let record = db::run(&state.pool, move |conn| service::my_dpc(conn, &user, day)).await?;
    Ok(HttpResponse::Ok().json(record))
}

/// The same record as a PDF, to attach to one's DPC traceability document.
#[utoipa::path(get, path = "/api/v1/me/dpc.pdf", tag = "reports", security(("bearer" = [])), responses(
    (status = 200, content_type = "application/pdf"), (status = 404, body = Problem),
))]
pub async fn my_dpc_pdf(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: Query,
) -> Result<HttpResponse, AppError> {
    let day = day_of(&query)?;
    let body = db::run(&state.pool, move |conn| {
        let record = service::my_dpc(conn, &user, day)?;
        let account = identity::account(conn, &user.id)?;
        Ok(dpc::pdf(&account.full_name, &record)?)
    })
    .await?;
    Ok(attachment(body, "application/pdf", "parcours-dpc.pdf"))
}
