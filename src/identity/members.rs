//! Changing who belongs where: a member's role, removing a member, disabling an account.
//! Each use case authorises its caller, keeps an organisation administered, writes in one
//! transaction with its audit entry, and is shared by every entry point (API or page).

use diesel::OptionalExtension;
use serde_json::json;

use super::auth::{require_org_admin, CurrentUser};
use super::model::{Email, FullName, Role};
use super::store::{self, Account, Membership};
use super::tokens::{hash_token, random_token};
use crate::db::DbConn;
use crate::error::AppError;
use crate::mail::{self, NewMail};
use crate::stale::Stale;

/// Refuses a change that would leave the organisation without any admin.
fn keep_an_admin(
    conn: &mut DbConn,
    organisation_id: &str,
    current: &Membership,
    new_role: Option<Role>,
) -> Result<(), AppError> {
    let losing_admin = current.role == Role::OrgAdmin && new_role != Some(Role::OrgAdmin);
    if losing_admin {
        store::lock_memberships(conn, organisation_id)?;
    }
    if losing_admin && store::count_role(conn, organisation_id, Role::OrgAdmin)? <= 1 {
        return Err(AppError::conflict(
            "L'organisation doit garder au moins un administrateur.",
        ));
    }
    Ok(())
}

fn existing_membership(
    conn: &mut DbConn,
    organisation_id: &str,
    account_id: &str,
) -> Result<Membership, AppError> {
    store::membership(conn, organisation_id, account_id)?
        .ok_or_else(|| AppError::not_found("Ce compte n'est pas membre de l'organisation."))
}

/// Adds someone to the organisation with a role (its admins, or a platform admin), by
/// address, without telling the admin whether the address had an account:
/// - a confirmed account becomes a member and is told by mail;
/// - an address without an account is invited (an account without a password, a one-time
///   link that sets it); its names are the ones given, else the address's local part;
/// - an account never confirmed is invited the same way, its password and sessions
///   cleared: anyone can register any address, so only the mailbox's owner may take the
///   role (this is also how the CSV import treats it).
///
/// Only a disabled account is refused. An existing member is a conflict.
pub fn add_or_invite(
    conn: &mut DbConn,
    by: &CurrentUser,
    organisation_id: &str,
    invitee: Invitee,
    public_url: &str,
) -> Result<(Membership, Account, Option<Stale>), AppError> {
    conn.write(|conn| {
        let organisation = require_org_admin(conn, by, organisation_id)?;
        let existing = store::account_by_email(conn, invitee.email.as_str())?;
        if let Some(account) = &existing {
            if !account.is_active() {
                return Err(AppError::invalid(
                    "email",
                    "cette adresse ne peut pas être ajoutée (compte désactivé)",
                ));
            }
            if store::membership(conn, organisation_id, &account.id)?.is_some() {
                return Err(
                    AppError::conflict("Ce compte est déjà membre de l'organisation.")
                        .with_field("email", "déjà membre"),
                );
            }
        }
        let at = store::now();
        let (account, stale, invited) = match existing {
            Some(account) if account.email_verified_at.is_some() => (account, None, false),
            Some(mut account) => {
                account.password_hash = String::new();
                account.page_session_epoch += 1;
                account.updated_at = at;
                store::update_account(conn, &account)?;
                store::revoke_all_refresh(conn, &account.id)?;
                let stale = Stale::Account(account.id.clone());
                (account, Some(stale), true)
            }
            None => {
                let account = invitee.new_account(at);
                store::insert_account(conn, &account)?;
                (account, None, true)
            }
        };
        let membership = Membership {
            organisation_id: organisation_id.to_owned(),
            account_id: account.id.clone(),
            role: invitee.role,
            created_at: at,
        };
        store::insert_membership(conn, &membership)?;
        let mut context = json!({ "full_name": account.full_name, "organisation": organisation.name,
                                  "role": invitee.role.label() });
        let template = if invited {
            let token = random_token();
            store::insert_one_time(
                conn,
                &account.id,
                store::INVITATION,
                &hash_token(&token),
                at + chrono::Duration::days(INVITATION_DAYS),
            )?;
            context["link"] = format!("{public_url}/definir-mot-de-passe?jeton={token}").into();
            "invitation_membre"
        } else {
            context["sign_in"] = format!("{public_url}/connexion").into();
            "membre_ajoute"
        };
        mail::enqueue(conn, &NewMail::new(&account.email, template, context)?)?;
        store::audit(
            conn,
            Some(&by.id),
            if invited {
                "membership.invited"
            } else {
                "membership.added"
            },
            Some(organisation_id),
            Some(&account.id),
            json!({ "role": invitee.role.code(), "reclaimed": stale.is_some() }),
        )?;
        Ok((membership, account, stale))
    })
}

