//! The identity use cases: register, log in, refresh, verify an e-mail, reset a password,
//! sign out everywhere, export and erase one's data. Blocking functions over one connection
//! (run them through `db::run`); each one that writes does so in a single transaction, mail
//! included. Those that leave the state's caches stale return a [`Stale`] to apply.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::OptionalExtension;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

pub use super::model::NewAccount;
use super::model::{Email, FullName, Password, Profession};
use super::numbers;
use super::password;
use super::store::{self, now, Account, RefreshToken};
use super::tokens::{hash_token, random_token, KeyRing};
use crate::config::IdentitySettings;
use crate::db::DbConn;
use crate::error::AppError;
use crate::mail::{self, NewMail};
use crate::stale::Stale;
use crate::throttle;

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub refresh_token: String,
}

fn after(duration: Duration) -> NaiveDateTime {
    now() + chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::days(1))
}

fn link(public_url: &str, path: &str, token: &str) -> String {
    format!("{public_url}{path}?jeton={token}")
}

/// Creates a learner account and queues its verification mail, in one transaction.
///
/// An address that already has an account gets the same answer, so that sign-up does not
/// tell who is registered: its owner is mailed instead (« vous avez déjà un compte »),
/// and the account returned is the one that would have been created, never stored.
pub fn register(
    conn: &mut DbConn,
    settings: &IdentitySettings,
    public_url: &str,
    new: NewAccount,
    from: &str,
) -> Result<Account, AppError> {
    throttle::take(
        conn,
        &[
            (
                throttle::Limit {
                    max: settings.sign_ups_per_address_per_hour,
                    ..throttle::SIGN_UPS_PER_ADDRESS
                },
                from,
            ),
            (throttle::SIGN_UPS_PER_EMAIL, new.email.as_str()),
        ],
    )?;
    let password_hash = password::hash(&new.password)?;
    conn.write(|conn| {
        let at = now();
        let account = Account {
            id: store::new_id(),
            email: new.email.as_str().to_owned(),
            full_name: new.full_name.as_str().to_owned(),
            password_hash,
            profession: new.profession.code().to_owned(),
            rpps: new.rpps.map(|r| r.as_str().to_owned()),
            adeli: new.adeli.map(|a| a.as_str().to_owned()),
            student_number: new.student_number.map(|s| s.as_str().to_owned()),
            mode_exercice: new.mode_exercice.map(|m| m.code().to_owned()),
            is_platform_admin: false,
            email_verified_at: None,
            disabled_at: None,
            erased_at: None,
            created_at: at,
            updated_at: at,
            page_session_epoch: 0,
            first_name: new
                .names
                .as_ref()
                .map(|(first, _)| first.as_str().to_owned()),
            last_name: new.names.as_ref().map(|(_, last)| last.as_str().to_owned()),
        };
        if let Some(owner) = store::account_by_email(conn, new.email.as_str())? {
            tell_owner_of_sign_up(conn, public_url, &owner)?;
            return Ok(account);
        }
        numbers::ensure_free(conn, &account)?;
        store::insert_account(conn, &account).map_err(numbers::claimed)?;
        send_verification(conn, settings, public_url, &account)?;
        Ok(account)
    })
}

/// Tells the owner of an address that someone asked for an account with it, with the ways
/// in (sign in, choose a new password). An erased or disabled account is told nothing.
fn tell_owner_of_sign_up(
    conn: &mut DbConn,
    public_url: &str,
    owner: &Account,
) -> Result<(), AppError> {
    if !owner.is_active() {
        return Ok(());
    }
    let mail = NewMail::new(
        &owner.email,
        "compte_existant",
        json!({
            "full_name": owner.full_name,
            "sign_in": format!("{public_url}/connexion"),
            "reset": format!("{public_url}/mot-de-passe-oublie"),
        }),
    )?;
    mail::enqueue(conn, &mail)?;
    Ok(())
}

pub(super) fn send_verification(
    conn: &mut DbConn,
    settings: &IdentitySettings,
    public_url: &str,
    account: &Account,
) -> Result<(), AppError> {
    send_confirmation_link(conn, settings, public_url, account, "verification_email")
}

