//! Correcting a DPC learner's RPPS or ADELI number: once a DPC certificate attests it, the
//! learner may no longer change it (`identity::numbers`); the admins of the organisation
//! running a DPC session the learner is enrolled in do, and each change is audited with
//! who, when, the old and the new value.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Deserializer};
use serde_json::json;
use utoipa::ToSchema;

use super::service::administered_session;
use super::store;
use crate::app::AppState;
use crate::db::{self, DbConn};
use crate::error::AppError;
use crate::http::{Fields, Json};
use crate::identity::auth::CurrentUser;
use crate::identity::model::{Adeli, Rpps};
use crate::identity::numbers;
use crate::identity::routes::me::AccountView;
use crate::identity::store::{self as identity, Account};

/// The numbers to set: `None` leaves one as it is, `Some(None)` clears it.
#[derive(Debug, Default)]
pub struct NumbersPatch {
    pub rpps: Option<Option<Rpps>>,
    pub adeli: Option<Option<Adeli>>,
}

impl NumbersPatch {
    /// Reads raw values (absent: unchanged; empty: cleared), naming every bad field.
    pub fn parse(
        rpps: Option<Option<&str>>,
        adeli: Option<Option<&str>>,
    ) -> Result<Self, AppError> {
        let mut f = Fields::new();
        let patch = Self {
            rpps: rpps.map(|raw| f.optional("rpps", raw, Rpps::parse)),
            adeli: adeli.map(|raw| f.optional("adeli", raw, Adeli::parse)),
        };
        f.finish()?;
        Ok(patch)
    }
}

/// Changes the numbers of an enrolment's learner (the session's admins, or a platform
/// admin; DPC sessions only), in one transaction with its audit entry.
pub fn change(
    conn: &mut DbConn,
    by: &CurrentUser,
    enrolment_id: &str,
    patch: NumbersPatch,
) -> Result<Account, AppError> {
    let not_found = || AppError::not_found("Inscription introuvable.");
    conn.write(|conn| {
        let enrolment = store::enrolment(conn, enrolment_id)?.ok_or_else(not_found)?;
        let session = administered_session(conn, by, &enrolment.session_id)
            .map_err(|e| e.not_found_as(not_found))?;
        if session.dpc_action_ref.is_none() {
            return Err(AppError::conflict(
                "Seules les sessions DPC déclarent les numéros RPPS et ADELI : l'apprenant les modifie lui-même dans son profil.",
            ));
        }
        let before = identity::account_for_update(conn, &enrolment.account_id)?;
        let mut after = before.clone();
        if let Some(rpps) = patch.rpps {
            after.rpps = rpps.map(|r| r.as_str().to_owned());
        }
        if let Some(adeli) = patch.adeli {
            after.adeli = adeli.map(|a| a.as_str().to_owned());
        }
        if after.rpps.is_none() && after.adeli.is_none() {
            return Err(AppError::invalid(
                "rpps",
                "une session DPC exige un numéro RPPS ou ADELI",
            ));
        }
        let changed = numbers::changed(&before, &after);
        if changed.is_empty() {
            return Ok(after);
        }
        numbers::ensure_free(conn, &after)?;
        after.updated_at = identity::now();
        identity::update_account(conn, &after).map_err(numbers::claimed)?;
        let old = numbers::of(&before);
        let new = numbers::of(&after);
        let details: serde_json::Map<String, serde_json::Value> = old
            .iter()
            .zip(new.iter())
            .filter(|((_, a), (_, b))| a != b)
            .map(|((field, a), (_, b))| ((*field).to_owned(), json!({ "from": a, "to": b })))
            .collect();
        identity::audit(
            conn,
            Some(&by.id),
            "account.professional_number_changed",
            Some(&session.organisation_id),
            Some(&after.id),
            json!({ "session_id": session.id, "enrolment_id": enrolment.id, "changes": details }),
        )?;
        Ok(after)
    })
}

/// Absent → `None` (unchanged); `null` → `Some(None)` (cleared); a value → `Some(Some(v))`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumbersRequest {
    /// `null` or `""` clears it; absent leaves it.
    #[serde(default, deserialize_with = "present")]
    rpps: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    adeli: Option<Option<String>>,
}

/// Corrects the RPPS or ADELI number of a DPC session's learner (the organisation's admins);
/// the change is written to the audit log with the old and new values.
#[utoipa::path(put, path = "/api/v1/enrolments/{id}/professional-numbers", tag = "enrolment", security(("bearer" = [])),
    request_body = NumbersRequest,
    responses(
        (status = 200, body = AccountView), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem, description = "not a DPC session, or the number belongs to another account"),
        (status = 422, body = crate::error::Problem),
    ))]
pub async fn put(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: Json<NumbersRequest>,
) -> Result<HttpResponse, AppError> {
    let NumbersRequest { rpps, adeli } = body.0;
    let patch = NumbersPatch::parse(
        rpps.as_ref().map(Option::as_deref),
        adeli.as_ref().map(Option::as_deref),
    )?;
    let id = path.into_inner();
    let view = db::run(&state.pool, move |conn| {
        let account = change(conn, &user, &id, patch)?;
        AccountView::load(conn, account)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}
