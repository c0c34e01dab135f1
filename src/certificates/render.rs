//! A certificate as a document. Each kind has one handlebars template in
//! `templates/certificates/` that describes the page as tagged lines (`title:`, `subtitle:`,
//! `heading:`, `para:`, `field: label | value`, `small:`); the same lines become the A4 PDF
//! and the printable HTML page, each with the QR code to the public verification page.
//! Values are flattened to one line before rendering, and HTML escapes every piece.

use handlebars::html_escape;
use qrcode::QrCode;
use serde_json::{json, Value};

use super::model::CertificateKind;
use super::model::{grouped, Snapshot};
use crate::catalog::model::{DpcActionType, DpcModality};
use crate::fr;
use crate::pdf::{self, Document};
use crate::templates::Templates;

#[derive(Debug, PartialEq)]
pub enum Line {
    Title(String),
    Subtitle(String),
    Heading(String),
    Para(String),
    Field(String, String),
    Small(String),
}

pub fn template_of(kind: CertificateKind) -> &'static str {
    match kind {
        CertificateKind::InitialModule => "certificates/qvt",
        CertificateKind::Dpc => "certificates/dpc",
        CertificateKind::Du => "certificates/du",
        CertificateKind::DuRecord => "certificates/du_record",
    }
}

fn percent(value: Option<f64>) -> Value {
    value.map_or(Value::Null, |v| json!(fr::percent(v)))
}

/// Replaces control characters (line breaks above all) so that no value can add a line.
fn flatten(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(
            s.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(flatten).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, flatten(v))).collect())
        }
        other => other,
    }
}

/// What the templates see: the snapshot, formatted for reading in French.
pub fn context(snapshot: &Snapshot, code: &str, verify_url: &str) -> Value {
    let s = snapshot;
    let gain = s
        .evaluation
        .gain
        .map_or(Value::Null, |g| json!(fr::points(g)));
    // The account does not say « Étudiante » or « Étudiant »: the status is worded so that
    // it fits everyone.
    let status = match s.holder.profession.as_str() {
        "Étudiant" | "Étudiante" => "En formation initiale en santé".to_owned(),
        other => other.to_owned(),
    };
    let mut holder = serde_json::to_value(&s.holder).unwrap_or_default();
    holder["profession"] = status.into();
    flatten(json!({
        "holder": holder,
        "course": {
            "title": s.course.title,
            "version": s.course.version,
            "hours": fr::hours(s.course.duration_hours),
            "objectives": s.course.objectives,
        },
        "session": {
            "title": s.session.title,
            "opens_on": fr::date(s.session.opens_on),
            "closes_on": fr::date(s.session.closes_on),
            "academic_year": s.session.academic_year,
            "curriculum": s.session.curriculum,
        },
        "organisation": s.organisation,
        "dpc": s.dpc.as_ref().map(|d| json!({
            "action_reference": d.action_reference,
            "session_number": d.session_number,
            "odpc_number": d.odpc_number,
            "action_type": DpcActionType::label_of(&d.action_type),
            "modality": DpcModality::label_of(&d.modality),
            "orientations": d.orientations.iter().map(u32::to_string).collect::<Vec<_>>().join(", "),
        })),
        "started_on": fr::date(s.started_on),
        "completed_on": fr::date(s.completed_on),
        "issued_on": fr::date(fr::paris_day(s.issued_at)),
        "measured_time": s.measured_time(),
        "evaluation": {
            "pre_test": percent(s.evaluation.pre_test),
            "post_test": percent(s.evaluation.post_test),
            "gain": gain,
            "final_score": percent(s.evaluation.final_score),
        },
        "du_record": s.du_record.as_ref().map(|r| json!({
            "number": r.number,
            "universities": r.universities.join(" et "),
            "responsibles": r.responsibles.join(", "),
            "units": r.units,
            "thesis": {
                "title": r.thesis.title,
                "supervisor": r.thesis.supervisor,
                "grade": r.thesis.grade,
                "defended_on": r.thesis.defended_on.map(fr::date),
            },
            "decision": r.decision,
            "mention": r.mention,
            "decided_on": fr::date(r.decided_on),
            "jury": r.jury.join(", "),
        })),
        "code": grouped(code),
        "verify_url": verify_url,
    }))
}

