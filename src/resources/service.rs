//! Reading and changing an organisation's local resources: members read them (their lessons
//! show them anyway), admins change them, in one audited transaction.

use std::collections::BTreeMap;

use chrono::{SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{fields, store};
use crate::db::DbConn;
use crate::error::{AppError, FieldError};
use crate::identity::auth::{require_member, require_org_admin, CurrentUser};
use crate::identity::store as identity_store;

/// One field as the admins' page and the API show it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ResourceView {
    pub key: String,
    pub group: String,
    pub label: String,
    pub help: String,
    /// What the organisation entered (none: the national default, if any, is shown).
    pub value: Option<String>,
    /// The national fallback from the source texts, and where it comes from.
    pub national_default: Option<String>,
    pub source: Option<String>,
}

/// Every field of the catalogue with the organisation's values.
pub fn list(
    conn: &mut DbConn,
    user: &CurrentUser,
    organisation_id: &str,
) -> Result<Vec<ResourceView>, AppError> {
    require_member(conn, user, organisation_id)?;
    let mut values = store::values_of(conn, organisation_id)?;
    Ok(fields::all()
        .iter()
        .map(|f| ResourceView {
            key: f.key.clone(),
            group: f.group.clone(),
            label: f.label.clone(),
            help: f.help.clone(),
            value: values.remove(&f.key),
            national_default: f.default.clone(),
            source: f.source.clone(),
        })
        .collect())
}

/// Parses the changes sent: known keys only, a value trimmed (empty clears the field) and
/// at most [`fields::MAX_VALUE_CHARS`] characters. Every bad entry is named.
pub fn parse_changes(
    sent: BTreeMap<String, Option<String>>,
) -> Result<BTreeMap<String, Option<String>>, AppError> {
    let mut errors = Vec::new();
    let mut changes = BTreeMap::new();
    for (key, value) in sent {
        let field = format!("values.{key}");
        if fields::get(&key).is_none() {
            errors.push(FieldError::new(
                field,
                "champ inconnu des ressources locales",
            ));
            continue;
        }
        // Browsers send line breaks as \r\n but count them as one character.
        let value = value
            .map(|v| v.replace("\r\n", "\n").trim().to_owned())
            .filter(|v| !v.is_empty());
        if let Some(v) = &value {
            if v.chars().count() > fields::MAX_VALUE_CHARS {
                errors.push(FieldError::new(
                    field,
                    format!("au plus {} caractères", fields::MAX_VALUE_CHARS),
                ));
                continue;
            }
            if v.chars()
                .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
            {
                errors.push(FieldError::new(field, "caractères de contrôle refusés"));
                continue;
            }
        }
        changes.insert(key, value);
    }
    if errors.is_empty() {
        Ok(changes)
    } else {
        Err(AppError::invalid_fields(errors))
    }
}

/// Applies parsed changes (org admins), all or none, with an audit entry naming the fields.
pub fn update(
    conn: &mut DbConn,
    user: &CurrentUser,
    organisation_id: &str,
    changes: BTreeMap<String, Option<String>>,
) -> Result<Vec<ResourceView>, AppError> {
    conn.write(|conn| {
        require_org_admin(conn, user, organisation_id)?;
        let now = Utc::now().naive_utc().trunc_subsecs(0);
        let before = store::values_of(conn, organisation_id)?;
        // Only what changes is written and audited, with the value it replaces: a helpline
        // number quietly swapped can be traced.
        let mut changed = serde_json::Map::new();
        for (key, value) in &changes {
            let old = before.get(key);
            if old == value.as_ref() {
                continue;
            }
            store::set(conn, organisation_id, key, value.as_deref(), &user.id, now)?;
            changed.insert(key.clone(), json!({ "old": old, "new": value }));
        }
        if !changed.is_empty() {
            identity_store::audit(
                conn,
                Some(&user.id),
                "organisation.resources_updated",
                Some(organisation_id),
                None,
                serde_json::Value::Object(changed),
            )?;
        }
        Ok::<_, AppError>(())
    })?;
    list(conn, user, organisation_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_every_bad_field_and_trim_the_good_ones() {
        let sent = BTreeMap::from([
            (
                "ecoute".to_string(),
                Some("  Cellule d'écoute  ".to_string()),
            ),
            ("urgence".to_string(), Some("   ".to_string())),
            ("inconnu".to_string(), Some("x".to_string())),
            ("sante_travail".to_string(), Some("x".repeat(601))),
        ]);
        let errors = parse_changes(sent).unwrap_err();
        let fields: Vec<&str> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["values.inconnu", "values.sante_travail"]);

        let ok = parse_changes(BTreeMap::from([
            ("ecoute".to_string(), Some("  Cellule  ".to_string())),
            ("urgence".to_string(), Some("  ".to_string())),
        ]))
        .unwrap();
        assert_eq!(ok["ecoute"].as_deref(), Some("Cellule"));
        assert_eq!(ok["urgence"], None, "an empty value clears the field");
    }
}
