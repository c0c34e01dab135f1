//! The credential issuer key: RSA 2048, signing VC-JWTs with RS256 (the algorithm every
//! Open Badges 3.0 verifier must accept). It is not an access-token key: it lives in its own
//! folder, `QVT_KEYS_DIR/issuer/<kid>.pem` (mode 0600, never in the database), and its
//! public half is published in the same JWKS under its own `kid` (the RFC 7638 thumbprint).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

pub struct IssuerKey {
    kid: String,
    n: String,
    e: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

/// A new RSA 2048 private key as PKCS#8 PEM.
pub fn generate_pem() -> anyhow::Result<String> {
    let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)?;
    Ok(key.to_pkcs8_pem(LineEnding::LF)?.to_string())
}

fn issuer_dir(keys_dir: &Path) -> PathBuf {
    keys_dir.join("issuer")
}

impl IssuerKey {
    /// The newest key of `keys_dir/issuer`, created on first start.
    pub fn load_or_create(keys_dir: &Path) -> anyhow::Result<Self> {
        let dir = issuer_dir(keys_dir);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("cannot create the key folder {}", dir.display()))?;
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "pem"))
            .collect();
        files.sort();
        let pem = match files.last() {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
            None => {
                let pem = generate_pem()?;
                write_new(&dir, &pem)?;
                pem
            }
        };
        Self::from_pem(&pem)
    }

    pub fn from_pem(pem: &str) -> anyhow::Result<Self> {
        let key = RsaPrivateKey::from_pkcs8_pem(pem)
            .map_err(|e| anyhow::anyhow!("the issuer key is not an RSA PKCS#8 key: {e}"))?;
        let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
        let thumbprint = Sha256::digest(format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#));
        let der = key.to_pkcs1_der()?;
        Ok(Self {
            kid: URL_SAFE_NO_PAD.encode(thumbprint),
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            decoding: DecodingKey::from_rsa_components(&n, &e)?,
            n,
            e,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK, for the JWKS.
    pub fn jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid, "n": self.n, "e": self.e,
        })
    }

    pub fn sign(&self, claims: &impl Serialize) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".into());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }

    /// The claims of a JWT signed by this key for `issuer`; None for anything else
    /// (another key or algorithm, a bad signature, not yet valid or expired).
    pub fn verify<T: DeserializeOwned>(&self, token: &str, issuer: &str) -> Option<T> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != Algorithm::RS256 || header.kid.as_deref() != Some(self.kid.as_str()) {
            return None;
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["iss", "nbf"]);
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.leeway = 60;
        jsonwebtoken::decode::<T>(token, &self.decoding, &validation)
            .ok()
            .map(|data| data.claims)
    }
}

fn write_new(dir: &Path, pem: &str) -> anyhow::Result<()> {
    let path = dir.join(format!(
        "{}.pem",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%6f")
    ));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(pem.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_and_refuses_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let key = IssuerKey::load_or_create(dir.path()).unwrap();
        let again = IssuerKey::load_or_create(dir.path()).unwrap();
        assert_eq!(key.kid(), again.kid(), "the key is kept across restarts");
        let now = chrono::Utc::now().timestamp();
        let claims = serde_json::json!({"iss": "https://x", "nbf": now, "name": "Zoé"});
        let jwt = key.sign(&claims).unwrap();
        let back: serde_json::Value = key.verify(&jwt, "https://x").unwrap();
        assert_eq!(back["name"], "Zoé");
        assert!(key.verify::<serde_json::Value>(&jwt, "https://y").is_none());
        let mut tampered = jwt.into_bytes();
        let i = tampered.len() / 2;
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(key
            .verify::<serde_json::Value>(&tampered, "https://x")
            .is_none());
        assert_eq!(key.jwk()["kid"], key.kid());
    }
}
