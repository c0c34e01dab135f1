//! Access tokens (EdDSA-signed JWTs), their keys, and the opaque random tokens used for
//! refresh, e-mail verification and password reset (stored only as SHA-256 hashes).
//!
//! Keys live as `<kid>.pem` files (mode 0600) in `QVT_KEYS_DIR`, never in the database.
//! The newest key signs; every key present verifies, so a rotation does not log anyone out.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::SigningKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const AUDIENCE: &str = "qvt-campus";
const TOKEN_TYPE: &str = "at+jwt";

/// 256 random bits, URL-safe.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps of a random token.
pub fn hash_token(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    /// Always `access`: refuses any other kind of JWT signed with our keys.
    pub typ: String,
    /// Not before (the time of issue).
    pub nbf: i64,
    /// The account's session epoch when issued (see `Account::page_session_epoch`): a
    /// different one means signed out, or the password changed, since.
    pub sev: i32,
}

/// No token of ours lives longer than a page session (8 h); one that claims to is forged
/// with a stolen key, or minted by a bug.
const LONGEST_LIFETIME: i64 = 8 * 3600;

struct VerifyingKey {
    decoding: DecodingKey,
    x: String,
}

pub struct KeyRing {
    signing_kid: String,
    signing: EncodingKey,
    verifying: HashMap<String, VerifyingKey>,
    issuer: String,
    /// Tokens already verified, until they expire: the same bytes verify the same way, and
    /// an Ed25519 check was the largest cost of a small authenticated request.
    verified: std::sync::Mutex<HashMap<String, AccessClaims>>,
}

/// Verified tokens kept at most (then the expired ones are dropped, or all of them).
const VERIFIED_KEPT: usize = 100_000;
/// Seconds a token is accepted after its `exp` (clock skew between instances).
const LEEWAY_SECONDS: u64 = 30;

impl KeyRing {
    /// Loads every key in `dir`, creating the folder and a first key if there is none.
    pub fn load_or_create(dir: &Path, issuer: &str) -> anyhow::Result<Self> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create the key folder {}", dir.display()))?;
        if key_files(dir)?.is_empty() {
            generate_key(dir)?;
        }
        let mut files = key_files(dir)?;
        files.sort();
        let mut verifying = HashMap::new();
        let mut newest = None;
        for (kid, path) in files {
            let pem = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let key = SigningKey::from_pkcs8_pem(&pem)
                .map_err(|e| anyhow::anyhow!("{} is not an Ed25519 key: {e}", path.display()))?;
            let x = URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes());
            let decoding = DecodingKey::from_ed_components(&x)?;
            newest = Some((kid.clone(), EncodingKey::from_ed_pem(pem.as_bytes())?));
            verifying.insert(kid, VerifyingKey { decoding, x });
        }
        let (signing_kid, signing) = newest.expect("at least one key");
        Ok(Self {
            signing_kid,
            signing,
            verifying,
            issuer: issuer.to_owned(),
            verified: Default::default(),
        })
    }

    pub fn signing_kid(&self) -> &str {
        &self.signing_kid
    }

    /// The public keys, as a JSON Web Key Set.
    pub fn jwks(&self) -> serde_json::Value {
        let mut kids: Vec<&String> = self.verifying.keys().collect();
        kids.sort();
        let keys: Vec<serde_json::Value> = kids
            .into_iter()
            .map(|kid| {
                serde_json::json!({
                    "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                    "kid": kid, "x": self.verifying[kid].x,
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// An access token (API or page session) for the account at its session `epoch`.
    pub fn issue_access(
        &self,
        account_id: &str,
        ttl: std::time::Duration,
        epoch: i32,
    ) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: AUDIENCE.into(),
            sub: account_id.into(),
            iat: now,
            exp: now + ttl.as_secs() as i64,
            jti: uuid::Uuid::new_v4().to_string(),
            typ: "access".into(),
            nbf: now,
            sev: epoch,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.signing_kid.clone());
        header.typ = Some(TOKEN_TYPE.into());
        Ok(jsonwebtoken::encode(&header, &claims, &self.signing)?)
    }

    /// Checks signature (EdDSA only, key by `kid`), header type, issuer, audience, expiry
    /// and claim type. Any failure is the same `None`: callers answer 401 either way.
    pub fn verify_access(&self, token: &str) -> Option<AccessClaims> {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let fresh = |claims: &AccessClaims| claims.exp + LEEWAY_SECONDS as i64 > now;
        if let Some(claims) = self.verified.lock().expect("not poisoned").get(token) {
            return fresh(claims).then(|| claims.clone());
        }
        let claims = self.verify_signed(token)?;
        let mut verified = self.verified.lock().expect("not poisoned");
        if verified.len() >= VERIFIED_KEPT {
            verified.retain(|_, c| fresh(c));
            if verified.len() >= VERIFIED_KEPT {
                verified.clear();
            }
        }
        verified.insert(token.to_owned(), claims.clone());
        Some(claims)
    }

    fn verify_signed(&self, token: &str) -> Option<AccessClaims> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != Algorithm::EdDSA || header.typ.as_deref() != Some(TOKEN_TYPE) {
            return None;
        }
        let key = self.verifying.get(header.kid.as_deref()?)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &validation)
            .ok()?
            .claims;
        // Issued in the future, or living longer than any token we issue: not ours.
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let plausible = claims.iat <= now + LEEWAY_SECONDS as i64
            && claims.exp - claims.iat <= LONGEST_LIFETIME;
        (claims.typ == "access" && plausible).then_some(claims)
    }
}

