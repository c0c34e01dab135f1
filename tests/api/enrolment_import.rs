//! Bulk enrolment from a university's CSV export.

use diesel::prelude::*;
use qvt_campus::db::schema::{accounts, enrolments, mail_outbox};
use serde_json::{json, Value};

use crate::helpers::{problem, setup, Setup, TestApp};

async fn import(s: &Setup, session: &str, csv: String, dry_run: bool) -> reqwest::Response {
    s.app
        .client
        .post(s.app.url(&format!(
            "/api/v1/sessions/{session}/enrolments/import?dry_run={dry_run}"
        )))
        .bearer_auth(&s.dean.token)
        .header("content-type", "text/csv; charset=utf-8")
        .body(csv)
        .send()
        .await
        .unwrap()
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
        (Some(2), Some("new_account"))
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
        (
            report["enrolled"].as_i64(),
            report["new_accounts"].as_i64(),
            report["errors"].as_i64()
        ),
        (Some(10_000), Some(10_000), Some(0))
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
        .get_as(&s.dean.token, &format!("/api/v1/sessions/{session}"))
        .await
        .json()
        .await
        .unwrap();
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
    let mine: Vec<Value> = s
        .app
        .get_as(&user.token, "/api/v1/me/enrolments")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine[0]["session"]["id"], session.as_str());
    let me: Value = s
        .app
        .get_as(&user.token, "/api/v1/me")
        .await
        .json()
        .await
        .unwrap();
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
    let no_email_column = import(&s, &session, "nom;prenom\nA;B\n".into(), false).await;
    assert_eq!(
        crate::helpers::field_names(&problem(no_email_column, 422).await),
        vec!["csv"]
    );
    let latin1 = s
        .app
        .client
        .post(
            s.app
                .url(&format!("/api/v1/sessions/{session}/enrolments/import")),
        )
        .bearer_auth(&s.dean.token)
        .header("content-type", "text/csv")
        .body(b"email;nom;prenom\na@b.fr;Z\xe9;L\n".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(
        crate::helpers::field_names(&problem(latin1, 422).await),
        vec!["csv"]
    );
}
