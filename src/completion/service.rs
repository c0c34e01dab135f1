//! Evaluating completion in the caller's transaction, and the certificate completion
//! earns: issued with it, owed to completions recorded before certificates existed, and
//! re-issued after a correction.

use std::collections::HashSet;

use chrono::{NaiveDateTime, SubsecRound, Utc};

use super::{rules, store};
use crate::catalog::cache::CourseCache;
use crate::catalog::model::Course;
use crate::certificates::model::Achievement;
use crate::certificates::model::CertificateKind;
use crate::certificates::service as certificates;
use crate::certificates::store::{self as certificate_store, Certificate};
use crate::db::{DbConn, Pool};
use crate::enrolment::model::EnrolmentStatus;
use crate::enrolment::store::{self as enrolment_store, Session};
use crate::error::AppError;
use crate::identity::auth::CurrentUser;

/// Microseconds, as PostgreSQL stores them: an in-memory time must equal its stored copy.
fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

fn enrolment_not_found() -> AppError {
    AppError::not_found("Inscription introuvable.")
}

fn certificate_not_found() -> AppError {
    AppError::not_found("Attestation introuvable.")
}

/// Completes the enrolment if it is active and every rule holds; (complete, completed by
/// this call). Only an active enrolment is completed: a withdrawn one keeps its history
/// (a quiz graded after withdrawal included) but is never completed afterwards.
///
/// Callers lock the enrolment (`enrolment_for_update`) before anything else they write
/// (an attempt row included), so that of two events racing to satisfy the last rules, the
/// second sees the first's writes and completes; the lock is taken here again, a no-op for
/// a caller that holds it. Concurrent callers cannot both complete it: the completion row
/// is inserted once.
pub fn evaluate(
    conn: &mut DbConn,
    course: &Course,
    enrolment_id: &str,
) -> Result<(bool, bool), AppError> {
    let Some(enrolment) = enrolment_store::enrolment_for_update(conn, enrolment_id)? else {
        return Err(enrolment_not_found());
    };
    if store::completion(conn, enrolment_id)?.is_some() {
        return Ok((true, false));
    }
    if enrolment.status != EnrolmentStatus::Active {
        return Ok((false, false));
    }
    let done: HashSet<String> = store::lessons_done(conn, enrolment_id)?;
    // Lessons left is the usual answer (a quiz submitted mid-course): no need to read the
    // time and the quizzes, which cost more.
    if course.lessons.iter().any(|l| !done.contains(&l.id)) {
        return Ok((false, false));
    }
    let seconds = store::active_seconds(conn, enrolment_id)?;
    let passed = store::passed_quizzes(conn, enrolment_id)?;
    if !rules::missing_requirements(course, &done, seconds, &passed).is_empty() {
        return Ok((false, false));
    }
    let completed_at = now();
    let now_completed = store::insert_completion(conn, enrolment_id, completed_at, seconds)?;
    if now_completed {
        tracing::info!(enrolment_id, "enrolment completed");
        // Same transaction: no completion without its certificate, and never two.
        issue_certificate(conn, course, enrolment_id, completed_at, seconds)?;
        // And what the learning platforms it came from are owed (nothing for most).
        crate::lti::grades::owe_at_completion(
            conn,
            course,
            &enrolment.session_id,
            &enrolment.account_id,
            completed_at,
        )?;
    }
    Ok((true, now_completed))
}

/// What the learning records say of the holder at completion, for the certificate written
/// at `at`: when they started, and their results as the feedback policies let them show.
pub fn achievement(
    conn: &mut DbConn,
    course: &Course,
    enrolment_id: &str,
    session: &Session,
    completed_at: NaiveDateTime,
    at: NaiveDateTime,
) -> Result<Achievement, AppError> {
    let attempts = store::scored_until(conn, enrolment_id, completed_at)?;
    Ok(Achievement {
        started_at: store::first_viewed_at(conn, enrolment_id)?,
        evaluation: rules::evaluation(course, &attempts, session.closed_at, at),
    })
}

