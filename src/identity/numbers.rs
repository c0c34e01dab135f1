//! One identity per professional: an RPPS or ADELI number belongs to one account, and once
//! a DPC certificate attests it, only the training body's staff may change it. The unique
//! indexes (`accounts_rpps_unique`, `accounts_adeli_unique`) are what holds under
//! concurrent requests; the check before a write only gives the common case a clear answer
//! early, and [`claimed`] gives the race the same answer.

use super::store::{self, Account};
use crate::db::DbConn;
use crate::error::AppError;

/// The two professional numbers, by their field name in the API.
pub const FIELDS: [&str; 2] = ["rpps", "adeli"];

fn label(field: &str) -> &'static str {
    if field == "adeli" {
        "ADELI"
    } else {
        "RPPS"
    }
}

/// The answer when a number already belongs to another account: never which one.
pub fn taken(field: &'static str) -> AppError {
    AppError::conflict(format!(
        "Ce numéro {} est déjà associé à un autre compte. S'il s'agit bien du vôtre, \
         contactez l'organisme de formation : il vérifiera votre identité et corrigera les comptes.",
        label(field)
    ))
    .with_field(field, "numéro déjà associé à un autre compte")
}

/// The number a unique-index violation is about, if it is one of them (SQLite names the
/// column, PostgreSQL the index; both contain the field).
pub fn violated(e: &diesel::result::Error) -> Option<&'static str> {
    let diesel::result::Error::DatabaseError(
        diesel::result::DatabaseErrorKind::UniqueViolation,
        info,
    ) = e
    else {
        return None;
    };
    let said = format!(
        "{} {}",
        info.message(),
        info.constraint_name().unwrap_or("")
    );
    FIELDS.into_iter().find(|f| {
        said.contains(&format!("accounts_{f}_unique")) || said.contains(&format!("accounts.{f}"))
    })
}

/// Maps the error of a write that may claim a number: a lost race becomes [`taken`].
pub fn claimed(e: diesel::result::Error) -> AppError {
    match violated(&e) {
        Some(field) => taken(field),
        None => e.into(),
    }
}

/// The numbers of `account`, by field.
pub fn of(account: &Account) -> [(&'static str, Option<&str>); 2] {
    [
        ("rpps", account.rpps.as_deref()),
        ("adeli", account.adeli.as_deref()),
    ]
}

/// Refuses the account's numbers if another account holds one of them.
pub fn ensure_free(conn: &mut DbConn, account: &Account) -> Result<(), AppError> {
    for (field, value) in of(account) {
        if let Some(value) = value {
            if store::number_holder(conn, field, value)?.is_some_and(|id| id != account.id) {
                return Err(taken(field));
            }
        }
    }
    Ok(())
}

/// The fields whose number differs between two states of an account.
pub fn changed(before: &Account, after: &Account) -> Vec<&'static str> {
    of(before)
        .into_iter()
        .zip(of(after))
        .filter(|((_, a), (_, b))| a != b)
        .map(|((field, _), _)| field)
        .collect()
}

/// A learner may not change a number a DPC certificate attests: the training body declares
/// it to the ANDPC, so the change is its staff's, audited (see `enrolment::numbers`).
pub fn ensure_self_service(
    conn: &mut DbConn,
    before: &Account,
    after: &Account,
) -> Result<(), AppError> {
    let changed = changed(before, after);
    if changed.contains(&"rpps") && store::rpps_vouched(conn, &before.id, before.rpps.as_deref())? {
        return Err(AppError::conflict(
            "Votre numéro RPPS a été vérifié par Pro Santé Connect : il ne se modifie pas à la main.",
        )
        .with_field("rpps", "numéro vérifié par Pro Santé Connect"));
    }
    if let Some(field) = changed.first() {
        if store::holds_dpc_certificate(conn, &before.id)? {
            return Err(AppError::conflict(format!(
                "Votre numéro {} figure sur une attestation de DPC : vous ne pouvez plus le modifier vous-même. \
                 Demandez la correction à l'administrateur de l'organisme de formation qui vous a inscrit à la session DPC.",
                label(field)
            ))
            .with_field(*field, "modification réservée à l'organisme de formation"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_violation_of_either_index_names_its_field_on_both_backends() {
        struct Info(&'static str, Option<&'static str>);
        impl diesel::result::DatabaseErrorInformation for Info {
            fn message(&self) -> &str {
                self.0
            }
            fn details(&self) -> Option<&str> {
                None
            }
            fn hint(&self) -> Option<&str> {
                None
            }
            fn table_name(&self) -> Option<&str> {
                None
            }
            fn column_name(&self) -> Option<&str> {
                None
            }
            fn constraint_name(&self) -> Option<&str> {
                self.1
            }
            fn statement_position(&self) -> Option<i32> {
                None
            }
        }
        let unique = |info: Info| {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                Box::new(info),
            )
        };
        let sqlite = unique(Info("UNIQUE constraint failed: accounts.adeli", None));
        assert_eq!(violated(&sqlite), Some("adeli"));
        let pg = unique(Info(
            "duplicate key value violates unique constraint \"accounts_rpps_unique\"",
            Some("accounts_rpps_unique"),
        ));
        assert_eq!(violated(&pg), Some("rpps"));
        let email = unique(Info("UNIQUE constraint failed: accounts.email", None));
        assert_eq!(violated(&email), None);
        let refused = claimed(pg);
        assert_eq!(refused.status().as_u16(), 409);
        assert_eq!(refused.errors()[0].field, "rpps");
    }
}