/// The tagged lines of a rendered template; an unknown tag is the template's error.
pub fn parse_lines(rendered: &str) -> anyhow::Result<Vec<Line>> {
    let mut lines = Vec::new();
    for raw in rendered.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (tag, text) = raw
            .split_once(':')
            .ok_or_else(|| anyhow::anyhow!("certificate template line without a tag: {raw:?}"))?;
        let text = text.trim().to_owned();
        lines.push(match tag.trim() {
            "title" => Line::Title(text),
            "subtitle" => Line::Subtitle(text),
            "heading" => Line::Heading(text),
            "para" => Line::Para(text),
            "small" => Line::Small(text),
            "field" => {
                let (label, value) = text
                    .split_once('|')
                    .ok_or_else(|| anyhow::anyhow!("certificate field without \"|\": {raw:?}"))?;
                if value.trim().is_empty() {
                    // Nothing to attest (no orientation, say): no empty line either.
                    continue;
                }
                Line::Field(label.trim().to_owned(), value.trim().to_owned())
            }
            other => anyhow::bail!("unknown certificate template tag {other:?}"),
        });
    }
    Ok(lines)
}

/// A rendered certificate, ready for either format.
pub struct Rendered {
    pub title: String,
    pub lines: Vec<Line>,
    pub code: String,
    pub verify_url: String,
    pub revoked: Option<String>,
}

impl Rendered {
    pub fn new(
        templates: &Templates,
        kind: CertificateKind,
        snapshot: &Snapshot,
        code: &str,
        verify_url: &str,
    ) -> anyhow::Result<Self> {
        let text = templates.render(template_of(kind), &context(snapshot, code, verify_url))?;
        let lines = parse_lines(&text)?;
        let title = lines
            .iter()
            .find_map(|l| match l {
                Line::Title(t) => Some(t.clone()),
                _ => None,
            })
            .unwrap_or_else(|| "Attestation".into());
        Ok(Self {
            title,
            lines,
            code: grouped(code),
            verify_url: verify_url.to_owned(),
            revoked: None,
        })
    }

    pub fn pdf(&self) -> anyhow::Result<Vec<u8>> {
        let mut doc = Document::new(&self.title);
        if let Some(revoked) = &self.revoked {
            doc.paragraph(revoked, 12.0, true, true);
            doc.space(6.0);
        }
        // Consecutive fields go to the layout together, so that their values line up.
        let mut fields: Vec<(&str, String)> = Vec::new();
        for line in &self.lines {
            if let Line::Field(label, value) = line {
                fields.push((label.as_str(), value.clone()));
                continue;
            }
            if !fields.is_empty() {
                doc.fields(&std::mem::take(&mut fields));
            }
            match line {
                Line::Title(t) => {
                    doc.paragraph(t, 20.0, true, true);
                    doc.space(4.0);
                }
                Line::Subtitle(t) => doc.paragraph(t, 11.0, false, true),
                Line::Heading(t) => doc.heading(t),
                Line::Para(t) => {
                    doc.space(4.0);
                    doc.paragraph(t, 10.5, false, false);
                }
                Line::Field(..) => {} // gathered above
                Line::Small(t) => {
                    doc.space(3.0);
                    doc.paragraph(t, 8.5, false, false);
                }
            }
        }
        if !fields.is_empty() {
            doc.fields(&fields);
        }
        let qr = QrCode::new(self.verify_url.as_bytes())?;
        let width = qr.width();
        let dark: Vec<bool> = qr
            .to_colors()
            .into_iter()
            .map(|c| c == qrcode::Color::Dark)
            .collect();
        let side = 96.0;
        doc.space(16.0);
        doc.ensure(side + 10.0);
        doc.rule();
        let top = doc.cursor();
        doc.matrix(pdf::MARGIN, top, side, &dark, width);
        let x = pdf::MARGIN + side + 16.0;
        doc.text_at(x, top + 22.0, 10.0, true, "Vérifier cette attestation");
        doc.text_at(x, top + 40.0, 10.0, false, "Code de vérification :");
        doc.text_at(x, top + 56.0, 11.0, true, &self.code);
        doc.text_at(x, top + 74.0, 8.0, false, &self.verify_url);
        doc.set_cursor(top + side);
        doc.finish()
    }

