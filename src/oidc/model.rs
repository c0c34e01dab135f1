//! The rules of the OpenID Connect authorization code flow that need no network: PKCE
//! (RFC 7636, S256), the authorization request, the id_token's claims checked once its
//! signature holds (OpenID Connect Core § 3.1.3.7), the logout token's (Back-Channel
//! Logout 1.0 § 2.6), and the one address a return may lead to.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::lti::model::{with_query, Audience};

/// The event a back-channel logout token carries.
pub const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Clock difference tolerated with providers, in seconds.
pub const LEEWAY_SECONDS: u64 = 60;

/// The answer to any token that does not hold: the reason, never the token.
pub fn refused(why: &str) -> AppError {
    AppError::unauthorized(format!("Connexion refusée par la plateforme : {why}."))
}

/// The PKCE challenge of a verifier: `BASE64URL(SHA256(verifier))`.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// What the authorization request carries besides the provider's endpoint.
pub struct Authorize<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub scopes: &'a str,
    pub state: &'a str,
    pub nonce: &'a str,
    pub verifier: &'a str,
    pub acr: Option<&'a str>,
}

impl Authorize<'_> {
    /// The provider's authorization URL with this request's parameters.
    pub fn url(&self, endpoint: &str) -> String {
        let challenge = pkce_challenge(self.verifier);
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", self.client_id),
            ("redirect_uri", self.redirect_uri),
            ("scope", self.scopes),
            ("state", self.state),
            ("nonce", self.nonce),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        if let Some(acr) = self.acr {
            params.push(("acr_values", acr));
        }
        let query = serde_urlencoded::to_string(&params).expect("strings encode");
        with_query(endpoint, &query)
    }
}

/// The claims of an id_token we read (the library checks `iss`, `aud`, `exp`).
#[derive(Debug, Deserialize)]
pub struct IdClaims {
    pub sub: String,
    pub aud: Audience,
    pub azp: Option<String>,
    pub iat: i64,
    pub nonce: Option<String>,
    pub acr: Option<String>,
    pub sid: Option<String>,
}

impl IdClaims {
    /// The checks left once signature, issuer, audience and expiry hold: this login's
    /// nonce (a replayed token carries another), `azp` among several audiences, an `iat`
    /// not in the future, a subject.
    pub fn check(&self, client_id: &str, nonce: &str, now: i64) -> Result<(), AppError> {
        if self.nonce.as_deref() != Some(nonce) {
            return Err(refused(
                "nonce absent, déjà utilisé ou d'une autre connexion",
            ));
        }
        let audiences = self.aud.all();
        if (audiences.len() > 1 || self.azp.is_some()) && self.azp.as_deref() != Some(client_id) {
            return Err(refused("azp différent de notre client_id"));
        }
        if self.iat > now + LEEWAY_SECONDS as i64 {
            return Err(refused("jeton émis dans le futur (iat)"));
        }
        if self.sub.trim().is_empty() {
            return Err(refused("utilisateur anonyme (sub absent)"));
        }
        Ok(())
    }
}

/// The claims of a back-channel logout token.
#[derive(Debug, Deserialize)]
pub struct LogoutClaims {
    pub sub: Option<String>,
    pub sid: Option<String>,
    pub iat: i64,
    pub nonce: Option<String>,
    pub events: Option<serde_json::Value>,
}

impl LogoutClaims {
    /// § 2.6: the logout event, a `sub` or `sid`, and no `nonce` (which would make it
    /// an id_token someone replays here).
    pub fn check(&self, now: i64) -> Result<(), AppError> {
        let bad = |why: &str| AppError::invalid("logout_token", why.to_owned());
        if self.nonce.is_some() {
            return Err(bad("un jeton de déconnexion ne porte pas de nonce"));
        }
        if !self
            .events
            .as_ref()
            .and_then(|e| e.get(BACKCHANNEL_EVENT))
            .is_some_and(serde_json::Value::is_object)
        {
            return Err(bad("événement de déconnexion absent"));
        }
        if self.sub.is_none() && self.sid.is_none() {
            return Err(bad("ni sub ni sid"));
        }
        if self.iat > now + LEEWAY_SECONDS as i64 {
            return Err(bad("jeton émis dans le futur (iat)"));
        }
        Ok(())
    }
}

/// Where a sign-in leads when nothing else was asked.
pub const DEFAULT_RETURN: &str = "/tableau-de-bord";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pkce_challenge_is_rfc_7636s_example() {
        // RFC 7636, appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn the_authorization_url_carries_pkce_state_nonce_and_the_level_asked() {
        let url = Authorize {
            client_id: "qvt",
            redirect_uri: "https://qvt.example/connexion/oidc/psc/retour",
            scopes: "openid scope_all",
            state: "s",
            nonce: "n",
            verifier: "v",
            acr: Some("eidas1"),
        }
        .url("https://psc.example/auth");
        assert!(url.starts_with("https://psc.example/auth?response_type=code&"));
        assert!(url.contains("scope=openid+scope_all"));
        assert!(url.contains("code_challenge_method=S256"));
        assert!(url.contains("acr_values=eidas1"));
        assert!(url.contains(&format!("code_challenge={}", pkce_challenge("v"))));
    }

    fn claims(nonce: Option<&str>, aud: Audience, azp: Option<&str>, iat: i64) -> IdClaims {
        IdClaims {
            sub: "8100".into(),
            aud,
            azp: azp.map(str::to_owned),
            iat,
            nonce: nonce.map(str::to_owned),
            acr: None,
            sid: None,
        }
    }

    #[test]
    fn an_id_token_holds_only_with_this_logins_nonce_and_a_right_azp() {
        let one = || Audience::One("qvt".into());
        assert!(claims(Some("n"), one(), None, 0)
            .check("qvt", "n", 0)
            .is_ok());
        assert!(claims(Some("old"), one(), None, 0)
            .check("qvt", "n", 0)
            .is_err());
        assert!(claims(None, one(), None, 0).check("qvt", "n", 0).is_err());
        let many = || Audience::Many(vec!["qvt".into(), "other".into()]);
        assert!(claims(Some("n"), many(), None, 0)
            .check("qvt", "n", 0)
            .is_err());
        assert!(claims(Some("n"), many(), Some("qvt"), 0)
            .check("qvt", "n", 0)
            .is_ok());
        assert!(claims(Some("n"), one(), None, 3600)
            .check("qvt", "n", 0)
            .is_err());
    }

    #[test]
    fn a_logout_token_needs_the_event_a_subject_and_no_nonce() {
        let event = serde_json::json!({ BACKCHANNEL_EVENT: {} });
        let token = |sub: Option<&str>, nonce: Option<&str>, events| LogoutClaims {
            sub: sub.map(str::to_owned),
            sid: None,
            iat: 0,
            nonce: nonce.map(str::to_owned),
            events,
        };
        assert!(token(Some("s"), None, Some(event.clone())).check(0).is_ok());
        assert!(token(Some("s"), Some("n"), Some(event.clone()))
            .check(0)
            .is_err());
        assert!(token(None, None, Some(event)).check(0).is_err());
        assert!(token(Some("s"), None, None).check(0).is_err());
    }
}