fn key_files(dir: &Path) -> anyhow::Result<Vec<(String, std::path::PathBuf)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "pem") {
            let kid = path
                .file_stem()
                .expect("has a name")
                .to_string_lossy()
                .into_owned();
            files.push((kid, path));
        }
    }
    Ok(files)
}

/// Writes a new Ed25519 key; its id sorts after every older one. Returns the id.
pub fn generate_key(dir: &Path) -> anyhow::Result<String> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let key = SigningKey::from_bytes(&seed);
    let pem = key
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("cannot encode the key: {e}"))?;
    let kid = format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%6f"),
        &random_token()[..6]
    );
    let path = dir.join(format!("{kid}.pem"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(pem.as_bytes())?;
    file.sync_all()?;
    Ok(kid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    #[test]
    fn a_first_key_is_created_private_and_signs_verifiable_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::load_or_create(dir.path(), "http://campus.test").unwrap();
        let file = dir.path().join(format!("{}.pem", ring.signing_kid()));
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );

        let token = ring
            .issue_access("account-1", Duration::from_secs(60), 0)
            .unwrap();
        let claims = ring.verify_access(&token).unwrap();
        assert_eq!(claims.sub, "account-1");
        assert_eq!(ring.jwks()["keys"][0]["kid"], ring.signing_kid());
    }

    #[test]
    fn after_a_rotation_old_tokens_still_verify_and_new_ones_use_the_new_key() {
        let dir = tempfile::tempdir().unwrap();
        let before = KeyRing::load_or_create(dir.path(), "iss").unwrap();
        let old_token = before
            .issue_access("a", Duration::from_secs(60), 0)
            .unwrap();
        let new_kid = generate_key(dir.path()).unwrap();
        let after = KeyRing::load_or_create(dir.path(), "iss").unwrap();
        assert_eq!(after.signing_kid(), new_kid);
        assert!(after.verify_access(&old_token).is_some());
        assert_eq!(after.jwks()["keys"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn a_verified_token_is_remembered_but_an_altered_or_expired_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::load_or_create(dir.path(), "iss").unwrap();
        let token = ring.issue_access("a", Duration::from_secs(60), 0).unwrap();
        assert_eq!(ring.verify_access(&token).unwrap().sub, "a");
        assert_eq!(ring.verify_access(&token).unwrap().sub, "a", "from memory");

        let mut altered = token.clone().into_bytes();
        let last = altered.len() - 1;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert!(ring
            .verify_access(std::str::from_utf8(&altered).unwrap())
            .is_none());

        // A remembered token past its expiry (and the leeway) is refused all the same.
        let mut expired = ring.verify_access(&token).unwrap();
        expired.exp -= 3600;
        ring.verified.lock().unwrap().insert(token.clone(), expired);
        assert!(ring.verify_access(&token).is_none());
    }

    #[test]
    fn a_token_from_another_issuer_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ours = KeyRing::load_or_create(dir.path(), "iss-a").unwrap();
        let theirs = KeyRing::load_or_create(dir.path(), "iss-b").unwrap();
        let token = theirs
            .issue_access("a", Duration::from_secs(60), 0)
            .unwrap();
        assert!(ours.verify_access(&token).is_none());
    }

    #[test]
    fn a_token_not_yet_valid_issued_in_the_future_or_living_too_long_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::load_or_create(dir.path(), "iss").unwrap();
        let now = chrono::Utc::now().timestamp();
        let sign = |iat: i64, nbf: i64, exp: i64| {
            let claims = AccessClaims {
                iss: "iss".into(),
                aud: AUDIENCE.into(),
                sub: "a".into(),
                exp,
                iat,
                jti: "j".into(),
                typ: "access".into(),
                nbf,
                sev: 0,
            };
            let mut header = Header::new(Algorithm::EdDSA);
            header.kid = Some(ring.signing_kid.clone());
            header.typ = Some(TOKEN_TYPE.into());
            jsonwebtoken::encode(&header, &claims, &ring.signing).unwrap()
        };
        assert!(ring.verify_access(&sign(now, now, now + 60)).is_some());
        let day = 86_400;
        assert!(
            ring.verify_access(&sign(now, now + day, now + 2 * day))
                .is_none(),
            "nbf"
        );
        assert!(
            ring.verify_access(&sign(now + day, now, now + 2 * day))
                .is_none(),
            "iat"
        );
        assert!(
            ring.verify_access(&sign(now, now, now + 3650 * day))
                .is_none(),
            "10 years"
        );
    }

    #[test]
    fn token_hashes_are_stable_and_do_not_reveal_the_token() {
        let token = random_token();
        assert_eq!(token.len(), 43);
        assert_eq!(hash_token(&token), hash_token(&token));
        assert_ne!(hash_token(&token), token);
    }
}

