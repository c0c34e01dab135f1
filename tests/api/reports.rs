//! Reports: the roster's figures against values counted here, formula injection, the
//! dashboard, the DPC declaration list and the practitioner's record, the promotion
//! export, cross-organisation denial, and a 100,000-enrolment export that streams.

use std::io::Read;

use qvt_campus::enrolment::store::Enrolment;
use qvt_campus::identity::store::Account;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{pdf_text, problem, world, world_of, Learner, World};
use crate::journeys::adeli_of;

async fn csv_of(w: &World, token: &str, path: &str) -> String {
    let response = w.s.app.get_as(token, path).await;
    assert_eq!(response.status().as_u16(), 200, "{path}");
    response.text().await.unwrap()
}

fn rows(csv: &str) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .flexible(true)
        .from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

async fn rename(w: &World, l: &Learner, name: &str) {
    let r =
        w.s.app
            .call(
                Method::PATCH,
                "/api/v1/me",
                &l.user.token,
                Some(&json!({ "full_name": name })),
            )
            .await;
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn the_roster_and_dashboard_match_what_happened_and_formulas_stay_text() {
    let w = world().await;
    let (last, total) = (w.lessons.last().unwrap().clone(), w.lessons.len());
    let mut done = Vec::new();
    for i in 0..3 {
        let l = w.nearly_done(&format!("fini{i}@univ-exemple.fr")).await;
        w.complete(&l, &last).await;
        done.push(l);
    }
    let partial = w.nearly_done("en-cours@univ-exemple.fr").await;
    rename(
        &w,
        &partial,
        "=HYPERLINK(\"http://pirate.example\";\"clic\")",
    )
    .await;
    let gone = w.nearly_done("parti@univ-exemple.fr").await;
    let withdrawn =
        w.s.app
            .call(
                Method::DELETE,
                &format!("/api/v1/enrolments/{}", gone.enrolment),
                &gone.user.token,
                None,
            )
            .await;
    assert_eq!(withdrawn.status().as_u16(), 200);

    let path = format!("/api/v1/sessions/{}/report.csv", w.session);
    let csv = csv_of(&w, &w.s.dean.token, &path).await;
    let table = rows(&csv);
    assert_eq!(table.len(), 6, "{csv}");
    let header = &table[0];
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let line_of = |email: &str| {
        table
            .iter()
            .find(|r| r[col("Courriel")] == email)
            .unwrap()
            .clone()
    };
    let mine: Vec<Value> =
        w.s.app
            .get_json(&done[0].user.token, "/api/v1/me/certificates")
            .await;
    let first = line_of(&done[0].user.email);
    assert_eq!(first[col("Progression (%)")], "100");
    assert_eq!(first[col("Statut de l'attestation")], "valide");
    assert_eq!(
        first[col("Code d'attestation")],
        mine[0]["code"].as_str().unwrap()
    );
    assert!(!first[col("Achevé le")].is_empty());
    let partial_line = line_of(&partial.user.email);
    assert_eq!(
        partial_line[col("Progression (%)")],
        ((total - 1) * 100 / total).to_string()
    );
    assert!(partial_line[col("Achevé le")].is_empty());
    assert_eq!(
        partial_line[col("Nom")],
        "'=HYPERLINK(\"http://pirate.example\";\"clic\")"
    );
    assert_eq!(line_of(&gone.user.email)[col("Statut")], "désinscrit");

    let with_bom =
        w.s.app
            .get_as(&w.s.dean.token, &format!("{path}?bom=true"))
            .await
            .bytes()
            .await
            .unwrap();
    assert!(with_bom.starts_with("\u{feff}".as_bytes()));
    problem(
        w.s.app
            .get_as(&w.s.dean.token, &format!("{path}?bom=peut-etre"))
            .await,
        422,
    )
    .await;

    let xlsx =
        w.s.app
            .get_as(
                &w.s.dean.token,
                &format!("/api/v1/sessions/{}/report.xlsx", w.session),
            )
            .await
            .bytes()
            .await
            .unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(xlsx.to_vec())).unwrap();
    let mut sheet = String::new();
    archive
        .by_name("xl/worksheets/sheet1.xml")
        .unwrap()
        .read_to_string(&mut sheet)
        .unwrap();
    assert!(
        sheet.contains(&done[0].user.email)
            && sheet.contains("HYPERLINK")
            && !sheet.contains("<f>")
    );

    let dashboard: Value =
        w.s.app
            .get_json(
                &w.s.dean.token,
                &format!("/api/v1/sessions/{}/dashboard", w.session),
            )
            .await;
    assert_eq!(dashboard["enrolled"], 4);
    assert_eq!(dashboard["withdrawn"], 1);
    assert_eq!(dashboard["completed"], 3);
    assert_eq!(dashboard["completion_rate"], 75.0);
    assert!(dashboard["median_hours_to_completion"].as_f64().unwrap() < 1.0);

    // Nobody outside the university sees any of it.
    for token in [&w.s.odpc_admin.token, &done[0].user.token] {
        for path in [
            path.clone(),
            format!("/api/v1/sessions/{}/dashboard", w.session),
        ] {
            problem(w.s.app.get_as(token, &path).await, 404).await;
        }
    }
}

