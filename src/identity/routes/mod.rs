//! The identity API (mounted under `/api/v1` by `startup`), and `/.well-known/jwks.json`.

pub mod auth;
pub mod me;
pub mod organisations;

use actix_web::{web, HttpResponse};

use crate::app::AppState;

/// `/.well-known/jwks.json`, at the root.
pub fn configure_well_known(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/.well-known/jwks.json").get(jwks));
}

/// The identity endpoints, mounted under `/api/v1`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/auth/register").post(auth::register))
        .service(web::resource("/auth/login").post(auth::login))
        .service(web::resource("/auth/refresh").post(auth::refresh))
        .service(web::resource("/auth/logout").post(auth::logout))
        .service(web::resource("/auth/verify-email").post(auth::verify_email))
        .service(web::resource("/auth/verify-email/resend").post(auth::resend_verification))
        .service(web::resource("/auth/password-reset/request").post(auth::request_password_reset))
        .service(web::resource("/auth/password-reset/confirm").post(auth::confirm_password_reset))
        .service(
            web::resource("/me")
                .get(me::get)
                .patch(me::update)
                .delete(me::erase),
        )
        .service(web::resource("/me/export").get(me::export))
        .service(
            web::resource("/organisations")
                .get(organisations::list)
                .post(organisations::create),
        )
        .service(web::resource("/organisations/{id}").get(organisations::get))
        .service(web::resource("/organisations/{id}/audit-log").get(organisations::audit_log))
        .service(
            web::resource("/organisations/{id}/members")
                .get(organisations::members)
                .post(organisations::add_member),
        )
        .service(
            web::resource("/organisations/{id}/members/{account_id}")
                .patch(organisations::change_role)
                .delete(organisations::remove_member),
        )
        .service(web::resource("/accounts/{id}/disable").post(organisations::disable_account));
}

/// The public keys that verify access tokens (EdDSA) and certificates' credentials (RS256).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "identity", responses((status = 200, description = "JSON Web Key Set")))]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "public, max-age=300"))
        .json(jwks_with(
            state.keys.jwks(),
            state.issuer.jwks(&state.settings.public_url),
        ))
}

fn jwks_with(mut set: serde_json::Value, more: Vec<serde_json::Value>) -> serde_json::Value {
    if let Some(keys) = set["keys"].as_array_mut() {
        keys.extend(more);
    }
    set
}