/// How long a staff invitation stays good, as the import's.
const INVITATION_DAYS: i64 = 14;

/// Someone to add or invite: their address, names (if given) and role, each parsed.
pub struct Invitee {
    pub email: Email,
    pub names: Option<(FullName, FullName)>,
    pub role: Role,
}

impl Invitee {
    /// The account an invitation creates: no password until the link sets one.
    fn new_account(&self, at: chrono::NaiveDateTime) -> Account {
        let local = self.email.as_str().split('@').next().unwrap_or_default();
        let (first, last) = match &self.names {
            Some((first, last)) => (Some(first.as_str()), Some(last.as_str())),
            None => (None, None),
        };
        Account {
            id: store::new_id(),
            email: self.email.as_str().to_owned(),
            full_name: match (first, last) {
                (Some(first), Some(last)) => format!("{first} {last}"),
                _ => local.to_owned(),
            },
            password_hash: String::new(),
            // Staff say what they are on their account page.
            profession: super::model::Profession::Autre.code().to_owned(),
            rpps: None,
            adeli: None,
            student_number: None,
            mode_exercice: None,
            is_platform_admin: false,
            email_verified_at: None,
            disabled_at: None,
            erased_at: None,
            created_at: at,
            updated_at: at,
            page_session_epoch: 0,
            first_name: first.map(str::to_owned),
            last_name: last.map(str::to_owned),
        }
    }
}

/// Gives a member another role (the organisation's admins, or a platform admin). Nothing
/// to forget: roles are read from the database on every check, never cached.
pub fn change_role(
    conn: &mut DbConn,
    by: &CurrentUser,
    organisation_id: &str,
    account_id: &str,
    role: Role,
) -> Result<(), AppError> {
    conn.write(|conn| {
        require_org_admin(conn, by, organisation_id)?;
        let current = existing_membership(conn, organisation_id, account_id)?;
        keep_an_admin(conn, organisation_id, &current, Some(role))?;
        store::set_role(conn, organisation_id, account_id, role)?;
        store::audit(
            conn,
            Some(&by.id),
            "membership.role_changed",
            Some(organisation_id),
            Some(account_id),
            json!({ "from": current.role, "to": role.code() }),
        )?;
        Ok(())
    })
}

/// Removes a member from the organisation (its admins, or a platform admin). Nothing to
/// forget, as for [`change_role`]; the member's enrolments are left as they are.
pub fn remove_member(
    conn: &mut DbConn,
    by: &CurrentUser,
    organisation_id: &str,
    account_id: &str,
) -> Result<(), AppError> {
    conn.write(|conn| {
        require_org_admin(conn, by, organisation_id)?;
        let current = existing_membership(conn, organisation_id, account_id)?;
        keep_an_admin(conn, organisation_id, &current, None)?;
        store::delete_membership(conn, organisation_id, account_id)?;
        store::audit(
            conn,
            Some(&by.id),
            "membership.removed",
            Some(organisation_id),
            Some(account_id),
            json!({ "role": current.role }),
        )?;
        Ok(())
    })
}

/// Disables an account at once (platform admins): its refresh tokens are revoked, and the
/// returned [`Stale`] ends what the caches remember of it once the caller applies it.
pub fn disable_account(
    conn: &mut DbConn,
    by: &CurrentUser,
    account_id: &str,
) -> Result<Stale, AppError> {
    by.require_platform_admin()?;
    conn.write(|conn| {
        let mut account = store::account_for_update(conn, account_id)
            .optional()?
            .ok_or_else(|| AppError::not_found("Compte introuvable."))?;
        if account.id == by.id {
            return Err(AppError::conflict(
                "Impossible de désactiver son propre compte.",
            ));
        }
        account.disabled_at.get_or_insert(store::now());
        account.updated_at = store::now();
        store::update_account(conn, &account)?;
        store::revoke_all_refresh(conn, account_id)?;
        store::audit(
            conn,
            Some(&by.id),
            "account.disabled",
            None,
            Some(account_id),
            json!({}),
        )?;
        Ok(())
    })?;
    Ok(Stale::Account(account_id.to_owned()))
}