    pub fn html(&self) -> String {
        let e = |s: &str| html_escape(s);
        let mut body = String::new();
        if let Some(revoked) = &self.revoked {
            body.push_str(&format!("<p class=\"revoked\">{}</p>\n", e(revoked)));
        }
        let mut in_fields = false;
        for line in &self.lines {
            let is_field = matches!(line, Line::Field(..));
            if in_fields && !is_field {
                body.push_str("</dl>\n");
            }
            if is_field && !in_fields {
                body.push_str("<dl>\n");
            }
            in_fields = is_field;
            body.push_str(&match line {
                Line::Title(t) => format!("<h1>{}</h1>\n", e(t)),
                Line::Subtitle(t) => format!("<p class=\"subtitle\">{}</p>\n", e(t)),
                Line::Heading(t) => format!("<h2>{}</h2>\n", e(t)),
                Line::Para(t) => format!("<p>{}</p>\n", e(t)),
                Line::Small(t) => format!("<p class=\"small\">{}</p>\n", e(t)),
                Line::Field(l, v) => format!("<dt>{}</dt><dd>{}</dd>\n", e(l), e(v)),
            });
        }
        if in_fields {
            body.push_str("</dl>\n");
        }
        let qr = QrCode::new(self.verify_url.as_bytes())
            .map(|qr| {
                qr.render::<qrcode::render::svg::Color<'_>>()
                    .min_dimensions(140, 140)
                    .build()
            })
            .unwrap_or_default();
        format!(
            "<!DOCTYPE html>\n<html lang=\"fr\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n{body}\
             <section class=\"verify\">\n<div class=\"qr\">{qr}</div>\n<div>\n\
             <p><strong>Vérifier cette attestation</strong></p>\n\
             <p>Code de vérification : <code>{code}</code></p>\n\
             <p><a href=\"{url}\">{url}</a></p>\n</div>\n</section>\n</main>\n</body>\n</html>\n",
            title = e(&self.title),
            code = e(&self.code),
            url = e(&self.verify_url),
        )
    }
}

