//! Signing in with Pro Santé Connect, against a real OpenID Connect provider
//! (`oidc-provider`, see `helpers::psc`): sign-up, sign-in again, linking to a password
//! account only after its password, the provider's answers that must be refused, the
//! back-channel logout, and an RPPS typed on another account.

use serde_json::{json, Value};

use crate::helpers::lms::browser;
use crate::helpers::psc::{app_with_psc, prove, user_of, Psc};
use crate::helpers::session_of;
use crate::helpers::{day, setup_with, unescape, Browsing, TestApp};
use crate::journeys::PASSWORD;

async fn me(app: &TestApp, token: &str) -> Value {
    let response = app.get_as(token, "/api/v1/me").await;
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.unwrap()
}

fn accounts_count(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    use qvt_campus::db::schema::accounts;
    let mut conn = app.conn();
    accounts::table.count().get_result(&mut *conn).unwrap()
}

#[tokio::test]
async fn a_practitioner_signs_up_with_psc_and_comes_back_to_the_same_verified_account() {
    // Arrange
    let Some((app, psc)) = app_with_psc(false).await else {
        return;
    };
    let doctor = &psc.practitioners().await[0];

    // Act: the first sign-in creates the account.
    let first = psc.sign_in(&app, &doctor.sub).await;

    // Assert
    assert_eq!(
        first.status().as_u16(),
        303,
        "{}",
        first.text().await.unwrap()
    );
    assert_eq!(first.headers()["location"], "/tableau-de-bord");
    let token = session_of(&first).expect("signed in");
    let account = me(&app, &token).await;
    assert_eq!(account["rpps"], doctor.rpps.as_str());
    assert_eq!(account["profession"], "medecin");
    assert_eq!(account["mode_exercice"], "liberal");
    assert_eq!(account["email"], doctor.email.as_deref().unwrap());
    assert_eq!(account["first_name"], "Jean");
    let (status, page) = Browsing::with_session(&app, token.clone())
        .page("/mon-compte")
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("RPPS vérifié"), "{page}");
    assert!(page.contains("id=\"identite-psc\""));
    assert!(page.contains("readonly"));
    let export: Value = app.get_json(&token, "/api/v1/me/export").await;
    assert_eq!(export["provider_identities"][0]["provider"], "psc");
    assert_eq!(
        export["provider_identities"][0]["rpps"],
        doctor.rpps.as_str()
    );

    // Act: signing in again, from another browser, with a rotated provider key.
    psc.rotate_key().await;
    // A keyset is fetched again for an unknown key at most every 2 s (forged tokens must
    // not become a stream of fetches): the new key is believed from then on.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let again = psc.sign_in(&app, &doctor.sub).await;

    // Assert: the same account, no second one.
    assert_eq!(again.status().as_u16(), 303);
    let again = me(&app, &session_of(&again).unwrap()).await;
    assert_eq!(again["id"], account["id"]);
    assert_eq!(accounts_count(&app), 1);
}

#[tokio::test]
async fn a_signed_userinfo_is_verified_and_read() {
    let Some((app, psc)) = app_with_psc(true).await else {
        return;
    };
    let pharmacist = &psc.practitioners().await[2];

    let signed_in = psc.sign_in(&app, &pharmacist.sub).await;

    assert_eq!(signed_in.status().as_u16(), 303);
    let account = me(&app, &session_of(&signed_in).unwrap()).await;
    assert_eq!(account["rpps"], pharmacist.rpps.as_str());
    assert_eq!(account["profession"], "pharmacien");
    // No e-mail from the provider: an address nothing is ever sent to.
    assert!(account["email"].as_str().unwrap().ends_with(".invalid"));
}

