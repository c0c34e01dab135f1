//! The credential issuer key: RSA 2048, signing VC-JWTs with RS256 (the algorithm every
//! Open Badges 3.0 verifier must accept). It is not an access-token key: it lives in its own
//! folder, `QVT_KEYS_DIR/issuer/<kid>.pem` (mode 0600, never in the database), and its
//! public half is published in the same JWKS under its own `kid` (the RFC 7638 thumbprint).

use std::collections::BTreeMap;
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

struct Key {
    n: String,
    e: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

/// Every issuer key in the folder: the newest signs, all verify and are published, so a
/// rotation never invalidates the credentials already issued.
pub struct IssuerKey {
    signing_kid: String,
    keys: BTreeMap<String, Key>,
}

/// A new RSA 2048 private key as PKCS#8 PEM.
pub fn generate_pem() -> anyhow::Result<String> {
    let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)?;
    Ok(key.to_pkcs8_pem(LineEnding::LF)?.to_string())
}

fn issuer_dir(keys_dir: &Path) -> PathBuf {
    keys_dir.join("issuer")
}

fn pem_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pem"))
        .collect();
    files.sort();
    Ok(files)
}

/// (kid, key) of a PKCS#8 PEM; the kid is the RFC 7638 thumbprint of the public key.
fn parse(pem: &str) -> anyhow::Result<(String, Key)> {
    let key = RsaPrivateKey::from_pkcs8_pem(pem)
        .map_err(|e| anyhow::anyhow!("an issuer key is not an RSA PKCS#8 key: {e}"))?;
    let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
    let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
    let thumbprint = Sha256::digest(format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#));
    let der = key.to_pkcs1_der()?;
    Ok((
        URL_SAFE_NO_PAD.encode(thumbprint),
        Key {
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            decoding: DecodingKey::from_rsa_components(&n, &e)?,
            n,
            e,
        },
    ))
}

impl IssuerKey {
    /// Every key of `keys_dir/issuer`, one created on first start. Instances starting
    /// together may each create one: all are kept and published, and all agree on the
    /// newest (by file name) to sign.
    pub fn load_or_create(keys_dir: &Path) -> anyhow::Result<Self> {
        Self::load_or_create_in(&issuer_dir(keys_dir))
    }

    /// The same for another purpose's keys, in their own folder (`QVT_KEYS_DIR/lti`: the
    /// LTI tool key, which signs our messages to learning platforms).
    pub fn load_or_create_in(dir: &Path) -> anyhow::Result<Self> {
        let dir = dir.to_path_buf();
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("cannot create the key folder {}", dir.display()))?;
        if pem_files(&dir)?.is_empty() {
            write_new(&dir, &generate_pem()?)?;
        }
        let mut keys = BTreeMap::new();
        let mut signing_kid = String::new();
        for path in pem_files(&dir)? {
            let pem = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let (kid, key) = parse(&pem).with_context(|| path.display().to_string())?;
            signing_kid.clone_from(&kid);
            keys.insert(kid, key);
        }
        Ok(Self { signing_kid, keys })
    }

    /// The key that signs new credentials.
    pub fn kid(&self) -> &str {
        &self.signing_kid
    }

    /// The public keys as JWKs, for the JWKS.
    /// Where a key is published on its own, as Open Badges 3.0 has a VC-JWT's `kid`: a
    /// URL that dereferences to the public JWK.
    pub fn kid_url(public_url: &str, kid: &str) -> String {
        format!("{public_url}/.well-known/jwks/{kid}")
    }

    /// The public keys as JWKs, each named by its URL.
    pub fn jwks(&self, public_url: &str) -> Vec<serde_json::Value> {
        self.keys
            .keys()
            .filter_map(|kid| self.jwk(public_url, kid))
            .collect()
    }

    /// One public key, by the thumbprint that ends its URL.
    pub fn jwk(&self, public_url: &str, kid: &str) -> Option<serde_json::Value> {
        let key = self.keys.get(kid)?;
        Some(serde_json::json!({
            "kty": "RSA", "alg": "RS256", "use": "sig",
            "kid": Self::kid_url(public_url, kid), "n": key.n, "e": key.e,
        }))
    }

    /// Signs `payload` as Open Badges 3.0's VC-JWT proof format has it: RS256, `typ` JWT,
    /// `kid` the URL of the key (§ 8.2.3, no other header).
    pub fn sign(&self, payload: &impl Serialize, public_url: &str) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(Self::kid_url(public_url, &self.signing_kid));
        header.typ = Some("JWT".into());
        Ok(jsonwebtoken::encode(
            &header,
            payload,
            &self.keys[&self.signing_kid].encoding,
        )?)
    }

    /// The payload of a VC-JWT signed by one of our keys: the current form (`typ` JWT, `kid`
    /// a URL ending in the thumbprint) or the one issued before (`typ` vc+jwt, `kid` the
    /// thumbprint), so credentials already handed out keep verifying.
    pub fn verify<T: DeserializeOwned>(&self, token: &str) -> Option<T> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let typ = header.typ.as_deref();
        if header.alg != Algorithm::RS256 || !matches!(typ, Some("JWT" | LEGACY_TYPE)) {
            return None;
        }
        let kid = header.kid.as_deref()?;
        let kid = kid
            .rsplit_once("/.well-known/jwks/")
            .map_or(kid, |(_, k)| k);
        let key = self.keys.get(kid)?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_required_spec_claims::<&str>(&[]);
        validation.validate_exp = false;
        validation.validate_aud = false;
        jsonwebtoken::decode::<T>(token, &key.decoding, &validation)
            .ok()
            .map(|data| data.claims)
    }
}

/// The header type of the credentials issued before the OB 3.0 proof format was followed.
const LEGACY_TYPE: &str = "vc+jwt";

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
    fn signs_verifies_refuses_tampering_and_survives_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let key = IssuerKey::load_or_create(dir.path()).unwrap();
        let again = IssuerKey::load_or_create(dir.path()).unwrap();
        assert_eq!(key.kid(), again.kid(), "the key is kept across restarts");
        let jwt = key
            .sign(&serde_json::json!({"name": "Zoé"}), "https://campus.test")
            .unwrap();
        let header = jsonwebtoken::decode_header(&jwt).unwrap();
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        assert_eq!(
            header.kid.unwrap(),
            format!("https://campus.test/.well-known/jwks/{}", key.kid())
        );
        let back: serde_json::Value = key.verify(&jwt).unwrap();
        assert_eq!(back["name"], "Zoé");
        assert_eq!(
            key.jwk("https://campus.test", key.kid()).unwrap()["kty"],
            "RSA"
        );
        let mut tampered = jwt.clone().into_bytes();
        let i = tampered.len() / 2;
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(key.verify::<serde_json::Value>(&tampered).is_none());

        // A new key signs from now on; the old one still verifies what it signed.
        write_new(&issuer_dir(dir.path()), &generate_pem().unwrap()).unwrap();
        let rotated = IssuerKey::load_or_create(dir.path()).unwrap();
        assert_ne!(rotated.kid(), key.kid());
        assert_eq!(rotated.jwks("https://campus.test").len(), 2);
        assert!(rotated.verify::<serde_json::Value>(&jwt).is_some());
    }
}