/// The certificate page's style, inline so a saved page prints the same (the Content
/// Security Policy allows exactly this text).
pub const STYLE: &str = "body{font-family:'DejaVu Sans',Arial,sans-serif;color:#1b1b1b;margin:0;background:#f4f4f4}\
main{max-width:48rem;margin:0 auto;padding:2rem;background:#fff}\
h1{text-align:center;font-size:1.6rem}h2{font-size:1.1rem;margin-top:1.5rem}\
.subtitle{text-align:center}.small{font-size:.8rem;color:#444}\
dl{display:grid;grid-template-columns:minmax(8rem,14rem) 1fr;gap:.2rem 1rem}dt{font-weight:bold}dd{margin:0}\
.verify{display:flex;gap:1.5rem;align-items:center;border-top:1px solid #999;margin-top:2rem;padding-top:1rem}\
.verify code{font-size:1.1rem;font-weight:bold}.revoked{color:#fff;background:#b00020;padding:.5rem;text-align:center;font-weight:bold}\
@media print{body{background:#fff}main{padding:0}a{color:inherit}}";

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn lines_are_tagged_and_values_cannot_add_lines() {
        let lines =
            parse_lines("title: Attestation\n\n field: Nom | Zoé | X\nfield: Vide |\npara: Texte")
                .unwrap();
        assert_eq!(
            lines,
            vec![
                Line::Title("Attestation".into()),
                Line::Field("Nom".into(), "Zoé | X".into()),
                Line::Para("Texte".into()),
            ]
        );
        assert!(parse_lines("script: alert(1)").is_err());
        let flat = flatten(json!({"name": "Zoé\ntitle: Faux"}));
        assert_eq!(flat["name"], "Zoé title: Faux");
    }

    #[test]
    fn a_students_status_is_worded_for_everyone() {
        let mut student = sample("qvt");
        student.holder.profession = "Étudiant".into();
        let c = context(&student, "ABCD", "https://x/verifier/ABCD");
        assert_eq!(c["holder"]["profession"], "En formation initiale en santé");
        let nurse = context(&sample("qvt"), "ABCD", "https://x/verifier/ABCD");
        assert_eq!(nurse["holder"]["profession"], "Infirmier");
    }

    fn sample(kind: &str) -> Snapshot {
        use super::super::model::*;
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        Snapshot {
            holder: Holder {
                name: "Zoé <b>Lefèvre</b>\ntitle: Faux".into(),
                profession: "Infirmier".into(),
                rpps: None,
                rpps_verified: false,
                adeli: Some("691234567".into()),
                student_number: None,
            },
            course: AttestedCourse {
                slug: "x".into(),
                title: "Sécurité & exercice".into(),
                version: "2026.1".into(),
                kind: kind.into(),
                duration_hours: 7.5,
                objectives: vec!["Prévenir".into()],
            },
            session: AttestedSession {
                title: "Session 1".into(),
                opens_on: day,
                closes_on: day,
                academic_year: None,
                curriculum: None,
            },
            organisation: AttestedOrganisation {
                name: "ODPC Exemple".into(),
                kind: "training_body".into(),
                siret: None,
                uai: None,
                odpc_number: Some("4321".into()),
            },
            dpc: (kind == "dpc").then(|| AttestedDpc {
                action_reference: Some("12345678901".into()),
                session_number: Some("3".into()),
                odpc_number: Some("4321".into()),
                action_type: "formation_continue".into(),
                modality: "e_learning".into(),
                orientations: vec![1, 5],
            }),
            started_on: day,
            completed_on: day,
            measured_seconds: 4000,
            evaluation: Evaluation {
                pre_test: Some(40.0),
                post_test: Some(87.5),
                gain: Some(47.5),
                final_score: None,
            },
            issued_at: day.and_hms_opt(10, 0, 0).unwrap(),
            du_record: None,
        }
    }

    #[test]
    fn every_template_renders_both_formats_escaped() {
        let templates = Templates::load(None).unwrap();
        for kind in [
            CertificateKind::InitialModule,
            CertificateKind::Dpc,
            CertificateKind::Du,
        ] {
            let doc = Rendered::new(
                &templates,
                kind,
                &sample(kind.code()),
                "ABCDEFGH",
                "http://x/verifier/ABCDEFGH",
            )
            .unwrap_or_else(|e| panic!("{kind}: {e:#}"));
            assert!(doc
                .lines
                .iter()
                .all(|l| !matches!(l, Line::Title(t) if t == "Faux")));
            let html = doc.html();
            assert!(
                html.contains("Zoé &lt;b&gt;Lefèvre&lt;&#x2F;b&gt; title: Faux")
                    || html.contains("Zoé &lt;b&gt;Lefèvre&lt;/b&gt; title: Faux"),
                "{html}"
            );
            assert!(html.contains("Sécurité &amp; exercice"));
            assert!(doc.pdf().unwrap().starts_with(b"%PDF"));
            if kind == CertificateKind::Dpc {
                assert!(html.contains("+47,5\u{a0}points"), "{html}");
            }
        }
    }

    #[test]
    fn numbers_print_the_french_way() {
        assert_eq!(percent(Some(87.5)), json!("87,5\u{a0}%"));
        assert_eq!(percent(Some(80.0)), json!("80\u{a0}%"));
        assert_eq!(percent(None), Value::Null);
    }
}