#[tokio::test]
async fn an_existing_password_account_is_linked_only_once_its_password_is_given() {
    // Arrange: the doctor already has a password account under the address PSC gives.
    let Some((app, psc)) = app_with_psc(false).await else {
        return;
    };
    let doctor = &psc.practitioners().await[0];
    let email = doctor.email.clone().unwrap();
    let existing = app.learner(&email).await;

    // Act: signing in with PSC does not sign in to it…
    let returned = psc.sign_in(&app, &doctor.sub).await;

    // Assert
    assert_eq!(returned.status().as_u16(), 200);
    assert!(session_of(&returned).is_none());
    let page = unescape(&returned.text().await.unwrap());
    assert!(page.contains("Un compte existe déjà pour vous"), "{page}");
    let token = crate::helpers::lms::input(&page, "token").unwrap();

    // …a wrong password does not link it…
    let wrong = prove(&app, &token, &email, "pas le bon").await;
    assert_eq!(wrong.status().as_u16(), 401);
    assert!(session_of(&wrong).is_none());

    // …the right one does.
    let proved = prove(&app, &token, &email, PASSWORD).await;
    assert_eq!(proved.status().as_u16(), 303);
    let account = me(&app, &session_of(&proved).unwrap()).await;
    assert_eq!(account["id"], existing.id.as_str());
    assert_eq!(account["rpps"], doctor.rpps.as_str());
    assert_eq!(accounts_count(&app), 1);

    // The next PSC sign-in goes straight in; the token served once.
    let next = psc.sign_in(&app, &doctor.sub).await;
    assert_eq!(
        me(&app, &session_of(&next).unwrap()).await["id"],
        existing.id.as_str()
    );
    let replayed = prove(&app, &token, &email, PASSWORD).await;
    assert_eq!(replayed.status().as_u16(), 422);

    // Act: the link can go while the password remains.
    let browsing = Browsing::with_session(&app, session_of(&next).unwrap());
    let unlinked = browsing.post("/mon-compte/identites/psc/delier", &[]).await;
    assert_eq!(unlinked.status().as_u16(), 303);
    let (_, page) = browsing.page("/mon-compte").await;
    assert!(!page.contains("RPPS vérifié"), "{page}");
}

#[tokio::test]
async fn an_account_made_by_psc_keeps_its_only_way_in() {
    let Some((app, psc)) = app_with_psc(false).await else {
        return;
    };
    let nurse = &psc.practitioners().await[1];
    let signed_in = psc.sign_in(&app, &nurse.sub).await;
    let browsing = Browsing::with_session(&app, session_of(&signed_in).unwrap());

    let refused = browsing.post("/mon-compte/identites/psc/delier", &[]).await;

    assert_eq!(refused.status().as_u16(), 409);
    let page = unescape(&refused.text().await.unwrap());
    assert!(page.contains("mot de passe"), "{page}");
    // Nor may the verified number be typed over.
    let typed = browsing
        .post(
            "/mon-compte/numeros",
            &[("rpps", "10000000009"), ("adeli", "")],
        )
        .await;
    assert_eq!(typed.status().as_u16(), 409);
    assert_eq!(
        me(&app, &session_of(&signed_in).unwrap()).await["rpps"],
        nurse.rpps.as_str()
    );
}

#[tokio::test]
async fn answers_that_do_not_hold_are_refused_and_sign_no_one_in() {
    let Some((app, psc)) = app_with_psc(false).await else {
        return;
    };
    let doctor = &psc.practitioners().await[0];
    // A first sign-in, so that "replay" has an earlier id_token to give back.
    assert_eq!(psc.sign_in(&app, &doctor.sub).await.status().as_u16(), 303);

    for (fault, says) in [
        ("unknown-key", "clé de signature inconnue"),
        ("wrong-audience", "audience"),
        ("expired", "expiré"),
        ("replay", "nonce"),
        ("wrong-issuer", "émetteur"),
    ] {
        psc.spoil_next_token(fault).await;
        let refused = psc.sign_in(&app, &doctor.sub).await;
        assert_eq!(refused.status().as_u16(), 401, "{fault}");
        assert!(session_of(&refused).is_none(), "{fault}");
        let page = unescape(&refused.text().await.unwrap());
        assert!(page.contains(says), "{fault}: {page}");
    }

    // A return whose state is not this browser's login (a login CSRF, or a replay).
    let browser = browser();
    let start = browser
        .get(app.url("/connexion/oidc/psc"))
        .send()
        .await
        .unwrap();
    let to = start.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.contains("code_challenge_method=S256") && to.contains("acr_values=eidas1"));
    let forged = browser
        .get(app.url("/connexion/oidc/psc/retour?code=abc&state=not-ours"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 401);
    let stranger = crate::helpers::lms::browser();
    let elsewhere = psc
        .through_provider(&app, &stranger, start, &doctor.sub)
        .await;
    assert_eq!(elsewhere.status().as_u16(), 401, "another browser's return");
    assert!(session_of(&elsewhere).is_none());
    assert_eq!(accounts_count(&app), 1);
}

