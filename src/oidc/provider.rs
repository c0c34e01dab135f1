//! What we ask of OpenID Connect providers over HTTP: their discovery document (kept an
//! hour), the code exchanged for tokens, the id_token and a signed userinfo verified
//! against their keyset (fetched again for a key not seen yet: key rotation), userinfo.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::model::{refused, LEEWAY_SECONDS};
use super::settings::ProviderSettings;
use crate::error::AppError;
use crate::lti::client::{CallError, Platforms};

/// How long a discovery document is believed.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// The signature algorithms accepted from providers (never `none`, never HMAC).
const ALGORITHMS: [Algorithm; 3] = [Algorithm::RS256, Algorithm::PS256, Algorithm::ES256];

/// A provider's discovery document (OpenID Connect Discovery 1.0 § 3), what we use of it.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: String,
    pub end_session_endpoint: Option<String>,
}

/// The HTTP client and what it remembers of providers (per instance).
#[derive(Default)]
pub struct Providers {
    http: Platforms,
    discovered: Mutex<HashMap<String, (Discovery, Instant)>>,
}

fn unreachable(e: CallError) -> AppError {
    AppError::unavailable(anyhow::anyhow!("identity provider: {e}"))
}

fn token_error(kind: &ErrorKind) -> AppError {
    tracing::info!(error = ?kind, "OpenID Connect token refused");
    refused(match kind {
        ErrorKind::ExpiredSignature => "jeton expiré",
        ErrorKind::ImmatureSignature => "jeton pas encore valable",
        ErrorKind::InvalidAudience => "audience (aud) différente de notre client_id",
        ErrorKind::InvalidIssuer => "émetteur (iss) différent du fournisseur",
        ErrorKind::InvalidSignature => "signature invalide",
        ErrorKind::MissingRequiredClaim(_) => "revendication obligatoire absente",
        ErrorKind::Json(_) => "revendications mal formées",
        _ => "jeton invalide",
    })
}

/// The tokens a code is exchanged for.
#[derive(Debug, Deserialize)]
pub struct Tokens {
    pub id_token: Option<String>,
    pub access_token: Option<String>,
}

impl Providers {
    /// The provider's discovery document, from memory for an hour. Its `issuer` must be
    /// the configured one (Discovery § 4.3): a document naming another is refused.
    pub async fn discovery(&self, provider: &ProviderSettings) -> Result<Discovery, AppError> {
        if let Some((d, at)) = self.discovered.lock().get(&provider.issuer) {
            if at.elapsed() < DISCOVERY_TTL {
                return Ok(d.clone());
            }
        }
        let url = format!("{}/.well-known/openid-configuration", provider.issuer);
        let json = self.http.public_json(&url).await.map_err(unreachable)?;
        let found: Discovery = serde_json::from_value(json).map_err(|e| {
            AppError::unavailable(anyhow::anyhow!("identity provider discovery: {e}"))
        })?;
        if found.issuer.trim_end_matches('/') != provider.issuer {
            return Err(AppError::unavailable(anyhow::anyhow!(
                "identity provider discovery names issuer {:?}, configured {:?}",
                found.issuer,
                provider.issuer
            )));
        }
        self.discovered
            .lock()
            .insert(provider.issuer.clone(), (found.clone(), Instant::now()));
        Ok(found)
    }

    /// Exchanges an authorization code (with its PKCE verifier) for tokens.
    pub async fn exchange(
        &self,
        provider: &ProviderSettings,
        discovery: &Discovery,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<Tokens, AppError> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ];
        let answer = self
            .http
            .post_form(
                &discovery.token_endpoint,
                (&provider.client_id, provider.client_secret.expose()),
                &form,
            )
            .await
            .map_err(|e| match e {
                CallError::Refused(status, body) => {
                    tracing::info!(status, body, "authorization code refused");
                    refused("code d'autorisation refusé (expiré ou déjà utilisé)")
                }
                e => unreachable(e),
            })?;
        serde_json::from_value(answer).map_err(|_| refused("réponse du fournisseur illisible"))
    }

    /// A JWT of the provider verified: signature by a key of its keyset (named by `kid`),
    /// issuer, audience (our client id) when `audience`, expiry when `exp` is required.
    pub async fn verify<T: DeserializeOwned>(
        &self,
        provider: &ProviderSettings,
        discovery: &Discovery,
        token: &str,
        required: &[&str],
        audience: bool,
    ) -> Result<T, AppError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| refused("jeton illisible"))?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(refused("algorithme de signature non accepté"));
        }
        let kid = header
            .kid
            .ok_or_else(|| refused("clé de signature non nommée (kid)"))?;
        let key = self
            .http
            .key(&discovery.jwks_uri, &kid)
            .await
            .map_err(unreachable)?
            .ok_or_else(|| refused("clé de signature inconnue du fournisseur (kid)"))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&provider.issuer]);
        if audience {
            validation.set_audience(&[&provider.client_id]);
        } else {
            validation.validate_aud = false;
        }
        validation.validate_exp = required.contains(&"exp");
        validation.set_required_spec_claims(required);
        validation.leeway = LEEWAY_SECONDS;
        jsonwebtoken::decode::<T>(token, &key, &validation)
            .map(|t| t.claims)
            .map_err(|e| token_error(e.kind()))
    }

    /// The userinfo of an access token: JSON, or a JWT signed by the provider (verified,
    /// like an id_token). Its `sub` must be the id_token's (Core § 5.3.2).
    pub async fn userinfo(
        &self,
        provider: &ProviderSettings,
        discovery: &Discovery,
        access_token: &str,
        subject: &str,
    ) -> Result<serde_json::Value, AppError> {
        let Some(url) = &discovery.userinfo_endpoint else {
            return Ok(serde_json::json!({ "sub": subject }));
        };
        let (content_type, body) = self
            .http
            .get_bearer(url, access_token)
            .await
            .map_err(unreachable)?;
        let info: serde_json::Value = if content_type.starts_with("application/jwt") {
            let jwt = String::from_utf8(body).map_err(|_| refused("userinfo illisible"))?;
            self.verify(provider, discovery, jwt.trim(), &["iss", "aud"], true)
                .await?
        } else {
            serde_json::from_slice(&body).map_err(|_| refused("userinfo illisible"))?
        };
        if info["sub"].as_str() != Some(subject) {
            return Err(refused("userinfo d'un autre utilisateur (sub)"));
        }
        Ok(info)
    }
}
