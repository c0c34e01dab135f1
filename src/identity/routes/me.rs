//! The caller's own account: read, update, export (RGPD access) and erase (RGPD erasure).

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::db::{self, DbConn};
use crate::error::{AppError, Problem};
use crate::http::{Fields, Json};
use crate::identity::auth::CurrentUser;
use crate::identity::model::{
    Adeli, FullName, ModeExercice, OrgKind, Profession, Role, Rpps, StudentNumber,
};
use crate::identity::service;
use crate::identity::store::{self, Account};

#[derive(Serialize, Deserialize, ToSchema)]
pub struct MembershipView {
    pub organisation_id: String,
    pub organisation_name: String,
    pub kind: OrgKind,
    pub role: Role,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AccountView {
    pub id: String,
    pub email: String,
    pub full_name: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub profession: String,
    /// French label of the profession, for display.
    pub profession_label: String,
    pub rpps: Option<String>,
    /// The RPPS is the one Pro Santé Connect vouched for.
    pub rpps_verified: bool,
    pub adeli: Option<String>,
    pub student_number: Option<String>,
    pub mode_exercice: Option<String>,
    pub email_verified: bool,
    pub is_platform_admin: bool,
    pub memberships: Vec<MembershipView>,
}

impl AccountView {
    pub fn load(conn: &mut DbConn, account: Account) -> Result<Self, AppError> {
        let memberships = store::organisations_of(conn, &account.id)?
            .into_iter()
            .map(|(org, role)| MembershipView {
                organisation_id: org.id,
                organisation_name: org.name,
                kind: org.kind,
                role,
            })
            .collect();
        let rpps_verified = store::rpps_vouched(conn, &account.id, account.rpps.as_deref())?;
        Ok(Self {
            rpps_verified,
            profession_label: Profession::parse(&account.profession)
                .map(|p| p.label())
                .unwrap_or_default()
                .to_owned(),
            id: account.id,
            email: account.email,
            full_name: account.full_name,
            first_name: account.first_name,
            last_name: account.last_name,
            profession: account.profession,
            rpps: account.rpps,
            adeli: account.adeli,
            student_number: account.student_number,
            mode_exercice: account.mode_exercice,
            email_verified: account.email_verified_at.is_some(),
            is_platform_admin: account.is_platform_admin,
            memberships,
        })
    }
}

/// The caller's account and memberships.
#[utoipa::path(get, path = "/api/v1/me", tag = "identity", security(("bearer" = [])), responses(
    (status = 200, body = AccountView), (status = 401, body = Problem),
))]
pub async fn get(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let view = db::run(&state.pool, move |conn| {
        let account = store::account(conn, &user.id)?;
        AccountView::load(conn, account)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Absent → `None` (unchanged); `null` → `Some(None)` (cleared); a value → `Some(Some(v))`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[derive(Default)]
pub struct UpdateMe {
    pub full_name: Option<String>,
    /// First and last name apart: both together; the full name follows unless given.
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub profession: Option<String>,
    /// `null` or `""` clears it.
    #[serde(default, deserialize_with = "present")]
    pub rpps: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub adeli: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub student_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub mode_exercice: Option<Option<String>>,
}

/// Applies a patch to `account`, collecting every invalid field (the API's PATCH and the
/// account page share it).
pub fn apply(patch: UpdateMe, account: &mut Account) -> Result<(), AppError> {
    let mut f = Fields::new();
    if patch.first_name.is_some() || patch.last_name.is_some() {
        let part = |raw: &Option<String>, what: &str| match raw.as_deref().map(str::trim) {
            None | Some("") => Err(format!("{what} obligatoire")),
            Some(text) => FullName::parse(text),
        };
        let first = f.check("first_name", part(&patch.first_name, "prénom"));
        let last = f.check("last_name", part(&patch.last_name, "nom"));
        if let (Some(first), Some(last)) = (first, last) {
            account.full_name = format!("{} {}", first.as_str(), last.as_str());
            account.first_name = Some(first.as_str().to_owned());
            account.last_name = Some(last.as_str().to_owned());
        }
    }
    if let Some(raw) = patch.full_name {
        if let Some(name) = f.required("full_name", Some(&raw), FullName::parse) {
            account.full_name = name.as_str().to_owned();
        }
    }
    if let Some(raw) = patch.profession {
        if let Some(p) = f.required("profession", Some(&raw), Profession::parse) {
            account.profession = p.code().to_owned();
        }
    }
    // For the optional identifiers: None leaves as is; null or "" clears; a value must parse.
    fn set<T>(
        f: &mut Fields,
        field: &str,
        raw: Option<Option<String>>,
        target: &mut Option<String>,
        parse: impl FnOnce(&str) -> Result<T, String>,
        code: impl FnOnce(T) -> String,
    ) {
        if let Some(raw) = raw {
            match raw.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
                None => *target = None,
                Some(value) => {
                    if let Some(parsed) = f.check(field, parse(value)) {
                        *target = Some(code(parsed));
                    }
                }
            }
        }
    }
    set(
        &mut f,
        "rpps",
        patch.rpps,
        &mut account.rpps,
        Rpps::parse,
        |v| v.as_str().to_owned(),
    );
    set(
        &mut f,
        "adeli",
        patch.adeli,
        &mut account.adeli,
        Adeli::parse,
        |v| v.as_str().to_owned(),
    );
    set(
        &mut f,
        "student_number",
        patch.student_number,
        &mut account.student_number,
        StudentNumber::parse,
        |v| v.as_str().to_owned(),
    );
    set(
        &mut f,
        "mode_exercice",
        patch.mode_exercice,
        &mut account.mode_exercice,
        ModeExercice::parse,
        |v| v.code().to_owned(),
    );
    f.finish()
}

/// Updates the caller's profile (not the e-mail or the password). An RPPS or ADELI number
/// belongs to one account, and once a DPC certificate attests it only the training body's
/// staff may change it.
#[utoipa::path(patch, path = "/api/v1/me", tag = "identity", security(("bearer" = [])), request_body = UpdateMe, responses(
    (status = 200, body = AccountView), (status = 422, body = Problem),
    (status = 409, body = Problem, description = "RPPS or ADELI held by another account, or attested by a DPC certificate"),
))]
pub async fn update(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: Json<UpdateMe>,
) -> Result<HttpResponse, AppError> {
    let patch = body.0;
    let view = db::run(&state.pool, move |conn| {
        let account = service::update_own_profile(conn, &user.id, |a| apply(patch, a))?;
        AccountView::load(conn, account)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Everything the platform holds about the caller, as one JSON document.
#[utoipa::path(get, path = "/api/v1/me/export", tag = "identity", security(("bearer" = [])), responses((status = 200, description = "personal data")))]
pub async fn export(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let data = db::run(&state.pool, move |conn| service::export(conn, &user.id)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            "content-disposition",
            "attachment; filename=\"mes-donnees-qvt-campus.json\"",
        ))
        .insert_header(("cache-control", "no-store"))
        .json(data))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseRequest {
    /// The current password, to confirm.
    password: String,
}

/// Erases the caller's personal data; proof of training is kept pseudonymised for the
/// retention period.
#[utoipa::path(delete, path = "/api/v1/me", tag = "identity", security(("bearer" = [])), request_body = EraseRequest, responses(
    (status = 204), (status = 422, body = Problem),
))]
pub async fn erase(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: Json<EraseRequest>,
) -> Result<HttpResponse, AppError> {
    let password = body.0.password;
    let stale = db::run(&state.pool, move |conn| {
        service::erase(conn, &user.id, &password)
    })
    .await?;
    state.forget(stale);
    Ok(HttpResponse::NoContent().finish())
}
