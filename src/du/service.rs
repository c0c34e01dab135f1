//! What every DU action shares: who may act (`Gate`), the DU session or enrolment acted on,
//! the audit of a change with its old value. The actions live by concern in `cohort`,
//! `grades`, `jury`, `file`, `records` and `transcript`; they are re-exported here so that
//! routes and pages keep one path to them.

use std::sync::Arc;

use chrono::{NaiveDateTime, SubsecRound, Utc};

pub use super::cohort::{cohort_of, set_cohort, CohortView};
pub use super::file::{file_of, view, DecisionView, DuView, RecordView, ThesisView};
pub use super::grades::{set_attendance, set_grade, set_thesis, SeminarDay, ThesisInput};
pub use super::jury::{close_minutes, decide, DecisionInput};
pub use super::model::UnitAt;
pub use super::records::{issue_record, issue_records};
pub use super::transcript::{transcript, Transcript, TranscriptLine};
use crate::catalog::cache::CourseCache;
use crate::catalog::model::{Course, CourseKind};
use crate::db::DbConn;
use crate::enrolment::store::{self as enrolment_store, Enrolment, Session};
use crate::error::AppError;
use crate::identity::auth::{require_org_admin, require_staff, CurrentUser};
use crate::identity::store as identity;

pub(super) fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

fn no_session() -> AppError {
    AppError::not_found("Session introuvable.")
}

pub(super) fn no_enrolment() -> AppError {
    AppError::not_found("Inscription introuvable.")
}

/// Who may act: tutors and admins enter grades, admins decide.
#[derive(Clone, Copy, PartialEq)]
pub enum Gate {
    Staff,
    Admin,
    /// The learner themself, or the staff.
    Reader,
}

fn check(
    conn: &mut DbConn,
    user: &CurrentUser,
    session: &Session,
    owner: Option<&str>,
    gate: Gate,
    hidden: fn() -> AppError,
) -> Result<(), AppError> {
    if gate == Gate::Reader && owner == Some(user.id.as_str()) {
        return Ok(());
    }
    let allowed = match gate {
        Gate::Admin => require_org_admin(conn, user, &session.organisation_id).map(drop),
        Gate::Staff | Gate::Reader => require_staff(conn, user, &session.organisation_id).map(drop),
    };
    match gate {
        // Someone who may not read it learns nothing, not even that it exists.
        Gate::Reader => allowed.map_err(|_| hidden()),
        _ => allowed.map_err(|e| e.not_found_as(hidden)),
    }
}

fn du_course(
    conn: &mut DbConn,
    courses: &CourseCache,
    session: &Session,
) -> Result<Arc<Course>, AppError> {
    let course = courses.get(conn, &session.course_version_id)?;
    if course.kind != CourseKind::Du {
        return Err(AppError::conflict(
            "Cette session n'est pas celle d'un diplôme d'université.",
        ));
    }
    Ok(course)
}

/// A DU session, for whom `gate` lets in.
pub fn session_for(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    session_id: &str,
    gate: Gate,
) -> Result<(Session, Arc<Course>), AppError> {
    let session = enrolment_store::session(conn, session_id)?.ok_or_else(no_session)?;
    check(conn, user, &session, None, gate, no_session)?;
    let course = du_course(conn, courses, &session)?;
    Ok((session, course))
}

/// An enrolment of a DU session, for whom `gate` lets in.
pub fn enrolment_for(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    enrolment_id: &str,
    gate: Gate,
) -> Result<(Enrolment, Session, Arc<Course>), AppError> {
    let enrolment = enrolment_store::enrolment(conn, enrolment_id)?.ok_or_else(no_enrolment)?;
    let session =
        enrolment_store::session(conn, &enrolment.session_id)?.ok_or_else(no_enrolment)?;
    check(
        conn,
        user,
        &session,
        Some(&enrolment.account_id),
        gate,
        no_enrolment,
    )?;
    let course = du_course(conn, courses, &session)?;
    Ok((enrolment, session, course))
}

pub(super) fn audit(
    conn: &mut DbConn,
    user: &CurrentUser,
    session: &Session,
    enrolment: &Enrolment,
    action: &str,
    details: serde_json::Value,
) -> Result<(), AppError> {
    let mut details = details;
    details["enrolment_id"] = enrolment.id.clone().into();
    identity::audit(
        conn,
        Some(&user.id),
        action,
        Some(&session.organisation_id),
        Some(&enrolment.account_id),
        details,
    )?;
    Ok(())
}
