//! Certificates over HTTP: the holder's and staff's views (`/api/v1/certificates/…`, a
//! session's ZIP), revocation, the public verification API and page (rate-limited per
//! address), and the status lists.

use std::io::Write;

use actix_web::middleware::from_fn;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::render::Rendered;
use super::service::{self, CertificateView, CredentialCheck, Verification};
use super::store::Certificate;
use crate::app::AppState;
use crate::certificates::model::Validity;
use crate::config::DatabaseKind;
use crate::db;
use crate::error::{AppError, Problem};
use crate::fr;
use crate::http::stream::{stream_blocking, ChannelWriter};
use crate::http::{limit, Json};
use crate::identity::auth::{require_org_admin, require_staff, CurrentUser};

/// Every public verification route shares one limiter (`startup` registers it): a code
/// can be tried only so often from one address, whichever instance it reaches.
pub fn limiter(per_minute: u32, kind: DatabaseKind, pool: &db::Pool) -> limit::PerAddress {
    limit::PerAddress::for_database("verify", per_minute, kind, pool)
}

/// Under `/api/v1`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // The suffixed forms first: `{id}` alone would also match `x.pdf`.
    cfg.service(web::resource("/certificates/{id}.pdf").get(pdf))
        .service(web::resource("/certificates/{id}.html").get(html))
        .service(web::resource("/certificates/{id}/credential").get(credential))
        .service(web::resource("/certificates/{id}/revoke").post(revoke))
        .service(web::resource("/certificates/{id}").get(get))
        .service(web::resource("/me/certificates").get(mine))
        .service(web::resource("/sessions/{id}/certificates").get(of_session))
        .service(web::resource("/sessions/{id}/certificates.zip").get(session_zip))
        .service(
            web::resource("/verify/{code}")
                .wrap(from_fn(limit::per_address))
                .get(verify_code),
        )
        .service(
            web::resource("/verify")
                .wrap(from_fn(limit::per_address))
                .post(verify_credential),
        );
}

/// At the root: the page the QR code leads to, and the status lists.
pub fn configure_public(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/verifier/{code}")
            .wrap(from_fn(limit::per_address))
            .get(verify_page),
    )
    .service(web::resource("/status-lists/{n}").get(status_list))
    .service(web::resource("/issuers/{id}").get(issuer_profile))
    .service(web::resource("/issuers/{id}/status-lists/{n}").get(issuer_status_list))
    .service(web::resource("/.well-known/jwks/{kid}").get(issuer_key));
}

async fn readable(
    state: &web::Data<AppState>,
    user: CurrentUser,
    id: String,
) -> Result<Certificate, AppError> {
    db::run(&state.pool, move |conn| service::readable(conn, &user, &id)).await
}

/// A certificate, for its holder and the staff of the issuing organisation.
#[utoipa::path(get, path = "/api/v1/certificates/{id}", tag = "certificates", security(("bearer" = [])), responses(
    (status = 200, body = CertificateView), (status = 404, body = Problem),
))]
pub async fn get(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (id, s) = (path.into_inner(), state.clone());
    let view = db::run(&state.pool, move |conn| {
        let certificate = service::readable(conn, &user, &id)?;
        service::view(conn, &s.settings.public_url, &certificate)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// The caller's certificates, newest first.
#[utoipa::path(get, path = "/api/v1/me/certificates", tag = "certificates", security(("bearer" = [])), responses(
    (status = 200, body = Vec<CertificateView>),
))]
pub async fn mine(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let s = state.clone();
    let views = db::run(&state.pool, move |conn| {
        service::mine(conn, &s.settings.public_url, &user)
    })
    .await?;
    Ok(HttpResponse::Ok().json(views))
}

