//! Page sessions over plain HTTP: the cookie a sign-in sets, the forms' CSRF token derived
//! from it, sign-out ending every page session of the account (a stolen cookie included),
//! and sign-in refused when posted from another site.

use qvt_campus::identity::auth::csrf_of;

use crate::helpers::{access_cookie, no_redirects, spawn_app};
use crate::journeys::PASSWORD;

#[tokio::test]
async fn signing_out_ends_every_page_session_of_the_account_even_a_stolen_one() {
    let app = spawn_app().await;
    let user = app.learner("infirmiere@chu-exemple.fr").await;
    let client = no_redirects();
    let sign_in = || {
        client
            .post(app.url("/connexion"))
            .form(&[("email", user.email.as_str()), ("password", PASSWORD)])
            .send()
    };
    let first = sign_in().await.unwrap();
    assert_eq!(first.status().as_u16(), 303);
    let laptop = access_cookie(&first);
    let phone = access_cookie(&sign_in().await.unwrap());
    let dashboard = |token: String| {
        client
            .get(app.url("/tableau-de-bord"))
            .header("cookie", format!("qvt_access={token}"))
            .send()
    };
    let page = dashboard(phone.clone()).await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.unwrap().contains("Bonjour"));

    // A form without the session's own token does nothing.
    let forged = client
        .post(app.url("/deconnexion"))
        .header("cookie", format!("qvt_access={laptop}; qvt_csrf=planted"))
        .form(&[("csrf", "planted")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403);
    assert_eq!(
        dashboard(phone.clone()).await.unwrap().status().as_u16(),
        200
    );

    let out = client
        .post(app.url("/deconnexion"))
        .header("cookie", format!("qvt_access={laptop}"))
        .form(&[("csrf", csrf_of(&laptop))])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status().as_u16(), 303);
    for token in [laptop, phone] {
        let after = dashboard(token.clone()).await.unwrap();
        assert_eq!(after.status().as_u16(), 303, "back to the sign-in page");
        let api = client
            .get(app.url("/api/v1/me"))
            .header("cookie", format!("qvt_access={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(api.status().as_u16(), 401);
    }
    let again = sign_in().await.unwrap();
    assert_eq!(
        dashboard(access_cookie(&again))
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn a_sign_in_posted_from_another_site_is_refused() {
    let app = spawn_app().await;
    let user = app.learner("kine@cabinet-exemple.fr").await;
    let refused = no_redirects()
        .post(app.url("/connexion"))
        .header("origin", "https://pirate.example")
        .form(&[("email", user.email.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    assert!(refused.headers().get("set-cookie").is_none());
    let page = refused.text().await.unwrap();
    assert!(page.contains("autre site"), "{page}");
}

#[tokio::test]
async fn a_programmes_page_shows_its_dpc_sheet_or_its_du_units_and_rubric() {
    let app = crate::helpers::setup().await.app;
    let read = |slug: &'static str| {
        let url = app.url(&format!("/formations/{slug}"));
        async move { reqwest::get(url).await.unwrap().text().await.unwrap() }
    };

    let dpc = read("dpc-securite-exercice").await;
    for expected in [
        "Fiche programme DPC",
        "Programme intégré",
        "Chirurgien-dentiste",
        // (apostrophes are escaped in the HTML)
        "intérêts : Aucun lien",
        "organisme de DPC pour chaque session",
    ] {
        assert!(
            dpc.contains(expected),
            "{expected} in {}",
            &dpc[..dpc.len().min(3000)]
        );
    }
    let du = read("du-soigner-les-soignants").await;
    for expected in [
        "Unités, séminaires et évaluation",
        "Grille d'évaluation",
        "Évaluation en ligne notée",
    ] {
        assert!(du.contains(expected), "{expected}");
    }
    assert!(!du.contains("Fiche programme DPC"));
}
