//! LTI 1.3's rules as pure functions: a platform registration parsed, the launch's
//! claims (1EdTech LTI Core 1.3 § 5) read and checked, the LMS roles mapped to ours.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::AppError;
use crate::http::Fields;
use crate::identity::model::Role;

pub const LTI_VERSION: &str = "1.3.0";
pub const RESOURCE_LINK_REQUEST: &str = "LtiResourceLinkRequest";
pub const DEEP_LINKING_REQUEST: &str = "LtiDeepLinkingRequest";
pub const DEEP_LINKING_RESPONSE: &str = "LtiDeepLinkingResponse";

const CLAIM: &str = "https://purl.imsglobal.org/spec/lti/claim/";
pub const SCOPE_LINEITEM: &str = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem";
pub const SCOPE_SCORE: &str = "https://purl.imsglobal.org/spec/lti-ags/scope/score";
pub const SCOPE_MEMBERSHIPS: &str =
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly";

/// A platform registration as sent, to the API as JSON or from the admin page's form.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterPlatform {
    /// Shown to admins (« Moodle de l'IFSI »).
    pub name: Option<String>,
    /// The platform's issuer (`iss` of its id_tokens): Moodle's address.
    pub issuer: Option<String>,
    /// The client id the platform gave our tool.
    pub client_id: Option<String>,
    /// One or more deployment ids (a list, or one per line from the page's form).
    pub deployment_ids: Option<Vec<String>>,
    /// The platform's OIDC authentication request URL.
    pub auth_url: Option<String>,
    /// The platform's OAuth 2 token URL (grades and rosters).
    pub token_url: Option<String>,
    /// The platform's public keyset URL.
    pub jwks_url: Option<String>,
}

/// A registration with every field parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPlatform {
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub deployment_ids: Vec<String>,
    pub auth_url: String,
    pub token_url: String,
    pub jwks_url: String,
}

impl NewPlatform {
    /// Parses every field, naming each invalid one. Addresses must be https, except when
    /// this site itself is served over plain http (a developer's machine, the tests): an
    /// LMS reached in clear could be impersonated.
    pub fn parse(body: RegisterPlatform, allow_http: bool) -> Result<Self, AppError> {
        let mut f = Fields::new();
        let url = |raw: &str| parse_url(raw, allow_http);
        let name = f.required("name", body.name.as_deref(), |r| text(r, 120));
        let issuer = f.required("issuer", body.issuer.as_deref(), url);
        let client_id = f.required("client_id", body.client_id.as_deref(), |r| text(r, 255));
        let auth_url = f.required("auth_url", body.auth_url.as_deref(), url);
        let token_url = f.required("token_url", body.token_url.as_deref(), url);
        let jwks_url = f.required("jwks_url", body.jwks_url.as_deref(), url);
        let deployment_ids: Vec<String> = body
            .deployment_ids
            .unwrap_or_default()
            .iter()
            .flat_map(|d| d.lines())
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
            .collect();
        if deployment_ids.is_empty() {
            f.error("deployment_ids", "au moins un identifiant de déploiement");
        } else if let Some(bad) = deployment_ids.iter().find(|d| text(d, 255).is_err()) {
            f.error(
                "deployment_ids",
                format!("identifiant de déploiement invalide : « {bad} »"),
            );
        }
        f.finish()?;
        let mut deployment_ids = deployment_ids;
        deployment_ids.sort();
        deployment_ids.dedup();
        Ok(Self {
            name: name.expect("checked"),
            issuer: issuer.expect("checked"),
            client_id: client_id.expect("checked"),
            deployment_ids,
            auth_url: auth_url.expect("checked"),
            token_url: token_url.expect("checked"),
            jwks_url: jwks_url.expect("checked"),
        })
    }
}

/// Printable text of at most `max` characters, trimmed.
fn text(raw: &str, max: usize) -> Result<String, String> {
    let t = raw.trim();
    if t.is_empty() {
        return Err("obligatoire".into());
    }
    if t.chars().count() > max || t.chars().any(char::is_control) {
        return Err(format!(
            "au plus {max} caractères, sans caractère de contrôle"
        ));
    }
    Ok(t.to_owned())
}

/// `url` with `query` added, whether it has a query already (a platform's registered
/// address may: Moodle's `auth.php?…`) or not.
pub fn with_query(url: &str, query: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{query}")
}

