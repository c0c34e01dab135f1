//! Signing in with an OpenID Connect provider: the sign-in started (state, nonce, PKCE),
//! the provider's return verified (code exchanged, id_token and userinfo checked), and
//! the identity settled on an account in one transaction — the linked one; the signed-in
//! account that asked for the link; a new one; or, when the identity's e-mail or RPPS is
//! an existing account's, that account once it proves itself (never by e-mail alone).
//! What PSC vouches for (RPPS, profession, mode, names) then wins over what was typed.

use chrono::{Duration, NaiveDateTime, Utc};
use serde_json::json;

use super::claims::{self, Identity};
use super::model::{refused, Authorize, IdClaims, LogoutClaims, DEFAULT_RETURN};
use super::settings::ProviderSettings;
use super::store::{self, Login, PendingLink};
use crate::app::AppState;
use crate::db::{self, DbConn};
use crate::error::AppError;
use crate::identity::model::Profession;
use crate::identity::numbers;
use crate::identity::service as identity;
use crate::identity::store::{self as accounts, Account, LinkedIdentity};
use crate::identity::tokens::{hash_token, random_token};
use crate::stale::Stale;

/// How long a sign-in may take at the provider, and a proof on our side.
pub const LOGIN_TTL: Duration = Duration::minutes(10);

/// A provider of the deployment's settings, by its name in addresses.
pub fn provider<'a>(state: &'a AppState, name: &str) -> Result<&'a ProviderSettings, AppError> {
    named(&state.settings.oidc, name)
}

fn named<'a>(
    providers: &'a [ProviderSettings],
    name: &str,
) -> Result<&'a ProviderSettings, AppError> {
    providers
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| AppError::not_found("Fournisseur d'identité inconnu."))
}

/// The address the provider sends the browser back to (registered with the provider).
pub fn redirect_uri(public_url: &str, provider: &str) -> String {
    format!("{public_url}/connexion/oidc/{provider}/retour")
}

/// A sign-in started: where to send the browser, and the PKCE verifier the browser keeps
/// (in a cookie named after `state`) until it comes back.
pub struct Started {
    pub url: String,
    pub state: String,
    pub verifier: String,
}

/// Starts a sign-in with `provider`; `link_account` when a signed-in account asks to link
/// it, `return_to` the page to open afterwards.
pub async fn begin(
    state: &AppState,
    provider: &ProviderSettings,
    link_account: Option<String>,
    return_to: String,
) -> Result<Started, AppError> {
    let discovery = state.oidc.discovery(provider).await?;
    let login = Login {
        state: random_token(),
        provider: provider.name.clone(),
        nonce: random_token(),
        link_account_id: link_account,
        return_to: Some(return_to),
        expires_at: Utc::now().naive_utc() + LOGIN_TTL,
    };
    let verifier = random_token();
    let redirect = redirect_uri(&state.settings.public_url, &provider.name);
    let url = Authorize {
        client_id: &provider.client_id,
        redirect_uri: &redirect,
        scopes: &provider.scopes,
        state: &login.state,
        nonce: &login.nonce,
        verifier: &verifier,
        acr: provider.acr.as_deref(),
    }
    .url(&discovery.authorization_endpoint);
    let state_value = login.state.clone();
    db::run(&state.pool, move |conn| {
        Ok(conn.write(|c| store::insert_login(c, &login))?)
    })
    .await?;
    Ok(Started {
        url,
        state: state_value,
        verifier,
    })
}

/// A provider's return that holds.
pub struct Returned {
    pub provider: ProviderSettings,
    pub login: Login,
    pub identity: Identity,
}

