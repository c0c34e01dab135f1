//! The jobs of a training body's admin and of a school done from the pages, as a browser
//! does them (cookie session, forms with the CSRF token, `Accept: text/html`): French
//! error pages, sign-in that leads back, members, the audit log, exports, the learners
//! table, quiz statistics, and the session forms that fit the organisation.

use serde_json::{json, Value};

use crate::helpers::{day, no_redirects, setup, unescape, Browsing, HTML};

#[tokio::test]
async fn a_browser_gets_french_error_pages_and_a_signed_out_link_leads_to_sign_in_and_back() {
    let s = setup().await;
    let visitor = Browsing::signed_out(&s.app);

    // A missing page, a wrong method: French pages with a way back, not JSON.
    let missing = visitor.get("/nulle-part").await;
    assert_eq!(missing.status().as_u16(), 404);
    assert!(missing.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let text = missing.text().await.unwrap();
    assert!(
        text.contains("<html lang=\"fr\">") && text.contains("Retour à l'accueil"),
        "{text}"
    );
    let wrong_method = visitor.post("/tableau-de-bord", &[]).await;
    assert_eq!(wrong_method.status().as_u16(), 405);
    assert!(wrong_method
        .text()
        .await
        .unwrap()
        .contains("Retour à l'accueil"));
    // API clients keep their problem documents.
    let api = s.app.get("/nulle-part").await;
    assert_eq!(api.headers()["content-type"], "application/problem+json");

    // The certificate link of a mail, followed signed out: sign in, then back to it.
    let link = "/api/v1/me/certificates";
    let to_sign_in = Browsing::location(&visitor.get(link).await);
    assert_eq!(
        to_sign_in,
        "/connexion?retour=%2Fapi%2Fv1%2Fme%2Fcertificates"
    );
    let (status, form) = visitor.page(&to_sign_in).await;
    assert_eq!(status, 200);
    assert!(
        form.contains("name=\"retour\" value=\"/api/v1/me/certificates\""),
        "{form}"
    );
    let signed_in = no_redirects()
        .post(s.app.url("/connexion"))
        .form(&[
            ("email", s.dean.email.as_str()),
            ("password", crate::journeys::PASSWORD),
            ("retour", link),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(Browsing::location(&signed_in), link);
    // Another site is never where the sign-in leads.
    let elsewhere = no_redirects()
        .post(s.app.url("/connexion"))
        .form(&[
            ("email", s.dean.email.as_str()),
            ("password", crate::journeys::PASSWORD),
            ("retour", "//evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(Browsing::location(&elsewhere), "/tableau-de-bord");
}

#[tokio::test]
async fn a_refused_key_is_named_in_french_and_an_enrolled_learner_is_offered_to_continue() {
    let s = setup().await;
    let session = s
        .qvt_session(
            json!({ "enrolment_mode": "key", "enrolment_key": "IFSI-2026", "capacity": 30 }),
        )
        .await;
    let learner = s.app.learner("etudiante@ifsi-exemple.fr").await;
    let student = Browsing::signed_in(&s.app, &learner.email).await;

    let (_, course) = student.page("/formations/qvt-formation-initiale").await;
    assert!(
        course.contains("Organisée par <strong>Université Exemple</strong>"),
        "{course}"
    );
    assert!(course.contains("Places restantes : 30."));
    assert!(course.contains("S'inscrire"));

    let refused = student
        .post(
            &format!("/sessions/{session}/inscription"),
            &[("key", "MAUVAISE")],
        )
        .await;
    assert_eq!(refused.status().as_u16(), 422);
    let text = unescape(&refused.text().await.unwrap());
    assert!(text.contains("Clé d'inscription"), "{text}");
    for developer in ["enrolment_key", "`errors`", "voir errors"] {
        assert!(
            !text.contains(developer),
            "{developer} shown to a learner: {text}"
        );
    }

    let enrolled = student
        .post(
            &format!("/sessions/{session}/inscription"),
            &[("key", "IFSI-2026")],
        )
        .await;
    let path = Browsing::location(&enrolled);
    let (_, course) = student.page("/formations/qvt-formation-initiale").await;
    assert!(
        course.contains("Continuer la formation") && course.contains(&path),
        "{course}"
    );
    assert!(!course.contains("name=\"key\""), "no second enrolment form");
    assert!(course.contains("Places restantes : 29."));
    // A learner has no « Gestion » link to a page that would say there is nothing there.
    let (_, dashboard) = student.page("/tableau-de-bord").await;
    assert!(!dashboard.contains("href=\"/gestion\""));
}

#[tokio::test]
async fn a_training_body_is_offered_its_own_courses_and_manages_its_members_from_the_pages() {
    let s = setup().await;
    let admin = Browsing::signed_in(&s.app, &s.odpc_admin.email).await;
    let org = format!("/gestion/organisations/{}", s.training_body);

    // The new-session form: no diploma, no academic year, the DPC references asked.
    let (_, form) = admin.page(&format!("{org}/sessions/nouvelle")).await;
    assert!(form.contains("dpc-securite-exercice") && form.contains("dpc_orientation"));
    assert!(
        !form.contains("du-soigner-les-soignants"),
        "the DU is not a training body's"
    );
    assert!(!form.contains("qvt-formation-initiale"));
    assert!(!form.contains("academic_year"));
    let (_, gestion) = admin.page("/gestion").await;
    assert!(gestion.contains("Administrateur de l'organisation"));
    assert!(!gestion.contains("org_admin"), "{gestion}");

    // Members: add a confirmed account as tutor, make them admin, remove them.
    let tutor = s.app.learner("formatrice@odpc-exemple.fr").await;
    let unknown = admin
        .post(
            &format!("{org}/membres"),
            &[("email", "personne@nulle-part.fr"), ("role", "tutor")],
        )
        .await;
    // An address without an account is invited: the page answers as for any addition
    // (it does not tell who is registered).
    assert_eq!(Browsing::location(&unknown), format!("{org}#membres"));
    s.app
        .token_from_mail("personne@nulle-part.fr", "vous invite")
        .await;
    let added = admin
        .post(
            &format!("{org}/membres"),
            &[("email", tutor.email.as_str()), ("role", "tutor")],
        )
        .await;
    assert_eq!(Browsing::location(&added), format!("{org}#membres"));
    let (_, page) = admin.page(&org).await;
    assert!(page.contains("formatrice@odpc-exemple.fr"));
    let members: Vec<Value> = s
        .app
        .get_json(
            &s.odpc_admin.token,
            &format!("/api/v1/organisations/{}/members", s.training_body),
        )
        .await;
    let tutor_id = members
        .iter()
        .find(|m| m["email"] == tutor.email.as_str())
        .unwrap()["account_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let promoted = admin
        .post(
            &format!("{org}/membres/{tutor_id}/role"),
            &[("role", "org_admin")],
        )
        .await;
    assert_eq!(promoted.status().as_u16(), 303);
    let removed = admin
        .post(&format!("{org}/membres/{tutor_id}/retirer"), &[])
        .await;
    assert_eq!(removed.status().as_u16(), 303);
    // The last admin cannot leave the body without one.
    let me: Value = s.app.get_json(&s.odpc_admin.token, "/api/v1/me").await;
    let alone = admin
        .post(
            &format!("{org}/membres/{}/role", me["id"].as_str().unwrap()),
            &[("role", "learner")],
        )
        .await;
    assert_eq!(alone.status().as_u16(), 409);
    assert!(alone
        .text()
        .await
        .unwrap()
        .contains("au moins un administrateur"));

    // The audit log, newest first, in words and by name.
    let (status, log) = admin.page(&format!("{org}/journal")).await;
    assert_eq!(status, 200);
    let removed_at = log.find("Membre retiré").expect("removal logged");
    let changed_at = log.find("Rôle modifié").expect("role change logged");
    let added_at = log.find("Membre ajouté").expect("addition logged");
    assert!(
        removed_at < changed_at && changed_at < added_at,
        "newest first"
    );
    assert!(
        log.contains("<td>Camille Soignant</td>"),
        "people by name: {log}"
    );
    assert!(!log.contains("membership."), "actions in words");

    // Someone without an account is invited by mail, sets a password and is staff at once.
    let invited = admin
        .post(
            &format!("{org}/membres"),
            &[
                ("email", "nouvelle.formatrice@odpc-exemple.fr"),
                ("role", "tutor"),
                ("first_name", "Louise"),
                ("last_name", "Perrin"),
            ],
        )
        .await;
    assert_eq!(Browsing::location(&invited), format!("{org}#membres"));
    let token = s
        .app
        .token_from_mail("nouvelle.formatrice@odpc-exemple.fr", "vous invite")
        .await;
    let set = no_redirects()
        .post(s.app.url("/reinitialiser-mot-de-passe"))
        .form(&[
            ("token", token.as_str()),
            ("password", "une formatrice invitée"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        set.status().as_u16(),
        303,
        "the invitation link sets the password"
    );
    let louise = Browsing::signed_in_with(
        &s.app,
        "nouvelle.formatrice@odpc-exemple.fr",
        "une formatrice invitée",
    )
    .await;
    let (_, gestion) = louise.page("/gestion").await;
    assert!(
        gestion.contains("ODPC Exemple") && gestion.contains("Tuteur"),
        "{gestion}"
    );
    let (_, log) = admin.page(&format!("{org}/journal")).await;
    assert!(log.contains("Membre invité par courriel"));

    // The DPC declarations export, for Excel, from the page.
    assert!(page.contains(&format!(
        "/api/v1/organisations/{}/dpc-declarations.csv",
        s.training_body
    )));
    let csv = admin
        .get(&format!(
            "/api/v1/organisations/{}/dpc-declarations.csv?bom=true&from=&to=",
            s.training_body
        ))
        .await;
    assert_eq!(
        csv.status().as_u16(),
        200,
        "the page's form sends empty dates"
    );
    let bytes = csv.bytes().await.unwrap();
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "a byte-order mark for Excel"
    );

    // Someone else's organisation does not exist for this admin.
    let (status, _) = admin
        .page(&format!("/gestion/organisations/{}", s.university))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_learners_table_is_searched_filtered_sorted_and_paged() {
    let s = setup().await;
    let session = s.qvt_session(json!({})).await;
    for i in 0..60 {
        let learner = s
            .app
            .learner(&format!("etudiant{i:02}@univ-exemple.fr"))
            .await;
        let r = s.enrol(&learner, &session, json!({})).await;
        assert_eq!(r.status().as_u16(), 201);
    }
    let helene = s.app.learner("helene.petit@univ-exemple.fr").await;
    s.enrol(&helene, &session, json!({})).await;
    let dean = Browsing::signed_in(&s.app, &s.dean.email).await;
    let page = format!("/gestion/sessions/{session}");

    let (_, first) = dean.page(&page).await;
    assert!(
        first.contains("61 apprenant·s sur 61 · page 1 sur 2"),
        "{first}"
    );
    assert_eq!(first.matches("<tr>").count() - 1, 50, "50 learners a page");
    let (_, second) = dean.page(&format!("{page}?page=2")).await;
    assert_eq!(second.matches("<tr>").count() - 1, 11);
    let (_, found) = dean.page(&format!("{page}?q=HELENE")).await;
    assert!(
        found.contains("1 apprenant·s sur 61"),
        "accents and case aside"
    );
    assert!(found.contains("helene.petit@univ-exemple.fr"));
    let (_, none_done) = dean.page(&format!("{page}?statut=termine")).await;
    assert!(none_done.contains("0 apprenant·s sur 61"));
    // Exports from the page open in French Excel.
    assert!(first.contains(&format!("/api/v1/sessions/{session}/report.csv?bom=true")));
    // Median and gain have their place, even before anyone has finished.
    assert!(first.contains("Durée médiane jusqu'à l'achèvement"));
    // The quiz's item statistics have a page.
    let stats = format!("/gestion/sessions/{session}/quiz/quiz-final");
    assert!(first.contains(&stats), "{first}");
    let (status, stats) = dean.page(&stats).await;
    assert_eq!(status, 200);
    assert!(stats.contains("Statistiques par question"), "{stats}");
}

#[tokio::test]
async fn lessons_wait_for_the_session_to_open_and_the_error_page_offers_a_way_back() {
    let s = setup().await;
    let later = s
        .qvt_session(json!({ "opens_on": day(10), "closes_on": day(40) }))
        .await;
    let learner = s.app.learner("avance@univ-exemple.fr").await;
    s.app
        .post_as(
            &s.dean.token,
            &format!("/api/v1/organisations/{}/members", s.university),
            &json!({ "email": learner.email, "role": "learner" }),
        )
        .await;
    let enrolment: Value = s
        .enrol(&s.dean, &later, json!({ "user_id": learner.id }))
        .await
        .json()
        .await
        .unwrap();
    let student = Browsing::signed_in(&s.app, &learner.email).await;
    let lesson = format!(
        "/apprendre/{}/lecons/01-ce-que-recouvre-la-qvt",
        enrolment["id"].as_str().unwrap()
    );
    let response = no_redirects()
        .get(s.app.url(&lesson))
        .header("accept", HTML)
        .header(
            "cookie",
            format!(
                "qvt_access={}",
                crate::helpers::page_session(&s.app, &learner.email).await
            ),
        )
        .header("referer", s.app.url("/tableau-de-bord"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 409);
    let text = response.text().await.unwrap();
    assert!(text.contains("Cette session ouvre le"), "{text}");
    assert!(
        text.contains("href=\"/tableau-de-bord\""),
        "a way back to where the learner came from"
    );
    drop(student);
}

#[tokio::test]
async fn a_learner_edits_her_profile_address_and_password_from_her_account_page() {
    let s = setup().await;
    let nurse = s.app.learner("infirmiere@liberal-exemple.fr").await;
    let me = Browsing::signed_in(&s.app, &nurse.email).await;

    let (_, page) = me.page("/mon-compte").await;
    assert!(
        page.contains("Mon parcours de DPC"),
        "a nurse has the DPC obligation"
    );
    assert!(
        page.contains("prolongée"),
        "the 2023-2025 period runs to the end of 2026"
    );
    assert!(!page.contains("-0"), "no negative zero: {page}");

    // Profile: a refused name is named next to its field, the rest kept.
    let refused = me
        .post(
            "/mon-compte/profil",
            &[
                ("first_name", "Claire"),
                ("last_name", " "),
                ("profession", "infirmier"),
                ("mode_exercice", "mixte"),
                ("student_number", ""),
            ],
        )
        .await;
    assert_eq!(refused.status().as_u16(), 422);
    let text = unescape(&refused.text().await.unwrap());
    assert!(
        text.contains("id=\"err-last_name\"") && text.contains("nom obligatoire"),
        "{text}"
    );
    let saved = me
        .post(
            "/mon-compte/profil",
            &[
                ("first_name", "Claire"),
                ("last_name", "Dubois"),
                ("profession", "infirmier"),
                ("mode_exercice", "mixte"),
                ("student_number", ""),
            ],
        )
        .await;
    assert_eq!(Browsing::location(&saved), "/mon-compte?enregistre=profil");
    let account: Value = s.app.get_json(&nurse.token, "/api/v1/me").await;
    assert_eq!(
        (
            account["full_name"].as_str(),
            account["mode_exercice"].as_str()
        ),
        (Some("Claire Dubois"), Some("mixte"))
    );

    // Password: the current one is asked; the new one signs this browser in again.
    let wrong = me
        .post(
            "/mon-compte/mot-de-passe",
            &[
                ("current_password", "pas le bon mot de passe"),
                ("password", "un nouveau mot de passe"),
            ],
        )
        .await;
    assert_eq!(wrong.status().as_u16(), 422);
    assert!(unescape(&wrong.text().await.unwrap()).contains("mot de passe actuel incorrect"));
    let changed = me
        .post(
            "/mon-compte/mot-de-passe",
            &[
                ("current_password", crate::journeys::PASSWORD),
                ("password", "un nouveau mot de passe"),
            ],
        )
        .await;
    assert_eq!(
        Browsing::location(&changed),
        "/mon-compte?enregistre=mot-de-passe"
    );
    assert_eq!(
        s.app
            .login(&nurse.email, crate::journeys::PASSWORD)
            .await
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        s.app
            .login(&nurse.email, "un nouveau mot de passe")
            .await
            .status()
            .as_u16(),
        200
    );
    let (status, _) = me.page("/mon-compte").await;
    assert_eq!(
        status, 303,
        "the old page session ended with the old password"
    );

    // Address: moved, then unconfirmed until the link sent to the new one is opened.
    let me = Browsing::signed_in_with(&s.app, &nurse.email, "un nouveau mot de passe").await;
    let taken = me
        .post(
            "/mon-compte/adresse",
            &[
                ("email", s.dean.email.as_str()),
                ("current_password", "un nouveau mot de passe"),
            ],
        )
        .await;
    assert_eq!(taken.status().as_u16(), 409);
    let moved = me
        .post(
            "/mon-compte/adresse",
            &[
                ("email", "claire.dubois@exemple.fr"),
                ("current_password", "un nouveau mot de passe"),
            ],
        )
        .await;
    assert_eq!(Browsing::location(&moved), "/mon-compte?enregistre=adresse");
    let (_, page) = me.page("/mon-compte?enregistre=adresse").await;
    assert!(page.contains("n'est pas encore confirmée"), "{page}");
    let token = s
        .app
        .token_from_mail(
            "claire.dubois@exemple.fr",
            "confirmez votre nouvelle adresse",
        )
        .await;
    // The old address is told, in case it was not her.
    let notice = crate::helpers::eventually(std::time::Duration::from_secs(10), || {
        s.app
            .mails_to(&nurse.email)
            .into_iter()
            .find(|(subject, _)| subject.contains("l'adresse de votre compte a changé"))
    })
    .await;
    assert!(
        notice.1.contains("claire.dubois@exemple.fr"),
        "{}",
        notice.1
    );
    let confirmed = s
        .app
        .post_json("/api/v1/auth/verify-email", &json!({ "token": token }))
        .await;
    assert_eq!(confirmed.status().as_u16(), 204);
    assert_eq!(
        s.app
            .login("claire.dubois@exemple.fr", "un nouveau mot de passe")
            .await
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn a_practitioner_is_led_to_the_pre_test_first_and_sees_the_steps_in_course_order() {
    let w = crate::helpers::world_of("dpc-securite-exercice").await;
    let nurse = w.s.app.learner("infirmier.liberal@exemple.fr").await;
    let me = Browsing::signed_in(&w.s.app, &nurse.email).await;

    let enrolled = me
        .post(&format!("/sessions/{}/inscription", w.session), &[])
        .await;
    let start = Browsing::location(&enrolled);
    let next = Browsing::location(&me.get(&start).await);
    assert!(
        next.ends_with("/quiz/pre-test"),
        "the pre-test comes first, not lesson 1: {next}"
    );

    let (_, dashboard) = me.page("/tableau-de-bord").await;
    assert!(
        dashboard.contains("Prochaine étape (Test de positionnement) : Test de positionnement"),
        "{dashboard}"
    );
    let pre = dashboard
        .find("<strong>Test de positionnement</strong>")
        .expect("the pre-test step");
    let lessons = dashboard
        .find("<strong>Leçons</strong>")
        .expect("the lessons");
    let post = dashboard
        .find("<strong>Test final</strong> : <a")
        .expect("the post-test step");
    assert!(
        pre < lessons && lessons < post,
        "pre-test, lessons, post-test"
    );
}

#[tokio::test]
async fn the_sign_up_page_asks_the_mode_of_practice_and_says_what_is_kept_and_why() {
    let app = crate::helpers::spawn_app().await;
    let visitor = Browsing::signed_out(&app);
    let (_, form) = visitor.page("/inscription").await;
    assert!(form.contains("name=\"mode_exercice\"") && form.contains("Libéral"));
    for words in [
        "Ce que nous gardons",
        "Qui les voit",
        "RGPD, article 6",
        "Combien de temps",
        "Vos droits",
    ] {
        assert!(form.contains(words), "the privacy notice says « {words} »");
    }
    let created = no_redirects()
        .post(app.url("/inscription"))
        .form(&[
            ("email", "kine@exemple.fr"),
            ("password", crate::journeys::PASSWORD),
            ("first_name", "Jeanne"),
            ("last_name", "Martin"),
            ("profession", "masseur_kinesitherapeute"),
            ("adeli", "751234567"),
            ("mode_exercice", "liberal"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 200);
    assert!(unescape(&created.text().await.unwrap()).contains("href=\"/connexion\""));
    let token = app
        .token_from_mail("kine@exemple.fr", "confirmez votre adresse")
        .await;
    app.post_json("/api/v1/auth/verify-email", &json!({ "token": token }))
        .await;
    let kine = app
        .logged_in("kine@exemple.fr", crate::journeys::PASSWORD)
        .await;
    let me: Value = app.get_json(&kine.token, "/api/v1/me").await;
    assert_eq!(me["mode_exercice"], "liberal");
    assert_eq!(
        (
            me["first_name"].as_str(),
            me["last_name"].as_str(),
            me["full_name"].as_str()
        ),
        (Some("Jeanne"), Some("Martin"), Some("Jeanne Martin"))
    );
}