/// The certificates in force of a session, for its organisation's staff.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/certificates", tag = "certificates", security(("bearer" = [])), responses(
    (status = 200, body = Vec<CertificateView>), (status = 404, body = Problem),
))]
pub async fn of_session(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (id, s) = (path.into_inner(), state.clone());
    let views = db::run(&state.pool, move |conn| {
        let (_, certificates) = service::of_session(conn, &user, &id, require_staff)?;
        certificates
            .iter()
            .map(|c| service::view(conn, &s.settings.public_url, c))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    Ok(HttpResponse::Ok().json(views))
}

fn rendered(state: &AppState, certificate: &Certificate) -> Result<Rendered, AppError> {
    let snapshot = service::snapshot_of(certificate)?;
    let url = service::verify_url(&state.settings.public_url, certificate);
    let mut doc = Rendered::new(
        &state.templates,
        certificate.kind,
        &snapshot,
        &certificate.code,
        &url,
    )?;
    doc.revoked = certificate.revoked_at.map(|at| {
        format!(
            "ATTESTATION RÉVOQUÉE le {} : {}",
            fr::date(fr::paris_day(at)),
            certificate.revocation_reason.as_deref().unwrap_or("")
        )
    });
    Ok(doc)
}

fn file_name(certificate: &Certificate, extension: &str) -> String {
    format!("attestation-{}.{extension}", certificate.code)
}

/// The certificate as an A4 PDF with its QR code.
#[utoipa::path(get, path = "/api/v1/certificates/{id}.pdf", tag = "certificates", security(("bearer" = [])), responses(
    (status = 200, content_type = "application/pdf"), (status = 404, body = Problem),
))]
pub async fn pdf(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let certificate = readable(&state, user, path.into_inner()).await?;
    let s = state.clone();
    let name = file_name(&certificate, "pdf");
    let body = web::block(move || rendered(&s, &certificate)?.pdf().map_err(AppError::from))
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("rendering failed: {e}")))??;
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            "content-disposition",
            format!("inline; filename=\"{name}\""),
        ))
        .body(body))
}

/// The certificate as a printable page.
#[utoipa::path(get, path = "/api/v1/certificates/{id}.html", tag = "certificates", security(("bearer" = [])), responses(
    (status = 200, content_type = "text/html"), (status = 404, body = Problem),
))]
pub async fn html(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let certificate = readable(&state, user, path.into_inner()).await?;
    let page = rendered(&state, &certificate)?.html();
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page))
}

/// The Open Badges 3.0 credential, a VC-JWT signed RS256 by the issuer key (see the JWKS).
#[utoipa::path(get, path = "/api/v1/certificates/{id}/credential", tag = "certificates", security(("bearer" = [])), params(("format" = Option<String>, Query, description = "`jwt` (default): the signed VC-JWT; `json`: the credential document it signs")), responses(
    (status = 200, content_type = "application/vc+jwt"), (status = 404, body = Problem),
))]
pub async fn credential(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    query: web::Query<std::collections::HashMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    let certificate = readable(&state, user, path.into_inner()).await?;
    let snapshot = service::snapshot_of(&certificate)?;
    let vc = super::credential::credential(&state.settings.public_url, &certificate, snapshot);
    // « Ajouter à mon portefeuille »: a file a wallet imports, named after the code.
    let name = format!("attestation-{}", certificate.code.replace('-', ""));
    match query.get("format").map(String::as_str) {
        None | Some("jwt") => {}
        Some("json") => {
            return Ok(HttpResponse::Ok()
                .content_type("application/json")
                .insert_header((
                    "content-disposition",
                    format!("attachment; filename=\"{name}.json\""),
                ))
                .json(&vc))
        }
        Some(_) => return Err(AppError::malformed("format", "jwt ou json attendu")),
    }
    // An RSA signature takes a good part of a millisecond: off the HTTP worker.
    let s = state.clone();
    let jwt = web::block(move || s.issuer.sign(&vc, &s.settings.public_url))
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("signing failed: {e}")))??;
    Ok(HttpResponse::Ok()
        .content_type("application/vc+jwt")
        .insert_header((
            "content-disposition",
            format!("attachment; filename=\"{name}.jwt\""),
        ))
        .body(jwt))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// Why, in words (3 to 500 characters); kept in the audit log and shown to verifiers.
    pub reason: String,
}