/// Verifies the provider's return: the login of `returned_state` (taken: it serves once),
/// the browser's PKCE verifier, the code exchanged, the id_token (signature by the
/// provider's key, issuer, audience, expiry, this login's nonce, the level asked), and the
/// userinfo of the same subject, mapped by the provider's profile.
pub async fn verify_return(
    state: &AppState,
    provider: &ProviderSettings,
    code: &str,
    returned_state: &str,
    verifier: Option<String>,
) -> Result<Returned, AppError> {
    let verifier =
        verifier.ok_or_else(|| refused("connexion commencée dans un autre navigateur"))?;
    let taken = returned_state.to_owned();
    let login = db::run(&state.pool, move |conn| {
        Ok(conn.write(|c| store::take_login(c, &taken))?)
    })
    .await?
    .filter(|l| l.expires_at > Utc::now().naive_utc() && l.provider == provider.name)
    .ok_or_else(|| refused("état (state) inconnu, expiré ou déjà utilisé"))?;
    let discovery = state.oidc.discovery(provider).await?;
    let redirect = redirect_uri(&state.settings.public_url, &provider.name);
    let tokens = state
        .oidc
        .exchange(provider, &discovery, code, &redirect, &verifier)
        .await?;
    let id_token = tokens
        .id_token
        .ok_or_else(|| refused("id_token absent de la réponse"))?;
    let claims: IdClaims = state
        .oidc
        .verify(
            provider,
            &discovery,
            &id_token,
            &["exp", "iat", "iss", "aud", "sub"],
            true,
        )
        .await?;
    claims.check(&provider.client_id, &login.nonce, Utc::now().timestamp())?;
    if let Some(asked) = &provider.acr {
        if claims.acr.as_deref() != Some(asked.as_str()) {
            return Err(refused("niveau d'authentification (acr) insuffisant"));
        }
    }
    let access_token = tokens
        .access_token
        .ok_or_else(|| refused("access_token absent de la réponse"))?;
    let info = state
        .oidc
        .userinfo(provider, &discovery, &access_token, &claims.sub)
        .await?;
    let identity = claims::map(provider.profile, &claims.sub, &info)
        .ok_or_else(|| refused("identifiant national absent du userinfo"))?;
    Ok(Returned {
        provider: provider.clone(),
        login,
        identity,
    })
}

/// Where a settled return leads.
pub enum Outcome {
    /// Signed in to this account (page-session epoch), then to `to`.
    SignedIn {
        account_id: String,
        epoch: i32,
        to: String,
        /// What the caches knew of the account before its verified data was written.
        stale: Stale,
    },
    /// The identity's e-mail or RPPS is an existing account's: that account must prove
    /// itself (`token` names the link waiting for it).
    NeedsProof { token: String, to: String },
}

/// Settles a verified return on an account, in one transaction.
pub fn settle(conn: &mut DbConn, returned: &Returned) -> Result<Outcome, AppError> {
    let (provider, login, identity) = (&returned.provider, &returned.login, &returned.identity);
    let to = login
        .return_to
        .clone()
        .unwrap_or_else(|| DEFAULT_RETURN.to_owned());
    conn.write(|conn| {
        let at = Utc::now().naive_utc();
        let linked = store::identity(conn, &provider.name, &identity.subject)?;
        let account = match (linked, &login.link_account_id) {
            (Some(linked), Some(asking)) if linked.account_id != *asking => {
                return Err(AppError::conflict(
                    "Cette identité est déjà liée à un autre compte de la plateforme.",
                ))
            }
            (Some(linked), _) => {
                let account = accounts::account(conn, &linked.account_id)?;
                store::touch_identity(
                    conn,
                    &provider.name,
                    &identity.subject,
                    identity.rpps.as_deref(),
                    identity.profession_code.as_deref(),
                    at,
                )?;
                account
            }
            (None, Some(asking)) => {
                let account = accounts::account(conn, asking)?;
                link(conn, provider, identity, &account, at)?;
                account
            }
            (None, None) => {
                if let Some(existing) = existing_claimant(conn, identity)? {
                    let token = random_token();
                    store::insert_pending(
                        conn,
                        &PendingLink {
                            token_hash: hash_token(&token),
                            provider: provider.name.clone(),
                            subject: identity.subject.clone(),
                            identity: serde_json::to_string(identity)
                                .map_err(|e| AppError::internal(e.into()))?,
                            expires_at: at + LOGIN_TTL,
                        },
                    )?;
                    tracing::info!(account = %existing, "OpenID Connect identity awaits the account's proof");
                    return Ok(Outcome::NeedsProof { token, to });
                }
                create(conn, provider, identity, at)?
            }
        };
        signed_in(conn, provider, identity, account, to, at)
    })
}

/// The account an identity's e-mail or RPPS names, if any (never linked on that alone).
fn existing_claimant(conn: &mut DbConn, identity: &Identity) -> Result<Option<String>, AppError> {
    if let Some(email) = &identity.email {
        if let Some(account) = accounts::account_by_email(conn, &email.to_lowercase())? {
            return Ok(Some(account.id));
        }
    }
    match &identity.rpps {
        Some(rpps) => Ok(accounts::number_holder(conn, "rpps", rpps)?),
        None => Ok(None),
    }
}

/// A new account for an identity no account claims (or whose owner said the claiming
/// account is not theirs).
fn create(
    conn: &mut DbConn,
    provider: &ProviderSettings,
    identity: &Identity,
    at: NaiveDateTime,
) -> Result<Account, AppError> {
    let profession = identity.profession.unwrap_or(Profession::Autre);
    let name = identity.full_name();
    let account = identity::create_vouched_account(
        conn,
        identity.email.as_deref(),
        name.as_deref(),
        profession,
    )?;
    accounts::audit(
        conn,
        Some(&account.id),
        "account.created_from_oidc",
        None,
        Some(&account.id),
        json!({ "provider": provider.name }),
    )?;
    link(conn, provider, identity, &account, at)?;
    Ok(account)
}

