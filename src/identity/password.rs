//! Password hashing with argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane).

use std::sync::LazyLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use super::model::Password;

fn argon2() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None).expect("valid parameters"),
    )
}

pub fn hash(password: &Password) -> anyhow::Result<String> {
    hash_secret(password.expose())
}

/// Hashes any shared secret (an enrolment key) the way passwords are hashed.
pub fn hash_secret(secret: &str) -> anyhow::Result<String> {
    argon2()
        .hash_password(secret.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash a password: {e}"))
}

/// Checks `candidate` against a stored hash. With `None` (no such account) it still spends
/// the same work on a dummy hash, so timing does not reveal which e-mails exist.
pub fn verify(candidate: &str, stored: Option<&str>) -> bool {
    static DUMMY: LazyLock<String> = LazyLock::new(|| {
        hash(&Password::parse("dummy password never used").expect("valid")).expect("hashable")
    });
    let (hash, real) = match stored {
        Some(h) if !h.is_empty() => (h, true),
        _ => (DUMMY.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    argon2()
        .verify_password(candidate.as_bytes(), &parsed)
        .is_ok()
        && real
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let stored = hash(&Password::parse("soigner les soignants").unwrap()).unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify("soigner les soignants", Some(&stored)));
        assert!(!verify("soigner les soignant", Some(&stored)));
        assert!(!verify("dummy password never used", None));
    }
}