#[tokio::test]
async fn the_providers_back_channel_logout_ends_the_page_sessions() {
    let Some((app, psc)) = app_with_psc(false).await else {
        return;
    };
    let nurse = &psc.practitioners().await[1];
    let signed_in = psc.sign_in(&app, &nurse.sub).await;
    let browsing = Browsing::with_session(&app, session_of(&signed_in).unwrap());
    assert_eq!(browsing.get("/mon-compte").await.status().as_u16(), 200);

    assert_eq!(psc.back_channel_logout(&nurse.sub).await, 204);

    let after = browsing.get("/mon-compte").await;
    assert_eq!(after.status().as_u16(), 303, "signed out");
    // A forged logout token is refused.
    let forged = browser()
        .post(app.url("/connexion/oidc/psc/deconnexion"))
        .form(&[("logout_token", "eyJhbGciOiJub25lIn0.e30.")])
        .send()
        .await
        .unwrap();
    let problem = crate::helpers::problem(forged, 422).await;
    assert_eq!(crate::helpers::field_names(&problem), ["logout_token"]);
}

#[tokio::test]
async fn an_rpps_typed_on_another_account_goes_to_the_verified_practitioner() {
    // Arrange: someone typed the nurse's RPPS on their own account (another address).
    let Some((app, psc)) = app_with_psc(false).await else {
        return;
    };
    let nurse = &psc.practitioners().await[1];
    let claimant = app.learner("usurpation@example.fr").await;
    let typed = app
        .call(
            reqwest::Method::PATCH,
            "/api/v1/me",
            &claimant.token,
            Some(&json!({ "rpps": nurse.rpps, "adeli": null })),
        )
        .await;
    assert_eq!(
        typed.status().as_u16(),
        200,
        "{}",
        typed.text().await.unwrap()
    );

    // Act: the nurse signs in with PSC, and says the account is not hers.
    let returned = psc.sign_in(&app, &nurse.sub).await;
    assert_eq!(returned.status().as_u16(), 200);
    let page = unescape(&returned.text().await.unwrap());
    let token = crate::helpers::lms::input(&page, "token").unwrap();
    let created = browser()
        .post(app.url("/connexion/oidc/nouveau"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();

    // Assert: her new account holds the verified number; the claimant's lost it.
    assert_eq!(created.status().as_u16(), 303);
    let account = me(&app, &session_of(&created).unwrap()).await;
    assert_eq!(account["rpps"], nurse.rpps.as_str());
    assert_ne!(account["id"], claimant.id.as_str());
    assert_eq!(me(&app, &claimant.token).await["rpps"], Value::Null);
}

#[tokio::test]
async fn a_training_body_may_accept_only_rpps_verified_by_psc() {
    // Arrange: a DPC session open only to verified RPPS numbers.
    let Some(psc) = Psc::start() else { return };
    let settings = psc.settings();
    let s = setup_with(|s| s.oidc = vec![settings]).await;
    psc.register(&s.app, false).await;
    let session = s
        .session(
            &s.odpc_admin,
            &s.training_body,
            json!({ "course": "dpc-securite-exercice", "title": "Session sécurité", "opens_on": day(0),
                    "closes_on": day(10), "enrolment_mode": "open", "dpc_action_ref": "12345678901",
                    "dpc_session_no": "1", "dpc_orientation": "12", "requires_verified_rpps": true }),
        )
        .await;
    assert_eq!(session["requires_verified_rpps"], true);
    let id = session["id"].as_str().unwrap();

    // Act: a practitioner with a typed number, then one signed in with PSC.
    let typed = s.app.learner("ide.liberale@example.fr").await;
    let refused = s.enrol(&typed, id, json!({})).await;
    let nurse = &psc.practitioners().await[1];
    let verified = user_of(&s.app, &psc.sign_in(&s.app, &nurse.sub).await).await;
    let admitted = s.enrol(&verified, id, json!({})).await;

    // Assert
    let problem = crate::helpers::problem(refused, 422).await;
    assert_eq!(crate::helpers::field_names(&problem), ["rpps"]);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("Pro Santé Connect")
            || problem.to_string().contains("Pro Santé Connect"),
        "{problem}"
    );
    assert_eq!(
        admitted.status().as_u16(),
        201,
        "{}",
        admitted.text().await.unwrap()
    );
    assert_eq!(me(&s.app, &verified.token).await["rpps_verified"], true);
    // A file of typed numbers cannot enrol anyone in it.
    let imported = s
        .app
        .import_csv(
            &s.odpc_admin.token,
            id,
            "email;nom;prenom;profession;rpps\nide@example.fr;Martin;Léa;infirmier;10000000009\n",
            false,
        )
        .await;
    crate::helpers::problem(imported, 409).await;

    // The training body's page shows the rule and lifts it.
    let admin = Browsing::signed_in(&s.app, &s.odpc_admin.email).await;
    let (_, page) = admin.page(&format!("/gestion/sessions/{id}")).await;
    assert!(
        page.contains("Seuls les professionnels au RPPS vérifié"),
        "{page}"
    );
    let lifted = admin
        .post(
            &format!("/gestion/sessions/{id}/modifier"),
            &[("verified_rpps", "accepter")],
        )
        .await;
    assert_eq!(lifted.status().as_u16(), 303);
    let session: Value = s
        .app
        .get_json(&s.odpc_admin.token, &format!("/api/v1/sessions/{id}"))
        .await;
    assert_eq!(session["requires_verified_rpps"], false);
    assert_eq!(s.enrol(&typed, id, json!({})).await.status().as_u16(), 201);
}

#[tokio::test]
async fn the_attestation_and_the_declaration_say_the_rpps_was_verified() {
    // Arrange: a DPC session; a nurse signed in with PSC, another practitioner who typed.
    let Some(psc) = Psc::start() else { return };
    let settings = psc.settings();
    let w = crate::helpers::world_with("dpc-securite-exercice", |s| s.oidc = vec![settings]).await;
    psc.register(&w.s.app, false).await;
    let nurse = &psc.practitioners().await[1];
    let user = user_of(&w.s.app, &psc.sign_in(&w.s.app, &nurse.sub).await).await;

    // Act: both complete the course.
    let learner = w.nearly_done_as(user).await;
    let (learner, certificate) = w.finish(learner).await;
    w.certified("kine@cabinet-exemple.fr").await;

    // Assert: the PDF, read by pdftotext, says so…
    let id = certificate["id"].as_str().unwrap();
    let pdf =
        w.s.app
            .get_as(
                &learner.user.token,
                &format!("/api/v1/certificates/{id}.pdf"),
            )
            .await;
    assert_eq!(pdf.status().as_u16(), 200);
    let text = crate::helpers::pdf_text(&pdf.bytes().await.unwrap());
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains(&nurse.rpps), "{text}");
    assert!(flat.contains("(vérifié par Pro Santé Connect)"), "{text}");
    // …and so does the training body's declaration, only for her.
    let path = format!(
        "/api/v1/organisations/{}/dpc-declarations.csv",
        w.s.training_body
    );
    let csv =
        w.s.app
            .get_as(&w.s.odpc_admin.token, &path)
            .await
            .text()
            .await
            .unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    let header = reader.headers().unwrap().clone();
    let verified = header
        .iter()
        .position(|h| h == "RPPS vérifié (Pro Santé Connect)")
        .unwrap();
    let rpps = header.iter().position(|h| h == "RPPS").unwrap();
    let mut said: Vec<(String, String)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[rpps].to_owned(), r[verified].to_owned())
        })
        .collect();
    said.sort();
    assert_eq!(
        said,
        [
            (String::new(), "non".into()),
            (nurse.rpps.clone(), "oui".into())
        ]
    );
}
