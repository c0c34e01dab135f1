//! Deep Linking 2.0: a teacher, from their LMS course, picks which of our courses to
//! place there; we answer the platform with a signed `LtiDeepLinkingResponse` whose link
//! names the course (custom parameter `course`) and asks for a completion line item.
//!
//! Between the picker page and the choice, the request travels as a token signed by our
//! tool key (15 minutes): no session is needed, and nothing in it can be altered.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::launch::Verified;
use super::model::{self, launch_url, parse_url, DEEP_LINKING_RESPONSE, LTI_VERSION};
use super::store;
use super::{frame, origins};
use crate::app::AppState;
use crate::catalog::model::{Course, Quiz, QuizRole};
use crate::catalog::store as catalog;
use crate::db;
use crate::enrolment::model::may_run;
use crate::error::AppError;
use crate::identity::model::Role;
use crate::identity::store as accounts;
use crate::identity::tokens::random_token;
use crate::pages::{self, session::Visitor};

/// The audience of the picker's token: ours, and for this use only.
const AUDIENCE: &str = "qvt-campus lti deep-link";
const PENDING_SECONDS: i64 = 15 * 60;

/// A deep linking request waiting for the teacher's choice.
#[derive(Serialize, Deserialize)]
struct Pending {
    aud: String,
    exp: i64,
    platform_id: String,
    deployment_id: String,
    return_url: String,
    data: Option<serde_json::Value>,
}

/// A visitor without a session (the LMS's frame has none yet).
pub(super) fn visitor() -> Visitor {
    Visitor {
        user: None,
        name: String::new(),
        csrf: String::new(),
        staff: false,
        path: "/lti/launch".into(),
        back: None,
    }
}

/// The page where a teacher picks a course (after a verified deep linking request).
pub async fn picker(state: &AppState, verified: Verified) -> Result<HttpResponse, AppError> {
    if verified.claims.role() == Role::Learner {
        return Err(AppError::forbidden(
            "Seuls les enseignants du cours peuvent y placer une formation.",
        ));
    }
    let settings = verified
        .claims
        .deep_linking
        .as_ref()
        .ok_or_else(|| model::refused("réglages de Deep Linking absents"))?;
    if !settings.accept_types.is_empty()
        && !settings.accept_types.iter().any(|t| t == "ltiResourceLink")
    {
        return Err(AppError::invalid(
            "accept_types",
            "la plateforme n'accepte pas de lien d'activité (ltiResourceLink)",
        ));
    }
    let return_url = parse_url(&settings.deep_link_return_url, !state.settings.https())
        .map_err(|why| AppError::invalid("deep_link_return_url", why))?;
    let platform = verified.platform;
    let pending = Pending {
        aud: AUDIENCE.into(),
        exp: Utc::now().timestamp() + PENDING_SECONDS,
        platform_id: platform.id.clone(),
        deployment_id: verified.claims.deployment_id.clone().unwrap_or_default(),
        return_url,
        data: settings.data.clone(),
    };
    let request = state
        .lti_key
        .sign(&pending, &state.settings.public_url)
        .map_err(AppError::internal)?;
    let organisation_id = platform.organisation_id.clone();
    let cache = state.courses.clone();
    let courses = db::run(&state.pool, move |conn| {
        let kind = accounts::organisation(conn, &organisation_id)?.kind;
        let mut shown = Vec::new();
        for v in catalog::catalogue(conn)? {
            if may_run(kind, v.kind).is_err() {
                continue;
            }
            let (h, m) = (v.duration_minutes / 60, v.duration_minutes % 60);
            let summary = format!("{} leçons · environ {h} h {m:02}", v.lesson_count);
            let course = cache.get(conn, &v.id).map_err(AppError::internal)?;
            let quizzes: Vec<_> = course
                .quizzes
                .iter()
                .filter(|q| scored(q.role))
                .map(|q| serde_json::json!({ "id": q.id, "title": q.title }))
                .collect();
            shown.push(serde_json::json!({
                "slug": v.course_slug, "title": v.title, "summary": summary, "quizzes": quizzes,
            }));
        }
        Ok(shown)
    })
    .await?;
    let mut page = pages::render(
        state,
        &visitor(),
        "lti-choisir",
        "Placer une formation",
        serde_json::json!({ "platform": platform.name, "courses": courses, "request": request }),
    )?;
    frame::mark(&mut page, frame::FRAME_MARKER, &platform.id);
    Ok(page)
}

