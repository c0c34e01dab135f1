//! Persistence of an organisation's local resources: one row per filled field.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::organisation_resources;
use crate::db::{native, DbConn};

/// The organisation's filled fields: key → value.
pub fn values_of(
    conn: &mut DbConn,
    organisation_id: &str,
) -> QueryResult<BTreeMap<String, String>> {
    let rows: Vec<(String, String)> = native!(conn, |c| organisation_resources::table
        .filter(organisation_resources::organisation_id.eq(organisation_id))
        .select((organisation_resources::key, organisation_resources::value))
        .load(c))?;
    Ok(rows.into_iter().collect())
}

/// Sets (or, with `None`, clears) one field.
pub fn set(
    conn: &mut DbConn,
    organisation_id: &str,
    key: &str,
    value: Option<&str>,
    by: &str,
    at: NaiveDateTime,
) -> QueryResult<()> {
    let row = organisation_resources::table
        .filter(organisation_resources::organisation_id.eq(organisation_id))
        .filter(organisation_resources::key.eq(key));
    native!(conn, |c| diesel::delete(row).execute(c))?;
    if let Some(value) = value {
        native!(conn, |c| diesel::insert_into(organisation_resources::table)
            .values((
                organisation_resources::organisation_id.eq(organisation_id),
                organisation_resources::key.eq(key),
                organisation_resources::value.eq(value),
                organisation_resources::updated_by.eq(by),
                organisation_resources::updated_at.eq(at),
            ))
            .execute(c))?;
    }
    Ok(())
}
