//! The one error type of the HTTP API and its single mapping to RFC 9457
//! `application/problem+json` bodies. Causes of 5xx errors are logged, never sent.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    /// URI reference naming the kind of problem, e.g. `/problems/validation`.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// One entry per offending input field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct FieldError {
    /// Path of the field in the request (`email`, `lessons[2].title`, `content-type`, `page`).
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug)]
pub struct AppError {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: Option<String>,
    errors: Vec<FieldError>,
    cause: Option<anyhow::Error>,
    retry_after: Option<u64>,
}

impl AppError {
    fn new(status: StatusCode, slug: &'static str, title: &'static str) -> Self {
        Self {
            status,
            slug,
            title,
            detail: None,
            errors: Vec::new(),
            cause: None,
            retry_after: None,
        }
    }

    /// What a person is told of the problem, if anything beyond its title.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Adds a field to the problem's `errors` (e.g. the field a 409 is about).
    pub fn with_field(mut self, field: impl Into<String>, message: impl Into<String>) -> Self {
        self.errors.push(FieldError::new(field, message));
        self
    }

    /// Well-formed input that breaks a rule (422), one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::invalid_fields(vec![FieldError::new(field, message)])
    }

    /// Well-formed input that breaks rules (422), every offending field at once.
    pub fn invalid_fields(errors: Vec<FieldError>) -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Données invalides",
        );
        e.detail = Some("Certains champs sont invalides.".into());
        e.errors = errors;
        e
    }

    /// Input that cannot be read at all (400): broken JSON, bad query string.
    pub fn malformed(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "malformed-request",
            "Requête illisible",
        );
        e.errors = vec![FieldError::new(field, message)];
        e
    }

    pub fn unsupported_media_type(expected: &str) -> Self {
        let mut e = Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Type de contenu non pris en charge",
        );
        e.detail = Some(format!(
            "Le corps de la requête doit être de type {expected}."
        ));
        e.errors = vec![FieldError::new(
            "content-type",
            format!("attendu : {expected}"),
        )];
        e
    }

    pub fn payload_too_large(limit: usize) -> Self {
        let mut e = Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Requête trop volumineuse",
        );
        e.detail = Some(format!(
            "Le corps de la requête dépasse la limite de {limit} octets."
        ));
        e.errors = vec![FieldError::new("body", format!("au plus {limit} octets"))];
        e
    }

    /// 429 with `Retry-After`.
    pub fn too_many_requests(retry_after_seconds: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-requests",
            "Trop de tentatives",
        );
        e.detail = Some(format!(
            "Réessayez dans {} minute(s).",
            retry_after_seconds.div_ceil(60).max(1)
        ));
        e.retry_after = Some(retry_after_seconds.max(1));
        e
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Ressource introuvable").with_detail(what)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentification requise",
        )
        .with_detail(detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Accès refusé").with_detail(detail)
    }

    /// The account's address is not confirmed yet (403), with what to do about it; pages
    /// recognise it by its type (`/problems/email-unconfirmed`) to offer a new link.
    pub fn unconfirmed() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "email-unconfirmed",
            "Adresse e-mail non confirmée",
        )
        .with_detail(
            "Votre compte reste inactif tant que votre adresse e-mail n'est pas confirmée : \
             ouvrez le lien reçu par courriel, ou demandez un nouveau lien (« Renvoyer le lien »).",
        )
    }

    pub fn is_unconfirmed(&self) -> bool {
        self.slug == "email-unconfirmed"
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflit").with_detail(detail)
    }

    /// A write that found the state it was decided on changed by a concurrent one (its
    /// transaction is rolled back): the caller decides again. Said as a conflict to retry
    /// should it reach the client.
    pub fn raced(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict-retry", "Conflit").with_detail(detail)
    }

    pub fn is_raced(&self) -> bool {
        self.slug == "conflict-retry"
    }

    /// A response for a bare HTTP status produced outside our handlers (404 from routing,
    /// 405 from a resource, …).
    pub fn from_status(status: StatusCode) -> Self {
        let title = match status {
            StatusCode::NOT_FOUND => "Ressource introuvable",
            StatusCode::METHOD_NOT_ALLOWED => "Méthode non autorisée",
            s if s.is_server_error() => "Erreur interne",
            _ => "Requête refusée",
        };
        let mut e = Self::new(status, "http", title);
        e.detail = status.canonical_reason().map(str::to_owned);
        e
    }

    pub fn unavailable(cause: anyhow::Error) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service momentanément indisponible",
        );
        e.detail = Some("Réessayez dans quelques instants.".into());
        e.cause = Some(cause);
        e.retry_after = Some(UNAVAILABLE_RETRY_SECONDS);
        e
    }

    pub fn internal(cause: anyhow::Error) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Erreur interne",
        );
        e.detail = Some("Une erreur inattendue est survenue ; elle a été journalisée.".into());
        e.cause = Some(cause);
        e
    }

    /// A 404 about the owning organisation becomes a 404 about the resource asked for, so
    /// outsiders learn nothing about which organisation owns it.
    pub fn not_found_as(self, resource: impl FnOnce() -> AppError) -> Self {
        if self.status == StatusCode::NOT_FOUND {
            resource()
        } else {
            self
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }

    pub fn problem(&self) -> Problem {
        Problem {
            type_: format!("/problems/{}", self.slug),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            errors: self.errors.clone(),
        }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.title)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(cause) = &self.cause {
            tracing::error!(status = self.status.as_u16(), cause = %format!("{cause:#}"), "request failed");
        }
        let mut response = problem_response(self.status, &self.problem());
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        response
    }
}