/// The quizzes a link may point to alone: those whose score is a result.
fn scored(role: QuizRole) -> bool {
    matches!(role, QuizRole::Graded | QuizRole::PostTest)
}

#[derive(Deserialize)]
pub struct Choice {
    pub request: Option<String>,
    pub course: Option<String>,
    /// One quiz of the course, placed alone.
    pub quiz: Option<String>,
}

/// The content item placing `course` (or one of its quizzes), with its grade book column.
fn content_item(public_url: &str, course: &Course, quiz: Option<&Quiz>) -> serde_json::Value {
    let (title, custom, line_item) = match quiz {
        None => (
            course.title.clone(),
            serde_json::json!({ "course": course.slug }),
            serde_json::json!({
                "scoreMaximum": 1, "label": format!("{} — formation terminée", course.title),
                "resourceId": course.slug, "tag": model::COMPLETION_TAG,
            }),
        ),
        Some(q) => (
            q.title.clone(),
            serde_json::json!({ "course": course.slug, "quiz": q.id }),
            serde_json::json!({
                "scoreMaximum": 100, "label": q.title,
                "resourceId": course.slug, "tag": model::quiz_tag(&q.id),
            }),
        ),
    };
    serde_json::json!({
        "type": "ltiResourceLink",
        "title": title,
        "url": launch_url(public_url),
        "custom": custom,
        "lineItem": line_item,
    })
}

/// The teacher's choice: the signed deep linking response, posted back to the platform
/// by the page (a script submits it; the button does without).
pub async fn respond(
    state: web::Data<AppState>,
    form: web::Form<Choice>,
) -> Result<HttpResponse, AppError> {
    let expired = || {
        AppError::unauthorized(
            "Demande expirée : rouvrez le choix de formation depuis votre cours.",
        )
    };
    let form = form.into_inner();
    let pending: Pending = form
        .request
        .as_deref()
        .and_then(|r| state.lti_key.verify(r))
        .filter(|p: &Pending| p.aud == AUDIENCE && p.exp > Utc::now().timestamp())
        .ok_or_else(expired)?;
    let slug = form
        .course
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| AppError::invalid("course", "obligatoire"))?;
    let platform_id = pending.platform_id.clone();
    let cache = state.courses.clone();
    let (platform, course) = db::run(&state.pool, move |conn| {
        let platform = store::platform(conn, &platform_id)?.ok_or_else(expired)?;
        let kind = accounts::organisation(conn, &platform.organisation_id)?.kind;
        let version = catalog::current_version(conn, &slug)
            .map_err(|_| AppError::invalid("course", format!("aucune formation « {slug} »")))?;
        may_run(kind, version.kind).map_err(|why| AppError::invalid("course", why))?;
        let course = cache.get(conn, &version.id).map_err(AppError::internal)?;
        Ok((platform, course))
    })
    .await?;
    let quiz = match form.quiz.as_deref().filter(|q| !q.trim().is_empty()) {
        None => None,
        Some(id) => Some(
            course
                .quizzes
                .iter()
                .find(|q| q.id == id && scored(q.role))
                .ok_or_else(|| {
                    AppError::invalid("quiz", "aucun quiz noté de ce nom dans la formation")
                })?,
        ),
    };
    let item = content_item(&state.settings.public_url, &course, quiz);
    let placed = item["title"].as_str().unwrap_or_default().to_owned();
    let now = Utc::now().timestamp();
    let mut claims = serde_json::json!({
        "iss": platform.client_id,
        "aud": platform.issuer,
        "iat": now,
        "exp": now + 300,
        "nonce": random_token(),
        model::claim("message_type"): DEEP_LINKING_RESPONSE,
        model::claim("version"): LTI_VERSION,
        model::claim("deployment_id"): pending.deployment_id,
        "https://purl.imsglobal.org/spec/lti-dl/claim/content_items": [item],
    });
    if let Some(data) = &pending.data {
        claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] = data.clone();
    }
    let jwt = state
        .lti_key
        .sign(&claims, &state.settings.public_url)
        .map_err(AppError::internal)?;
    let mut page = pages::render(
        &state,
        &visitor(),
        "lti-retour",
        "Retour vers la plateforme",
        serde_json::json!({
            "platform": platform.name, "course": placed,
            "return_url": pending.return_url, "jwt": jwt,
        }),
    )?;
    frame::mark(&mut page, frame::FRAME_MARKER, &platform.id);
    if let Some(origin) = origins::origin(&pending.return_url) {
        frame::mark(&mut page, frame::FORM_TO_MARKER, &origin);
    }
    Ok(page)
}