/// An absolute https URL (or http when allowed), without credentials or fragment.
pub fn parse_url(raw: &str, allow_http: bool) -> Result<String, String> {
    let t = raw.trim();
    let rest = t
        .strip_prefix("https://")
        .or_else(|| t.strip_prefix("http://").filter(|_| allow_http))
        .ok_or("adresse https:// attendue")?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains('@') || t.contains('#') || t.len() > 2000 {
        return Err("adresse invalide".into());
    }
    if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("adresse invalide".into());
    }
    Ok(t.to_owned())
}

/// Where our tool receives launches (the redirect URI registered with platforms, and the
/// target of the links it places).
pub fn launch_url(public_url: &str) -> String {
    format!("{public_url}/lti/launch")
}

/// What to paste in the LMS's tool configuration.
#[derive(Serialize, ToSchema)]
pub struct ToolConfiguration {
    /// « Public keyset URL ».
    pub jwks_url: String,
    /// « Initiate login URL ».
    pub login_url: String,
    /// « Tool URL » and « Redirection URI(s) ».
    pub launch_url: String,
    /// « Deep linking URL » (Moodle: « Supports Deep Linking »).
    pub deep_linking_url: String,
}

impl ToolConfiguration {
    pub fn of(public_url: &str) -> Self {
        Self {
            jwks_url: format!("{public_url}/lti/jwks.json"),
            login_url: format!("{public_url}/lti/login"),
            launch_url: launch_url(public_url),
            deep_linking_url: launch_url(public_url),
        }
    }
}

