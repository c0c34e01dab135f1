//! Organisations and their members; disabling accounts. Every change is audited.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::db;
use crate::error::{AppError, Problem};
use crate::http::{Fields, Json};
use crate::identity::auth::{require_member, require_org_admin, CurrentUser};
use crate::identity::members;
use crate::identity::model::{Email, FullName, OdpcNumber, OrgKind, Role, Siret, Uai};
use crate::identity::store::{self, AuditEntry, Organisation};

#[derive(Serialize, Deserialize, ToSchema)]
pub struct OrganisationView {
    pub id: String,
    pub kind: OrgKind,
    pub name: String,
    pub siret: Option<String>,
    pub uai: Option<String>,
    pub odpc_number: Option<String>,
    /// The caller's role there, if a member.
    pub my_role: Option<Role>,
}

impl OrganisationView {
    fn new(org: Organisation, my_role: Option<Role>) -> Self {
        Self {
            id: org.id,
            kind: org.kind,
            name: org.name,
            siret: org.siret,
            uai: org.uai,
            odpc_number: org.odpc_number,
            my_role,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganisation {
    /// `university`, `nursing_school`, `training_body` or `platform`.
    kind: Option<String>,
    name: Option<String>,
    siret: Option<String>,
    /// Schools only (university, nursing_school).
    uai: Option<String>,
    /// Required for a training body, refused otherwise.
    odpc_number: Option<String>,
}

fn parse_organisation(body: CreateOrganisation) -> Result<Organisation, AppError> {
    let mut f = Fields::new();
    let kind = f.required("kind", body.kind.as_deref(), OrgKind::parse);
    let name = f.required("name", body.name.as_deref(), |raw| {
        let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        match name.chars().count() {
            0 => Err("nom obligatoire".to_string()),
            n if n > 200 => Err("au plus 200 caractères".to_string()),
            _ => Ok(name),
        }
    });
    let siret = f.optional("siret", body.siret.as_deref(), Siret::parse);
    let uai = f.optional("uai", body.uai.as_deref(), Uai::parse);
    let odpc = f.optional(
        "odpc_number",
        body.odpc_number.as_deref(),
        OdpcNumber::parse,
    );
    if let Some(kind) = kind {
        let school = matches!(kind, OrgKind::University | OrgKind::NursingSchool);
        if uai.is_some() && !school {
            f.error("uai", "réservé aux universités et instituts de formation");
        }
        match (
            kind,
            &odpc,
            body.odpc_number
                .as_deref()
                .is_some_and(|r| !r.trim().is_empty()),
        ) {
            (OrgKind::TrainingBody, None, false) => {
                f.error("odpc_number", "obligatoire pour un organisme de DPC")
            }
            (OrgKind::TrainingBody, _, _) | (_, _, false) => {}
            (_, _, true) => f.error("odpc_number", "réservé aux organismes de DPC"),
        }
    }
    f.finish()?;
    Ok(Organisation {
        id: store::new_id(),
        kind: kind.expect("checked"),
        name: name.expect("checked"),
        siret: siret.map(|s| s.as_str().to_owned()),
        uai: uai.map(|u| u.as_str().to_owned()),
        odpc_number: odpc.map(|o| o.as_str().to_owned()),
        created_at: store::now(),
    })
}

/// Creates an organisation (platform admins only).
#[utoipa::path(post, path = "/api/v1/organisations", tag = "organisations", security(("bearer" = [])), request_body = CreateOrganisation, responses(
    (status = 201, body = OrganisationView), (status = 403, body = Problem), (status = 422, body = Problem),
))]
pub async fn create(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: Json<CreateOrganisation>,
) -> Result<HttpResponse, AppError> {
    user.require_platform_admin()?;
    let org = parse_organisation(body.0)?;
    let org = db::run(&state.pool, move |conn| {
        conn.write(|conn| {
            store::insert_organisation(conn, &org)?;
            store::audit(
                conn,
                Some(&user.id),
                "organisation.created",
                Some(&org.id),
                None,
                json!({ "name": org.name, "kind": org.kind }),
            )?;
            Ok(org)
        })
    })
    .await?;
    Ok(HttpResponse::Created().json(OrganisationView::new(org, None)))
}

/// The caller's organisations (all of them for a platform admin).
#[utoipa::path(get, path = "/api/v1/organisations", tag = "organisations", security(("bearer" = [])), responses((status = 200, body = [OrganisationView])))]
pub async fn list(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let views = db::run(&state.pool, move |conn| {
        let mine = store::organisations_of(conn, &user.id)?;
        if !user.is_platform_admin {
            return Ok(mine
                .into_iter()
                .map(|(org, role)| OrganisationView::new(org, Some(role)))
                .collect::<Vec<_>>());
        }
        let roles: std::collections::HashMap<String, Role> =
            mine.into_iter().map(|(o, r)| (o.id, r)).collect();
        Ok(store::all_organisations(conn)?
            .into_iter()
            .map(|org| {
                let role = roles.get(&org.id).copied();
                OrganisationView::new(org, role)
            })
            .collect())
    })
    .await?;
    Ok(HttpResponse::Ok().json(views))
}