/// Queues a link that confirms the account's address, in the mail `template`.
pub(super) fn send_confirmation_link(
    conn: &mut DbConn,
    settings: &IdentitySettings,
    public_url: &str,
    account: &Account,
    template: &str,
) -> Result<(), AppError> {
    let token = random_token();
    store::insert_one_time(
        conn,
        &account.id,
        store::VERIFY_EMAIL,
        &hash_token(&token),
        after(settings.verify_email_ttl),
    )?;
    let mail = NewMail::new(
        &account.email,
        template,
        json!({ "full_name": account.full_name, "link": link(public_url, "/verifier-email", &token), "token": token }),
    )?;
    mail::enqueue(conn, &mail)?;
    Ok(())
}

/// Seconds to wait before trying again, if this account from this address, this account
/// from everywhere, or this address failed too often lately.
///
/// The lock is per (account, address) first: strangers cannot lock an account out by
/// failing on purpose from their own address. Only a spread-out attack (many addresses)
/// reaches the account-wide limit, which is ten times higher; its owner still gets in by
/// the e-mailed reset link, which signs in.
pub fn throttle(
    settings: &IdentitySettings,
    at: NaiveDateTime,
    failures: &store::LoginFailures,
) -> Option<u64> {
    let window =
        chrono::Duration::from_std(settings.login_window).unwrap_or(chrono::Duration::minutes(15));
    let wait = |(count, oldest): store::FailureCount, max: i64| {
        (count >= max).then(|| oldest.map_or(60, |o| (o + window - at).num_seconds().max(1) as u64))
    };
    [
        wait(failures.pair, settings.login_max_failures_per_account),
        wait(
            failures.account,
            settings.login_max_failures_per_account * 10,
        ),
        wait(failures.address, settings.login_max_failures_per_address),
    ]
    .into_iter()
    .flatten()
    .max()
}

/// Checks a password and opens a session. Unknown e-mail and wrong password get the same
/// answer and cost the same time; failures count per e-mail and per address, in the database.
pub fn login(
    conn: &mut DbConn,
    settings: &IdentitySettings,
    keys: &KeyRing,
    email: &Email,
    candidate: &str,
    ip: &str,
) -> Result<TokenPair, AppError> {
    let account = authenticate(conn, settings, email, candidate, ip)?;
    conn.write(|c| open_session(c, settings, keys, &account, &store::new_id()))
}

/// The account an e-mail and password stand for, with the throttling and failure counting
/// of [`login`]; the pages open their own kind of session with it.
pub fn authenticate(
    conn: &mut DbConn,
    settings: &IdentitySettings,
    email: &Email,
    candidate: &str,
    ip: &str,
) -> Result<Account, AppError> {
    let at = now();
    let since = at
        - chrono::Duration::from_std(settings.login_window)
            .unwrap_or(chrono::Duration::minutes(15));
    // The attempt counts as a failure before the (slow) password check, so parallel
    // guesses cannot all slip under the limit; a success clears it.
    let wait = conn.write(|c| {
        let failures = store::login_failures_since(c, email.as_str(), ip, since)?;
        if let Some(wait) = throttle(settings, at, &failures) {
            return Ok::<_, AppError>(Some(wait));
        }
        store::record_login_failure(c, email.as_str(), ip)?;
        Ok(None)
    })?;
    if let Some(wait) = wait {
        return Err(AppError::too_many_requests(wait));
    }
    let account = store::account_by_email(conn, email.as_str())?.filter(Account::is_active);
    if !password::verify(
        candidate,
        account.as_ref().map(|a| a.password_hash.as_str()),
    ) {
        return Err(AppError::unauthorized(
            "Adresse e-mail ou mot de passe incorrect.",
        ));
    }
    let account = account.expect("verified against a real hash");
    conn.write(|c| {
        store::clear_login_failures(c, email.as_str(), ip)?;
        store::prune_login_failures(c, since)
    })?;
    Ok(account)
}

