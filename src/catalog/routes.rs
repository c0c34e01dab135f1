//! The public catalogue: `GET /api/v1/courses` and `GET /api/v1/courses/{slug}`. Outlines
//! only: questions and answers never leave the server here.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::CourseOutline;
use super::store;
use crate::app::AppState;
use crate::catalog::model::CourseKind;
use crate::db;
use crate::error::{AppError, Problem};

/// The catalogue endpoints, mounted under `/api/v1`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/courses").get(list))
        .service(web::resource("/courses/problems").get(problems))
        .service(web::resource("/courses/{slug}").get(outline));
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CatalogueEntry {
    pub slug: String,
    pub title: String,
    /// `initial_module`, `dpc` or `du`.
    pub kind: CourseKind,
    pub duration_hours: f64,
    /// The author's version label.
    pub version: String,
    /// The stored version enrolments pin.
    pub version_id: String,
    pub lesson_count: i32,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct BrokenCourse {
    pub slug: String,
    /// Each `path:line: message`, as `qvt-campus courses check` prints it.
    pub problems: Vec<String>,
}

/// Courses whose files were broken when the instance started: their last good version is
/// served meanwhile (platform administrators).
#[utoipa::path(get, path = "/api/v1/courses/problems", tag = "catalogue", security(("bearer" = [])), responses(
    (status = 200, body = [BrokenCourse]), (status = 401, body = Problem), (status = 403, body = Problem),
))]
pub async fn problems(
    state: web::Data<AppState>,
    user: crate::identity::auth::CurrentUser,
) -> Result<HttpResponse, AppError> {
    user.require_platform_admin()?;
    let broken: Vec<BrokenCourse> = state
        .broken_courses
        .iter()
        .map(|(slug, problems)| BrokenCourse {
            slug: slug.clone(),
            problems: problems.clone(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(broken))
}

/// Every course of the platform, in its current version.
#[utoipa::path(get, path = "/api/v1/courses", tag = "catalogue", responses((status = 200, body = [CatalogueEntry])))]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let rows = db::run(&state.pool, |conn| Ok(store::catalogue(conn)?)).await?;
    let entries: Vec<CatalogueEntry> = rows
        .into_iter()
        .map(|v| CatalogueEntry {
            slug: v.course_slug,
            title: v.title,
            kind: v.kind,
            duration_hours: f64::from(v.duration_minutes) / 60.0,
            version: v.version_label,
            version_id: v.id,
            lesson_count: v.lesson_count,
        })
        .collect();
    Ok(HttpResponse::Ok().json(entries))
}

/// The outline of a course: objectives, units, lessons, quizzes (never their questions).
#[utoipa::path(get, path = "/api/v1/courses/{slug}", tag = "catalogue", responses(
    (status = 200, body = CourseOutline), (status = 404, body = Problem),
))]
pub async fn outline(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let slug = path.into_inner();
    let outline = db::run(&state.pool, move |conn| {
        let version = store::current_version(conn, &slug).map_err(|e| match e {
            diesel::result::Error::NotFound => {
                AppError::not_found(format!("Aucune formation « {slug} »."))
            }
            other => other.into(),
        })?;
        let course = version.course()?;
        Ok(CourseOutline::of(course, version.id))
    })
    .await?;
    Ok(HttpResponse::Ok().json(outline))
}
