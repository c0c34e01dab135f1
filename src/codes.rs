//! Closed lists of codes (roles, kinds, statuses): one macro gives each enum its code (as the
//! API and the database spell it: snake_case, no accents), its French label, a parser that
//! names the accepted values, serde and OpenAPI, and diesel's mapping onto a `Text` column,
//! so rows carry the enum and nothing compares a status as a string (vaultwarden's
//! `impl_FromToSqlText!`).

/// `code_list!(/// doc; Name, "what it is, in French" { Variant = "code": "Libellé", … })`.
macro_rules! code_list {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = $code:tt : $label:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema,
            diesel::AsExpression, diesel::FromSqlRow,
        )]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $code)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            /// The label of a stored code, or the code itself if it is not (or no longer) one
            /// of the list: what a record written earlier says is shown as it was written.
            pub fn label_of(raw: &str) -> &str {
                match Self::parse(raw) {
                    Ok(value) => value.label(),
                    Err(_) => raw,
                }
            }

            pub fn parse(raw: &str) -> Result<Self, String> {
                Self::ALL.iter().copied().find(|v| v.code() == raw.trim()).ok_or_else(|| {
                    let codes: Vec<&str> = Self::ALL.iter().map(|v| v.code()).collect();
                    // No agreement to get wrong: « profession » and « rôle » differ in gender.
                    format!("{} : valeur inconnue ; valeurs possibles : {}", $what, codes.join(", "))
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }

        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                self.code().to_sql(out)
            }
        }

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                let raw = String::from_sql(bytes)?;
                Self::parse(&raw).map_err(Into::into)
            }
        }
    };
}
pub(crate) use code_list;

/// Text as people type it, reduced to what a match should compare: lower case, French
/// accents and ligatures dropped (`É` → `e`, `œ` → `oe`), every run of other characters
/// (spaces, hyphens, apostrophes, `°`) turned into one space, trimmed.
pub fn fold(raw: &str) -> String {
    let mut folded = String::with_capacity(raw.len());
    let mut gap = false;
    for c in raw.chars().flat_map(char::to_lowercase) {
        let plain = match c {
            'à' | 'â' | 'ä' | 'á' | 'ã' | 'å' => "a",
            'é' | 'è' | 'ê' | 'ë' => "e",
            'î' | 'ï' | 'í' | 'ì' => "i",
            'ô' | 'ö' | 'ó' | 'ò' | 'õ' => "o",
            'û' | 'ù' | 'ü' | 'ú' => "u",
            'ÿ' => "y",
            'ç' => "c",
            'ñ' => "n",
            'œ' => "oe",
            'æ' => "ae",
            c if c.is_ascii_alphanumeric() => {
                if gap && !folded.is_empty() {
                    folded.push(' ');
                }
                gap = false;
                folded.push(c);
                continue;
            }
            _ => {
                gap = true;
                continue;
            }
        };
        if gap && !folded.is_empty() {
            folded.push(' ');
        }
        gap = false;
        folded.push_str(plain);
    }
    folded
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn folding_drops_case_accents_and_punctuation() {
        assert_eq!(fold("  Numéro d'ÉTUDIANT "), "numero d etudiant");
        assert_eq!(fold("Masseur-Kinésithérapeute"), "masseur kinesitherapeute");
        assert_eq!(fold("N° RPPS"), "n rpps");
        assert_eq!(fold("Cœur--Ça"), "coeur ca");
        assert_eq!(fold(""), "");
    }
}
