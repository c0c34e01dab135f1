//! The French formatter as handlebars helpers, so that pages, mail and certificates format
//! alike: `{{date x}}`, `{{date_courte x}}`, `{{date_heure x}}`, `{{nombre x}}` (or
//! `{{nombre x 2}}` for up to two decimals), `{{heures x}}`, `{{pourcent x}}`, `{{note x}}`
//! and `{{duree x}}` (seconds). Dates come as the API serialises them: `2026-12-05`, a UTC
//! `2026-12-05T14:30:00` (diesel's timestamps, through serde) or RFC 3339 with an offset;
//! numbers as JSON numbers or numeric strings. `null` prints nothing; anything else is a
//! render error naming the helper, not a silently wrong page.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderErrorReason,
};
use serde_json::Value;

/// A date or an instant, as a template hands it over.
enum When {
    Day(NaiveDate),
    Utc(NaiveDateTime),
}

fn when(value: &Value) -> Option<When> {
    let text = value.as_str()?;
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(When::Day(day));
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(When::Utc(at.naive_utc()));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f"))
        .ok()
        .map(When::Utc)
}

fn day_of(value: &Value) -> Option<NaiveDate> {
    Some(match when(value)? {
        When::Day(day) => day,
        When::Utc(at) => super::paris_day(at),
    })
}

fn number_of(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok().filter(|n: &f64| n.is_finite()),
        _ => None,
    }
}

type Format = fn(&Value, Option<&Value>) -> Option<String>;

/// Every helper: its name, what it expects (for the error) and how it formats.
const HELPERS: [(&str, &str, Format); 8] = [
    ("date", "a date", |v, _| day_of(v).map(super::date)),
    ("date_courte", "a date", |v, _| {
        day_of(v).map(super::short_date)
    }),
    ("date_heure", "a date and time", |v, _| match when(v)? {
        When::Utc(at) => Some(super::date_time(at)),
        When::Day(_) => None,
    }),
    ("nombre", "a number", |v, places| {
        let places = match places {
            Some(p) => usize::try_from(p.as_u64()?).ok().filter(|p| *p <= 6)?,
            None => 1,
        };
        number_of(v).map(|n| super::number_upto(n, places))
    }),
    ("heures", "a number of hours", |v, _| {
        number_of(v).map(super::hours)
    }),
    ("pourcent", "a percentage", |v, _| {
        number_of(v).map(super::percent)
    }),
    ("note", "a grade out of 20", |v, _| {
        number_of(v).map(super::grade)
    }),
    ("duree", "a number of seconds", |v, _| {
        number_of(v).map(|s| super::duration(s.round() as i64))
    }),
];

struct French {
    name: &'static str,
    expected: &'static str,
    format: Format,
}

impl HelperDef for French {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let param = h
            .param(0)
            .ok_or(RenderErrorReason::ParamNotFoundForIndex(self.name, 0))?;
        // Helpers' parameters escape strict mode: a missing one is still an error here.
        if param.is_value_missing() {
            return Err(RenderErrorReason::MissingVariable(
                param.relative_path().map(|p| p.to_owned()),
            )
            .into());
        }
        let value = param.value();
        if value.is_null() {
            return Ok(());
        }
        let text = (self.format)(value, h.param(1).map(|p| p.value())).ok_or_else(|| {
            RenderErrorReason::Other(format!(
                "{{{{{}}}}} expects {}, not {value}",
                self.name, self.expected
            ))
        })?;
        out.write(&r.get_escape_fn()(&text))?;
        Ok(())
    }
}

/// Adds the helpers to `registry`.
pub fn register(registry: &mut Handlebars<'static>) {
    for (name, expected, format) in HELPERS {
        registry.register_helper(
            name,
            Box::new(French {
                name,
                expected,
                format,
            }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use handlebars::RenderError;
    use serde_json::json;

    fn render(template: &str, data: Value) -> Result<String, RenderError> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        register(&mut registry);
        registry
            .render_template(template, &data)
            .map(|s| s.replace('\u{a0}', " "))
    }

    #[test]
    fn dates_from_iso_days_naive_utc_and_rfc3339() {
        let data = json!({
            "day": "2026-12-01",
            "naive": "2026-12-05T13:30:00",
            "fraction": "2026-12-05T13:30:00.123456",
            "rfc": "2026-12-05T14:30:00+01:00",
            "evening": "2026-12-31T23:30:00Z",
        });
        assert_eq!(
            render("{{date day}} · {{date_courte day}}", data.clone()).unwrap(),
            "1er décembre 2026 · 01/12/2026"
        );
        assert_eq!(
            render(
                "{{date_heure naive}} | {{date_heure fraction}} | {{date_heure rfc}}",
                data.clone()
            )
            .unwrap(),
            "05/12/2026 à 14 h 30 | 05/12/2026 à 14 h 30 | 05/12/2026 à 14 h 30"
        );
        // The day of an instant is its day in Paris.
        assert_eq!(
            render("{{date evening}}", data).unwrap(),
            "1er janvier 2027"
        );
    }

    #[test]
    fn numbers_hours_percentages_grades_and_durations() {
        let data = json!({"h": 4.5, "n": -0.01, "p": "87.5", "g": 12.5, "s": 3907, "x": 9.756});
        assert_eq!(
            render(
                "{{heures h}}; {{nombre n}}; {{pourcent p}}; {{note g}}; {{duree s}}; {{nombre x 2}}",
                data
            )
            .unwrap(),
            "4,5 h; 0; 87,5 %; 12,5/20; 1 h 05 min 07 s; 9,76"
        );
    }

    #[test]
    fn null_prints_nothing_and_garbage_is_an_error() {
        assert_eq!(render("[{{date x}}]", json!({"x": null})).unwrap(), "[]");
        let error = render("{{date x}}", json!({"x": "demain"})).unwrap_err();
        assert!(
            error.to_string().contains("{{date}} expects a date"),
            "{error}"
        );
        assert!(render("{{date_heure x}}", json!({"x": "2026-12-05"})).is_err());
        assert!(render("{{nombre x}}", json!({"x": true})).is_err());
        assert!(
            render("{{nombre x}}", json!({})).is_err(),
            "strict mode holds"
        );
    }
}
