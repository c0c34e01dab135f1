//! Changing who belongs where: a member's role, removing a member, disabling an account.
//! Each use case authorises its caller, keeps an organisation administered, writes in one
//! transaction with its audit entry, and is shared by every entry point (API or page).

use diesel::OptionalExtension;
use serde_json::json;

use super::auth::{require_org_admin, CurrentUser};
use super::model::{Email, Role};
use super::store::{self, Account, Membership};
use crate::db::DbConn;
use crate::error::AppError;
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