/// One organisation, for its members and platform admins.
#[utoipa::path(get, path = "/api/v1/organisations/{id}", tag = "organisations", security(("bearer" = [])), responses(
    (status = 200, body = OrganisationView), (status = 404, body = Problem),
))]
pub async fn get(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let view = db::run(&state.pool, move |conn| {
        let (org, role) = require_member(conn, &user, &id)?;
        Ok(OrganisationView::new(org, role))
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct MemberView {
    pub account_id: String,
    pub email: String,
    pub full_name: String,
    pub profession: String,
    pub role: Role,
    #[serde(with = "crate::http::timestamps::utc")]
    pub member_since: chrono::NaiveDateTime,
}

/// The members of an organisation (its admins and platform admins).
#[utoipa::path(get, path = "/api/v1/organisations/{id}/members", tag = "organisations", security(("bearer" = [])), responses(
    (status = 200, body = [MemberView]), (status = 403, body = Problem), (status = 404, body = Problem),
))]
pub async fn members(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let views = db::run(&state.pool, move |conn| {
        require_org_admin(conn, &user, &id)?;
        Ok(store::members(conn, &id)?
            .into_iter()
            .map(|(m, a)| MemberView {
                account_id: a.id,
                email: a.email,
                full_name: a.full_name,
                profession: a.profession,
                role: m.role,
                member_since: m.created_at,
            })
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(HttpResponse::Ok().json(views))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    email: Option<String>,
    /// `learner`, `tutor` or `org_admin`.
    role: Option<String>,
    /// For an address that gets an invitation: the person's names (both or neither).
    first_name: Option<String>,
    last_name: Option<String>,
}

/// Adds someone to the organisation with a role, by address. The answer does not say
/// whether the address had an account: a confirmed account is added and told by mail; any
/// other address (never confirmed included) is invited by a mail whose link sets the
/// password.
#[utoipa::path(post, path = "/api/v1/organisations/{id}/members", tag = "organisations", security(("bearer" = [])), request_body = AddMember, responses(
    (status = 201, body = MemberView), (status = 404, body = Problem), (status = 409, body = Problem, description = "already a member"), (status = 422, body = Problem),
))]
pub async fn add_member(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: Json<AddMember>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let AddMember {
        email,
        role,
        first_name,
        last_name,
    } = body.0;
    let mut f = Fields::new();
    let email = f.required("email", email.as_deref(), Email::parse);
    let role = f.required("role", role.as_deref(), Role::parse);
    let first = f.optional("first_name", first_name.as_deref(), FullName::parse);
    let last = f.optional("last_name", last_name.as_deref(), FullName::parse);
    f.finish()?;
    let names = match (first, last) {
        (Some(first), Some(last)) => Some((first, last)),
        (None, None) => None,
        _ => {
            return Err(AppError::invalid(
                "last_name",
                "le prénom et le nom vont ensemble",
            ))
        }
    };
    let invitee = members::Invitee {
        email: email.expect("checked"),
        names,
        role: role.expect("checked"),
    };
    let public_url = state.settings.public_url.clone();
    let (membership, account, stale) = db::run(&state.pool, move |conn| {
        members::add_or_invite(conn, &user, &id, invitee, &public_url)
    })
    .await?;
    if let Some(stale) = stale {
        state.forget(stale);
    }
    Ok(HttpResponse::Created().json(MemberView {
        account_id: account.id,
        email: account.email,
        full_name: account.full_name,
        profession: account.profession,
        role: membership.role,
        member_since: membership.created_at,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRole {
    role: Option<String>,
}

/// Changes a member's role.
#[utoipa::path(patch, path = "/api/v1/organisations/{id}/members/{account_id}", tag = "organisations", security(("bearer" = [])), request_body = ChangeRole, responses(
    (status = 204), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem),
))]
pub async fn change_role(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
    body: Json<ChangeRole>,
) -> Result<HttpResponse, AppError> {
    let (id, account_id) = path.into_inner();
    let mut f = Fields::new();
    let role = f.required("role", body.0.role.as_deref(), Role::parse);
    f.finish()?;
    let role = role.expect("checked");
    db::run(&state.pool, move |conn| {
        members::change_role(conn, &user, &id, &account_id, role)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes a member from the organisation.
#[utoipa::path(delete, path = "/api/v1/organisations/{id}/members/{account_id}", tag = "organisations", security(("bearer" = [])), responses(
    (status = 204), (status = 404, body = Problem), (status = 409, body = Problem),
))]
pub async fn remove_member(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, account_id) = path.into_inner();
    db::run(&state.pool, move |conn| {
        members::remove_member(conn, &user, &id, &account_id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The audit log of an organisation (its admins and platform admins).
#[utoipa::path(get, path = "/api/v1/organisations/{id}/audit-log", tag = "organisations", security(("bearer" = [])), responses(
    (status = 200, description = "audit entries, oldest first"), (status = 403, body = Problem), (status = 404, body = Problem),
))]
pub async fn audit_log(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let entries: Vec<AuditEntry> = db::run(&state.pool, move |conn| {
        require_org_admin(conn, &user, &id)?;
        Ok(store::audit_of_organisation(conn, &id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(entries))
}

/// Disables an account at once: its sessions end and its tokens stop working (platform admins).
#[utoipa::path(post, path = "/api/v1/accounts/{id}/disable", tag = "organisations", security(("bearer" = [])), responses(
    (status = 204), (status = 403, body = Problem), (status = 404, body = Problem),
))]
pub async fn disable_account(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let stale = db::run(&state.pool, move |conn| {
        members::disable_account(conn, &user, &id)
    })
    .await?;
    state.forget(stale);
    Ok(HttpResponse::NoContent().finish())
}
