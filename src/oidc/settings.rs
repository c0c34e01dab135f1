//! The OpenID Connect providers a deployment trusts, read from the environment: for
//! each name in `QVT_OIDC_PROVIDERS` (`psc`, `universite`…), `QVT_OIDC_<NAME>_ISSUER`,
//! `_CLIENT_ID`, `_CLIENT_SECRET` (a [`Secret`]: never logged, never in the database),
//! and optionally `_LABEL`, `_SCOPES`, `_PROFILE` (`psc` or `standard`), `_ACR`.

use anyhow::{anyhow, bail};

use crate::secret::Secret;

/// How a provider's claims become our account's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// Pro Santé Connect: the national identifier, names and the professional reference
    /// (`SubjectRefPro`), read as `oidc::psc` says.
    Psc,
    /// Any OpenID Connect provider: `sub`, names and e-mail (OpenID Connect Core § 5.1).
    Standard,
}

#[derive(Clone, Debug)]
pub struct ProviderSettings {
    /// The name in addresses (`/connexion/oidc/<name>`): lower-case letters and digits.
    pub name: String,
    /// What the button says after « Se connecter avec ».
    pub label: String,
    /// The issuer, exactly as the provider's id_tokens say it; its discovery document is
    /// at `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub scopes: String,
    pub profile: Profile,
    /// The authentication level asked (`acr_values`); PSC asks `eidas1`.
    pub acr: Option<String>,
}

impl ProviderSettings {
    pub fn is_psc(&self) -> bool {
        self.profile == Profile::Psc
    }
}

/// The providers named in `QVT_OIDC_PROVIDERS` (none by default).
pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> anyhow::Result<Vec<ProviderSettings>> {
    let Some(list) = get("QVT_OIDC_PROVIDERS") else {
        return Ok(Vec::new());
    };
    let mut providers: Vec<ProviderSettings> = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        {
            bail!("QVT_OIDC_PROVIDERS: {name:?} must be lower-case letters and digits");
        }
        if providers.iter().any(|p| p.name == name) {
            bail!("QVT_OIDC_PROVIDERS names {name:?} twice");
        }
        let key = |suffix: &str| format!("QVT_OIDC_{}_{suffix}", name.to_uppercase());
        let required = |suffix: &str| {
            get(&key(suffix))
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| anyhow!("{} is required (provider {name:?})", key(suffix)))
        };
        let profile = match get(&key("PROFILE")).as_deref().unwrap_or(if name == "psc" {
            "psc"
        } else {
            "standard"
        }) {
            "psc" => Profile::Psc,
            "standard" => Profile::Standard,
            other => bail!("{} must be psc or standard, not {other:?}", key("PROFILE")),
        };
        let issuer = required("ISSUER")?.trim_end_matches('/').to_owned();
        if !issuer.starts_with("https://") && !issuer.starts_with("http://127.0.0.1") {
            bail!("{} must be an https address", key("ISSUER"));
        }
        let psc = profile == Profile::Psc;
        providers.push(ProviderSettings {
            name: name.to_owned(),
            label: get(&key("LABEL")).unwrap_or_else(|| {
                if psc {
                    "Pro Santé Connect"
                } else {
                    "mon établissement"
                }
                .to_owned()
            }),
            issuer,
            client_id: required("CLIENT_ID")?,
            client_secret: Secret::new(required("CLIENT_SECRET")?),
            scopes: get(&key("SCOPES")).unwrap_or_else(|| {
                if psc {
                    "openid scope_all"
                } else {
                    "openid profile email"
                }
                .to_owned()
            }),
            acr: get(&key("ACR")).or_else(|| psc.then(|| "eidas1".to_owned())),
            profile,
        });
    }
    Ok(providers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&str, &str)]) -> anyhow::Result<Vec<ProviderSettings>> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        from_lookup(&|k: &str| map.get(k).cloned())
    }

    #[test]
    fn psc_gets_its_scopes_level_and_label_by_default() {
        let providers = read(&[
            ("QVT_OIDC_PROVIDERS", "psc"),
            (
                "QVT_OIDC_PSC_ISSUER",
                "https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet/",
            ),
            ("QVT_OIDC_PSC_CLIENT_ID", "qvt"),
            ("QVT_OIDC_PSC_CLIENT_SECRET", "s3cret"),
        ])
        .unwrap();
        let psc = &providers[0];
        assert_eq!(psc.profile, Profile::Psc);
        assert_eq!(psc.scopes, "openid scope_all");
        assert_eq!(psc.acr.as_deref(), Some("eidas1"));
        assert_eq!(psc.label, "Pro Santé Connect");
        assert_eq!(
            psc.issuer,
            "https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet"
        );
        assert!(!format!("{psc:?}").contains("s3cret"));
    }

    #[test]
    fn a_missing_secret_or_a_plain_http_issuer_is_named() {
        let e = read(&[
            ("QVT_OIDC_PROVIDERS", "univ"),
            ("QVT_OIDC_UNIV_ISSUER", "https://idp.example.fr"),
            ("QVT_OIDC_UNIV_CLIENT_ID", "qvt"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("QVT_OIDC_UNIV_CLIENT_SECRET"), "{e}");
        let e = read(&[
            ("QVT_OIDC_PROVIDERS", "univ"),
            ("QVT_OIDC_UNIV_ISSUER", "http://idp.example.fr"),
            ("QVT_OIDC_UNIV_CLIENT_ID", "qvt"),
            ("QVT_OIDC_UNIV_CLIENT_SECRET", "x"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("https"), "{e}");
        assert!(read(&[("QVT_OIDC_PROVIDERS", "Univ")]).is_err());
        assert!(read(&[]).unwrap().is_empty());
    }
}