/// Revokes a certificate (admins of the issuing organisation); verifiers see it at once.
#[utoipa::path(post, path = "/api/v1/certificates/{id}/revoke", tag = "certificates", security(("bearer" = [])), request_body = Reason, responses(
    (status = 200, body = CertificateView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
))]
pub async fn revoke(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    body: Json<Reason>,
) -> Result<HttpResponse, AppError> {
    let reason = service::parse_reason(&body.0.reason)?;
    let (id, s) = (path.into_inner(), state.clone());
    let view = db::run(&state.pool, move |conn| {
        let certificate = service::revoke(conn, &user, &id, &reason)?;
        s.status_lists.clear();
        service::view(conn, &s.settings.public_url, &certificate)
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Public: what a verification code attests, and whether it still holds.
#[utoipa::path(get, path = "/api/v1/verify/{code}", tag = "certificates", responses(
    (status = 200, body = Verification), (status = 429, body = Problem),
))]
pub async fn verify_code(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let code = path.into_inner();
    let answer = db::run(&state.pool, move |conn| service::verify_code(conn, &code)).await?;
    Ok(HttpResponse::Ok().json(answer))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialToCheck {
    /// A VC-JWT as `GET /certificates/{id}/credential` returns it.
    credential: String,
}

/// Public: checks a VC-JWT (signature, issuer key, dates, status list).
#[utoipa::path(post, path = "/api/v1/verify", tag = "certificates", request_body = CredentialToCheck, responses(
    (status = 200, body = CredentialCheck), (status = 422, body = Problem), (status = 429, body = Problem),
))]
pub async fn verify_credential(
    state: web::Data<AppState>,
    body: Json<CredentialToCheck>,
) -> Result<HttpResponse, AppError> {
    let jwt = body.0.credential;
    if jwt.trim().is_empty() || jwt.len() > 64 * 1024 {
        return Err(AppError::invalid(
            "credential",
            "un VC-JWT de 64 Kio au plus",
        ));
    }
    let s = state.clone();
    let answer = db::run(&state.pool, move |conn| {
        service::verify_credential(conn, &s.issuer, &s.settings.public_url, &jwt)
    })
    .await?;
    Ok(HttpResponse::Ok().json(answer))
}

/// Public, in French, readable on a phone: where the QR code leads.
pub async fn verify_page(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let code = path.into_inner();
    let typed = code.clone();
    let answer = db::run(&state.pool, move |conn| service::verify_code(conn, &typed)).await?;
    let url = format!("{}/verifier/{code}", state.settings.public_url);
    let raw_code = answer.code.as_deref().unwrap_or_default().replace('-', "");
    let c = answer
        .attested
        .as_ref()
        .map(|snapshot| super::render::context(snapshot, &raw_code, &url));
    let page = state.templates.render(
        "pages/verifier",
        &serde_json::json!({
            "found": answer.status != Validity::Unknown,
            "revoked": answer.status == Validity::Revoked,
            "revoked_on": answer.revoked_at.map(|at| fr::date(fr::paris_day(at))),
            "reason": answer.revocation_reason,
            "replaced_by_code": answer.replaced_by_code,
            "replaced_by_code_path": answer.replaced_by_code.as_ref().map(|c| format!("/verifier/{}", c.replace('-', ""))),
            "code": code,
            "c": c,
            "css": crate::pages::assets::VERIFIER_CSS.path.as_str(),
        }),
    )?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .body(page))
}

/// A signed Bitstring Status List credential; fetched by verifiers, never cached long.
#[utoipa::path(get, path = "/status-lists/{n}", tag = "certificates", params(("n" = i64, Path, description = "the list's number, as in the `statusListCredential` of a credential issued before organisations had their own")), responses(
    (status = 200, description = "the status list credential as a VC-JWT, issued by the platform", content_type = "application/vc+jwt"),
    (status = 404, body = Problem),
))]
pub async fn status_list(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let list = path
        .into_inner()
        .parse()
        .map_err(|_| AppError::not_found("Liste de statuts introuvable."))?;
    signed_list(state, None, list).await
}

/// An organisation's status list (the one its credentials point to).
#[utoipa::path(get, path = "/issuers/{id}/status-lists/{n}", tag = "certificates", params(
    ("id" = String, Path, description = "the issuing organisation"), ("n" = i64, Path, description = "the list's number"),
), responses(
    (status = 200, description = "the status list credential as a VC-JWT, issued by the organisation", content_type = "application/vc+jwt"),
    (status = 404, body = Problem),
))]
pub async fn issuer_status_list(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (organisation, list) = path.into_inner();
    let list = list
        .parse()
        .map_err(|_| AppError::not_found("Liste de statuts introuvable."))?;
    signed_list(state, Some(organisation), list).await
}

