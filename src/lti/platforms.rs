//! Registering learning platforms, for an organisation's admins: the use cases the API
//! and the admin page share (who may, one registration per issuer and client id, audited).

use serde::Serialize;
use utoipa::ToSchema;

use super::launch::platform_of;
use super::model::NewPlatform;
use super::store::{self, Platform};
use crate::db::DbConn;
use crate::error::AppError;
use crate::identity::auth::{require_org_admin, CurrentUser};
use crate::identity::store as accounts;

/// A registered platform, with its deployments and the grades it has not taken yet.
#[derive(Serialize, ToSchema)]
pub struct PlatformView {
    pub id: String,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub deployment_ids: Vec<String>,
    pub auth_url: String,
    pub token_url: String,
    pub jwks_url: String,
    /// Grades the platform has not taken yet (retried), and the last error.
    pub grades_waiting: usize,
    pub last_error: Option<String>,
}

fn view(conn: &mut DbConn, p: Platform) -> Result<PlatformView, AppError> {
    let deployment_ids = store::deployments(conn, &p.id)?;
    let waiting = store::pending_grades(conn, &p.id)?;
    Ok(PlatformView {
        deployment_ids,
        grades_waiting: waiting.len(),
        last_error: waiting.iter().rev().find_map(|g| g.last_error.clone()),
        id: p.id,
        name: p.name,
        issuer: p.issuer,
        client_id: p.client_id,
        auth_url: p.auth_url,
        token_url: p.token_url,
        jwks_url: p.jwks_url,
    })
}

/// The organisation's platforms (its admins only).
pub fn list(
    conn: &mut DbConn,
    user: &CurrentUser,
    organisation_id: &str,
) -> Result<Vec<PlatformView>, AppError> {
    require_org_admin(conn, user, organisation_id)?;
    store::platforms_of(conn, organisation_id)?
        .into_iter()
        .map(|p| view(conn, p))
        .collect()
}

/// Registers a platform for the organisation.
pub fn register(
    conn: &mut DbConn,
    user: &CurrentUser,
    organisation_id: &str,
    new: NewPlatform,
) -> Result<PlatformView, AppError> {
    conn.write(|conn| {
        require_org_admin(conn, user, organisation_id)?;
        if !store::platforms_by_issuer(conn, &new.issuer, Some(&new.client_id))?.is_empty() {
            return Err(AppError::conflict(
                "Cette plateforme (émetteur et client_id) est déjà enregistrée.",
            ));
        }
        let platform = Platform {
            id: accounts::new_id(),
            organisation_id: organisation_id.to_owned(),
            name: new.name,
            issuer: new.issuer,
            client_id: new.client_id,
            auth_url: new.auth_url,
            token_url: new.token_url,
            jwks_url: new.jwks_url,
            created_at: accounts::now(),
        };
        store::insert_platform(conn, &platform, &new.deployment_ids)?;
        accounts::audit(
            conn,
            Some(&user.id),
            "lti.platform_registered",
            Some(organisation_id),
            Some(&platform.id),
            serde_json::json!({ "issuer": platform.issuer, "client_id": platform.client_id }),
        )?;
        view(conn, platform)
    })
}

/// Removes a registration: its launches stop; accounts and records stay.
pub fn remove(
    conn: &mut DbConn,
    user: &CurrentUser,
    organisation_id: &str,
    platform_id: &str,
) -> Result<(), AppError> {
    conn.write(|conn| {
        require_org_admin(conn, user, organisation_id)?;
        platform_of(conn, organisation_id, platform_id)?;
        store::delete_platform(conn, platform_id)?;
        accounts::audit(
            conn,
            Some(&user.id),
            "lti.platform_removed",
            Some(organisation_id),
            Some(platform_id),
            serde_json::json!({}),
        )?;
        Ok(())
    })
}
