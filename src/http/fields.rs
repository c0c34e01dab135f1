//! Parsing a request's fields into domain types while collecting *every* error, so a form
//! with three mistakes gets one answer naming the three fields.

use crate::error::{AppError, FieldError};

#[derive(Default)]
pub struct Fields {
    errors: Vec<FieldError>,
}

impl Fields {
    pub fn new() -> Self {
        Self::default()
    }

    /// A field that must be present and valid.
    pub fn required<T>(
        &mut self,
        field: &str,
        raw: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match raw {
            None => {
                self.errors
                    .push(FieldError::new(field, "champ obligatoire"));
                None
            }
            Some(raw) => self.check(field, parse(raw)),
        }
    }

    /// A field that may be absent (or empty), but must be valid when given.
    pub fn optional<T>(
        &mut self,
        field: &str,
        raw: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match raw.map(str::trim).filter(|r| !r.is_empty()) {
            None => None,
            Some(raw) => self.check(field, parse(raw)),
        }
    }

    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        result
            .map_err(|message| self.errors.push(FieldError::new(field, message)))
            .ok()
    }

    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// 422 naming every bad field, or Ok when there is none.
    pub fn finish(self) -> Result<(), AppError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(AppError::invalid_fields(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(raw: &str) -> Result<u32, String> {
        raw.parse().map_err(|_| "nombre attendu".to_string())
    }

    #[test]
    fn every_error_is_kept() {
        let mut f = Fields::new();
        assert_eq!(f.required("a", Some("1"), number), Some(1));
        assert_eq!(f.required("b", None, number), None);
        assert_eq!(f.optional("c", Some("x"), number), None);
        assert_eq!(f.optional("d", Some("  "), number), None);
        let err = f.finish().unwrap_err();
        let fields: Vec<&str> = err.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["b", "c"]);
    }
}