fn open_session(
    conn: &mut DbConn,
    settings: &IdentitySettings,
    keys: &KeyRing,
    account: &Account,
    family_id: &str,
) -> Result<TokenPair, AppError> {
    let account_id = account.id.as_str();
    let refresh = random_token();
    store::insert_refresh(
        conn,
        &RefreshToken {
            id: store::new_id(),
            account_id: account_id.to_owned(),
            family_id: family_id.to_owned(),
            token_hash: hash_token(&refresh),
            expires_at: after(settings.refresh_ttl),
            used_at: None,
            revoked_at: None,
            created_at: now(),
        },
    )?;
    Ok(TokenPair {
        access_token: keys.issue_access(
            account_id,
            settings.access_ttl,
            account.page_session_epoch,
        )?,
        token_type: "Bearer",
        expires_in: settings.access_ttl.as_secs(),
        refresh_token: refresh,
    })
}

/// Exchanges a refresh token for a new pair. A token presented a second time means it was
/// stolen (or replayed): the whole family is revoked, logging out thief and owner alike.
pub fn refresh(
    conn: &mut DbConn,
    settings: &IdentitySettings,
    keys: &KeyRing,
    presented: &str,
) -> Result<TokenPair, AppError> {
    let refused =
        || AppError::unauthorized("Jeton de rafraîchissement invalide, expiré ou révoqué.");
    let outcome = conn.write(|conn| {
        let Some(token) = store::refresh_by_hash(conn, &hash_token(presented))? else {
            return Ok(None);
        };
        if token.revoked_at.is_some() || token.expires_at <= now() {
            return Ok(None);
        }
        if token.used_at.is_some() || !store::mark_refresh_used(conn, &token.id)? {
            store::revoke_family(conn, &token.family_id)?;
            store::audit(
                conn,
                Some(&token.account_id),
                "session.refresh_reuse_detected",
                None,
                Some(&token.account_id),
                json!({ "family_id": token.family_id }),
            )?;
            return Ok(None);
        }
        let Some(account) = store::account(conn, &token.account_id)
            .optional()?
            .filter(Account::is_active)
        else {
            return Ok(None);
        };
        open_session(conn, settings, keys, &account, &token.family_id).map(Some)
    })?;
    outcome.ok_or_else(refused)
}

/// Ends the session a refresh token belongs to, and every access token of the account
/// issued before (their epoch is now stale; other devices refresh theirs, page sessions
/// sign in again). Unknown tokens are ignored. The caller applies the returned [`Stale`]
/// once this has committed.
pub fn logout(conn: &mut DbConn, presented: &str) -> Result<Option<Stale>, AppError> {
    conn.write(|conn| {
        let Some(token) = store::refresh_by_hash(conn, &hash_token(presented))? else {
            return Ok(None);
        };
        store::revoke_family(conn, &token.family_id)?;
        let mut account = store::account_for_update(conn, &token.account_id)?;
        account.page_session_epoch += 1;
        store::update_account(conn, &account)?;
        Ok(Some(Stale::Account(account.id)))
    })
}

/// Ends every page session of the account (a stolen cookie's included): sessions opened
/// before carry an older epoch. The caller applies the returned [`Stale`] once this has
/// committed, so the cached epoch goes too.
pub fn end_page_sessions(conn: &mut DbConn, account_id: &str) -> Result<Stale, AppError> {
    conn.write(|c| {
        let mut account = store::account_for_update(c, account_id)?;
        account.page_session_epoch += 1;
        store::update_account(c, &account)?;
        Ok::<_, AppError>(())
    })?;
    Ok(Stale::Account(account_id.to_owned()))
}

/// Confirms an address from its link. The caller applies the returned [`Stale`] once this
/// has committed: the cached account check still says "unconfirmed".
pub fn verify_email(conn: &mut DbConn, presented: &str) -> Result<Stale, AppError> {
    conn.write(|conn| {
        let account_id =
            store::consume_one_time(conn, store::VERIFY_EMAIL, &hash_token(presented))?
                .ok_or_else(|| {
                    AppError::invalid(
                        "token",
                        "lien de vérification invalide, expiré ou déjà utilisé",
                    )
                })?;
        let mut account = store::account_for_update(conn, &account_id)?;
        if account.email_verified_at.is_none() {
            account.email_verified_at = Some(now());
            account.updated_at = now();
            store::update_account(conn, &account)?;
        }
        Ok(Stale::Account(account_id))
    })
}

/// At most three links of one kind an hour per account: a form that sends mail must not
/// become a way to flood a mailbox.
const LINKS_PER_HOUR: i64 = 3;