/// Issues the certificate of a just-completed enrolment, in the transaction that records
/// the completion, which happens once per enrolment; the partial unique index on
/// `certificates (enrolment_id)` backs that up.
pub fn issue_certificate(
    conn: &mut DbConn,
    course: &Course,
    enrolment_id: &str,
    completed_at: NaiveDateTime,
    measured_seconds: i64,
) -> Result<Certificate, AppError> {
    let (enrolment, session) = enrolment_store::enrolment_with_session(conn, enrolment_id)?
        .ok_or_else(enrolment_not_found)?;
    let issued_at = now();
    let achievement = achievement(
        conn,
        course,
        enrolment_id,
        &session,
        completed_at,
        issued_at,
    )?;
    let snapshot = certificates::snapshot(
        conn,
        course,
        &enrolment,
        &session,
        completed_at,
        measured_seconds,
        issued_at,
        achievement,
    )?;
    certificates::write(
        conn,
        &enrolment,
        &session,
        &snapshot,
        course.kind.into(),
        None,
    )
}

/// Issues the certificates owed for completions recorded without one (before this feature
/// existed): each in its own transaction, under the enrolment's lock, so several instances
/// running this at once still issue one. Returns how many were issued.
pub fn issue_missing(pool: &Pool, courses: &CourseCache) -> anyhow::Result<usize> {
    let mut conn = pool.get()?;
    let mut issued = 0;
    for (enrolment_id, completed_at, seconds) in
        certificate_store::completions_without_certificate(&mut conn, 200)?
    {
        let done = conn.write(|c| -> Result<bool, AppError> {
            let enrolment = enrolment_store::enrolment_for_update(c, &enrolment_id)?
                .ok_or_else(enrolment_not_found)?;
            if !certificate_store::of_enrolment(c, &enrolment_id)?.is_empty() {
                return Ok(false);
            }
            let course = courses.get(c, &enrolment.course_version_id)?;
            issue_certificate(c, &course, &enrolment_id, completed_at, i64::from(seconds))?;
            Ok(true)
        });
        match done {
            Ok(done) => issued += usize::from(done),
            Err(e) => tracing::error!(%enrolment_id, error = %e, "certificate owed but not issued"),
        }
    }
    if issued > 0 {
        tracing::info!(issued, "certificates issued for earlier completions");
    }
    Ok(issued)
}

/// A corrected certificate: a new snapshot of the same completion (after the holder's name
/// or the session's references were fixed), a new code, and the old one revoked, linked.
pub fn reissue(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    id: &str,
    reason: &str,
) -> Result<Certificate, AppError> {
    conn.write(|c| {
        let old = certificates::revocable(c, user, id)?;
        if old.kind == CertificateKind::DuRecord && old.revoked_at.is_some() {
            return Err(AppError::conflict(
                "Un relevé de diplôme révoqué ne se redélivre que sur une nouvelle décision du jury.",
            ));
        }
        // The enrolment's lock serialises re-issues of its certificates.
        let enrolment = enrolment_store::enrolment_for_update(c, &old.enrolment_id)?
            .ok_or_else(certificate_not_found)?;
        if certificate_store::replacement_of(c, &old.id)?.is_some() {
            return Err(AppError::conflict(
                "Cette attestation a déjà été remplacée : corrigez la plus récente.",
            ));
        }
        // A certificate revoked earlier (without replacement) can still be replaced.
        certificates::revoke_for_reissue(c, user, &old, reason, now())?;
        let session = enrolment_store::session(c, &old.session_id)?
            .ok_or_else(certificate_not_found)?;
        let course = courses.get(c, &enrolment.course_version_id)?;
        // The facts of the completion, not what was recorded after it.
        // (A DU record may be issued by the jury without the online completion: then its
        // own dates stand.)
        let previous = certificates::snapshot_of(&old)?;
        let (completed_at, seconds) = store::completion_with_seconds(c, &enrolment.id)?
            .unwrap_or((
                previous.completed_on.and_time(chrono::NaiveTime::MIN),
                i32::try_from(previous.measured_seconds).unwrap_or(i32::MAX),
            ));
        let issued_at = now();
        let achievement = achievement(c, &course, &enrolment.id, &session, completed_at, issued_at)?;
        let mut snapshot = certificates::snapshot(
            c,
            &course,
            &enrolment,
            &session,
            completed_at,
            i64::from(seconds),
            issued_at,
            achievement,
        )?;
        // A completion record keeps the jury's facts; only the holder's data is refreshed.
        snapshot.du_record = previous.du_record;
        let new = certificates::write(
            c,
            &enrolment,
            &session,
            &snapshot,
            old.kind,
            Some(old.id.clone()),
        )?;
        certificate_store::move_du_record(c, &old.id, &new.id)?;
        Ok(new)
    })
}
