//! Showing a lesson to a learner: the resource markers the Markdown renderer left
//! (`<span class="a-configurer" data-config="KEY">…</span>`) become the learner's
//! organisation's value, else the field's national default (marked as such), else an
//! invitation to ask. Pure, so that every rendering path (page, API) shows the same.

use std::collections::BTreeMap;

use super::fields;
use crate::catalog::markdown::escape;

const MARKER: &str = "<span class=\"a-configurer\" data-config=\"";
const END: &str = "</span>";

/// A value as HTML: escaped, its line breaks kept.
fn as_html(value: &str) -> String {
    escape(value.trim())
        .replace("\r\n", "\n")
        .replace('\n', "<br>")
}

/// What a marker for `key` becomes for an organisation with `values`.
pub fn resource_html(key: &str, values: &BTreeMap<String, String>) -> String {
    let field = fields::get(key);
    if let Some(value) = values.get(key).filter(|v| !v.trim().is_empty()) {
        return format!(
            "<span class=\"ressource ressource-locale\" data-ressource=\"{}\">{}</span>",
            escape(key),
            as_html(value)
        );
    }
    match field {
        Some(fields::Field {
            default: Some(default),
            ..
        }) => format!(
            "<span class=\"ressource ressource-nationale\" data-ressource=\"{}\">{} <small>(repère national, à défaut d'information de votre organisation)</small></span>",
            escape(key),
            as_html(default)
        ),
        _ => {
            let label = field.map_or(key, |f| f.label.as_str());
            format!(
                "<span class=\"ressource ressource-absente\" data-ressource=\"{}\">{} : votre organisation ne l'a pas encore indiqué, demandez-le à votre référent ou à votre formateur.</span>",
                escape(key),
                escape(label)
            )
        }
    }
}

/// `html` with every resource marker filled for an organisation with `values`.
pub fn fill(html: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find(MARKER) {
        let after = &rest[start + MARKER.len()..];
        let (Some(quote), Some(end)) = (after.find('"'), after.find(END)) else {
            break;
        };
        out.push_str(&rest[..start]);
        // The key was escaped by the renderer; keys are [a-z0-9_], so it reads as is.
        out.push_str(&resource_html(&after[..quote], values));
        rest = &after[end + END.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::markdown;

    fn rendered() -> String {
        let configuration = BTreeMap::from([
            ("ecoute".to_string(), "Écoute".to_string()),
            ("urgence".to_string(), "Urgence".to_string()),
        ]);
        markdown::render(
            "Écoute : {{config:ecoute}}\n\nUrgence : {{config:urgence}}",
            &configuration,
        )
    }

    #[test]
    fn the_organisations_value_is_shown_escaped_with_its_line_breaks() {
        let values = BTreeMap::from([(
            "ecoute".to_string(),
            "Cellule <b>Écoute</b> & soutien\n01 02 03 04 05".to_string(),
        )]);
        let html = fill(&rendered(), &values);
        assert!(
            html.contains("Cellule &lt;b&gt;Écoute&lt;/b&gt; &amp; soutien<br>01 02 03 04 05"),
            "{html}"
        );
        assert!(!html.contains("a-configurer"), "{html}");
    }

    #[test]
    fn without_a_value_the_national_default_is_marked_or_the_learner_is_told_to_ask() {
        let html = fill(&rendered(), &BTreeMap::new());
        assert!(html.contains("ressource-nationale"), "{html}");
        assert!(html.contains("repère national"), "{html}");
        assert!(html.contains("24 h/24"), "{html}");
        // « urgence » has no national default in the source texts.
        assert!(
            html.contains("votre organisation ne l'a pas encore indiqué"),
            "{html}"
        );
    }
}