/// Queues a new confirmation link if the address belongs to an active account still
/// unconfirmed; says nothing either way, so the answer tells nobody whether it exists.
pub fn resend_verification(
    conn: &mut DbConn,
    settings: &IdentitySettings,
    public_url: &str,
    email: &Email,
) -> Result<(), AppError> {
    conn.write(|conn| {
        let Some(account) = store::account_by_email(conn, email.as_str())?
            .filter(|a| a.is_active() && a.email_verified_at.is_none())
        else {
            return Ok(());
        };
        let hour_ago = now() - chrono::Duration::hours(1);
        if store::count_one_time_since(conn, &account.id, store::VERIFY_EMAIL, hour_ago)?
            >= LINKS_PER_HOUR
        {
            return Ok(());
        }
        send_verification(conn, settings, public_url, &account)
    })
}

/// Records a request for a reset link; [`send_reset_links`] handles it in the background.
/// The answer costs the same whether the address has an account or not (one insert), so
/// neither its words nor its timing tell who is registered. Requests from one client
/// address are limited, whatever the accounts they name.
pub fn request_password_reset(
    conn: &mut DbConn,
    email: &Email,
    from: &str,
) -> Result<(), AppError> {
    throttle::take(conn, &[(throttle::RESETS_PER_ADDRESS, from)])?;
    conn.write(|c| store::insert_reset_request(c, email.as_str()))?;
    Ok(())
}

/// Sends the reset links asked for: to active accounts only, at most [`LINKS_PER_HOUR`] an
/// account. Each request is handled once (taken and its link queued in one transaction).
pub fn send_reset_links(
    conn: &mut DbConn,
    settings: &IdentitySettings,
    public_url: &str,
) -> Result<usize, AppError> {
    // Most runs find nothing: a read, not a write lock, to learn it.
    if !store::reset_requests_pending(conn)? {
        return Ok(0);
    }
    conn.write(|conn| {
        let requests = store::take_reset_requests(conn, 100)?;
        let handled = requests.len();
        for email in requests {
            let Some(account) = store::account_by_email(conn, &email)?.filter(Account::is_active) else {
                continue;
            };
            let hour_ago = now() - chrono::Duration::hours(1);
            if store::count_one_time_since(conn, &account.id, store::PASSWORD_RESET, hour_ago)? >= LINKS_PER_HOUR {
                continue;
            }
            let token = random_token();
            store::insert_one_time(conn, &account.id, store::PASSWORD_RESET, &hash_token(&token), after(settings.password_reset_ttl))?;
            let mail = NewMail::new(
                &account.email,
                "reinitialisation_mot_de_passe",
                json!({ "full_name": account.full_name, "link": link(public_url, "/reinitialiser-mot-de-passe", &token), "token": token }),
            )?;
            mail::enqueue(conn, &mail)?;
        }
        Ok(handled)
    })
}

/// A password chosen from a mailed link: the account, whose page sessions start again at
/// `epoch` (so the page can sign the person in), and what caches must forget.
pub struct PasswordSet {
    pub account_id: String,
    pub epoch: i32,
    pub stale: Stale,
}

/// Sets a new password from a reset link; every open session is closed. The caller applies
/// the returned [`Stale`] once this has committed: a page session opened with the old
/// password must not live on in this instance's account cache.
pub fn confirm_password_reset(
    conn: &mut DbConn,
    presented: &str,
    new_password: &Password,
) -> Result<PasswordSet, AppError> {
    let password_hash = password::hash(new_password)?;
    conn.write(|conn| {
        let account_id =
            store::consume_one_time(conn, store::PASSWORD_RESET, &hash_token(presented))?
                // An invitation (account created by a bulk enrolment) sets the first password.
                .or(store::consume_one_time(
                    conn,
                    store::INVITATION,
                    &hash_token(presented),
                )?)
                .ok_or_else(|| {
                    AppError::invalid(
                        "token",
                        "lien de réinitialisation invalide, expiré ou déjà utilisé",
                    )
                })?;
        let mut account = store::account_for_update(conn, &account_id)?;
        account.password_hash = password_hash;
        // Page sessions opened with the old password end too.
        account.page_session_epoch += 1;
        // Whoever reads the mailbox proved it: the address is verified.
        account.email_verified_at.get_or_insert(now());
        account.updated_at = now();
        store::update_account(conn, &account)?;
        store::revoke_all_refresh(conn, &account_id)?;
        store::clear_all_login_failures(conn, &account.email)?;
        store::audit(
            conn,
            Some(&account_id),
            "account.password_reset",
            None,
            Some(&account_id),
            json!({}),
        )?;
        Ok(PasswordSet {
            epoch: account.page_session_epoch,
            stale: Stale::Account(account_id.clone()),
            account_id,
        })
    })
}

