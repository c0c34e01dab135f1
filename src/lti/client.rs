//! What this tool asks of platforms over HTTP: their public keys (cached with an expiry,
//! fetched again when a token names a key not seen yet, for rotation), and OAuth 2 access
//! tokens for their services, obtained with a JWT signed by our tool key (1EdTech
//! Security Framework § 4.1, client credentials with `private_key_jwt`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::DecodingKey;
use parking_lot::Mutex;
use serde::Deserialize;

use crate::certificates::keys::IssuerKey;

/// How long a keyset is kept when the platform says nothing (`Cache-Control: max-age`).
const KEYSET_TTL: Duration = Duration::from_secs(3600);
/// The longest a keyset is kept, whatever the platform says.
const KEYSET_TTL_MAX: Duration = Duration::from_secs(24 * 3600);
/// A token naming an unknown key fetches the keyset again, at most this often per platform:
/// a stream of forged tokens with made-up `kid`s must not turn into a stream of fetches
/// (one every 2 s is nothing to a platform), and a platform that just rotated its key is
/// believed within 2 s.
const REFETCH_AFTER: Duration = Duration::from_secs(2);
/// Platforms answer within this, or the call fails (and a grade is retried later).
const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read from a platform.
const MAX_BODY: usize = 1 << 20;

struct KeySet {
    keys: HashMap<String, DecodingKey>,
    fetched: Instant,
    ttl: Duration,
}

struct Token {
    value: String,
    expires: Instant,
}

/// The HTTP client and what it remembers of platforms (per instance: a cache miss only
/// costs one fetch).
pub struct Platforms {
    http: reqwest::Client,
    keysets: Mutex<HashMap<String, KeySet>>,
    tokens: Mutex<HashMap<(String, String), Token>>,
}

impl Default for Platforms {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug)]
pub enum CallError {
    /// The platform could not be reached or answered garbage: try again later.
    Unreachable(String),
    /// The platform refused (4xx): retrying as is will not help soon.
    Refused(u16, String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Unreachable(why) => write!(f, "platform unreachable: {why}"),
            CallError::Refused(status, body) => write!(f, "platform refused ({status}): {body}"),
        }
    }
}

impl std::error::Error for CallError {}

fn unreachable(e: impl std::fmt::Display) -> CallError {
    CallError::Unreachable(e.to_string())
}

#[derive(Deserialize)]
struct RawKeySet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: Option<u64>,
}

/// `max-age` of a `Cache-Control` header.
fn max_age(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::CACHE_CONTROL)?.to_str().ok()?;
    value
        .split(',')
        .find_map(|d| d.trim().strip_prefix("max-age="))
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
}

