//! Lesson Markdown: the safety rules authors must follow (no raw HTML, no images, only
//! web and mail links, declared configuration keys) and the rendering to sanitised HTML.

use std::collections::BTreeMap;

use pulldown_cmark::{html, Event, Options, Parser, Tag};

/// A problem at a byte offset of the Markdown text.
#[derive(Debug, PartialEq, Eq)]
pub struct MarkdownIssue {
    pub offset: usize,
    pub message: String,
}

const CONFIG_OPEN: &str = "{{config:";

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH
}

/// Every rule the text breaks, with where.
pub fn check(text: &str, configuration: &BTreeMap<String, String>) -> Vec<MarkdownIssue> {
    let mut issues = Vec::new();
    for (event, range) in Parser::new_ext(text, options()).into_offset_iter() {
        let message = match event {
            Event::Html(_) | Event::InlineHtml(_) => {
                Some("HTML brut interdit dans une leçon".to_string())
            }
            Event::Start(Tag::Image { .. }) => Some("image interdite dans une leçon".to_string()),
            Event::Start(Tag::Link { dest_url, .. }) => {
                let url = dest_url.to_ascii_lowercase();
                (!["https://", "http://", "mailto:"]
                    .iter()
                    .any(|p| url.starts_with(p)))
                .then(|| {
                    format!(
                        "lien refusé ({dest_url}) : seuls https://, http:// et mailto: sont permis"
                    )
                })
            }
            _ => None,
        };
        if let Some(message) = message {
            issues.push(MarkdownIssue {
                offset: range.start,
                message,
            });
        }
    }
    for (offset, key) in config_keys(text) {
        match key {
            Some(key) if configuration.contains_key(key) => {}
            Some(key) => issues.push(MarkdownIssue {
                offset,
                message: format!("clé de configuration « {key} » non déclarée dans [configuration] de course.toml"),
            }),
            None => issues.push(MarkdownIssue { offset, message: "{{config:…}} non refermé".into() }),
        }
    }
    issues
}

/// The `{{config:KEY}}` references of a text, with their offsets (`None` if unclosed).
fn config_keys(text: &str) -> Vec<(usize, Option<&str>)> {
    text.match_indices(CONFIG_OPEN)
        .map(|(offset, _)| {
            let rest = &text[offset + CONFIG_OPEN.len()..];
            (offset, rest.find("}}").map(|end| rest[..end].trim()))
        })
        .collect()
}

/// French typography: the space before « : ; ? ! » and inside « » does not break, so a
/// line never starts with a colon or a closing guillemet (authors type plain spaces).
pub fn french_spaces(text: &str) -> String {
    const NARROW: char = '\u{202F}';
    const NBSP: char = '\u{00A0}';
    text.replace(" :", &format!("{NBSP}:"))
        .replace(" ;", &format!("{NARROW};"))
        .replace(" ?", &format!("{NARROW}?"))
        .replace(" !", &format!("{NARROW}!"))
        .replace("« ", &format!("«{NBSP}"))
        .replace(" »", &format!("{NBSP}»"))
        // « 40 % » too.
        .replace(" %", &format!("{NBSP}%"))
}

/// Text as HTML text or attribute value.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Private-use characters around a configuration reference's number while Markdown is
/// parsed: no course text has them (they are removed from it first).
const MARK_OPEN: char = '\u{E000}';
const MARK_CLOSE: char = '\u{E001}';

