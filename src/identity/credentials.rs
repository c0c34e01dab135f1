//! A person changing their own password or e-mail address. Both ask for the current
//! password, checked with the sign-in's throttle (a borrowed session must not become a way
//! to guess it). A new password ends every other session; a new address must be confirmed
//! again (the account is inactive until it is, as at sign-up), from a link sent to it, and
//! the old address is told.

use serde_json::json;

use super::model::{Email, Password};
use super::password;
use super::service::{authenticate, send_confirmation_link, PasswordSet};
use super::store::{self, now, Account};
use crate::config::IdentitySettings;
use crate::db::DbConn;
use crate::error::AppError;
use crate::mail::{self, NewMail};
use crate::stale::Stale;

/// The account, if `current` is its password (throttled like a sign-in).
fn confirmed_by_password(
    conn: &mut DbConn,
    settings: &IdentitySettings,
    account_id: &str,
    current: &str,
    ip: &str,
) -> Result<Account, AppError> {
    let account = store::account(conn, account_id)?;
    let email = Email::parse(&account.email).map_err(|m| AppError::invalid("email", m))?;
    authenticate(conn, settings, &email, current, ip).map_err(|e| {
        if e.status().as_u16() == 401 {
            AppError::invalid("current_password", "mot de passe actuel incorrect")
        } else {
            e
        }
    })
}

/// Sets a new password; every session of the account ends (the page signs this browser in
/// again with the returned epoch).
pub fn change_password(
    conn: &mut DbConn,
    settings: &IdentitySettings,
    account_id: &str,
    current: &str,
    new: &Password,
    ip: &str,
) -> Result<PasswordSet, AppError> {
    confirmed_by_password(conn, settings, account_id, current, ip)?;
    let password_hash = password::hash(new)?;
    conn.write(|conn| {
        let mut account = store::account_for_update(conn, account_id)?;
        account.password_hash = password_hash;
        account.page_session_epoch += 1;
        account.updated_at = now();
        store::update_account(conn, &account)?;
        store::revoke_all_refresh(conn, account_id)?;
        store::audit(
            conn,
            Some(account_id),
            "account.password_changed",
            None,
            Some(account_id),
            json!({}),
        )?;
        Ok(PasswordSet {
            epoch: account.page_session_epoch,
            stale: Stale::Account(account_id.to_owned()),
            account_id: account_id.to_owned(),
        })
    })
}

/// Moves the account to a new address, unconfirmed until its link is opened.
pub fn change_email(
    conn: &mut DbConn,
    settings: &IdentitySettings,
    public_url: &str,
    account_id: &str,
    current: &str,
    new: &Email,
    ip: &str,
) -> Result<Stale, AppError> {
    let account = confirmed_by_password(conn, settings, account_id, current, ip)?;
    if account.email == new.as_str() {
        return Ok(Stale::Account(account_id.to_owned()));
    }
    conn.write(|conn| {
        if store::email_taken(conn, new.as_str())? {
            return Err(
                AppError::conflict("Un compte existe déjà avec cette adresse e-mail.")
                    .with_field("email", "adresse déjà utilisée"),
            );
        }
        let mut account = store::account_for_update(conn, account_id)?;
        let old = std::mem::replace(&mut account.email, new.as_str().to_owned());
        account.email_verified_at = None;
        account.updated_at = now();
        store::update_account(conn, &account)?;
        send_confirmation_link(conn, settings, public_url, &account, "nouvelle_adresse")?;
        // The old address hears of it: a stolen password must not move an account silently.
        let notice = NewMail::new(
            &old,
            "adresse_modifiee",
            json!({ "full_name": account.full_name, "new_email": account.email }),
        )?;
        mail::enqueue(conn, &notice)?;
        store::audit(
            conn,
            Some(account_id),
            "account.email_changed",
            None,
            Some(account_id),
            json!({}),
        )?;
        Ok(Stale::Account(account_id.to_owned()))
    })
}
