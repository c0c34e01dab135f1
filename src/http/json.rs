//! `Json<T>`: the body extractor of the API. Unlike actix's, its errors are problems that
//! name the offending field (`address.city`, `email`), found with `serde_path_to_error`.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use super::BodyLimit;
use crate::error::AppError;

pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = is_json(req);
        let limit = req.app_data::<BodyLimit>().map_or(256 * 1024, |l| l.0);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(AppError::unsupported_media_type("application/json"));
            }
            let bytes = body.await.map_err(|e| {
                if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::payload_too_large(limit)
                } else {
                    AppError::malformed("body", "corps de requête illisible")
                }
            })?;
            parse_json(&bytes).map(Json)
        })
    }
}

/// Whether the request says its body is JSON (`application/json` or `application/*+json`).
pub fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| {
            m.type_() == mime::APPLICATION
                && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
        })
}

/// Parses a JSON document into `T`; syntax errors are 400, well-formed JSON of the wrong
/// shape is 422, both naming the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = inner.to_string();
        // `.` is the root; `?` marks a segment serde could not name (e.g. at end of input).
        let parent = path
            .split('.')
            .filter(|s| !s.is_empty() && *s != "?")
            .collect::<Vec<_>>()
            .join(".");
        match inner.classify() {
            serde_json::error::Category::Data => {
                // serde reports a missing field on its parent, an unknown one on itself.
                let field = match named_field(&message) {
                    Some(name) if message.starts_with("missing field") && !parent.is_empty() => {
                        format!("{parent}.{name}")
                    }
                    Some(name) if parent.is_empty() => name,
                    _ if parent.is_empty() => "body".into(),
                    _ => parent,
                };
                AppError::invalid(field, french_data_message(&message))
            }
            _ => AppError::malformed(
                if parent.is_empty() {
                    "body".into()
                } else {
                    parent
                },
                format!("JSON mal formé : {message}"),
            ),
        }
    })?;
    de.end()
        .map_err(|e| AppError::malformed("body", format!("JSON mal formé : {e}")))?;
    Ok(value)
}

/// The field named in serde's "missing field `x`" or "unknown field `x`" messages.
pub(super) fn named_field(message: &str) -> Option<String> {
    let rest = message
        .split("missing field `")
        .nth(1)
        .or_else(|| message.split("unknown field `").nth(1))?;
    Some(rest.split('`').next()?.to_owned())
}

fn french_data_message(message: &str) -> String {
    let core = message.split(" at line ").next().unwrap_or(message);
    if core.starts_with("missing field") {
        "champ obligatoire manquant".into()
    } else if core.starts_with("unknown field") {
        "champ inconnu".into()
    } else {
        format!("valeur invalide ({core})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Signup {
        email: String,
        address: Address,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Address {
        city: String,
        zip: u32,
    }

    fn field_of(body: &str) -> (u16, String) {
        let err = parse_json::<Signup>(body.as_bytes()).unwrap_err();
        (err.status().as_u16(), err.errors()[0].field.clone())
    }

    #[test]
    fn missing_and_mistyped_fields_are_named_by_path() {
        assert_eq!(
            field_of(r#"{"address":{"city":"Lyon","zip":69001}}"#),
            (422, "email".into())
        );
        assert_eq!(
            field_of(r#"{"email":"a@b.fr","address":{"city":"Lyon"}}"#),
            (422, "address.zip".into())
        );
        assert_eq!(
            field_of(r#"{"email":"a@b.fr","address":{"city":"Lyon","zip":"x"}}"#),
            (422, "address.zip".into())
        );
        assert_eq!(
            field_of(r#"{"email":5,"address":{"city":"Lyon","zip":1}}"#),
            (422, "email".into())
        );
    }

    #[test]
    fn broken_json_is_a_400_on_the_body() {
        assert_eq!(field_of(r#"{"email": "#), (400, "email".into()));
        assert_eq!(
            field_of(r#"{"email":"a@b.fr","address":{"city":"Lyon","zip":1}} trailing"#),
            (400, "body".into())
        );
    }
}
