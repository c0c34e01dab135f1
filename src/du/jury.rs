//! The jury's acts, recorded by admins: a decision per learner (a new one revokes the record
//! that stated the old one) and the closing of the minutes once every learner has one.

use chrono::NaiveDate;

use super::cohort::{cohort_view, minutes_closed, CohortView};
use super::file::{current_record, facts, file_of, DuView};
use super::model::{Decision, Mention};
use super::service::{audit, enrolment_for, no_enrolment, now, session_for, Gate};
use super::store::{self, Cohort, DecisionRow};
use crate::catalog::cache::CourseCache;
use crate::certificates;
use crate::db::DbConn;
use crate::enrolment::model::EnrolmentStatus;
use crate::enrolment::store as enrolment_store;
use crate::error::AppError;
use crate::identity::auth::CurrentUser;
use crate::identity::store as identity;

/// A jury decision as an admin records it.
#[derive(Debug, Clone)]
pub struct DecisionInput {
    pub decision: Decision,
    pub mention: Option<Mention>,
    pub decided_on: NaiveDate,
    pub jury: Vec<String>,
    pub reason: Option<String>,
}

pub fn decide(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    enrolment_id: &str,
    input: DecisionInput,
) -> Result<DuView, AppError> {
    conn.write(|c| {
        let (_, session, course) = enrolment_for(c, courses, user, enrolment_id, Gate::Admin)?;
        let enrolment =
            enrolment_store::enrolment_for_update(c, enrolment_id)?.ok_or_else(no_enrolment)?;
        let facts = facts(c, &course, &enrolment.id)?;
        if input.decision != Decision::Absent && !facts.proposal.missing.is_empty() {
            return Err(AppError::conflict(format!(
                "Décision impossible avant la saisie complète : {}.",
                facts.proposal.missing.join(", ")
            ))
            .with_field("decision", "notes, présences ou mémoire manquants"));
        }
        // The jury is sovereign, but a decision against the rules' proposal says why.
        if let Some(proposed) = facts.proposal.decision {
            if input.decision != proposed && input.decision != Decision::Absent && input.reason.is_none() {
                return Err(AppError::invalid(
                    "reason",
                    format!(
                        "la décision diffère de la proposition des règles (« {} ») : indiquez le motif",
                        proposed.label()
                    ),
                ));
            }
        }
        let closed = minutes_closed(c, &session.id)?;
        if closed && input.reason.is_none() {
            return Err(AppError::invalid(
                "reason",
                "procès-verbal clos : une nouvelle décision doit être motivée",
            ));
        }
        let previous = store::decisions_of(c, &enrolment.id)?.pop();
        let row = DecisionRow {
            id: uuid::Uuid::new_v4().to_string(),
            enrolment_id: enrolment.id.clone(),
            decision: input.decision.code().into(),
            mention: input.mention.map(|m| m.code().into()),
            decided_on: input.decided_on,
            jury: serde_json::to_string(&input.jury).map_err(anyhow::Error::from)?,
            reason: input.reason.clone(),
            recorded_by: user.id.clone(),
            recorded_at: now(),
        };
        store::insert_decision(c, &row)?;
        audit(
            c,
            user,
            &session,
            &enrolment,
            "du.decision",
            serde_json::json!({
                "old": previous.as_ref().map(|p| serde_json::json!({"decision": p.decision, "mention": p.mention})),
                "new": {"decision": row.decision, "mention": row.mention},
                "after_minutes_closed": closed,
                "reason": input.reason,
            }),
        )?;
        // A record states one decision: a new one revokes it (an `admis` learner then gets
        // a new record, with a new number).
        if let Some((_, certificate)) = current_record(c, &enrolment.id)? {
            certificates::service::revoke_audited(
                c,
                user,
                &certificate,
                "Décision du jury modifiée",
            )?;
        }
        file_of(c, &course, &enrolment, &session)
    })
}

pub fn close_minutes(
    conn: &mut DbConn,
    courses: &CourseCache,
    user: &CurrentUser,
    session_id: &str,
) -> Result<CohortView, AppError> {
    conn.write(|c| {
        let (session, _) = session_for(c, courses, user, session_id, Gate::Admin)?;
        let mut cohort = store::cohort(c, session_id)?.unwrap_or(Cohort {
            session_id: session_id.to_owned(),
            partner_organisation_id: None,
            responsibles: "[]".into(),
            minutes_closed_at: None,
            minutes_closed_by: None,
            updated_at: now(),
        });
        if cohort.minutes_closed_at.is_some() {
            return Err(AppError::conflict("Le procès-verbal est déjà clos."));
        }
        let mut undecided = 0;
        for (enrolment, _) in enrolment_store::enrolments_of_session(c, session_id)? {
            if enrolment.status == EnrolmentStatus::Active
                && store::decisions_of(c, &enrolment.id)?.is_empty()
            {
                undecided += 1;
            }
        }
        if undecided > 0 {
            return Err(AppError::conflict(format!(
                "{undecided} candidat(s) sans décision du jury : le procès-verbal ne peut être clos."
            )));
        }
        cohort.minutes_closed_at = Some(now());
        cohort.minutes_closed_by = Some(user.id.clone());
        cohort.updated_at = now();
        store::save_cohort(c, &cohort)?;
        identity::audit(
            c,
            Some(&user.id),
            "du.minutes_closed",
            Some(&session.organisation_id),
            Some(session_id),
            serde_json::json!({}),
        )?;
        Ok(cohort_view(&session, Some(cohort)))
    })
}
