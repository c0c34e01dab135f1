//! LTI Dynamic Registration 1.0: an organisation's admin creates a registration address
//! here (one use, 7 days) and pastes it into the LMS (Moodle: « Enregistrer un outil par
//! URL »); the LMS opens it with its OpenID configuration and a registration token; we read
//! the configuration, register ourselves at its registration endpoint, and record the
//! platform for the organisation — the six values nobody has to copy by hand.

use chrono::{Duration, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::{
    parse_url, NewPlatform, ToolConfiguration, SCOPE_LINEITEM, SCOPE_MEMBERSHIPS, SCOPE_SCORE,
};
use super::origins::origin;
use super::platforms::{self, PlatformView};
use crate::app::AppState;
use crate::db::{self, DbConn};
use crate::error::AppError;
use crate::identity::auth::{require_org_admin, CurrentUser};
use crate::identity::tokens::{hash_token, random_token};

/// How long a registration address stays good.
pub const INVITE_TTL: Duration = Duration::days(7);

/// A registration address to paste into the LMS.
#[derive(Serialize, ToSchema)]
pub struct RegistrationUrl {
    pub url: String,
    #[serde(with = "crate::http::timestamps::utc")]
    pub expires_at: NaiveDateTime,
}

/// Creates a registration address for the organisation (its admins only).
pub fn invite(
    conn: &mut DbConn,
    user: &CurrentUser,
    organisation_id: &str,
    public_url: &str,
) -> Result<RegistrationUrl, AppError> {
    let token = random_token();
    let expires_at = Utc::now().naive_utc() + INVITE_TTL;
    conn.write(|conn| {
        require_org_admin(conn, user, organisation_id)?;
        super::store::insert_invite(
            conn,
            &hash_token(&token),
            organisation_id,
            &user.id,
            expires_at,
        )?;
        Ok::<_, AppError>(())
    })?;
    Ok(RegistrationUrl {
        url: format!("{public_url}/lti/inscription/{token}"),
        expires_at,
    })
}

/// What the LMS sends to the registration address.
#[derive(Deserialize)]
pub struct Initiation {
    pub openid_configuration: Option<String>,
    pub registration_token: Option<String>,
}

/// The parts of a platform's OpenID configuration this tool needs.
#[derive(Deserialize)]
struct PlatformConfiguration {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    registration_endpoint: String,
    #[serde(rename = "https://purl.imsglobal.org/spec/lti-platform-configuration")]
    lti: Option<serde_json::Value>,
}

/// Our registration request (LTI DR § 3.5): an OpenID Connect client of the platform.
fn tool_registration(public_url: &str) -> serde_json::Value {
    let tool = ToolConfiguration::of(public_url);
    let domain = public_url
        .split_once("://")
        .map_or(public_url, |(_, rest)| rest);
    let scope = [SCOPE_LINEITEM, SCOPE_SCORE, SCOPE_MEMBERSHIPS].join(" ");
    serde_json::json!({
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": tool.login_url,
        "redirect_uris": [tool.launch_url],
        "client_name": "QVT Campus",
        "jwks_uri": tool.jwks_url,
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": scope,
        "https://purl.imsglobal.org/spec/lti-tool-configuration": {
            "domain": domain,
            "target_link_uri": tool.launch_url,
            "description": "Formations QVT des professionnels de santé",
            "claims": ["iss", "sub", "name", "given_name", "family_name", "email"],
            "messages": [{
                "type": "LtiDeepLinkingRequest",
                "target_link_uri": tool.deep_linking_url,
                "label": "QVT Campus",
            }],
        },
    })
}

fn refused(why: impl Into<String>) -> AppError {
    AppError::invalid("openid_configuration", why)
}

/// Registers us with the platform that opened the address `token`, and records it for the
/// organisation that created the address (the address is then used up).
pub async fn register(
    state: &AppState,
    token: &str,
    initiation: Initiation,
) -> Result<PlatformView, AppError> {
    let hash = hash_token(token);
    let looked_up = hash.clone();
    let (organisation_id, admin_id) = db::run(&state.pool, move |conn| {
        Ok(super::store::invite(
            conn,
            &looked_up,
            Utc::now().naive_utc(),
        )?)
    })
    .await?
    .ok_or_else(|| {
        AppError::not_found("Adresse d'enregistrement inconnue, expirée ou déjà utilisée.")
    })?;
    let allow_http = !state.settings.https();
    let config_url = initiation
        .openid_configuration
        .as_deref()
        .ok_or_else(|| refused("obligatoire"))
        .and_then(|u| parse_url(u, allow_http).map_err(refused))?;
    let unreachable = |e: super::client::CallError| {
        AppError::unavailable(anyhow::anyhow!("dynamic registration: {e}"))
    };
    let raw = state
        .lti
        .public_json(&config_url)
        .await
        .map_err(unreachable)?;
    let config: PlatformConfiguration = serde_json::from_value(raw)
        .map_err(|e| refused(format!("configuration de la plateforme incomplète : {e}")))?;
    // The spec's check: the configuration speaks for its own site only.
    if origin(&config.issuer).is_none() || origin(&config.issuer) != origin(&config_url) {
        return Err(refused(
            "l'émetteur n'est pas le site qui publie la configuration",
        ));
    }
    let registration_endpoint =
        parse_url(&config.registration_endpoint, allow_http).map_err(refused)?;
    let answer = state
        .lti
        .post_json(
            &registration_endpoint,
            initiation.registration_token.as_deref(),
            &tool_registration(&state.settings.public_url),
        )
        .await
        .map_err(unreachable)?;
    let client_id = answer["client_id"]
        .as_str()
        .ok_or_else(|| refused("la plateforme n'a pas donné de client_id"))?;
    let deployment = answer["https://purl.imsglobal.org/spec/lti-tool-configuration"]
        ["deployment_id"]
        .as_str()
        .ok_or_else(|| refused("la plateforme n'a pas donné d'identifiant de déploiement"))?;
    let name = config
        .lti
        .as_ref()
        .and_then(|l| l["product_family_code"].as_str())
        .map_or_else(
            || config.issuer.clone(),
            |p| format!("{p} ({})", config.issuer),
        );
    let new = NewPlatform::parse(
        super::model::RegisterPlatform {
            name: Some(name.chars().take(120).collect()),
            issuer: Some(config.issuer),
            client_id: Some(client_id.to_owned()),
            deployment_ids: Some(vec![deployment.to_owned()]),
            auth_url: Some(config.authorization_endpoint),
            token_url: Some(config.token_endpoint),
            jwks_url: Some(config.jwks_uri),
        },
        allow_http,
    )?;
    db::run(&state.pool, move |conn| {
        conn.write(|conn| {
            if !super::store::consume_invite(conn, &hash)? {
                return Err(AppError::conflict(
                    "Adresse d'enregistrement déjà utilisée.",
                ));
            }
            let admin = crate::identity::auth::CurrentUser {
                id: admin_id.clone(),
                email: String::new(),
                is_platform_admin: false,
                email_verified: true,
            };
            platforms::register(conn, &admin, &organisation_id, new)
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_registration_asks_for_what_the_tool_uses() {
        let r = super::tool_registration("https://campus.test");
        assert_eq!(r["redirect_uris"][0], "https://campus.test/lti/launch");
        assert_eq!(r["jwks_uri"], "https://campus.test/lti/jwks.json");
        assert_eq!(r["token_endpoint_auth_method"], "private_key_jwt");
        let tool = &r["https://purl.imsglobal.org/spec/lti-tool-configuration"];
        assert_eq!(tool["domain"], "campus.test");
        assert_eq!(tool["messages"][0]["type"], "LtiDeepLinkingRequest");
        assert!(r["scope"]
            .as_str()
            .unwrap()
            .contains("contextmembership.readonly"));
    }
}
