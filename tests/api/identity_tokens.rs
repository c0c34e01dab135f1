//! Access tokens: only well-formed, well-signed, current tokens for us get in.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{json, Value};

use crate::helpers::{problem, spawn_app, TestApp};

/// Signs `claims` with the app's own key (or `key_pem` if given) under `kid`.
fn sign(
    app: &TestApp,
    claims: &Value,
    kid: Option<&str>,
    typ: &str,
    key_pem: Option<&[u8]>,
) -> String {
    // The access-token key; the certificate issuer's lives in a sub-folder.
    let file = std::fs::read_dir(&app.settings.identity.keys_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "pem"))
        .unwrap();
    let own_kid = file.file_stem().unwrap().to_string_lossy().into_owned();
    let pem = std::fs::read(&file).unwrap();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.unwrap_or(&own_kid).to_owned());
    header.typ = Some(typ.into());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_ed_pem(key_pem.unwrap_or(&pem)).unwrap(),
    )
    .unwrap()
}

fn claims(sub: &str, aud: &str, exp_offset: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({ "iss": "http://campus.test", "aud": aud, "sub": sub, "iat": now, "nbf": now,
            "exp": now + exp_offset, "jti": "test", "typ": "access", "sev": 0 })
}

async fn status_with(app: &TestApp, token: &str) -> u16 {
    app.get_as(token, "/api/v1/me").await.status().as_u16()
}

#[tokio::test]
async fn a_token_signed_like_ours_gets_in_and_every_deviation_is_refused() {
    // Arrange
    let app = spawn_app().await;
    let user = app.learner("interne@chu-exemple.fr").await;
    let good = sign(
        &app,
        &claims(&user.id, "qvt-campus", 600),
        None,
        "at+jwt",
        None,
    );
    assert_eq!(
        status_with(&app, &good).await,
        200,
        "the forging helper signs valid tokens"
    );

    // Tampered payload: another subject, same signature.
    let parts: Vec<&str> = good.split('.').collect();
    let other = URL_SAFE_NO_PAD.encode(claims("someone-else", "qvt-campus", 600).to_string());
    let tampered = format!("{}.{}.{}", parts[0], other, parts[2]);
    // Expired an hour ago (beyond the leeway).
    let expired = sign(
        &app,
        &claims(&user.id, "qvt-campus", -3600),
        None,
        "at+jwt",
        None,
    );
    // alg: none, no signature.
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt"}"#);
    let alg_none = format!("{none_header}.{}.", parts[1]);
    // Another audience.
    let wrong_audience = sign(
        &app,
        &claims(&user.id, "another-service", 600),
        None,
        "at+jwt",
        None,
    );
    // A key we never published.
    let foreign_dir = tempfile::tempdir().unwrap();
    let foreign_kid = qvt_campus::identity::tokens::generate_key(foreign_dir.path()).unwrap();
    let foreign_pem = std::fs::read(foreign_dir.path().join(format!("{foreign_kid}.pem"))).unwrap();
    let unknown_kid = sign(
        &app,
        &claims(&user.id, "qvt-campus", 600),
        Some(&foreign_kid),
        "at+jwt",
        Some(&foreign_pem),
    );
    // Our key, but a kid that names it wrongly… and a JWT of another type.
    let wrong_type = sign(
        &app,
        &claims(&user.id, "qvt-campus", 600),
        None,
        "JWT",
        None,
    );

    // Valid once, but not yet (nbf a day ahead), issued in the future, or for ten years.
    let day = 86_400;
    let shifted = |field: &str, by: i64| {
        let mut c = claims(&user.id, "qvt-campus", 600);
        c[field] = json!(c[field].as_i64().unwrap() + by);
        sign(&app, &c, None, "at+jwt", None)
    };
    let not_yet = shifted("nbf", day);
    let from_the_future = shifted("iat", day);
    let ten_years = shifted("exp", 3650 * day);
    // Without the session epoch, or with an old one (signed out since).
    let mut no_epoch = claims(&user.id, "qvt-campus", 600);
    no_epoch.as_object_mut().unwrap().remove("sev");
    let no_epoch = sign(&app, &no_epoch, None, "at+jwt", None);
    let mut old_epoch = claims(&user.id, "qvt-campus", 600);
    old_epoch["sev"] = json!(-1);
    let old_epoch = sign(&app, &old_epoch, None, "at+jwt", None);

    // Act & Assert
    for (name, token) in [
        ("not yet valid", not_yet),
        ("issued in the future", from_the_future),
        ("ten years", ten_years),
        ("no epoch", no_epoch),
        ("old epoch", old_epoch),
        ("tampered", tampered),
        ("expired", expired),
        ("alg none", alg_none),
        ("wrong audience", wrong_audience),
        ("unknown kid", unknown_kid),
        ("wrong type", wrong_type),
        ("garbage", "abc.def.ghi".to_owned()),
    ] {
        let response = app.get_as(&token, "/api/v1/me").await;
        assert_eq!(response.status().as_u16(), 401, "{name}");
        problem(response, 401).await;
    }
    problem(app.get("/api/v1/me").await, 401).await;
}

#[tokio::test]
async fn the_published_keys_verify_the_tokens_we_issue() {
    let app = spawn_app().await;
    let user = app.learner("ergo@exemple.fr").await;

    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();

    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["alg"], "EdDSA");
    let header = jsonwebtoken::decode_header(&user.token).unwrap();
    assert_eq!(header.kid.as_deref(), key["kid"].as_str());
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&["qvt-campus"]);
    let decoded = jsonwebtoken::decode::<Value>(
        &user.token,
        &DecodingKey::from_ed_components(key["x"].as_str().unwrap()).unwrap(),
        &validation,
    )
    .unwrap();
    assert_eq!(decoded.claims["sub"], user.id.as_str());
    assert_eq!(decoded.claims["iss"], "http://campus.test");
    for claim in ["exp", "iat", "jti", "typ"] {
        assert!(decoded.claims.get(claim).is_some(), "{claim}");
    }
}

#[tokio::test]
async fn a_browser_cookie_authenticates_and_unsafe_methods_need_the_csrf_token() {
    let app = spawn_app().await;
    let user = app.learner("aide-soignante@exemple.fr").await;
    let cookies = format!("qvt_access={}; qvt_csrf=jeton-csrf", user.token);

    let read = app
        .client
        .get(app.url("/api/v1/me"))
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status().as_u16(), 200);

    let patch = json!({ "full_name": "Camille S." });
    let without = app
        .client
        .patch(app.url("/api/v1/me"))
        .header("cookie", &cookies)
        .json(&patch)
        .send()
        .await
        .unwrap();
    problem(without, 403).await;
    let forged = app
        .client
        .patch(app.url("/api/v1/me"))
        .header("cookie", &cookies)
        .header("x-csrf-token", "autre")
        .json(&patch)
        .send()
        .await
        .unwrap();
    problem(forged, 403).await;
    // A token planted in a cookie is worth nothing: it must derive from the session.
    let planted = app
        .client
        .patch(app.url("/api/v1/me"))
        .header("cookie", &cookies)
        .header("x-csrf-token", "jeton-csrf")
        .json(&patch)
        .send()
        .await
        .unwrap();
    problem(planted, 403).await;
    let with = app
        .client
        .patch(app.url("/api/v1/me"))
        .header("cookie", &cookies)
        .header(
            "x-csrf-token",
            qvt_campus::identity::auth::csrf_of(&user.token),
        )
        .json(&patch)
        .send()
        .await
        .unwrap();
    assert_eq!(with.status().as_u16(), 200);
}