async fn signed_list(
    state: web::Data<AppState>,
    organisation: Option<String>,
    list: i64,
) -> Result<HttpResponse, AppError> {
    let key = (organisation, list);
    let jwt = match state.status_lists.get(&key) {
        Some(jwt) => jwt,
        None => {
            let (s, org) = (state.clone(), key.0.clone());
            let jwt = db::run(&state.pool, move |conn| {
                service::status_list(
                    conn,
                    &s.issuer,
                    &s.settings.public_url,
                    org.as_deref(),
                    list,
                )
            })
            .await?;
            state.status_lists.put(key, jwt.clone());
            jwt
        }
    };
    Ok(HttpResponse::Ok()
        .content_type("application/vc+jwt")
        .insert_header((
            "cache-control",
            format!("max-age={}", super::status::CACHE_SECONDS),
        ))
        .body(jwt))
}

/// An organisation as an issuer of credentials: its Open Badges 3.0 Profile, at the URL
/// its credentials name as `issuer.id`.
#[utoipa::path(get, path = "/issuers/{id}", tag = "certificates", params(("id" = String, Path, description = "the organisation")), responses(
    (status = 200, description = "the issuer's Profile (Open Badges 3.0)", content_type = "application/json"),
    (status = 404, body = Problem),
))]
pub async fn issuer_profile(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let organisation = db::run(&state.pool, move |conn| {
        diesel::OptionalExtension::optional(crate::identity::store::organisation(conn, &id))?
            .ok_or_else(|| AppError::not_found("Émetteur inconnu."))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "public, max-age=300"))
        .json(super::credential::profile_document(
            &state.settings.public_url,
            &organisation.id,
            &organisation.name,
        )))
}

/// One certificate-signing key as a bare JWK, at the URL a credential's `kid` names (OB 3.0
/// § 8.5: the `kid` dereferences to the key).
#[utoipa::path(get, path = "/.well-known/jwks/{kid}", tag = "certificates", params(("kid" = String, Path, description = "the key's RFC 7638 thumbprint")), responses(
    (status = 200, description = "the public key as a JWK", content_type = "application/jwk+json"),
    (status = 404, body = Problem),
))]
pub async fn issuer_key(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let jwk = state
        .issuer
        .jwk(&state.settings.public_url, &path.into_inner())
        .ok_or_else(|| AppError::not_found("Clé inconnue."))?;
    Ok(HttpResponse::Ok()
        .content_type("application/jwk+json")
        .insert_header(("cache-control", "public, max-age=300"))
        .body(jwk.to_string()))
}

/// A PDF's name in a session's ZIP: the holder first, so the files sort by person as a
/// secretary looks for them (« zoe-lefevre-ABCD-….pdf »); the code keeps names unique.
fn zip_entry(holder: &str, code: &str) -> String {
    let person = crate::codes::fold(holder).replace(' ', "-");
    if person.is_empty() {
        format!("attestation-{code}.pdf")
    } else {
        format!("{person}-{code}.pdf")
    }
}

fn write_zip(
    state: &AppState,
    certificates: &[Certificate],
    out: &mut ChannelWriter,
) -> anyhow::Result<()> {
    let mut zip = zip::ZipWriter::new_stream(out);
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for certificate in certificates {
        let pdf = rendered(state, certificate)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .pdf()?;
        let holder = service::snapshot_of(certificate)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .holder
            .name;
        zip.start_file(zip_entry(&holder, &certificate.code), options)?;
        zip.write_all(&pdf)?;
    }
    zip.finish()?;
    Ok(())
}

/// Every certificate in force of a session as one ZIP of PDFs, produced while it is sent;
/// for the admins of the session's organisation.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/certificates.zip", tag = "certificates", security(("bearer" = [])), responses(
    (status = 200, content_type = "application/zip"), (status = 404, body = Problem),
))]
pub async fn session_zip(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (session, certificates) = db::run(&state.pool, move |conn| {
        service::of_session(conn, &user, &id, require_org_admin)
    })
    .await?;
    let s = state.clone();
    let body = stream_blocking("certificate zip", move |out| {
        write_zip(&s, &certificates, out)
    });
    let name = format!("attestations-{}.zip", session.id);
    Ok(crate::http::download("application/zip", &name).streaming(body))
}

#[cfg(test)]
mod tests {
    #[test]
    fn zip_entries_are_named_by_person_then_code() {
        assert_eq!(
            super::zip_entry("Zoé Lefèvre-Martin", "AB-CD"),
            "zoe-lefevre-martin-AB-CD.pdf"
        );
        assert_eq!(super::zip_entry("  ", "AB-CD"), "attestation-AB-CD.pdf");
    }
}