pub fn problem_response(status: StatusCode, problem: &Problem) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, PROBLEM_JSON))
        .body(serde_json::to_string(problem).expect("a problem always serialises"))
}

/// What a client is told to wait when the database cannot answer (a restart, a failover,
/// a full disk being freed take seconds).
const UNAVAILABLE_RETRY_SECONDS: u64 = 5;

/// Whether a database error is the database being unreachable or unable to write for now —
/// an outage to wait out (503), not a bug (500). SQLite and libpq say so in words only.
fn is_outage(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind as Kind, Error};
    match e {
        Error::DatabaseError(
            Kind::ClosedConnection
            | Kind::UnableToSendCommand
            | Kind::ReadOnlyTransaction
            | Kind::SerializationFailure,
            _,
        ) => true,
        Error::DatabaseError(_, info) => {
            let message = info.message().to_lowercase();
            [
                // SQLite
                "database is locked",
                "database table is locked",
                "database or disk is full",
                "disk i/o error",
                "attempt to write a readonly database",
                "unable to open database file",
                // PostgreSQL (libpq and server)
                "server closed the connection",
                "terminating connection",
                "could not connect",
                "connection refused",
                "no connection to the server",
                "the database system is",
                "could not extend file",
                "no space left on device",
                "read-only transaction",
                "lock timeout",
                "canceling statement due to",
            ]
            .iter()
            .any(|needle| message.contains(needle))
        }
        _ => false,
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        if is_outage(&e) {
            return Self::unavailable(e.into());
        }
        match e {
            diesel::result::Error::NotFound => {
                Self::not_found("La ressource demandée n'existe pas.")
            }
            // A concurrent request created the same thing first (check-then-insert lost the race).
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => Self::conflict("Cette ressource existe déjà."),
            other => Self::internal(other.into()),
        }
    }
}

impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> Self {
        Self::internal(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_problem_names_the_fields() {
        let p = AppError::invalid("email", "adresse invalide").problem();
        assert_eq!(p.status, 422);
        assert_eq!(p.type_, "/problems/validation");
        assert_eq!(p.errors, vec![FieldError::new("email", "adresse invalide")]);
    }

    #[test]
    fn an_unreachable_or_full_database_is_a_503_to_retry() {
        use diesel::result::{DatabaseErrorKind, Error};
        for e in [
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection,
                Box::new("gone".to_owned()),
            ),
            Error::DatabaseError(
                DatabaseErrorKind::Unknown,
                Box::new("database or disk is full".to_owned()),
            ),
            Error::DatabaseError(
                DatabaseErrorKind::Unknown,
                Box::new("server closed the connection unexpectedly".to_owned()),
            ),
        ] {
            let e = AppError::from(e);
            assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
            let response = actix_web::ResponseError::error_response(&e);
            assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "5");
        }
        let bug = Error::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new("no such column: x".to_owned()),
        );
        assert_eq!(
            AppError::from(bug).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn diesel_not_found_is_a_404_and_other_errors_hide_their_cause() {
        assert_eq!(
            AppError::from(diesel::result::Error::NotFound).status(),
            StatusCode::NOT_FOUND
        );
        let e = AppError::from(diesel::result::Error::BrokenTransactionManager);
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_string(&e.problem()).unwrap();
        assert!(!body.to_lowercase().contains("transaction"), "{body}");
    }
}
