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

/// Adds an existing, confirmed account to the organisation with a role (its admins, or a
/// platform admin): anyone can register any address, so only its verified owner may be
/// given a role.
pub fn add_member(
    conn: &mut DbConn,
    by: &CurrentUser,
    organisation_id: &str,
    email: &Email,
    role: Role,
) -> Result<(Membership, Account), AppError> {
    conn.write(|conn| {
        require_org_admin(conn, by, organisation_id)?;
        let account = store::account_by_email(conn, email.as_str())?
            .filter(|a| a.is_active())
            .ok_or_else(|| AppError::invalid("email", "aucun compte actif avec cette adresse"))?;
        if account.email_verified_at.is_none() {
            return Err(AppError::invalid(
                "email",
                "ce compte n'a pas encore confirmé son adresse e-mail",
            ));
        }
        if store::membership(conn, organisation_id, &account.id)?.is_some() {
            return Err(
                AppError::conflict("Ce compte est déjà membre de l'organisation.")
                    .with_field("email", "déjà membre"),
            );
        }
        let membership = Membership {
            organisation_id: organisation_id.to_owned(),
            account_id: account.id.clone(),
            role,
            created_at: store::now(),
        };
        store::insert_membership(conn, &membership)?;
        store::audit(
            conn,
            Some(&by.id),
            "membership.added",
            Some(organisation_id),
            Some(&account.id),
            json!({ "role": role.code() }),
        )?;
        Ok((membership, account))
    })
}

/// How long a staff invitation stays good, as the import's.
const INVITATION_DAYS: i64 = 14;

/// Invites someone without an account into the organisation (its admins): an account at
/// that address with no password, the membership, and a mail whose one-time link sets the
/// password (which confirms the address). Until then the account cannot sign in.
pub fn invite(
    conn: &mut DbConn,
    by: &CurrentUser,
    organisation_id: &str,
    invitee: Invitee,
    public_url: &str,
) -> Result<Account, AppError> {
    conn.write(|conn| {
        let organisation = require_org_admin(conn, by, organisation_id)?;
        if store::email_taken(conn, invitee.email.as_str())? {
            return Err(
                AppError::conflict("Un compte existe déjà avec cette adresse e-mail.")
                    .with_field("email", "adresse déjà utilisée"),
            );
        }
        let at = store::now();
        let (first, last) = (invitee.first_name.as_str(), invitee.last_name.as_str());
        let account = Account {
            id: store::new_id(),
            email: invitee.email.as_str().to_owned(),
            full_name: format!("{first} {last}"),
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
            first_name: Some(first.to_owned()),
            last_name: Some(last.to_owned()),
        };
        store::insert_account(conn, &account)?;
        store::insert_membership(
            conn,
            &Membership {
                organisation_id: organisation_id.to_owned(),
                account_id: account.id.clone(),
                role: invitee.role,
                created_at: at,
            },
        )?;
        let token = random_token();
        store::insert_one_time(
            conn,
            &account.id,
            store::INVITATION,
            &hash_token(&token),
            at + chrono::Duration::days(INVITATION_DAYS),
        )?;
        let mail = NewMail::new(
            &account.email,
            "invitation_membre",
            json!({ "full_name": account.full_name, "organisation": organisation.name,
                    "role": invitee.role.label(),
                    "link": format!("{public_url}/definir-mot-de-passe?jeton={token}") }),
        )?;
        mail::enqueue(conn, &mail)?;
        store::audit(
            conn,
            Some(&by.id),
            "membership.invited",
            Some(organisation_id),
            Some(&account.id),
            json!({ "role": invitee.role.code() }),
        )?;
        Ok(account)
    })
}

/// What the organisation page's « Ajouter un membre » does: an existing, confirmed account
/// is added; an address without an account is invited, given the person's names.
pub fn add_or_invite(
    conn: &mut DbConn,
    by: &CurrentUser,
    organisation_id: &str,
    email: Email,
    role: Role,
    names: Option<(FullName, FullName)>,
    public_url: &str,
) -> Result<(), AppError> {
    if store::account_by_email(conn, email.as_str())?.is_some() {
        return add_member(conn, by, organisation_id, &email, role).map(drop);
    }
    let Some((first_name, last_name)) = names else {
        require_org_admin(conn, by, organisation_id)?;
        return Err(AppError::invalid(
            "first_name",
            "cette adresse n'a pas de compte : indiquez le prénom et le nom de la personne pour l'inviter",
        ));
    };
    let invitee = Invitee {
        email,
        first_name,
        last_name,
        role,
    };
    invite(conn, by, organisation_id, invitee, public_url).map(drop)
}

/// Someone to invite: their address, names and role, each already parsed.
pub struct Invitee {
    pub email: Email,
    pub first_name: FullName,
    pub last_name: FullName,
    pub role: Role,
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