impl Platforms {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!(
                "qvt-campus/",
                env!("CARGO_PKG_VERSION"),
                " (LTI 1.3 tool)"
            ))
            .build()
            .expect("the HTTP client builds with its defaults");
        Self {
            http,
            keysets: Mutex::default(),
            tokens: Mutex::default(),
        }
    }

    async fn body(response: reqwest::Response) -> Result<(u16, Vec<u8>), CallError> {
        let status = response.status().as_u16();
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(CallError::Unreachable("answer too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        if (400..500).contains(&status) {
            let text: String = String::from_utf8_lossy(&body).chars().take(500).collect();
            return Err(CallError::Refused(status, text));
        }
        if status >= 300 {
            return Err(CallError::Unreachable(format!("status {status}")));
        }
        Ok((status, body))
    }

    async fn fetch_keyset(&self, url: &str) -> Result<KeySet, CallError> {
        let response = self.http.get(url).send().await.map_err(unreachable)?;
        let ttl = max_age(response.headers())
            .unwrap_or(KEYSET_TTL)
            .min(KEYSET_TTL_MAX);
        let (_, body) = Self::body(response).await?;
        let raw: RawKeySet = serde_json::from_slice(&body).map_err(unreachable)?;
        // Keys of kinds we do not use (encryption keys, unknown types) are skipped.
        let keys = raw
            .keys
            .into_iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k).ok())
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                Some((kid, DecodingKey::from_jwk(&jwk).ok()?))
            })
            .collect();
        Ok(KeySet {
            keys,
            fetched: Instant::now(),
            ttl,
        })
    }

    /// The platform key named `kid`, from the keyset at `url`: from memory while the set
    /// is fresh; fetched when stale, or when `kid` is new and the set was not fetched in
    /// the last [`REFETCH_AFTER`]. `None`: no such key.
    pub async fn key(&self, url: &str, kid: &str) -> Result<Option<DecodingKey>, CallError> {
        let cached = |sets: &HashMap<String, KeySet>| -> (Option<DecodingKey>, bool) {
            match sets.get(url) {
                Some(set) => {
                    let fresh = set.fetched.elapsed() < set.ttl;
                    let key = set.keys.get(kid).cloned();
                    let refetch =
                        !fresh || (key.is_none() && set.fetched.elapsed() > REFETCH_AFTER);
                    (key.filter(|_| fresh), refetch)
                }
                None => (None, true),
            }
        };
        let (key, refetch) = cached(&self.keysets.lock());
        if key.is_some() || !refetch {
            return Ok(key);
        }
        let set = self.fetch_keyset(url).await?;
        let key = set.keys.get(kid).cloned();
        self.keysets.lock().insert(url.to_owned(), set);
        Ok(key)
    }

    /// An access token for `scopes` at the platform's token endpoint, from memory until a
    /// minute before it expires.
    pub async fn access_token(
        &self,
        tool_key: &IssuerKey,
        public_url: &str,
        client_id: &str,
        token_url: &str,
        scopes: &str,
    ) -> Result<String, CallError> {
        let cache_key = (format!("{token_url} {client_id}"), scopes.to_owned());
        if let Some(t) = self.tokens.lock().get(&cache_key) {
            if t.expires > Instant::now() + Duration::from_secs(60) {
                return Ok(t.value.clone());
            }
        }
        let now = chrono::Utc::now().timestamp();
        let assertion = tool_key
            .sign(
                &serde_json::json!({
                    "iss": client_id, "sub": client_id, "aud": token_url,
                    "iat": now, "exp": now + 300, "jti": uuid::Uuid::new_v4().to_string(),
                }),
                public_url,
            )
            .map_err(unreachable)?;
        let form = [
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
            ("scope", scopes),
        ];
        let response = self
            .http
            .post(token_url)
            .form(&form)
            .send()
            .await
            .map_err(unreachable)?;
        let (_, body) = Self::body(response).await?;
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(unreachable)?;
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600).min(24 * 3600));
        self.tokens.lock().insert(
            cache_key,
            Token {
                value: answer.access_token.clone(),
                expires: Instant::now() + lifetime,
            },
        );
        Ok(answer.access_token)
    }

    /// Forgets a token the platform refused (revoked, or the platform restarted).
    pub fn forget_token(&self, token_url: &str, client_id: &str, scopes: &str) {
        self.tokens
            .lock()
            .remove(&(format!("{token_url} {client_id}"), scopes.to_owned()));
    }

    /// A public JSON document (a platform's OpenID configuration).
    pub async fn public_json(&self, url: &str) -> Result<serde_json::Value, CallError> {
        let response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(unreachable)?;
        let (_, body) = Self::body(response).await?;
        serde_json::from_slice(&body).map_err(unreachable)
    }

    /// Posts JSON with an optional bearer token (dynamic registration) and reads the answer.
    pub async fn post_json(
        &self,
        url: &str,
        token: Option<&str>,
        json: &serde_json::Value,
    ) -> Result<serde_json::Value, CallError> {
        let mut request = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(json.to_string());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(unreachable)?;
        let (_, body) = Self::body(response).await?;
        serde_json::from_slice(&body).map_err(unreachable)
    }

    /// Posts a form to an OAuth 2 token endpoint with HTTP Basic client authentication
    /// (RFC 6749 § 2.3.1: both parts form-encoded first) and reads the JSON answer.
    pub async fn post_form(
        &self,
        url: &str,
        (client_id, secret): (&str, &str),
        form: &[(&str, &str)],
    ) -> Result<serde_json::Value, CallError> {
        let encode =
            |s: &str| serde_urlencoded::to_string([("", s)]).unwrap_or_default()[1..].to_owned();
        let response = self
            .http
            .post(url)
            .basic_auth(encode(client_id), Some(encode(secret)))
            .header(reqwest::header::ACCEPT, "application/json")
            .form(form)
            .send()
            .await
            .map_err(unreachable)?;
        let (_, body) = Self::body(response).await?;
        serde_json::from_slice(&body).map_err(unreachable)
    }

    /// A GET with a bearer token whose answer may be JSON or a JWT (OpenID Connect
    /// userinfo): its content type and body.
    pub async fn get_bearer(&self, url: &str, token: &str) -> Result<(String, Vec<u8>), CallError> {
        let response = self
            .http
            .get(url)
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, "application/json, application/jwt")
            .send()
            .await
            .map_err(unreachable)?;
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let (_, body) = Self::body(response).await?;
        Ok((content_type, body))
    }

    /// A page of a paged GET (NRPS): its JSON, and the next page's address from the
    /// `Link: <…>; rel="next"` header the spec gives, or a `next` member some platforms use.
    pub async fn page(
        &self,
        url: &str,
        token: &str,
        accept: &str,
    ) -> Result<(serde_json::Value, Option<String>), CallError> {
        let response = self
            .http
            .get(url)
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, accept)
            .send()
            .await
            .map_err(unreachable)?;
        let link_next = response
            .headers()
            .get_all(reqwest::header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .find(|l| l.contains("rel=\"next\"") || l.contains("rel=next"))
            .and_then(|l| Some(l.split_once('<')?.1.split_once('>')?.0.to_owned()));
        let (_, body) = Self::body(response).await?;
        let json: serde_json::Value = serde_json::from_slice(&body).map_err(unreachable)?;
        let next = link_next.or_else(|| json["next"].as_str().map(str::to_owned));
        Ok((json, next))
    }

    /// A JSON call with a bearer token: GET when `body` is `None`, else POST of `body`
    /// as `content_type`. Returns the answer's JSON (`Null` when empty).
    pub async fn call(
        &self,
        url: &str,
        token: &str,
        accept: &str,
        body: Option<(&str, &serde_json::Value)>,
    ) -> Result<serde_json::Value, CallError> {
        let request = match body {
            None => self.http.get(url),
            Some((content_type, json)) => self
                .http
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(json.to_string()),
        };
        let response = request
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, accept)
            .send()
            .await
            .map_err(unreachable)?;
        let (_, body) = Self::body(response).await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&body).map_err(unreachable)
    }
}