/// `aud`: one audience or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub(crate) fn all(&self) -> Vec<&str> {
        match self {
            Audience::One(a) => vec![a],
            Audience::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ContextClaim {
    pub id: String,
    pub title: Option<String>,
    pub label: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ResourceLinkClaim {
    pub id: String,
    pub title: Option<String>,
}

/// Assignment and Grade Services' endpoint claim.
#[derive(Debug, Default, Deserialize)]
pub struct AgsClaim {
    #[serde(default)]
    pub scope: Vec<String>,
    pub lineitems: Option<String>,
    pub lineitem: Option<String>,
}

/// Names and Role Provisioning Services' claim.
#[derive(Debug, Deserialize)]
pub struct NrpsClaim {
    pub context_memberships_url: String,
}

#[derive(Debug, Deserialize)]
pub struct DeepLinkingSettings {
    pub deep_link_return_url: String,
    #[serde(default)]
    pub accept_types: Vec<String>,
    /// Opaque to the tool, returned as sent (a string by the spec; any JSON is kept).
    pub data: Option<serde_json::Value>,
}

/// The claims of a launch's id_token this tool reads (signature, `iss`, `aud` and `exp`
/// are checked by the JWT library before this is read).
#[derive(Debug, Deserialize)]
pub struct LaunchClaims {
    pub iss: String,
    pub sub: Option<String>,
    pub aud: Audience,
    pub azp: Option<String>,
    pub iat: i64,
    pub nonce: Option<String>,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub email: Option<String>,
    #[serde(rename = "https://purl.imsglobal.org/spec/lti/claim/message_type")]
    pub message_type: Option<String>,
    #[serde(rename = "https://purl.imsglobal.org/spec/lti/claim/version")]
    pub version: Option<String>,
    #[serde(rename = "https://purl.imsglobal.org/spec/lti/claim/deployment_id")]
    pub deployment_id: Option<String>,
    #[serde(rename = "https://purl.imsglobal.org/spec/lti/claim/target_link_uri")]
    pub target_link_uri: Option<String>,
    #[serde(rename = "https://purl.imsglobal.org/spec/lti/claim/roles", default)]
    pub roles: Vec<String>,
    #[serde(rename = "https://purl.imsglobal.org/spec/lti/claim/context")]
    pub context: Option<ContextClaim>,
    #[serde(rename = "https://purl.imsglobal.org/spec/lti/claim/resource_link")]
    pub resource_link: Option<ResourceLinkClaim>,
    #[serde(rename = "https://purl.imsglobal.org/spec/lti/claim/custom")]
    pub custom: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(rename = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint")]
    pub ags: Option<AgsClaim>,
    #[serde(rename = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings")]
    pub deep_linking: Option<DeepLinkingSettings>,
    #[serde(rename = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice")]
    pub nrps: Option<NrpsClaim>,
}

/// What kind of launch a checked token asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    ResourceLink,
    DeepLinking,
}

/// Why a launch is refused (each is a page in French, and the problem's detail).
pub fn refused(why: &str) -> AppError {
    AppError::unauthorized(format!("Lancement LTI refusé : {why}."))
}

impl LaunchClaims {
    /// The checks the security framework and LTI Core leave to the tool once the signature,
    /// issuer, audience and expiry hold: the nonce of this login, `azp` when there are
    /// several audiences, an `iat` not in the future, the version, a deployment the
    /// organisation registered, a known message type and what it needs.
    pub fn check(
        &self,
        client_id: &str,
        nonce: &str,
        deployments: &[String],
        now: i64,
    ) -> Result<Message, AppError> {
        if self.nonce.as_deref() != Some(nonce) {
            return Err(refused(
                "nonce absent, déjà utilisé ou d'une autre connexion",
            ));
        }
        let audiences = self.aud.all();
        if !audiences.contains(&client_id) {
            return Err(refused("audience (aud) différente de notre client_id"));
        }
        if (audiences.len() > 1 || self.azp.is_some()) && self.azp.as_deref() != Some(client_id) {
            return Err(refused("azp différent de notre client_id"));
        }
        if self.iat > now + 60 {
            return Err(refused("jeton émis dans le futur (iat)"));
        }
        if self.version.as_deref() != Some(LTI_VERSION) {
            return Err(refused("version LTI autre que 1.3.0"));
        }
        match &self.deployment_id {
            Some(d) if deployments.contains(d) => {}
            _ => return Err(refused("déploiement (deployment_id) non enregistré")),
        }
        if self.sub.as_deref().is_none_or(str::is_empty) {
            return Err(refused("utilisateur anonyme (sub absent)"));
        }
        match self.message_type.as_deref() {
            Some(RESOURCE_LINK_REQUEST) => {
                if self.resource_link.is_none() {
                    return Err(refused("lien de ressource (resource_link) absent"));
                }
                Ok(Message::ResourceLink)
            }
            Some(DEEP_LINKING_REQUEST) => {
                if self.deep_linking.is_none() {
                    return Err(refused("réglages de Deep Linking absents"));
                }
                Ok(Message::DeepLinking)
            }
            _ => Err(refused("type de message inconnu")),
        }
    }

    /// The course the link places: its `course` custom parameter (set by our deep
    /// linking response, or by hand in the LMS).
    pub fn course(&self) -> Option<String> {
        self.custom_text("course")
    }

    /// A custom parameter's text (`course`, and `quiz` for a link to one quiz).
    pub fn custom_text(&self, name: &str) -> Option<String> {
        self.custom
            .as_ref()?
            .get(name)
            .and_then(|v| v.as_str())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    }

    /// The name to give a new account.
    pub fn full_name(&self) -> Option<String> {
        display_name(
            self.name.as_deref(),
            self.given_name.as_deref(),
            self.family_name.as_deref(),
        )
    }

    /// Our role for the LMS roles.
    pub fn role(&self) -> Role {
        role_of(&self.roles)
    }
}

/// A person's name as OpenID Connect claims give it (launches, rosters): `name`, else
/// given and family names.
pub fn display_name(
    name: Option<&str>,
    given_name: Option<&str>,
    family_name: Option<&str>,
) -> Option<String> {
    let joined = [given_name, family_name]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    name.filter(|n| !n.trim().is_empty())
        .map(str::to_owned)
        .or_else(|| (!joined.trim().is_empty()).then_some(joined))
}

/// The highest of our roles among the LMS's: an administrator (system, institution or
/// course) administers the registering organisation, an instructor (or teaching
/// assistant, content developer, mentor) tutors, anyone else learns.
pub fn role_of(roles: &[String]) -> Role {
    let fragment = |r: &str| {
        let r = r.rsplit(['#', '/']).next().unwrap_or(r);
        r.to_owned()
    };
    let mut best = Role::Learner;
    for role in roles {
        let is_admin = role.contains("person#Administrator")
            || role.ends_with("membership#Administrator")
            || role == "Administrator";
        let is_teacher = matches!(
            fragment(role).as_str(),
            "Instructor" | "TeachingAssistant" | "ContentDeveloper" | "Mentor"
        );
        if is_admin {
            return Role::OrgAdmin;
        }
        if is_teacher {
            best = Role::Tutor;
        }
    }
    best
}

/// The tag a line item carries for a course's completion, and for one of its quizzes.
pub const COMPLETION_TAG: &str = "completion";
pub fn quiz_tag(quiz_id: &str) -> String {
    format!("quiz:{quiz_id}")
}

/// The prefix every LTI claim name starts with (for tests and logs).
pub fn claim(name: &str) -> String {
    format!("{CLAIM}{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(extra: serde_json::Value) -> LaunchClaims {
        let mut base = serde_json::json!({
            "iss": "https://moodle.test", "sub": "42", "aud": "tool", "iat": 1000,
            "nonce": "n1",
            claim("message_type"): RESOURCE_LINK_REQUEST,
            claim("version"): "1.3.0",
            claim("deployment_id"): "d1",
            claim("resource_link"): {"id": "rl"},
            claim("roles"): [],
        });
        for (k, v) in extra.as_object().unwrap() {
            base[k] = v.clone();
        }
        serde_json::from_value(base).unwrap()
    }

    fn check(c: &LaunchClaims) -> Result<Message, String> {
        c.check("tool", "n1", &["d1".to_owned()], 1000)
            .map_err(|e| e.detail().unwrap_or_default().to_owned())
    }

    #[test]
    fn a_well_formed_launch_passes_and_each_broken_claim_is_named() {
        assert_eq!(
            check(&claims(serde_json::json!({}))),
            Ok(Message::ResourceLink)
        );
        let cases = [
            (serde_json::json!({"nonce": "other"}), "nonce"),
            (serde_json::json!({"aud": "someone-else"}), "audience"),
            (serde_json::json!({"aud": ["tool", "x"]}), "azp"),
            (serde_json::json!({"iat": 5000}), "iat"),
            (serde_json::json!({claim("version"): "1.1"}), "version"),
            (
                serde_json::json!({claim("deployment_id"): "d2"}),
                "déploiement",
            ),
            (serde_json::json!({"sub": ""}), "sub"),
            (
                serde_json::json!({claim("message_type"): "Other"}),
                "type de message",
            ),
        ];
        for (extra, word) in cases {
            let err = check(&claims(extra.clone())).unwrap_err();
            assert!(err.contains(word), "{extra}: {err}");
        }
        // Several audiences are fine with the right azp.
        let many = claims(serde_json::json!({"aud": ["tool", "x"], "azp": "tool"}));
        assert!(check(&many).is_ok());
    }

    #[test]
    fn roles_map_to_the_highest_of_ours() {
        let r = |v: &[&str]| role_of(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            r(&["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]),
            Role::Learner
        );
        assert_eq!(
            r(&[
                "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",
                "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
            ]),
            Role::Tutor
        );
        assert_eq!(
            r(&["http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"]),
            Role::Tutor
        );
        assert_eq!(
            r(&["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"]),
            Role::OrgAdmin
        );
        assert_eq!(r(&["Instructor"]), Role::Tutor);
        assert_eq!(r(&[]), Role::Learner);
        // A made-up role naming an administrator elsewhere in its path is not one.
        assert_eq!(
            r(&["http://evil.test/Administrator/x#Learner"]),
            Role::Learner
        );
    }

    #[test]
    fn a_registration_names_each_bad_field_and_needs_https() {
        let body = || RegisterPlatform {
            name: Some("Moodle".into()),
            issuer: Some("https://moodle.test".into()),
            client_id: Some("abc".into()),
            deployment_ids: Some(vec!["1\n2".into(), "1".into()]),
            auth_url: Some("https://moodle.test/mod/lti/auth.php".into()),
            token_url: Some("https://moodle.test/mod/lti/token.php".into()),
            jwks_url: Some("https://moodle.test/mod/lti/certs.php".into()),
        };
        let ok = NewPlatform::parse(body(), false).unwrap();
        assert_eq!(ok.deployment_ids, vec!["1", "2"]);
        let mut plain = body();
        plain.jwks_url = Some("http://moodle.test/certs".into());
        let err = NewPlatform::parse(plain, false).unwrap_err();
        assert!(format!("{err:?}").contains("jwks_url"), "{err:?}");
        let mut plain = body();
        plain.jwks_url = Some("http://127.0.0.1:9/certs".into());
        assert!(NewPlatform::parse(plain, true).is_ok());
        let mut none = body();
        none.deployment_ids = Some(vec![" ".into()]);
        none.issuer = Some("https://user@moodle.test".into());
        let err = format!("{:?}", NewPlatform::parse(none, false).unwrap_err());
        assert!(
            err.contains("deployment_ids") && err.contains("issuer"),
            "{err}"
        );
    }
}
