//! Bulk enrolment from a university's CSV export.

use diesel::prelude::*;
use qvt_campus::db::schema::{accounts, enrolments, mail_outbox};
use qvt_campus::identity::auth::csrf_of;
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

use crate::helpers::{no_redirects, page_session, problem, setup, Setup, TestApp};

async fn import(
    s: &Setup,
    session: &str,
    csv: impl Into<reqwest::Body>,
    dry_run: bool,
) -> reqwest::Response {
    s.app.import_csv(&s.dean.token, session, csv, dry_run).await
}

fn count(app: &TestApp) -> (i64, i64) {
    let accounts: i64 = accounts::table.count().get_result(&mut app.conn()).unwrap();
    let enrolments: i64 = enrolments::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    (accounts, enrolments)
}

/// A promotion as a university exports it: `;`-separated, French headers.
fn promotion(rows: usize, broken_line: Option<usize>) -> String {
    let mut csv = String::from("Nom;Prénom;Courriel;Numéro étudiant;Profession\n");
    for i in 0..rows {
        let line = i + 2;
        let email = if Some(line) == broken_line {
            "adresse-invalide".to_string()
        } else {
            format!("etudiant{i}@univ-exemple.fr")
        };
        csv.push_str(&format!("Nom{i};Prénom{i};{email};E{i:06};etudiant\n"));
    }
    csv
}

#[tokio::test]
async fn a_dry_run_reports_every_row_and_writes_nothing() {
    let s = setup().await;
    let session = s.qvt_session(json!({})).await;
    let known = s.app.learner("deja-inscrite@univ-exemple.fr").await;
    s.enrol(&known, &session, json!({})).await;
    let before = count(&s.app);
    let csv = "email,last_name,first_name,profession\n\
               nouvelle@univ-exemple.fr,Durand,Léa,etudiant\n\
               deja-inscrite@univ-exemple.fr,Soignant,Camille,\n\
               pas-une-adresse,Martin,,sorcier\n"
        .to_string();

    let response = import(&s, &session, csv, true).await;

    assert_eq!(response.status().as_u16(), 200);
    let report: Value = response.json().await.unwrap();
    assert_eq!(
        (
            report["dry_run"].as_bool(),
            report["rows"].as_i64(),
            report["errors"].as_i64()
        ),
        (Some(true), Some(3), Some(1))
    );
    let rows = report["report"].as_array().unwrap();
    assert_eq!(
        (rows[0]["line"].as_i64(), rows[0]["status"].as_str()),
        (Some(2), Some("to_enrol"))
    );
    assert_eq!(rows[1]["status"], "already_enrolled");
    assert_eq!(rows[2]["status"], "error");
    let fields: Vec<&str> = rows[2]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["email", "prenom", "profession"]);
    assert_eq!(count(&s.app), before);
}

#[tokio::test]
async fn one_bad_row_among_ten_thousand_stops_the_whole_import() {
    let s = setup().await;
    let session = s.qvt_session(json!({})).await;
    let before = count(&s.app);

    let response = import(&s, &session, promotion(10_000, Some(7_342)), false).await;

    let body = problem(response, 422).await;
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["field"], "rows[7342].email");
    assert_eq!(count(&s.app), before, "nothing written");
}

#[tokio::test]
async fn ten_thousand_learners_are_enrolled_and_invited_in_one_request() {
    let s = setup().await;
    let session = s.qvt_session(json!({})).await;
    let (accounts_before, _) = count(&s.app);
    let mails_before: i64 = mail_outbox::table
        .count()
        .get_result(&mut s.app.conn())
        .unwrap();

    let response = import(&s, &session, promotion(10_000, None), false).await;

    assert_eq!(response.status().as_u16(), 200);
    let report: Value = response.json().await.unwrap();
    assert_eq!(
        (report["enrolled"].as_i64(), report["errors"].as_i64()),
        (Some(10_000), Some(0))
    );
    let (accounts_after, enrolments) = count(&s.app);
    assert_eq!(accounts_after - accounts_before, 10_000);
    assert_eq!(enrolments, 10_000);
    let invitations: i64 = mail_outbox::table
        .filter(mail_outbox::template.eq("invitation"))
        .count()
        .get_result(&mut s.app.conn())
        .unwrap();
    assert_eq!(invitations, 10_000);
    let mails_after: i64 = mail_outbox::table
        .count()
        .get_result(&mut s.app.conn())
        .unwrap();
    assert_eq!(mails_after - mails_before, 10_000);
    let view: Value = s
        .app
        .get_json(&s.dean.token, &format!("/api/v1/sessions/{session}"))
        .await;
    assert_eq!(view["enrolled"], 10_000);
}

