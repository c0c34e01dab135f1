//! Names and Role Provisioning Services 2.0: the LMS course's members brought into the
//! session it is placed in — students enrolled (accounts created as at a first launch),
//! teachers made tutors — by a button (with a dry run first, as the CSV import has) and
//! every hour. Members the LMS marks inactive or deleted are reported, not withdrawn:
//! a withdrawal is the organisation's decision, and it ends the proof of training.

use chrono::{Duration, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::client::CallError;
use super::launch::{account_for, grant_role, LmsUser};
use super::model::{display_name, role_of, SCOPE_MEMBERSHIPS};
use super::store::{self, Context, Platform};
use crate::app::AppState;
use crate::db::{self, DbConn};
use crate::enrolment::service as enrolment;
use crate::enrolment::store as enrolments;
use crate::error::AppError;
use crate::identity::model::Role;

const MEMBERSHIPS: &str = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json";
/// A roster read every hour (and at once by the button).
pub const SYNC_EVERY: Duration = Duration::hours(1);
/// The most pages read from one roster (100 000 members at the usual page size).
const MAX_PAGES: usize = 1000;

/// One member as NRPS sends it.
#[derive(Debug, Clone, Deserialize)]
pub struct Member {
    pub user_id: String,
    #[serde(default)]
    pub roles: Vec<String>,
    pub status: Option<String>,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub email: Option<String>,
}

impl Member {
    fn active(&self) -> bool {
        self.status.as_deref().is_none_or(|s| s == "Active")
    }

    fn full_name(&self) -> Option<String> {
        display_name(
            self.name.as_deref(),
            self.given_name.as_deref(),
            self.family_name.as_deref(),
        )
    }
}

/// What a member becomes (or became).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RosterStatus {
    ToEnrol,
    AlreadyEnrolled,
    Teacher,
    /// Inactive or deleted in the LMS: left as is here.
    LeftAside,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RosterRow {
    pub user_id: String,
    pub name: Option<String>,
    pub status: RosterStatus,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RosterReport {
    pub dry_run: bool,
    pub members: usize,
    /// Students enrolled (to enrol, in a dry run).
    pub enrolled: usize,
    pub already_enrolled: usize,
    pub teachers: usize,
    pub left_aside: usize,
    pub rows: Vec<RosterRow>,
}

impl RosterReport {
    fn new(dry_run: bool, rows: Vec<RosterRow>) -> Self {
        let count = |s: RosterStatus| rows.iter().filter(|r| r.status == s).count();
        Self {
            dry_run,
            members: rows.len(),
            enrolled: count(RosterStatus::ToEnrol),
            already_enrolled: count(RosterStatus::AlreadyEnrolled),
            teachers: count(RosterStatus::Teacher),
            left_aside: count(RosterStatus::LeftAside),
            rows,
        }
    }
}

/// Reads the whole roster of a context, page after page.
async fn fetch(
    state: &AppState,
    platform: &Platform,
    context: &Context,
) -> Result<Vec<Member>, CallError> {
    let Some(mut url) = context.memberships_url.clone() else {
        return Ok(Vec::new());
    };
    let token = state
        .lti
        .access_token(
            &state.lti_key,
            &state.settings.public_url,
            &platform.client_id,
            &platform.token_url,
            SCOPE_MEMBERSHIPS,
        )
        .await?;
    let mut members = Vec::new();
    for _ in 0..MAX_PAGES {
        let (page, next) = state.lti.page(&url, &token, MEMBERSHIPS).await?;
        let listed: Vec<Member> = serde_json::from_value(page["members"].clone())
            .map_err(|e| CallError::Unreachable(format!("roster: {e}")))?;
        members.extend(listed);
        match next {
            Some(n) if n != url => url = n,
            _ => return Ok(members),
        }
    }
    Ok(members)
}

/// Brings the members into the session, in one transaction (or only says what it would).
/// A student the session cannot take (full, closed) refuses the whole run, as an import.
fn apply(
    conn: &mut DbConn,
    platform: &Platform,
    context: &Context,
    members: &[Member],
    dry_run: bool,
    at: NaiveDateTime,
) -> Result<RosterReport, AppError> {
    conn.write(|conn| {
        let mut rows = Vec::new();
        for m in members {
            let role = role_of(&m.roles);
            let status = if !m.active() {
                RosterStatus::LeftAside
            } else if role != Role::Learner {
                RosterStatus::Teacher
            } else {
                let known = store::account_of(conn, &platform.id, &m.user_id)?;
                let enrolled = match &known {
                    Some(id) => {
                        enrolments::active_enrolment(conn, &context.session_id, id)?.is_some()
                    }
                    None => false,
                };
                if enrolled {
                    RosterStatus::AlreadyEnrolled
                } else {
                    RosterStatus::ToEnrol
                }
            };
            if !dry_run && status != RosterStatus::LeftAside {
                let user = LmsUser {
                    sub: &m.user_id,
                    email: m.email.as_deref(),
                    name: m.full_name(),
                    role,
                };
                let account = account_for(conn, platform, &user, at)?;
                grant_role(conn, platform, &account.id, role, at)?;
                if status == RosterStatus::ToEnrol {
                    enrolment::enrol_from_platform(conn, &context.session_id, &account.id)?;
                }
            }
            rows.push(RosterRow {
                user_id: m.user_id.clone(),
                name: m.full_name(),
                status,
            });
        }
        if !dry_run {
            store::roster_synced(conn, &context.id, at)?;
        }
        Ok(RosterReport::new(dry_run, rows))
    })
}

/// Brings every roster of a session in (the button and the API), for its organisation's
/// admins; `dry_run` reports without writing.
pub async fn sync_session(
    state: &AppState,
    user: crate::identity::auth::CurrentUser,
    session_id: String,
    dry_run: bool,
) -> Result<Vec<RosterReport>, AppError> {
    let contexts = db::run(&state.pool, move |conn| {
        let session = enrolment::administered_session(conn, &user, &session_id)?;
        let contexts = store::rosters_of_session(conn, &session.id)?;
        contexts
            .into_iter()
            .map(|c| {
                let platform = store::platform(conn, &c.platform_id)?;
                Ok(platform.map(|p| (p, c)))
            })
            .filter_map(Result::transpose)
            .collect::<Result<Vec<_>, AppError>>()
    })
    .await?;
    if contexts.is_empty() {
        return Err(AppError::conflict(
            "Aucun cours de plateforme ne partage sa liste de participants avec cette session : \
             ouvrez l'activité une fois depuis le cours (le service « Noms et rôles » activé).",
        ));
    }
    let mut reports = Vec::new();
    for (platform, context) in contexts {
        let members = fetch(state, &platform, &context).await.map_err(|e| {
            AppError::unavailable(anyhow::anyhow!("roster of {}: {e}", platform.name))
        })?;
        let at = Utc::now().naive_utc();
        let report = db::run(&state.pool, move |conn| {
            apply(conn, &platform, &context, &members, dry_run, at)
        })
        .await?;
        reports.push(report);
    }
    Ok(reports)
}

/// The hourly sync: the rosters not read for [`SYNC_EVERY`], each claimed by one instance.
pub async fn sync_due(state: &AppState) -> anyhow::Result<usize> {
    let at = Utc::now().naive_utc();
    let claimed = db::run(&state.pool, move |conn| {
        Ok(store::claim_stale_rosters(conn, at - SYNC_EVERY, at, 20)?)
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut synced = 0;
    for context in claimed {
        let platform_id = context.platform_id.clone();
        let platform = db::run(&state.pool, move |c| Ok(store::platform(c, &platform_id)?))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let Some(platform) = platform else { continue };
        match fetch(state, &platform, &context).await {
            Ok(members) => {
                let outcome = db::run(&state.pool, move |conn| {
                    apply(conn, &platform, &context, &members, false, at)
                })
                .await;
                match outcome {
                    Ok(_) => synced += 1,
                    Err(e) => tracing::warn!(error = %e, "roster not applied"),
                }
            }
            Err(e) => tracing::warn!(error = %e, "roster not read"),
        }
    }
    Ok(synced)
}
