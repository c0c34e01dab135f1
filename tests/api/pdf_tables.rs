//! The printed tables, read back by poppler's `pdftotext -layout`: every value that must
//! stay whole (a date, a duration, a code, a record number, a name) is found whole on one
//! line, apart from its neighbours, and no label runs into its value — with long values.

use reqwest::Method;
use serde_json::{json, Value};

use crate::du::{admis, cohort};
use crate::helpers::{pdf_text, world_of};

const LONG_NAME: &str = "Marie-Christine Delacroix-Beaumont de Saint-Exupéry";

/// The text as a reader sees it: no-break spaces read as spaces.
fn read(pdf: &[u8]) -> String {
    pdf_text(pdf).replace(['\u{a0}', '\u{202f}'], " ")
}

/// `value` as `pdftotext` extracts it: poppler reads no space between a lone character and
/// the next word (« 7 h » comes out « 7h », while a reader sees the space).
fn as_extracted(text: &str, value: &str) -> String {
    match value.split_once(' ') {
        Some((first, rest)) if first.chars().count() == 1 && !text.contains(value) => {
            format!("{first}{rest}")
        }
        _ => value.to_owned(),
    }
}

/// The line holding `value` whole, which must stand apart from what surrounds it (a space
/// at least, or the line's edge), so that it was not drawn over a neighbour.
fn line_with<'t>(text: &'t str, value: &str) -> &'t str {
    let value = &as_extracted(text, value);
    let line = text
        .lines()
        .find(|l| l.contains(value))
        .unwrap_or_else(|| panic!("{value:?} is not whole on any line of:\n{text}"));
    let at = line.find(value).unwrap();
    let before = &line[..at];
    let after = &line[at + value.len()..];
    assert!(
        before.is_empty() || before.ends_with(' '),
        "{value:?} runs into what precedes it: {line:?}"
    );
    assert!(
        after.is_empty() || after.starts_with(' '),
        "{value:?} runs into what follows it: {line:?}"
    );
    line
}

/// A label and its value on one line, in that order, two spaces apart at least.
fn field(text: &str, label: &str, value: &str) {
    let line = line_with(text, label);
    let value = &as_extracted(line, value);
    line_with(line, value);
    let gap = &line[line.find(label).unwrap() + label.len()..];
    assert!(
        gap.starts_with("  ") && gap.trim_start().starts_with(value.as_str()),
        "{label:?} not followed by {value:?}: {line:?}"
    );
}

/// What a PDF must not show: an ISO date or a decimal point.
fn no_iso_date_nor_decimal_point(text: &str) {
    let chars: Vec<char> = text.chars().collect();
    for (i, window) in chars.windows(3).enumerate() {
        if window[0].is_ascii_digit() && window[1] == '.' && window[2].is_ascii_digit() {
            let around: String = chars[i.saturating_sub(20)..(i + 20).min(chars.len())]
                .iter()
                .collect();
            panic!("a decimal point in {around:?}");
        }
    }
    for (i, window) in chars.windows(10).enumerate() {
        let iso = window.iter().enumerate().all(|(j, c)| match j {
            4 | 7 => *c == '-',
            _ => c.is_ascii_digit(),
        });
        assert!(
            !iso,
            "an ISO date at {i}: {}",
            window.iter().collect::<String>()
        );
    }
}

fn short_date(iso: &str) -> String {
    let (y, rest) = iso.split_once('-').unwrap();
    let (m, d) = rest.split_once('-').unwrap();
    format!("{d}/{m}/{y}")
}