/// Renders checked Markdown to HTML, sanitised whatever the input. Configuration
/// references become a marked span that pages fill in per institution; the spans are put
/// in before sanitising, so whatever surrounds a reference (a link's address, say) cannot
/// turn one into markup.
pub fn render(text: &str, configuration: &BTreeMap<String, String>) -> String {
    // Keys are swapped for inert markers first, so Markdown cannot mangle them.
    let text: String = text
        .chars()
        .filter(|c| *c != MARK_OPEN && *c != MARK_CLOSE)
        .collect();
    let mut keyed = String::with_capacity(text.len());
    let mut rest = text.as_str();
    let mut spans = Vec::new();
    while let Some(start) = rest.find(CONFIG_OPEN) {
        let after = &rest[start + CONFIG_OPEN.len()..];
        let Some(end) = after.find("}}") else { break };
        keyed.push_str(&rest[..start]);
        keyed.push_str(&format!("{MARK_OPEN}{}{MARK_CLOSE}", spans.len()));
        let key = after[..end].trim();
        let description = configuration.get(key).map(String::as_str).unwrap_or(key);
        spans.push(format!(
            "<span class=\"a-configurer\" data-config=\"{}\">[à compléter par l'établissement : {}]</span>",
            escape(key),
            escape(description)
        ));
        rest = &after[end + 2..];
    }
    keyed.push_str(rest);

    let mut raw = String::new();
    // Only where text is shown does a marker become its span (never inside an address).
    let events = Parser::new_ext(&keyed, options()).flat_map(|event| match event {
        Event::Text(text) => with_spans(&french_spaces(&text), &spans),
        other => vec![other],
    });
    html::push_html(&mut raw, events);
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer"))
        .add_tags(["span"])
        .add_tag_attributes("span", ["data-config"])
        .add_allowed_classes("span", ["a-configurer"])
        .clean(&raw)
        .to_string()
}

/// A text's markers replaced by their spans (as inline HTML), the rest kept as text.
fn with_spans<'a>(text: &str, spans: &[String]) -> Vec<Event<'a>> {
    let mut events = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(MARK_OPEN) {
        let after = &rest[start + MARK_OPEN.len_utf8()..];
        let Some(end) = after.find(MARK_CLOSE) else {
            break;
        };
        let Some(span) = after[..end]
            .parse::<usize>()
            .ok()
            .and_then(|i| spans.get(i))
        else {
            break;
        };
        events.push(Event::Text(rest[..start].to_owned().into()));
        events.push(Event::InlineHtml(span.clone().into()));
        rest = &after[end + MARK_CLOSE.len_utf8()..];
    }
    events.push(Event::Text(rest.to_owned().into()));
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> BTreeMap<String, String> {
        BTreeMap::from([("ecoute".to_string(), "Ligne d'écoute <locale>".to_string())])
    }

    #[test]
    fn raw_html_images_and_odd_links_are_reported_where_they_are() {
        let text = "Texte\n\n<script>alert(1)</script>\n\n![x](https://a/b.png) [ici](javascript:alert(1)) [ok](https://x.fr)";
        let issues = check(text, &config());
        let messages: Vec<&str> = issues.iter().map(|i| i.message.as_str()).collect();
        assert_eq!(issues.len(), 3, "{messages:?}");
        assert!(messages[0].contains("HTML"));
        assert_eq!(issues[0].offset, 7);
        assert!(messages[1].contains("image"));
        assert!(messages[2].contains("javascript"));
    }

    #[test]
    fn french_punctuation_keeps_to_its_word() {
        let html = render("Objectif : agir ; vite ? « Oui » à 40 %.", &config());
        assert_eq!(
            html.trim(),
            "<p>Objectif&nbsp;: agir\u{202f}; vite\u{202f}? «&nbsp;Oui&nbsp;» à 40&nbsp;%.</p>"
        );
    }

    #[test]
    fn configuration_keys_must_be_declared() {
        let issues = check(
            "Appelez {{config:ecoute}} ou {{config:inconnue}}.",
            &config(),
        );
        assert_eq!(issues.len(), 1);
        assert!(issues[0].message.contains("inconnue"));
    }

    #[test]
    fn rendering_is_sanitised_and_fills_configuration_markers() {
        let html = render(
            "## Titre\n\nAppelez {{config:ecoute}}.\n\n<img src=x onerror=alert(1)>",
            &config(),
        );
        assert!(html.contains("<h2>Titre</h2>"), "{html}");
        assert!(html.contains("data-config=\"ecoute\""), "{html}");
        assert!(html.contains("Ligne d'écoute &lt;locale&gt;"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
    }

    #[test]
    fn a_reference_inside_a_link_address_cannot_become_markup() {
        let html = render(
            "[site](https://exemple.fr/{{config:ecoute}}) et QVTCONFIGMARKER0X {{config:ecoute}}",
            &config(),
        );
        // The link's address holds no span; the one in the text is the only span.
        assert_eq!(html.matches("<span").count(), 1, "{html}");
        let href = html
            .split("href=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert!(!href.contains('<') && !href.contains("span"), "{href}");
        assert!(
            html.contains("QVTCONFIGMARKER0X"),
            "text that looks like a marker stays text"
        );
    }
}
