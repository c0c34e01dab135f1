//! The catalogue of local resources (`fields.toml`): the fields every organisation may fill
//! in, and the national default shown where it has not. Lessons name them `{{config:KEY}}`.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub key: String,
    /// The heading it is listed under on the admins' page.
    pub group: String,
    pub label: String,
    pub help: String,
    /// The national fallback, from the source texts.
    pub default: Option<String>,
    /// Where the default comes from.
    pub source: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Catalogue {
    fields: Vec<Field>,
}

static FIELDS: LazyLock<Vec<Field>> = LazyLock::new(|| {
    toml::from_str::<Catalogue>(include_str!("fields.toml"))
        .expect("src/resources/fields.toml is valid (a unit test checks it)")
        .fields
});

/// Every field, in the catalogue's order.
pub fn all() -> &'static [Field] {
    &FIELDS
}

pub fn get(key: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.key == key)
}

/// The longest value an organisation may give a field, in characters.
pub const MAX_VALUE_CHARS: usize = 600;

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn the_catalogue_parses_with_unique_keys_and_sourced_defaults() {
        let mut keys = HashSet::new();
        for f in all() {
            assert!(keys.insert(f.key.as_str()), "duplicate {}", f.key);
            assert!(
                f.key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{}",
                f.key
            );
            assert_eq!(
                f.default.is_some(),
                f.source.is_some(),
                "{}: a default needs its source, a source its default",
                f.key
            );
            if let Some(d) = &f.default {
                assert!(d.chars().count() <= MAX_VALUE_CHARS, "{}", f.key);
            }
        }
        assert!(get("ecoute").and_then(|f| f.default.as_ref()).is_some());
        assert!(get("inconnu").is_none());
    }
}