/// A bearer token is whatever a client sends: refused unless it is ours, unchanged.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;
    use std::time::Duration;

    /// One ring for every case (a key is slow to make), and one token it signed.
    fn ring() -> &'static (KeyRing, String) {
        static RING: OnceLock<(KeyRing, String)> = OnceLock::new();
        RING.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap().keep();
            let ring = KeyRing::load_or_create(&dir, "iss").unwrap();
            let token = ring.issue_access("a", Duration::from_secs(600), 0).unwrap();
            (ring, token)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn any_string_is_refused(text in "(?s).{0,600}|[A-Za-z0-9_-]{10,80}\\.[A-Za-z0-9_-]{10,200}\\.[A-Za-z0-9_-]{0,400}") {
            prop_assert!(ring().0.verify_access(&text).is_none());
        }

        #[test]
        fn a_token_changed_anywhere_is_refused(at in any::<prop::sample::Index>(), with in "[A-Za-z0-9_.-]") {
            let (ring, token) = ring();
            let bytes = token.as_bytes();
            let i = at.index(bytes.len() - 1);
            // The last character of a segment may carry bits base64 ignores.
            let at_end_of_segment = bytes[i + 1] == b'.';
            prop_assume!(bytes[i] != with.as_bytes()[0] && !at_end_of_segment);
            let mut changed = bytes.to_vec();
            changed[i] = with.as_bytes()[0];
            prop_assert!(ring.verify_access(std::str::from_utf8(&changed).unwrap()).is_none());
        }
    }
}