#[tokio::test]
async fn an_invited_learner_sets_a_password_from_the_mail_and_logs_in() {
    let s = setup().await;
    let session = s.qvt_session(json!({})).await;
    let csv = "Nom;Prénom;Courriel\nBernard;Inès;ines.bernard@univ-exemple.fr\n".to_string();
    assert_eq!(
        import(&s, &session, csv, false).await.status().as_u16(),
        200
    );

    let token = s
        .app
        .token_from_mail("ines.bernard@univ-exemple.fr", "vous inscrit")
        .await;
    let set = s
        .app
        .post_json(
            "/api/v1/auth/password-reset/confirm",
            &json!({ "token": token, "password": "mon premier mot de passe" }),
        )
        .await;
    assert_eq!(set.status().as_u16(), 204);

    let user = s
        .app
        .logged_in("ines.bernard@univ-exemple.fr", "mon premier mot de passe")
        .await;
    let mine: Vec<Value> = s.app.get_json(&user.token, "/api/v1/me/enrolments").await;
    assert_eq!(mine[0]["session"]["id"], session.as_str());
    let me: Value = s.app.get_json(&user.token, "/api/v1/me").await;
    assert_eq!(me["email_verified"], true);
    assert_eq!(me["memberships"][0]["role"], "learner");
}

#[tokio::test]
async fn a_file_that_is_not_a_csv_export_is_refused_clearly() {
    let s = setup().await;
    let session = s.qvt_session(json!({})).await;
    let json_body = s
        .app
        .post_as(
            &s.dean.token,
            &format!("/api/v1/sessions/{session}/enrolments/import"),
            &json!({}),
        )
        .await;
    problem(json_body, 415).await;
    let no_email_column = import(&s, &session, "nom;prenom\nA;B\n", false).await;
    assert_eq!(
        crate::helpers::field_names(&problem(no_email_column, 422).await),
        vec!["csv"]
    );
    let workbook = import(&s, &session, b"PK\x03\x04\x14\x00\x06\x00".to_vec(), false).await;
    let body = problem(workbook, 422).await;
    assert_eq!(crate::helpers::field_names(&body), vec!["csv"]);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("« CSV (séparateur : point-virgule) »"),
        "{body}"
    );
}

/// Two nurses as French Excel saves them (« CSV (séparateur : point-virgule) »):
/// Windows-1252, `;`, CRLF; é = E9, è = E8, ë = EB.
const EXCEL_CP1252: &[u8] = b"Nom;Pr\xe9nom;Courriel;Profession\r\n\
Dupr\xe9;H\xe9l\xe8ne;helene.dupre@ifsi-exemple.fr;Infirmi\xe8re\r\n\
Lef\xe8vre;No\xebl;noel.lefevre@ifsi-exemple.fr;IDE\r\n";

/// The name, profession code and student number stored for an address.
fn stored(app: &TestApp, email: &str) -> (String, String, Option<String>) {
    accounts::table
        .filter(accounts::email.eq(email))
        .select((
            accounts::full_name,
            accounts::profession,
            accounts::student_number,
        ))
        .first(&mut app.conn())
        .unwrap()
}

#[tokio::test]
async fn a_windows_1252_file_from_french_excel_keeps_its_accents_and_professions() {
    // Arrange
    let s = setup().await;
    let session = s.qvt_session(json!({})).await;

    // Act
    let response = import(&s, &session, EXCEL_CP1252.to_vec(), false).await;

    // Assert
    assert_eq!(response.status().as_u16(), 200);
    let report: Value = response.json().await.unwrap();
    assert_eq!(
        (report["enrolled"].as_i64(), report["errors"].as_i64()),
        (Some(2), Some(0)),
        "{report}"
    );
    assert_eq!(
        stored(&s.app, "helene.dupre@ifsi-exemple.fr"),
        ("Hélène Dupré".into(), "infirmier".into(), None)
    );
    assert_eq!(
        stored(&s.app, "noel.lefevre@ifsi-exemple.fr"),
        ("Noël Lefèvre".into(), "infirmier".into(), None)
    );
}