/// Links an identity to an account (one identity per provider and account).
fn link(
    conn: &mut DbConn,
    provider: &ProviderSettings,
    identity: &Identity,
    account: &Account,
    at: NaiveDateTime,
) -> Result<(), AppError> {
    if !account.is_active() {
        return Err(AppError::forbidden(
            "Ce compte est désactivé sur la plateforme de formation.",
        ));
    }
    if accounts::provider_identities_of(conn, &account.id)?
        .iter()
        .any(|i| i.provider == provider.name)
    {
        return Err(AppError::conflict(format!(
            "Ce compte est déjà lié à une autre identité {}.",
            provider.label
        )));
    }
    store::insert_identity(
        conn,
        &LinkedIdentity {
            provider: provider.name.clone(),
            subject: identity.subject.clone(),
            account_id: account.id.clone(),
            rpps: identity.rpps.clone(),
            profession_code: identity.profession_code.clone(),
            linked_at: at,
            last_sign_in_at: at,
        },
    )?;
    accounts::audit(
        conn,
        Some(&account.id),
        "account.identity_linked",
        None,
        Some(&account.id),
        json!({ "provider": provider.name }),
    )?;
    Ok(())
}

/// The account signed in, after what the provider vouches for is written on it.
fn signed_in(
    conn: &mut DbConn,
    provider: &ProviderSettings,
    identity: &Identity,
    account: Account,
    to: String,
    at: NaiveDateTime,
) -> Result<Outcome, AppError> {
    if !account.is_active() {
        return Err(AppError::forbidden(
            "Ce compte est désactivé sur la plateforme de formation.",
        ));
    }
    let changed = vouch(conn, provider, identity, account, at)?;
    Ok(Outcome::SignedIn {
        account_id: changed.id.clone(),
        epoch: changed.page_session_epoch,
        to,
        stale: Stale::Account(changed.id),
    })
}

/// Writes what a PSC identity vouches for on the account: the RPPS (taken from another
/// account that only typed it, which is flagged to the staff of that account's
/// organisations), the profession and mode, the civil names. Another provider vouches
/// for nothing but the sign-in.
fn vouch(
    conn: &mut DbConn,
    provider: &ProviderSettings,
    identity: &Identity,
    mut account: Account,
    at: NaiveDateTime,
) -> Result<Account, AppError> {
    if !provider.is_psc() {
        return Ok(account);
    }
    if let Some(rpps) = &identity.rpps {
        if let Some(holder) =
            accounts::number_holder(conn, "rpps", rpps)?.filter(|holder| *holder != account.id)
        {
            let mut other = accounts::account_for_update(conn, &holder)?;
            other.rpps = None;
            other.updated_at = at;
            accounts::update_account(conn, &other)?;
            let organisations = accounts::organisations_of(conn, &holder)?;
            let details =
                json!({ "rpps": rpps, "verified_on": account.id, "provider": provider.name });
            accounts::audit(
                conn,
                None,
                "account.rpps_claim_displaced",
                None,
                Some(&holder),
                details.clone(),
            )?;
            for (organisation, _) in organisations {
                accounts::audit(
                    conn,
                    None,
                    "account.rpps_claim_displaced",
                    Some(&organisation.id),
                    Some(&holder),
                    details.clone(),
                )?;
            }
        }
        if account.rpps.as_deref() != Some(rpps.as_str()) {
            accounts::audit(
                conn,
                Some(&account.id),
                "account.rpps_verified",
                None,
                Some(&account.id),
                json!({ "rpps": rpps, "typed": account.rpps, "provider": provider.name }),
            )?;
            account.rpps = Some(rpps.clone());
        }
    }
    if let Some(profession) = identity.profession {
        account.profession = profession.code().to_owned();
    }
    if let Some(mode) = identity.mode_exercice {
        account.mode_exercice = Some(mode.code().to_owned());
    }
    if let (Some(first), Some(last)) = (&identity.first_name, &identity.last_name) {
        account.first_name = Some(first.clone());
        account.last_name = Some(last.clone());
        if let Some(full) = identity.full_name() {
            account.full_name = full;
        }
    }
    account.updated_at = at;
    accounts::update_account(conn, &account).map_err(numbers::claimed)?;
    Ok(account)
}

