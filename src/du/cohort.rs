//! A cohort's settings as its admins give them (partner university, responsibles), and
//! whether its jury minutes are closed, which freezes what the jury decided on.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::service::{now, session_for, Gate};
use super::store::{self, Cohort};
use crate::catalog::cache::CourseCache;
use crate::db::DbConn;
use crate::enrolment::store::Session;
use crate::error::AppError;
use crate::identity::auth::{require_org_admin, CurrentUser};
use crate::identity::model::OrgKind;
use crate::identity::store as identity;

/// The cohort's settings as an admin gives them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CohortView {
    pub session_id: String,
    pub academic_year: Option<String>,
    pub partner_organisation_id: Option<String>,
    pub responsibles: Vec<String>,
    #[serde(with = "crate::http::timestamps::utc_option")]
    pub minutes_closed_at: Option<NaiveDateTime>,
}

pub(super) fn cohort_view(session: &Session, cohort: Option<Cohort>) -> CohortView {
    CohortView {
        session_id: session.id.clone(),
        academic_year: session.academic_year.clone(),
        partner_organisation_id: cohort
            .as_ref()
            .and_then(|c| c.partner_organisation_id.clone()),
        responsibles: cohort
            .as_ref()
            .and_then(|c| serde_json::from_str(&c.responsibles).ok())
            .unwrap_or_default(),
        minutes_closed_at: cohort.and_then(|c| c.minutes_closed_at),
    }
}

pub fn set_cohort(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    session_id: &str,
    partner: Option<String>,
    responsibles: Vec<String>,
) -> Result<CohortView, AppError> {
    conn.write(|c| {
        let (session, _) = session_for(c, courses, user, session_id, Gate::Admin)?;
        if let Some(partner) = &partner {
            // Its name is signed into the records: its own admins must agree.
            let org = require_org_admin(c, user, partner).map_err(|_| {
                AppError::invalid(
                    "partner_organisation_id",
                    "université inconnue ou dont vous n'êtes pas administrateur",
                )
            })?;
            if org.kind != OrgKind::University || org.id == session.organisation_id {
                return Err(AppError::invalid(
                    "partner_organisation_id",
                    "une autre université est attendue",
                ));
            }
        }
        let existing = store::cohort(c, session_id)?;
        let cohort = Cohort {
            session_id: session_id.to_owned(),
            partner_organisation_id: partner,
            responsibles: serde_json::to_string(&responsibles).map_err(anyhow::Error::from)?,
            minutes_closed_at: existing.as_ref().and_then(|e| e.minutes_closed_at),
            minutes_closed_by: existing.and_then(|e| e.minutes_closed_by),
            updated_at: now(),
        };
        store::save_cohort(c, &cohort)?;
        identity::audit(
            c,
            Some(&user.id),
            "du.cohort",
            Some(&session.organisation_id),
            Some(session_id),
            serde_json::json!({
                "partner_organisation_id": cohort.partner_organisation_id,
                "responsibles": cohort.responsibles,
            }),
        )?;
        Ok(cohort_view(&session, Some(cohort)))
    })
}

pub fn cohort_of(conn: &mut DbConn, session: &Session) -> Result<CohortView, AppError> {
    let cohort = store::cohort(conn, &session.id)?;
    Ok(cohort_view(session, cohort))
}

pub(super) fn minutes_closed(conn: &mut DbConn, session_id: &str) -> Result<bool, AppError> {
    Ok(store::cohort(conn, session_id)?.is_some_and(|c| c.minutes_closed_at.is_some()))
}