#[tokio::test]
async fn a_training_body_declares_its_participants_and_a_practitioner_sees_their_dpc_record() {
    let w = world_of("dpc-securite-exercice").await;
    let (learner, _) = w.certified("infirmiere@cabinet-exemple.fr").await;
    let (other, _) = w.certified("kine@cabinet-exemple.fr").await;

    let path = format!(
        "/api/v1/organisations/{}/dpc-declarations.csv",
        w.s.training_body
    );
    let table = rows(&csv_of(&w, &w.s.odpc_admin.token, &path).await);
    assert_eq!(table.len(), 3);
    let header = &table[0];
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut numbers: Vec<&str> = table[1..]
        .iter()
        .map(|row| row[col("ADELI")].as_str())
        .collect();
    numbers.sort_unstable();
    let mut expected = [
        adeli_of("infirmiere@cabinet-exemple.fr"),
        adeli_of("kine@cabinet-exemple.fr"),
    ];
    expected.sort_unstable();
    assert_eq!(numbers, expected);
    for row in &table[1..] {
        assert_eq!(row[col("Référence de l'action")], "12345678901");
        assert_eq!(row[col("N° de session")], "3");
        assert_eq!(row[col("Orientation prioritaire")], "12");
        assert_eq!(row[col("Mode d'exercice")], "Libéral");
        assert_eq!(row[col("Profession")], "Infirmier");
        assert_eq!(
            (row[col("Nom")].as_str(), row[col("Prénom")].as_str()),
            ("Soignant", "Camille")
        );
    }
    let long_ago = rows(
        &csv_of(
            &w,
            &w.s.odpc_admin.token,
            &format!("{path}?from=2020-01-01&to=2020-12-31"),
        )
        .await,
    );
    assert_eq!(long_ago.len(), 1, "only the header");
    let bad = problem(
        w.s.app
            .get_as(&w.s.odpc_admin.token, &format!("{path}?from=hier"))
            .await,
        422,
    )
    .await;
    assert!(bad.to_string().contains("from"));
    problem(w.s.app.get_as(&w.s.dean.token, &path).await, 404).await;

    let record: Value =
        w.s.app
            .get_json(&learner.user.token, "/api/v1/me/dpc")
            .await;
    assert_eq!(record["period"], "2023-2025");
    assert_eq!(record["actions"].as_array().unwrap().len(), 1);
    assert_eq!(record["actions"][0]["action_reference"], "12345678901");
    assert_eq!(record["obligation_met"], false, "one action of one type");
    let pdf =
        w.s.app
            .get_as(&other.user.token, "/api/v1/me/dpc.pdf")
            .await
            .bytes()
            .await
            .unwrap();
    let text = pdf_text(&pdf);
    assert!(
        text.contains("Parcours de développement professionnel continu")
            && text.contains("12345678901"),
        "{text}"
    );
}

#[tokio::test]
async fn a_school_exports_its_promotions_qvt_module_validation() {
    let w = world().await;
    let (done, _) = w.certified("validee@univ-exemple.fr").await;
    let pending = w.nearly_done("pas-encore@univ-exemple.fr").await;
    let path = format!(
        "/api/v1/organisations/{}/promotion.csv?academic_year=2026-2027",
        w.s.university
    );
    let table = rows(&csv_of(&w, &w.s.dean.token, &path).await);
    assert_eq!(table.len(), 3);
    let col = |name: &str| table[0].iter().position(|h| h == name).unwrap();
    let by_email = |e: &str| {
        table
            .iter()
            .find(|r| r[col("Courriel")] == e)
            .unwrap()
            .clone()
    };
    assert_eq!(by_email(&done.user.email)[col("Module validé")], "oui");
    assert_eq!(by_email(&pending.user.email)[col("Module validé")], "non");
    assert_eq!(by_email(&done.user.email)[col("Cursus")], "DFGSM");
    let other_year =
        rows(&csv_of(&w, &w.s.dean.token, &path.replace("2026-2027", "2019-2020")).await);
    assert_eq!(other_year.len(), 1);
    problem(w.s.app.get_as(&w.s.odpc_admin.token, &path).await, 404).await;
}

