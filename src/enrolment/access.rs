//! Who may act on an enrolment: its learner, or the staff of the session's organisation;
//! and whether progress may still be recorded on it. Every capability that works on an
//! enrolment (lessons, quizzes, results) asks here.

use super::store::{self, Enrolment, Session};
use crate::db::DbConn;
use crate::enrolment::model::EnrolmentStatus;
use crate::error::AppError;
use crate::identity::auth::{require_staff, CurrentUser};

/// The answer for an enrolment that does not exist, or not for the caller.
pub fn not_found() -> AppError {
    AppError::not_found("Inscription introuvable.")
}

/// The caller's own enrolment (anyone else's does not exist for them).
pub fn own_enrolment(
    conn: &mut DbConn,
    user: &CurrentUser,
    enrolment_id: &str,
) -> Result<(Enrolment, Session), AppError> {
    store::enrolment_with_session(conn, enrolment_id)?
        .filter(|(e, _)| e.account_id == user.id)
        .ok_or_else(not_found)
}

/// The enrolment, for its learner or the tutors and admins of the session's organisation.
pub fn readable_enrolment(
    conn: &mut DbConn,
    user: &CurrentUser,
    enrolment_id: &str,
) -> Result<(Enrolment, Session), AppError> {
    let (enrolment, session) =
        store::enrolment_with_session(conn, enrolment_id)?.ok_or_else(not_found)?;
    if enrolment.account_id != user.id {
        require_staff(conn, user, &session.organisation_id)
            .map_err(|e| e.not_found_as(not_found))?;
    }
    Ok((enrolment, session))
}

/// Progress is recorded only for an active enrolment in a session that has opened and
/// still runs.
pub fn ensure_recording(enrolment: &Enrolment, session: &Session) -> Result<(), AppError> {
    if enrolment.status != EnrolmentStatus::Active {
        return Err(AppError::conflict(
            "Cette inscription est retirée : la progression n'est plus enregistrée.",
        ));
    }
    if session.opens_on > super::service::today() {
        return Err(AppError::conflict(format!(
            "Cette session ouvre le {} : ses leçons et ses quiz seront accessibles à partir de cette date.",
            crate::fr::date(session.opens_on)
        )));
    }
    if session.closed_at.is_some() {
        return Err(AppError::conflict(
            "Cette session est close : la progression n'est plus enregistrée.",
        ));
    }
    Ok(())
}
