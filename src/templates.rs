//! The handlebars templates of the whole platform (mail now; pages and certificates later),
//! embedded in the binary from `templates/` and overridable file by file from
//! `QVT_TEMPLATES_DIR`.
//!
//! Two registries, both strict (a missing variable is an error, not an empty string):
//! HTML templates escape every `{{value}}`; plain-text ones (`*text.hbs`, `*subject.hbs`)
//! do not, since escaping `&` in a subject line would show `&amp;` to the reader. Both know
//! the French formatter's helpers (`crate::fr::helpers`).

use std::path::Path;

use anyhow::Context;
use handlebars::Handlebars;
use rust_embed::RustEmbed;
use serde::Serialize;

#[derive(RustEmbed)]
#[folder = "templates/"]
#[include = "*.hbs"]
struct Embedded;

pub struct Templates {
    html: Handlebars<'static>,
    text: Handlebars<'static>,
}

/// Certificate templates describe a page as tagged lines: the certificate renderer escapes
/// each piece for HTML itself, so handlebars must not escape them (a PDF would show `&amp;`).
fn is_plain_text(name: &str) -> bool {
    name.ends_with("text") || name.ends_with("subject") || name.starts_with("certificates/")
}

impl Templates {
    /// Loads the embedded templates, then the `.hbs` files under `override_dir`, which
    /// replace embedded ones of the same name (`email/essai/subject.hbs` → `email/essai/subject`).
    pub fn load(override_dir: Option<&Path>) -> anyhow::Result<Self> {
        let mut html = Handlebars::new();
        html.set_strict_mode(true);
        let mut text = Handlebars::new();
        text.set_strict_mode(true);
        text.register_escape_fn(handlebars::no_escape);
        // One French formatter for every template: `{{date x}}`, `{{heures x}}`…
        crate::fr::helpers::register(&mut html);
        crate::fr::helpers::register(&mut text);
        let mut templates = Self { html, text };

        for path in Embedded::iter() {
            let file = Embedded::get(&path).expect("listed by iter");
            let source = std::str::from_utf8(&file.data)
                .with_context(|| format!("template {path} is not UTF-8"))?;
            templates.register(path.trim_end_matches(".hbs"), source)?;
        }
        if let Some(dir) = override_dir {
            templates.register_dir(dir, dir)?;
        }
        Ok(templates)
    }

    fn register_dir(&mut self, root: &Path, dir: &Path) -> anyhow::Result<()> {
        let entries = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read templates in {}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                self.register_dir(root, &path)?;
            } else if path.extension().is_some_and(|e| e == "hbs") {
                let name = path.strip_prefix(root)?.with_extension("");
                let name = name.to_string_lossy().replace('\\', "/");
                let source = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                self.register(&name, &source)?;
            }
        }
        Ok(())
    }

    fn register(&mut self, name: &str, source: &str) -> anyhow::Result<()> {
        let registry = if is_plain_text(name) {
            &mut self.text
        } else {
            &mut self.html
        };
        registry
            .register_template_string(name, source)
            .with_context(|| format!("template {name} does not parse"))
    }

    pub fn has(&self, name: &str) -> bool {
        self.html.has_template(name) || self.text.has_template(name)
    }

    pub fn render(&self, name: &str, data: &impl Serialize) -> anyhow::Result<String> {
        let registry = if is_plain_text(name) {
            &self.text
        } else {
            &self.html
        };
        registry
            .render(name, data)
            .with_context(|| format!("cannot render template {name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let t = Templates::load(None).unwrap();
        let data = json!({"recipient": "<b>Zoé & Co</b>", "public_url": "http://x"});
        let html = t.render("email/essai/html", &data).unwrap();
        assert!(html.contains("&lt;b&gt;Zoé &amp; Co&lt;/b&gt;"), "{html}");
        let text = t.render("email/essai/text", &data).unwrap();
        assert!(text.contains("<b>Zoé & Co</b>"), "{text}");
    }

    #[test]
    fn templates_format_the_french_way() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("email/essai")).unwrap();
        std::fs::write(
            dir.path().join("email/essai/subject.hbs"),
            "{{date_courte opens_on}}, {{heures hours}}, {{pourcent score}}",
        )
        .unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        let data = json!({"opens_on": "2026-12-05", "hours": 4.5, "score": 50});
        let subject = t.render("email/essai/subject", &data).unwrap();
        assert_eq!(subject, "05/12/2026, 4,5\u{a0}h, 50\u{a0}%");
    }

    #[test]
    fn strict_mode_refuses_missing_variables() {
        let t = Templates::load(None).unwrap();
        assert!(t.render("email/essai/text", &json!({})).is_err());
    }

    #[test]
    fn a_directory_overrides_embedded_templates() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("email/essai")).unwrap();
        std::fs::write(
            dir.path().join("email/essai/subject.hbs"),
            "Autre objet pour {{recipient}}",
        )
        .unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        let subject = t
            .render("email/essai/subject", &json!({"recipient": "Zoé"}))
            .unwrap();
        assert_eq!(subject, "Autre objet pour Zoé");
        assert!(t.has("email/essai/html"), "embedded templates stay");
    }
}