/// Writes a change of their own profile by its owner (`change` edits the account, naming
/// every invalid field): the RPPS and ADELI numbers stay unique, and one a DPC certificate
/// attests stays as it is (the training body's staff change it, see `enrolment::numbers`).
pub fn update_own_profile(
    conn: &mut DbConn,
    account_id: &str,
    change: impl FnOnce(&mut Account) -> Result<(), AppError>,
) -> Result<Account, AppError> {
    conn.write(|conn| {
        let before = store::account_for_update(conn, account_id)?;
        let mut account = before.clone();
        change(&mut account)?;
        numbers::ensure_self_service(conn, &before, &account)?;
        numbers::ensure_free(conn, &account)?;
        account.updated_at = now();
        store::update_account(conn, &account).map_err(numbers::claimed)?;
        Ok(account)
    })
}

/// Everything the platform holds about a person (RGPD right of access and portability).
pub fn export(conn: &mut DbConn, account_id: &str) -> Result<serde_json::Value, AppError> {
    let account = store::account(conn, account_id)?;
    let memberships: Vec<serde_json::Value> = store::organisations_of(conn, account_id)?
        .into_iter()
        .map(|(org, role)| json!({ "organisation_id": org.id, "organisation": org.name, "role": role }))
        .collect();
    let sessions = store::refresh_tokens_of(conn, account_id)?;
    let audit = store::audit_about(conn, account_id)?;
    let activity_answers: Vec<serde_json::Value> = store::activity_answers_of(conn, account_id)?
        .into_iter()
        .map(|(enrolment, lesson, activity, answer, at)| {
            let answer: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
            json!({ "enrolment_id": enrolment, "lesson_id": lesson, "activity_id": activity,
                    "answer": answer, "updated_at": at })
        })
        .collect();
    let identities = store::provider_identities_of(conn, account_id)?;
    Ok(json!({
        "exported_at": now(),
        "account": account,
        "memberships": memberships,
        "provider_identities": identities,
        "activity_answers": activity_answers,
        "sessions": sessions,
        "audit_log": audit,
    }))
}

/// Erasure (RGPD right to be forgotten): identifying data is removed or pseudonymised at
/// once; the pseudonymous row stays so proof of training can be kept for the retention
/// period, after which `qvt-campus purge` deletes it. The caller applies the returned
/// [`Stale`] once this has committed.
pub fn erase(conn: &mut DbConn, account_id: &str, candidate: &str) -> Result<Stale, AppError> {
    let stored = store::account(conn, account_id)?.password_hash;
    if !password::verify(candidate, Some(&stored)) {
        return Err(AppError::invalid("password", "mot de passe incorrect"));
    }
    conn.write(|conn| {
        let account = store::account_for_update(conn, account_id)?;
        let at = now();
        let erased = Account {
            email: format!("efface-{}@invalid.invalid", account.id),
            full_name: "Compte supprimé".into(),
            password_hash: String::new(),
            rpps: None,
            adeli: None,
            student_number: None,
            mode_exercice: None,
            is_platform_admin: false,
            disabled_at: Some(at),
            erased_at: Some(at),
            updated_at: at,
            page_session_epoch: 0,
            first_name: None,
            last_name: None,
            ..account.clone()
        };
        store::update_account(conn, &erased)?;
        store::revoke_all_refresh(conn, account_id)?;
        store::delete_one_time_of(conn, account_id)?;
        store::delete_memberships_of(conn, account_id)?;
        // The provider identities go too: nobody signs in to an erased account.
        store::delete_provider_identities_of(conn, account_id)?;
        // What the person wrote in activities is theirs, not proof of training (the time,
        // the scores and the completion are): it goes with the identity.
        store::delete_activity_answers_of(conn, account_id)?;
        store::clear_all_login_failures(conn, &account.email)?;
        store::audit(
            conn,
            Some(account_id),
            "account.erased",
            None,
            Some(account_id),
            json!({}),
        )?;
        Ok::<_, AppError>(())
    })?;
    Ok(Stale::Account(account_id.to_owned()))
}