#[tokio::test]
async fn the_dpc_record_prints_every_value_whole_and_apart_from_its_label() {
    // Arrange: a practitioner with a long name who completed a DPC action.
    let w = world_of("dpc-securite-exercice").await;
    let (learner, _) = w.certified("infirmiere@cabinet-exemple.fr").await;
    let renamed =
        w.s.app
            .call(
                Method::PATCH,
                "/api/v1/me",
                &learner.user.token,
                Some(&json!({ "full_name": LONG_NAME })),
            )
            .await;
    assert_eq!(renamed.status().as_u16(), 200);
    let record: Value =
        w.s.app
            .get_json(&learner.user.token, "/api/v1/me/dpc")
            .await;
    let action = &record["actions"][0];

    // Act
    let pdf =
        w.s.app
            .get_as(&learner.user.token, "/api/v1/me/dpc.pdf")
            .await
            .bytes()
            .await
            .unwrap();
    let text = read(&pdf);

    // Assert: the fields, each label apart from its value.
    field(&text, "Professionnel", LONG_NAME);
    let hours = qvt_campus::fr::hours(action["hours"].as_f64().unwrap()).replace('\u{a0}', " ");
    field(&text, "Heures de formation", &hours);
    field(
        &text,
        "Obligation (2 actions de 2 types)",
        "non satisfaite par les seules actions suivies ici",
    );
    let period = format!(
        "du {} au {}",
        short_date(record["starts_on"].as_str().unwrap()),
        short_date(record["ends_on"].as_str().unwrap())
    );
    field(&text, "Période", &period);
    // The table: the action's line holds its reference, date, duration and code, whole.
    let code = action["certificate_code"].as_str().unwrap();
    let row = line_with(&text, code);
    for value in [
        action["action_reference"].as_str().unwrap(),
        &short_date(action["completed_on"].as_str().unwrap()),
        &hours,
    ] {
        line_with(row, value);
    }
    // Headers apart from each other and from the cells.
    for header in ["Référence", "Durée"] {
        line_with(&text, header);
    }
    no_iso_date_nor_decimal_point(&text);
}

#[tokio::test]
async fn the_du_transcript_prints_names_grades_and_record_numbers_whole() {
    // Arrange: three candidates with long names, graded, decided, with their records.
    let c = cohort(3).await;
    let names = [
        LONG_NAME,
        "Jean-Baptiste Fontaine-Lemercier",
        "Éloïse Van der Berghe-Roussel",
    ];
    for ((user, enrolment), name) in c.learners.iter().zip(names) {
        let renamed =
            c.s.app
                .call(
                    Method::PATCH,
                    "/api/v1/me",
                    &user.token,
                    Some(&json!({ "full_name": name })),
                )
                .await;
        assert_eq!(renamed.status().as_u16(), 200);
        c.grade(enrolment, [12.25, 10.5, 14.75, 16.0], 13.5).await;
        let decided = c.decide(enrolment, admis(Some("assez_bien"))).await;
        assert_eq!(decided.status().as_u16(), 200);
    }
    let close = format!("/api/v1/sessions/{}/du/minutes/close", c.session);
    let closed = c.s.app.post_as(&c.s.dean.token, &close, &json!({})).await;
    assert_eq!(closed.status().as_u16(), 200);
    let records = format!("/api/v1/sessions/{}/du/records", c.session);
    let issued: Value =
        c.s.app
            .post_as(&c.s.dean.token, &records, &json!({}))
            .await
            .json()
            .await
            .unwrap();
    let numbers: Vec<&str> = issued["issued"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(numbers.len(), 3, "{issued}");

    // Act
    let pdf =
        c.s.app
            .get_as(
                &c.s.dean.token,
                &format!("/api/v1/sessions/{}/du/transcript.pdf", c.session),
            )
            .await
            .bytes()
            .await
            .unwrap();
    let text = read(&pdf);

    // Assert: one line per candidate, holding the name, the grades and the record number.
    for name in names {
        let row = line_with(&text, name);
        for grade in [
            "12,25",
            "10,5",
            "14,75",
            "16",
            "13,5",
            "Admis",
            "Assez bien",
        ] {
            line_with(row, grade);
        }
    }
    for number in &numbers {
        line_with(&text, number);
    }
    no_iso_date_nor_decimal_point(&text);
}