#[tokio::test]
async fn a_hundred_thousand_enrolments_stream_out() {
    let w = world().await;
    let now = chrono::Utc::now().naive_utc();
    let version: String = {
        let session: Value =
            w.s.app
                .get_json(&w.s.dean.token, &format!("/api/v1/sessions/{}", w.session))
                .await;
        session["course_version_id"].as_str().unwrap().to_owned()
    };
    let mut conn = w.s.app.conn();
    for chunk in 0..20 {
        let people: Vec<Account> = (0..5_000)
            .map(|i| Account {
                id: format!("a{chunk:02}{i:05}"),
                email: format!("etudiant{chunk:02}{i:05}@univ-exemple.fr"),
                full_name: format!("Étudiant {chunk} {i}"),
                password_hash: "x".into(),
                profession: "etudiant".into(),
                rpps: None,
                adeli: None,
                student_number: Some(format!("{chunk:02}{i:05}")),
                mode_exercice: None,
                is_platform_admin: false,
                email_verified_at: Some(now),
                disabled_at: None,
                erased_at: None,
                created_at: now,
                updated_at: now,
                page_session_epoch: 0,
                first_name: None,
                last_name: None,
            })
            .collect();
        let enrolled: Vec<Enrolment> = people
            .iter()
            .map(|a| Enrolment {
                id: format!("e{}", &a.id[1..]),
                session_id: w.session.clone(),
                account_id: a.id.clone(),
                course_version_id: version.clone(),
                status: qvt_campus::enrolment::model::EnrolmentStatus::Active,
                enrolled_by: None,
                enrolled_at: now,
                withdrawn_by: None,
                withdrawn_at: None,
            })
            .collect();
        conn.write(|c| -> diesel::QueryResult<()> {
            qvt_campus::identity::store::insert_accounts(c, &people)?;
            qvt_campus::enrolment::store::insert_enrolments(c, &enrolled)?;
            Ok(())
        })
        .unwrap();
    }
    drop(conn);

    let response =
        w.s.app
            .get_as(
                &w.s.dean.token,
                &format!("/api/v1/sessions/{}/report.csv", w.session),
            )
            .await;
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.content_length().is_none(),
        "streamed, not sized in advance"
    );
    let mut response = response;
    let (mut chunks, mut lines, mut biggest) = (0, 0, 0);
    while let Some(chunk) = response.chunk().await.unwrap() {
        chunks += 1;
        biggest = biggest.max(chunk.len());
        lines += chunk.iter().filter(|b| **b == b'\n').count();
    }
    assert_eq!(lines, 100_001);
    assert!(chunks > 50, "{chunks} chunks");
    assert!(biggest <= 256 * 1024, "chunks stay small: {biggest}");
}

#[tokio::test]
async fn no_csv_export_lets_a_typed_name_run_as_a_formula() {
    // Arrange: a learner whose name is a formula, enrolled and active.
    let w = world().await;
    let hostile = w.nearly_done("formule@univ-exemple.fr").await;
    rename(&w, &hostile, "@SUM(1+1)*cmd|' /C calc'!A0").await;

    // Every CSV the API serves is one of these (a new one fails here until scanned too).
    let doc: Value = w.s.app.get("/api/openapi.json").await.json().await.unwrap();
    let mut documented: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|p| p.ends_with(".csv"))
        .map(String::as_str)
        .collect();
    documented.sort_unstable();
    assert_eq!(
        documented,
        [
            "/api/v1/enrolments/{id}/trace.csv",
            "/api/v1/organisations/{id}/dpc-declarations.csv",
            "/api/v1/organisations/{id}/promotion.csv",
            "/api/v1/sessions/{id}/du/transcript.csv",
            "/api/v1/sessions/{id}/report.csv",
        ]
    );

    // Act: the exports that can hold this learner's name (the DPC and DU ones are
    // scanned in their own tests, with their own learners).
    let exports = [
        format!("/api/v1/sessions/{}/report.csv", w.session),
        format!("/api/v1/enrolments/{}/trace.csv", hostile.enrolment),
        format!(
            "/api/v1/organisations/{}/promotion.csv?academic_year=2026-2027",
            w.s.university
        ),
    ];
    for path in exports {
        let table = rows(&csv_of(&w, &w.s.dean.token, &path).await);
        // Assert: the name is there, as text.
        let cells: Vec<&String> = table.iter().flatten().collect();
        assert!(
            cells.iter().any(|c| c.contains("SUM(1+1)")),
            "{path}: the name is exported"
        );
        for cell in cells {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{path}: {cell:?}"
            );
        }
    }
}