#[tokio::test]
async fn a_moodle_user_export_enrols_its_users_by_address() {
    let s = setup().await;
    let session = s.qvt_session(json!({})).await;
    let moodle = "username,firstname,lastname,email,idnumber,profile_field_promotion\n\
                  lmoreau,Léa,Moreau,lea.moreau@univ-exemple.fr,E2026042,\"Promo 2026, groupe B\"\n\
                  tgarnier,Théo,Garnier,theo.garnier@univ-exemple.fr,,\n"
        .to_string();

    let response = import(&s, &session, moodle, false).await;

    assert_eq!(response.status().as_u16(), 200);
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["enrolled"].as_i64(), Some(2), "{report}");
    assert_eq!(
        stored(&s.app, "lea.moreau@univ-exemple.fr"),
        (
            "Léa Moreau".into(),
            "etudiant".into(),
            Some("E2026042".into())
        )
    );
    assert_eq!(
        stored(&s.app, "theo.garnier@univ-exemple.fr"),
        ("Théo Garnier".into(), "etudiant".into(), None)
    );
    let invited = s
        .app
        .token_from_mail("lea.moreau@univ-exemple.fr", "vous inscrit")
        .await;
    assert!(!invited.is_empty());
}

/// Posts the session page's import form as a browser does (`multipart/form-data`).
async fn post_page_form(
    s: &Setup,
    session: &str,
    cookie: &str,
    parts: Vec<(&'static str, Part)>,
) -> (u16, String) {
    let mut form = Form::new();
    for (name, part) in parts {
        form = form.part(name, part);
    }
    let response = no_redirects()
        .post(s.app.url(&format!("/gestion/sessions/{session}/import")))
        .header("cookie", format!("qvt_access={cookie}"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// A file input as the browser sends it; no file chosen is an empty part named "".
fn file_part(name: &str, bytes: &[u8]) -> Part {
    Part::bytes(bytes.to_vec())
        .file_name(name.to_owned())
        .mime_str(if name.is_empty() {
            "application/octet-stream"
        } else {
            "text/csv"
        })
        .unwrap()
}

/// The value of a hidden input, as a browser reads it from the escaped HTML.
fn hidden_value(html: &str, name: &str) -> Option<String> {
    let start = html.find(&format!("name=\"{name}\" value=\""))? + name.len() + 15;
    let raw = &html[start..start + html[start..].find('"')?];
    Some(
        raw.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&#x60;", "`")
            .replace("&#x3D;", "=")
            .replace("&amp;", "&"),
    )
}

#[tokio::test]
async fn the_session_page_checks_an_uploaded_file_then_imports_what_it_checked() {
    // Arrange: the dean signed in through the pages.
    let s = setup().await;
    let session = s.qvt_session(json!({})).await;
    let cookie = page_session(&s.app, &s.dean.email).await;
    let csrf = csrf_of(&cookie);
    let before = count(&s.app);

    // Act 1: « Vérifier » with the file Excel saved.
    let (status, checked) = post_page_form(
        &s,
        &session,
        &cookie,
        vec![
            ("csrf", Part::text(csrf.clone())),
            ("fichier", file_part("promo 2026.csv", EXCEL_CP1252)),
            ("contenu", Part::text("")),
            ("action", Part::text("verifier")),
        ],
    )
    .await;

    // Assert 1: the report, nothing written, the checked text kept for « Importer ».
    assert_eq!(status, 200, "{checked}");
    assert!(
        checked.contains(
            "<strong>Vérification de « promo 2026.csv »</strong> : 2 ligne(s), 2 inscription(s) à faire"
        ),
        "{checked}"
    );
    assert!(checked.contains("Importer la liste vérifiée"), "{checked}");
    assert_eq!(count(&s.app), before, "a dry run writes nothing");
    let text = hidden_value(&checked, "verifie").expect("the checked text");
    assert!(
        text.starts_with("Nom;Prénom;Courriel;Profession")
            && text.contains("Dupré;Hélène;helene.dupre@ifsi-exemple.fr;Infirmière"),
        "{text}"
    );

    // A form whose CSRF token is not the session's is refused as such (403), unread.
    let (status, _) = post_page_form(
        &s,
        &session,
        &cookie,
        vec![
            ("csrf", Part::text("jeton-d-un-autre-site")),
            ("verifie", Part::text(text.clone())),
            ("action", Part::text("importer")),
        ],
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(count(&s.app), before, "nothing imported");

    // Act 2: « Importer », the file input now empty, as after a page load.
    let (status, imported) = post_page_form(
        &s,
        &session,
        &cookie,
        vec![
            ("csrf", Part::text(csrf)),
            ("verifie", Part::text(text)),
            ("fichier", file_part("", b"")),
            ("contenu", Part::text("")),
            ("action", Part::text("importer")),
        ],
    )
    .await;

    // Assert 2: enrolled, named with their accents, invited by a link that works.
    assert_eq!(status, 200, "{imported}");
    assert!(
        imported.contains("<strong>Import terminé</strong> : 2 ligne(s)"),
        "{imported}"
    );
    assert!(
        !imported.contains("name=\"verifie\""),
        "nothing left to import"
    );
    let (accounts_after, enrolments_after) = count(&s.app);
    assert_eq!(
        (accounts_after - before.0, enrolments_after - before.1),
        (2, 2)
    );
    assert_eq!(
        stored(&s.app, "helene.dupre@ifsi-exemple.fr"),
        ("Hélène Dupré".into(), "infirmier".into(), None)
    );
    let token = s
        .app
        .token_from_mail("helene.dupre@ifsi-exemple.fr", "vous inscrit")
        .await;
    let form = s
        .app
        .get(&format!("/definir-mot-de-passe?jeton={token}"))
        .await;
    assert_eq!(form.status().as_u16(), 200);
    let set = no_redirects()
        .post(s.app.url("/reinitialiser-mot-de-passe"))
        .form(&[
            ("token", token.as_str()),
            ("password", "mon mot de passe à moi"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(set.status().as_u16(), 303);
    let helene = s
        .app
        .logged_in("helene.dupre@ifsi-exemple.fr", "mon mot de passe à moi")
        .await;
    let mine: Vec<Value> = s.app.get_json(&helene.token, "/api/v1/me/enrolments").await;
    assert_eq!(mine[0]["session"]["id"], session.as_str());
}

#[tokio::test]
async fn the_session_page_says_in_french_what_is_wrong_with_a_file() {
    let s = setup().await;
    let session = s.qvt_session(json!({})).await;
    let cookie = page_session(&s.app, &s.dean.email).await;
    let csrf = csrf_of(&cookie);
    let form = |file: Part| {
        vec![
            ("csrf", Part::text(csrf.clone())),
            ("fichier", file),
            ("action", Part::text("verifier")),
        ]
    };

    // A row with a profession nobody has: listed, and no « Importer ».
    let wrong = "Nom;Prénom;Courriel;Profession\nRoy;Zoé;zoe.roy@univ-exemple.fr;Sorcière\n";
    let (status, page) = post_page_form(
        &s,
        &session,
        &cookie,
        form(file_part("liste.csv", wrong.as_bytes())),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        page.contains(
            "Ligne 2 (zoe.roy@univ-exemple.fr) : Profession — profession « Sorcière » non reconnue ; professions acceptées : Médecin, Chirurgien-dentiste,"
        ),
        "{page}"
    );
    assert!(!page.contains("Importer la liste vérifiée"), "{page}");

    // A file without the e-mail column: « Fichier », not `csv`.
    let (_, page) = post_page_form(
        &s,
        &session,
        &cookie,
        form(file_part("liste.csv", b"Nom;Pr\xe9nom\nRoy;Zo\xe9\n")),
    )
    .await;
    assert!(
        page.contains("<li>Fichier : colonne « email » absente de la première ligne (colonnes lues : « Nom », « Prénom »)</li>"),
        "{page}"
    );

    // Too large: a French sentence, not an error page.
    let big = format!("Nom;Prénom;Courriel\n{}", "x".repeat(2 * 1024 * 1024 + 1));
    let (status, page) = post_page_form(
        &s,
        &session,
        &cookie,
        form(file_part("enorme.csv", big.as_bytes())),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Fichier trop volumineux : 2 Mo au plus."),
        "{}",
        &page[..page.len().min(2000)]
    );
    assert_eq!(count(&s.app).1, 0, "nothing enrolled");
}

#[tokio::test]
async fn who_may_import_is_checked_before_the_file_is_read() {
    let s = setup().await;
    let session = s.qvt_session(json!({})).await;
    let learner = s.app.learner("curieux@univ-exemple.fr").await;
    let send = |token: String, body: Vec<u8>| {
        let (app, session) = (&s.app, &session);
        async move { app.import_csv(&token, session, body, false).await }
    };

    // A file nobody could read, and one past the size limit: to someone who does not
    // administer the session, the session does not exist (404) — the file is not looked at.
    let unreadable = send(learner.token.clone(), vec![0xff, 0xfe, 0x00, b';', 0x81]).await;
    problem(unreadable, 404).await;
    let huge = send(learner.token.clone(), vec![b'a'; 17 * 1024 * 1024]).await;
    problem(huge, 404).await;

    // The administrator gets the file's own problems.
    let too_big = send(s.dean.token.clone(), vec![b'a'; 17 * 1024 * 1024]).await;
    problem(too_big, 413).await;
}