/// Creates a platform administrator (CLI); returns the account id.
pub fn create_platform_admin(
    conn: &mut DbConn,
    email: &Email,
    full_name: &FullName,
    password: &Password,
) -> Result<String, AppError> {
    let password_hash = password::hash(password)?;
    conn.write(|conn| {
        if store::email_taken(conn, email.as_str())? {
            return Err(AppError::conflict(
                "Un compte existe déjà avec cette adresse e-mail.",
            ));
        }
        let at = now();
        let mut account = Account::fresh(
            email.as_str().to_owned(),
            full_name.as_str().to_owned(),
            password_hash,
            Profession::Autre.code(),
            at,
        );
        account.is_platform_admin = true;
        account.email_verified_at = Some(at);
        store::insert_account(conn, &account)?;
        store::audit(
            conn,
            None,
            "account.platform_admin_created",
            None,
            Some(&account.id),
            json!({ "via": "cli" }),
        )?;
        Ok(account.id)
    })
}

/// Creates the account of someone an organisation's learning platform vouches for (an
/// LTI launch), in the caller's transaction: confirmed (the platform signed them in), with
/// no password (one can be chosen by the reset link), and with the platform's e-mail only
/// if it parses and no account holds it yet. Never linked to an existing account by that
/// e-mail: anyone may type anyone's address in an LMS profile. Without a usable address
/// it gets one under `.invalid` (RFC 2606), to which nothing is ever sent.
pub fn create_vouched_account(
    conn: &mut DbConn,
    email: Option<&str>,
    full_name: Option<&str>,
    profession: Profession,
) -> Result<Account, AppError> {
    let at = now();
    let full_name = full_name.and_then(|n| FullName::parse(n).ok()).map_or_else(
        || "Utilisateur de la plateforme".to_owned(),
        |n| n.as_str().to_owned(),
    );
    let mut account = Account::fresh(
        String::new(),
        full_name,
        String::new(),
        profession.code(),
        at,
    );
    account.email = match email.and_then(|e| Email::parse(e).ok()) {
        Some(e) if !store::email_taken(conn, e.as_str())? => e.as_str().to_owned(),
        _ => format!("lms-{}@comptes.invalid", account.id),
    };
    account.email_verified_at = Some(at);
    store::insert_account(conn, &account)?;
    Ok(account)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn settings() -> IdentitySettings {
        Settings::from_lookup(|_| None).unwrap().identity
    }

    fn failures(
        pair: i64,
        account: i64,
        address: i64,
        oldest: NaiveDateTime,
    ) -> store::LoginFailures {
        store::LoginFailures {
            pair: (pair, Some(oldest)),
            account: (account, Some(oldest)),
            address: (address, Some(oldest)),
        }
    }

    #[test]
    fn ten_failures_for_one_account_from_one_address_block_until_the_oldest_leaves_the_window() {
        let s = settings();
        let at = now();
        let oldest = at - chrono::Duration::minutes(5);
        assert_eq!(throttle(&s, at, &failures(9, 9, 9, oldest)), None);
        let wait = throttle(&s, at, &failures(10, 10, 10, oldest)).unwrap();
        assert!((599..=600).contains(&wait), "{wait}");
    }

    #[test]
    fn failures_from_elsewhere_do_not_lock_the_owner_out_until_an_attack_is_spread_wide() {
        let s = settings();
        let at = now();
        // Ten strangers' failures (from their own address) leave this address free.
        assert_eq!(throttle(&s, at, &failures(0, 10, 0, at)), None);
        assert_eq!(throttle(&s, at, &failures(0, 99, 0, at)), None);
        assert!(throttle(&s, at, &failures(0, 100, 0, at)).is_some());
    }

    #[test]
    fn many_failures_from_one_address_block_it_whatever_the_accounts() {
        let s = settings();
        let at = now();
        assert!(throttle(&s, at, &failures(0, 0, 50, at)).is_some());
        assert!(throttle(&s, at, &failures(0, 0, 49, at)).is_none());
    }
}