/// Takes the identity waiting for an account's proof (it serves once), with its provider;
/// refused when the identity got linked meanwhile.
fn take_pending<'a>(
    conn: &mut DbConn,
    providers: &'a [ProviderSettings],
    token: &str,
) -> Result<(&'a ProviderSettings, Identity), AppError> {
    let (pending, identity) = pending_identity(conn, token)?;
    let provider = named(providers, &pending.provider)?;
    store::delete_pending(conn, &pending.token_hash)?;
    if store::identity(conn, &provider.name, &identity.subject)?.is_some() {
        return Err(AppError::conflict(
            "Cette identité est déjà liée à un compte de la plateforme.",
        ));
    }
    Ok((provider, identity))
}

/// The identity waiting for an account's proof, by its token.
fn pending_identity(conn: &mut DbConn, token: &str) -> Result<(PendingLink, Identity), AppError> {
    let pending = store::pending(conn, &hash_token(token))?
        .filter(|p| p.expires_at > Utc::now().naive_utc())
        .ok_or_else(|| {
            AppError::invalid(
                "token",
                "lien d'identité expiré : reconnectez-vous avec le fournisseur",
            )
        })?;
    let identity: Identity =
        serde_json::from_str(&pending.identity).map_err(|e| AppError::internal(e.into()))?;
    Ok((pending, identity))
}

/// The waiting identity linked to the account that just proved itself (its password).
pub fn link_after_proof(
    conn: &mut DbConn,
    providers: &[ProviderSettings],
    token: &str,
    account: Account,
    to: String,
) -> Result<Outcome, AppError> {
    conn.write(|conn| {
        let (provider, identity) = take_pending(conn, providers, token)?;
        let at = Utc::now().naive_utc();
        link(conn, provider, &identity, &account, at)?;
        signed_in(conn, provider, &identity, account, to, at)
    })
}

/// The waiting identity given a new account of its own: its owner says the account that
/// claims its e-mail or RPPS is not theirs (the verified RPPS then moves, flagged).
pub fn create_instead(
    conn: &mut DbConn,
    providers: &[ProviderSettings],
    token: &str,
    to: String,
) -> Result<Outcome, AppError> {
    conn.write(|conn| {
        let (provider, identity) = take_pending(conn, providers, token)?;
        let at = Utc::now().naive_utc();
        let account = create(conn, provider, &identity, at)?;
        signed_in(conn, provider, &identity, account, to, at)
    })
}

/// Unlinks a provider from the account, while a password or another identity remains to
/// sign in with.
pub fn unlink(conn: &mut DbConn, account_id: &str, provider: &str) -> Result<(), AppError> {
    conn.write(|conn| {
        let account = accounts::account_for_update(conn, account_id)?;
        let identities = accounts::provider_identities_of(conn, account_id)?;
        if !identities.iter().any(|i| i.provider == provider) {
            return Err(AppError::not_found("Aucune identité de ce fournisseur n'est liée."));
        }
        if account.password_hash.is_empty() && identities.len() < 2 {
            return Err(AppError::conflict(
                "Choisissez d'abord un mot de passe : sans lui, plus rien ne permettrait de vous connecter.",
            ));
        }
        store::delete_identity(conn, account_id, provider)?;
        accounts::audit(
            conn,
            Some(account_id),
            "account.identity_unlinked",
            None,
            Some(account_id),
            json!({ "provider": provider }),
        )?;
        Ok(())
    })
}

/// A back-channel logout from the provider: the token verified (signature, issuer,
/// audience, the logout event), then every page session of the linked account ends.
pub async fn back_channel_logout(
    state: &AppState,
    provider: &ProviderSettings,
    logout_token: &str,
) -> Result<(), AppError> {
    let discovery = state.oidc.discovery(provider).await?;
    let claims: LogoutClaims = state
        .oidc
        .verify(
            provider,
            &discovery,
            logout_token,
            &["iat", "iss", "aud"],
            true,
        )
        .await
        .map_err(|e| AppError::invalid("logout_token", e.to_string()))?;
    claims.check(Utc::now().timestamp())?;
    let Some(subject) = claims.sub else {
        // Sessions are not tracked by `sid`: nothing of ours to end.
        return Ok(());
    };
    let name = provider.name.clone();
    let stale = db::run(&state.pool, move |conn| {
        match store::identity(conn, &name, &subject)? {
            Some(linked) => identity::end_page_sessions(conn, &linked.account_id).map(Some),
            None => Ok(None),
        }
    })
    .await?;
    if let Some(stale) = stale {
        state.forget(stale);
    }
    Ok(())
}

/// Drops sign-ins never finished (run with the throttles' pruning).
pub fn prune(conn: &mut DbConn) -> Result<usize, AppError> {
    let before = Utc::now().naive_utc();
    Ok(conn.write(|c| store::prune(c, before))?)
}
