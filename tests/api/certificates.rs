//! Certificates: issued exactly once on completion, read back from the PDF by a real PDF
//! reader, verified with the published JWKS by code independent of ours, revoked through the
//! status list, verified by anyone from the code, re-issued, bundled per session.

use std::io::Read;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use diesel::prelude::*;
use qvt_campus::db::schema::{accounts, certificates, completions};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{
    eventually, pdf_text, postgres_base_url, problem, spawn_app_with, world, world_of, Learner,
    World, NAME,
};
use crate::journeys::adeli_of;

/// What only the certificate tests ask of a world.
impl World {
    async fn bytes(&self, token: &str, path: &str) -> (u16, Vec<u8>) {
        let response = self.s.app.get_as(token, path).await;
        let status = response.status().as_u16();
        let body = response.bytes().await.unwrap().to_vec();
        if status >= 500 {
            eprintln!("{path}: {}", String::from_utf8_lossy(&body));
        }
        (status, body)
    }

    async fn verify(&self, code: &str) -> Value {
        self.s
            .app
            .get(&format!("/api/v1/verify/{code}"))
            .await
            .json()
            .await
            .unwrap()
    }

    async fn check_credential(&self, jwt: &str) -> Value {
        let response = self
            .s
            .app
            .post_json("/api/v1/verify", &json!({ "credential": jwt }))
            .await;
        assert_eq!(response.status().as_u16(), 200);
        response.json().await.unwrap()
    }
}

fn id_of(certificate: &Value) -> &str {
    certificate["id"].as_str().unwrap()
}

fn part(jwt: &str, index: usize) -> Value {
    let raw = URL_SAFE_NO_PAD
        .decode(jwt.split('.').nth(index).unwrap())
        .unwrap();
    serde_json::from_slice(&raw).unwrap()
}

/// RS256 checked with the `rsa` crate from the JWKS alone: not the code path that signs.
fn rs256_verifies(jwt: &str, jwks: &Value) -> bool {
    use rsa::pkcs1v15::Pkcs1v15Sign;
    use rsa::sha2::{Digest, Sha256};
    use rsa::{BigUint, RsaPublicKey};

    let kid = part(jwt, 0)["kid"].as_str().unwrap().to_owned();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("the signing key is published");
    assert_eq!(jwk["kty"], "RSA");
    let number = |name: &str| {
        BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap())
    };
    let key = RsaPublicKey::new(number("n"), number("e")).unwrap();
    let (signed, signature) = jwt.rsplit_once('.').unwrap();
    let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    key.verify(
        Pkcs1v15Sign::new::<Sha256>(),
        &Sha256::digest(signed.as_bytes()),
        &signature,
    )
    .is_ok()
}

/// Bit `index` of a status list credential's `encodedList`, decoded here by hand.
fn status_bit(list_jwt: &str, index: usize) -> bool {
    let encoded = part(list_jwt, 1)["credentialSubject"]["encodedList"]
        .as_str()
        .unwrap()
        .to_owned();
    let gzip = URL_SAFE_NO_PAD
        .decode(encoded.strip_prefix('u').unwrap())
        .unwrap();
    let mut bits = Vec::new();
    flate2::read::GzDecoder::new(gzip.as_slice())
        .read_to_end(&mut bits)
        .unwrap();
    assert!(bits.len() * 8 >= 131_072, "at least 131,072 entries");
    bits[index / 8] & (0x80 >> (index % 8)) != 0
}

#[tokio::test]
async fn twenty_concurrent_completion_events_issue_exactly_one_certificate_and_one_mail() {
    let w = world().await;
    let learner = w.nearly_done("etudiante@univ-exemple.fr").await;
    let last = w.lessons.last().unwrap();

    // On PostgreSQL, spread over three instances.
    let instances = w.s.app.instances().await;
    let path = format!(
        "/api/v1/enrolments/{}/lessons/{last}/complete",
        learner.enrolment
    );
    let empty = json!({});
    let calls = (0..20).map(|i| instances.nth(i).post_as(&learner.user.token, &path, &empty));
    let answers = futures_util::future::join_all(calls).await;

    let mut completed_now = 0;
    for answer in answers {
        assert_eq!(answer.status().as_u16(), 200);
        if answer.json::<Value>().await.unwrap()["completed_now"] == true {
            completed_now += 1;
        }
    }
    assert_eq!(completed_now, 1);
    let rows: i64 = certificates::table
        .filter(certificates::enrolment_id.eq(&learner.enrolment))
        .count()
        .get_result(&mut *w.s.app.conn())
        .unwrap();
    assert_eq!(rows, 1);
    let mine = w.my_certificates(&learner).await;
    assert_eq!(mine.len(), 1);
    let code = mine[0]["code"].as_str().unwrap();
    assert_eq!(code.len(), 28 + 6, "28 symbols in groups of four: {code}");
    let subject =
        w.s.app
            .token_from_mail_subject(&learner.user.email, "votre attestation")
            .await;
    assert!(subject.contains("Qualité de vie au travail") || subject.contains("«"));
    let mails: Vec<_> =
        w.s.app
            .mails_to(&learner.user.email)
            .into_iter()
            .filter(|(s, _)| s.contains("votre attestation"))
            .collect();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].1.contains(code), "{}", mails[0].1);
    assert!(mails[0].1.contains("http://campus.test/verifier/"));
}

#[tokio::test]
async fn the_pdf_and_the_page_name_the_holder_with_accents_and_print_the_code() {
    let w = world().await;
    let (learner, certificate) = w.certified("etudiante@univ-exemple.fr").await;
    let id = id_of(&certificate);
    let code = certificate["code"].as_str().unwrap();
    assert_eq!(certificate["attested"]["holder"]["name"], NAME);
    assert_eq!(certificate["status"], "valid");

    let (status, pdf) = w
        .bytes(
            &learner.user.token,
            &format!("/api/v1/certificates/{id}.pdf"),
        )
        .await;
    assert_eq!(status, 200);
    let text = pdf_text(&pdf);
    for expected in [
        NAME,
        code,
        "Attestation de formation",
        "Université Exemple",
        "Qualité de vie au travail",
        "Vérifier cette attestation",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }

    let page =
        w.s.app
            .get_as(
                &learner.user.token,
                &format!("/api/v1/certificates/{id}.html"),
            )
            .await
            .text()
            .await
            .unwrap();
    assert!(page.contains(NAME) && page.contains(code) && page.contains("<svg"));

    // The university's admin sees it; a stranger and the other organisation do not.
    let (status, _) = w
        .bytes(&w.s.dean.token, &format!("/api/v1/certificates/{id}.pdf"))
        .await;
    assert_eq!(status, 200);
    let stranger = w.s.app.learner("autre@univ-exemple.fr").await;
    for token in [&stranger.token, &w.s.odpc_admin.token] {
        problem(
            w.s.app
                .get_as(token, &format!("/api/v1/certificates/{id}"))
                .await,
            404,
        )
        .await;
    }
}

#[tokio::test]
async fn the_credential_verifies_with_the_published_jwks_and_a_changed_byte_fails() {
    let w = world().await;
    let (learner, certificate) = w.certified("etudiante@univ-exemple.fr").await;
    let response =
        w.s.app
            .get_as(
                &learner.user.token,
                &format!("/api/v1/certificates/{}/credential", id_of(&certificate)),
            )
            .await;
    assert_eq!(response.status().as_u16(), 200);
    // « Ajouter à mon portefeuille »: a file named after the code.
    let code = certificate["code"].as_str().unwrap().replace('-', "");
    assert_eq!(
        response.headers()["content-disposition"],
        format!("attachment; filename=\"attestation-{code}.jwt\"").as_str()
    );
    let jwt = response.text().await.unwrap();
    let json: Value =
        w.s.app
            .get_json(
                &learner.user.token,
                &format!(
                    "/api/v1/certificates/{}/credential?format=json",
                    id_of(&certificate)
                ),
            )
            .await;
    assert_eq!(json, part(&jwt, 1), "the JSON is what the JWT signs");
    let jwks: Value =
        w.s.app
            .get("/.well-known/jwks.json")
            .await
            .json()
            .await
            .unwrap();

    let header = part(&jwt, 0);
    assert_eq!(header["alg"], "RS256");
    // OB 3.0's proof format: typ JWT, kid the key's URL, the claims mapped from the credential.
    assert_eq!(header["typ"], "JWT");
    assert!(header["kid"]
        .as_str()
        .unwrap()
        .starts_with("http://campus.test/.well-known/jwks/"));
    let payload = part(&jwt, 1);
    let vc = &payload;
    // The issuer is the organisation that awards, with its Profile at that URL.
    let issuer = vc["issuer"]["id"].as_str().unwrap();
    assert_eq!(
        issuer,
        format!("http://campus.test/issuers/{}", w.s.university)
    );
    assert_eq!(vc["iss"], issuer);
    assert_eq!(vc["jti"], vc["id"]);
    assert_eq!(vc["sub"], vc["credentialSubject"]["id"]);
    let profile: Value =
        w.s.app
            .get(issuer.strip_prefix("http://campus.test").unwrap())
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(profile["type"], json!(["Profile"]));
    assert_eq!(profile["name"], vc["issuer"]["name"]);
    assert!(
        vc["credentialSubject"]["achievement"]["description"]
            .as_str()
            .unwrap()
            .contains(".\n- "),
        "objectives apart"
    );
    assert_eq!(vc["@context"][0], "https://www.w3.org/ns/credentials/v2");
    assert!(vc["type"]
        .as_array()
        .unwrap()
        .contains(&json!("OpenBadgeCredential")));
    assert_eq!(
        vc["credentialSubject"]["attestation"]["holder"]["name"],
        NAME
    );
    assert_eq!(vc["credentialStatus"]["type"], "BitstringStatusListEntry");
    assert!(rs256_verifies(&jwt, &jwks));
    assert_eq!(w.check_credential(&jwt).await["status"], "valid");

    // One byte changed in the payload: the name, say.
    let forged_payload = URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(&payload)
            .unwrap()
            .iter()
            .map(|b| if *b == b'Z' { b'X' } else { *b })
            .collect::<Vec<u8>>(),
    );
    let parts: Vec<&str> = jwt.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert!(!rs256_verifies(&forged, &jwks));
    assert_eq!(w.check_credential(&forged).await["status"], "invalid");
    let mut flipped = jwt.clone().into_bytes();
    let at = parts[0].len() + 10;
    flipped[at] = if flipped[at] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    assert!(!rs256_verifies(&flipped, &jwks));
    assert_eq!(w.check_credential(&flipped).await["status"], "invalid");

    // The access-token keys are still there, distinct from the issuer key.
    let kinds: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kty"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"OKP") && kinds.contains(&"RSA"),
        "{kinds:?}"
    );
    // Malformed input is a problem naming the field.
    let bad =
        w.s.app
            .post_json("/api/v1/verify", &json!({ "credential": "" }))
            .await;
    problem(bad, 422).await;
}

/// The holder's certificate `id` as a VC-JWT.
async fn credential_of(w: &World, holder: &Learner, id: &str) -> String {
    let path = format!("/api/v1/certificates/{id}/credential");
    let response = w.s.app.get_as(&holder.user.token, &path).await;
    assert_eq!(response.status().as_u16(), 200);
    response.text().await.unwrap()
}

/// What `tests/tools/ob3_verify.py` (PyJWT and openbadgeslib) says of a credential.
fn independently_verified(w: &World, jwt: &str) -> Option<Value> {
    let mut python = crate::helpers::python_with(&["jwt", "openbadgeslib"])?;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), jwt).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/ob3_verify.py");
    let out = python
        .arg(script)
        .arg(&w.s.app.settings.public_url)
        .arg(&w.s.app.address)
        .arg(file.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_str(&said).unwrap())
}

#[tokio::test]
async fn an_independent_open_badges_verifier_accepts_the_credential_then_sees_it_revoked() {
    // Arrange
    let w = world().await;
    let (learner, certificate) = w.certified("portefeuille@univ-exemple.fr").await;
    let id = id_of(&certificate);
    let jwt = credential_of(&w, &learner, id).await;

    // Act & Assert: valid, issued by the university, by both libraries.
    let Some(said) = independently_verified(&w, &jwt) else {
        return;
    };
    assert_eq!(said["openbadgeslib"], "valid", "{said}");
    assert_eq!(said["pyjwt"]["issuer"], "Université Exemple", "{said}");

    // Revoked: the status list the credential points to says so.
    let revoked =
        w.s.app
            .post_as(
                &w.s.dean.token,
                &format!("/api/v1/certificates/{id}/revoke"),
                &json!({ "reason": "Erreur de saisie" }),
            )
            .await;
    assert!(revoked.status().is_success());
    let said = independently_verified(&w, &jwt).unwrap();
    assert_eq!(said["openbadgeslib"], "revoked", "{said}");
}

#[tokio::test]
async fn revocation_flips_the_status_list_bit_and_every_verifier_says_revoked() {
    let w = world().await;
    let (learner, certificate) = w.certified("etudiante@univ-exemple.fr").await;
    let id = id_of(&certificate);
    let code = certificate["code"].as_str().unwrap().to_owned();
    let jwt = credential_of(&w, &learner, id).await;
    let entry = part(&jwt, 1)["credentialStatus"].clone();
    let index: usize = entry["statusListIndex"].as_str().unwrap().parse().unwrap();
    let list_url = entry["statusListCredential"].as_str().unwrap().to_owned();
    let list_path = list_url
        .strip_prefix("http://campus.test")
        .unwrap()
        .to_owned();
    let jwks: Value =
        w.s.app
            .get("/.well-known/jwks.json")
            .await
            .json()
            .await
            .unwrap();
    let list = w.s.app.get(&list_path).await.text().await.unwrap();
    assert!(rs256_verifies(&list, &jwks), "the status list is signed");
    assert!(!status_bit(&list, index));

    // Only the issuing organisation's admin may revoke.
    let path = format!("/api/v1/certificates/{id}/revoke");
    let reason = json!({ "reason": "Erreur de session" });
    problem(
        w.s.app.post_as(&learner.user.token, &path, &reason).await,
        403,
    )
    .await;
    problem(
        w.s.app.post_as(&w.s.odpc_admin.token, &path, &reason).await,
        404,
    )
    .await;
    let bad = problem(
        w.s.app
            .post_as(&w.s.dean.token, &path, &json!({ "reason": "" }))
            .await,
        422,
    )
    .await;
    assert!(bad.to_string().contains("reason"));
    let revoked = w.s.app.post_as(&w.s.dean.token, &path, &reason).await;
    assert_eq!(revoked.status().as_u16(), 200);
    problem(w.s.app.post_as(&w.s.dean.token, &path, &reason).await, 409).await;

    let list = w.s.app.get(&list_path).await.text().await.unwrap();
    assert!(status_bit(&list, index), "the bit is set");
    let answer = w.verify(&code).await;
    assert_eq!(answer["status"], "revoked");
    assert_eq!(answer["revocation_reason"], "Erreur de session");
    assert_eq!(w.check_credential(&jwt).await["status"], "revoked");
    let page =
        w.s.app
            .get(&format!("/verifier/{code}"))
            .await
            .text()
            .await
            .unwrap();
    assert!(
        page.contains("révoquée") && page.contains("Erreur de session"),
        "{page}"
    );

    let audit: Vec<Value> =
        w.s.app
            .get_json(
                &w.s.dean.token,
                &format!("/api/v1/organisations/{}/audit-log", w.s.university),
            )
            .await;
    assert!(audit
        .iter()
        .any(|e| e["action"] == "certificate.revoke" && e["target_id"] == id));
}

#[tokio::test]
async fn anyone_verifies_a_code_without_logging_in_and_guessing_is_rate_limited() {
    let w = world().await;
    let (_, certificate) = w.certified("etudiante@univ-exemple.fr").await;
    let code = certificate["code"].as_str().unwrap();

    let answer = w.verify(&code.to_lowercase().replace('-', "")).await;
    assert_eq!(answer["status"], "valid");
    assert_eq!(answer["attested"]["holder"]["name"], NAME);
    let page = w.s.app.get(&format!("/verifier/{code}")).await;
    assert_eq!(page.status().as_u16(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("Attestation valide") && page.contains(NAME) && page.contains("viewport")
    );
    let unknown = w.verify("ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-2345").await;
    assert_eq!(unknown["status"], "unknown");
    assert!(unknown["attested"].is_null());
    let page =
        w.s.app
            .get("/verifier/%3Cscript%3E")
            .await
            .text()
            .await
            .unwrap();
    assert!(page.contains("Attestation inconnue") && page.contains("&lt;script&gt;"));

    let app = spawn_app_with(|s| s.verify_per_minute = 3).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(app.get("/api/v1/verify/ABCDEFGH").await.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let limited = app.get("/verifier/ABCDEFGH").await;
    problem(limited, 429).await;
}

#[tokio::test]
async fn each_certificate_takes_its_status_bit_from_a_sequence_on_postgresql() {
    if postgres_base_url().is_none() {
        return; // SQLite counts its certificates.
    }
    #[derive(QueryableByName)]
    struct HandedOut {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let w = world().await;
    w.certified("premiere@univ-exemple.fr").await;
    w.certified("seconde@univ-exemple.fr").await;

    let mut conn = w.s.app.conn();
    let handed_out = diesel::sql_query("SELECT last_value AS n FROM status_bits_handed_out")
        .get_result::<HandedOut>(&mut *conn)
        .unwrap()
        .n;
    let issued: i64 = certificates::table.count().get_result(&mut *conn).unwrap();
    assert_eq!((handed_out, issued), (2, 2));
}

#[tokio::test]
async fn an_addresss_verification_quota_holds_across_instances() {
    // Arrange: three instances on PostgreSQL (one on SQLite), 10 verifications a minute.
    let app = spawn_app_with(|s| s.verify_per_minute = 10).await;
    let instances = app.instances().await;
    // The shared count is per clock minute: not across its end.
    let second = chrono::Utc::now().timestamp() % 60;
    if second >= 55 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - second) as u64)).await;
    }

    // Act: 30 verifications from one address, spread over the instances.
    let mut answers = Vec::new();
    for i in 0..30 {
        answers.push(instances.nth(i).get("/api/v1/verify/ABCDEFGH").await);
    }

    // Assert: 10 answered in all, the rest told how long to wait.
    let allowed = answers.iter().filter(|r| r.status() == 200).count();
    assert_eq!(allowed, 10);
    for refused in answers.into_iter().filter(|r| r.status() != 200) {
        let wait: u64 = refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        problem(refused, 429).await;
    }
}

#[tokio::test]
async fn a_correction_reissues_a_new_certificate_and_revokes_the_old_one_linked() {
    let w = world().await;
    let (learner, old) = w.certified("etudiante@univ-exemple.fr").await;
    let renamed =
        w.s.app
            .call(
                Method::PATCH,
                "/api/v1/me",
                &learner.user.token,
                Some(&json!({ "full_name": "Zoé Lefèvre" })),
            )
            .await;
    assert_eq!(renamed.status().as_u16(), 200);

    let reissued =
        w.s.app
            .post_as(
                &w.s.dean.token,
                &format!("/api/v1/certificates/{}/reissue", id_of(&old)),
                &json!({ "reason": "Nom d'usage corrigé" }),
            )
            .await;
    assert_eq!(reissued.status().as_u16(), 201);
    let new: Value = reissued.json().await.unwrap();
    assert_eq!(new["replaces_id"], old["id"]);
    assert_eq!(new["attested"]["holder"]["name"], "Zoé Lefèvre");
    assert_ne!(new["code"], old["code"]);

    let before = w.verify(old["code"].as_str().unwrap()).await;
    assert_eq!(before["status"], "revoked");
    assert_eq!(before["replaced_by_code"], new["code"]);
    assert_eq!(
        w.verify(new["code"].as_str().unwrap()).await["status"],
        "valid"
    );
    assert_eq!(w.my_certificates(&learner).await.len(), 2);

    // The replaced one cannot be replaced again; a revoked one without replacement can.
    let again = format!("/api/v1/certificates/{}/reissue", id_of(&old));
    let reason = json!({ "reason": "Encore une correction" });
    problem(w.s.app.post_as(&w.s.dean.token, &again, &reason).await, 409).await;
    let revoke = format!("/api/v1/certificates/{}/revoke", id_of(&new));
    let revoked = w.s.app.post_as(&w.s.dean.token, &revoke, &reason).await;
    assert_eq!(revoked.status().as_u16(), 200);
    let replace = format!("/api/v1/certificates/{}/reissue", id_of(&new));
    let third = w.s.app.post_as(&w.s.dean.token, &replace, &reason).await;
    assert_eq!(third.status().as_u16(), 201);
    let third: Value = third.json().await.unwrap();
    assert_eq!(
        third["attested"]["measured_seconds"], old["attested"]["measured_seconds"],
        "the facts of the completion, not of later activity"
    );
}

#[tokio::test]
async fn an_org_admin_downloads_a_sessions_certificates_as_one_zip_of_pdfs() {
    let w = world().await;
    let (_, first) = w.certified("une@univ-exemple.fr").await;
    let (_, second) = w.certified("deux@univ-exemple.fr").await;
    let path = format!("/api/v1/sessions/{}/certificates.zip", w.session);

    let (status, zip) = w.bytes(&w.s.dean.token, &path).await;
    assert_eq!(status, 200);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    assert_eq!(archive.len(), 2);
    let mut codes = Vec::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        let name = file.name().unwrap().into_owned();
        assert!(name.starts_with("zoe-lefevre-muller-"), "{name}");
        let mut pdf = Vec::new();
        file.read_to_end(&mut pdf).unwrap();
        let text = pdf_text(&pdf);
        assert!(text.contains(NAME));
        codes.push(
            [&first, &second]
                .iter()
                .map(|c| c["code"].as_str().unwrap())
                .find(|code| text.contains(code))
                .expect("each PDF prints its code")
                .to_owned(),
        );
    }
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), 2);

    let listed: Vec<Value> =
        w.s.app
            .get_json(
                &w.s.dean.token,
                &format!("/api/v1/sessions/{}/certificates", w.session),
            )
            .await;
    assert_eq!(listed.len(), 2);
    let (status, _) = w.bytes(&w.s.odpc_admin.token, &path).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_dpc_attestation_carries_what_the_training_body_declares() {
    let w = world_of("dpc-securite-exercice").await;
    let (learner, certificate) = w.certified("infirmiere@cabinet-exemple.fr").await;
    assert_eq!(certificate["kind"], "dpc");
    let attested = &certificate["attested"];
    assert_eq!(attested["dpc"]["action_reference"], "12345678901");
    assert_eq!(attested["dpc"]["session_number"], "3");
    assert_eq!(attested["organisation"]["odpc_number"], "4321");
    assert_eq!(
        attested["holder"]["adeli"],
        adeli_of("infirmiere@cabinet-exemple.fr")
    );

    let (status, pdf) = w
        .bytes(
            &learner.user.token,
            &format!("/api/v1/certificates/{}.pdf", id_of(&certificate)),
        )
        .await;
    assert_eq!(status, 200);
    let text = pdf_text(&pdf);
    assert_eq!(attested["course"]["slug"], w.course);
    for expected in [
        "Attestation de fin de formation",
        "ODPC n° 4321",
        "12345678901",
        &adeli_of("infirmiere@cabinet-exemple.fr"),
        "Infirmier",
        NAME,
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    // The training body's admin bundles it; the university's does not see it.
    let (status, _) = w
        .bytes(
            &w.s.odpc_admin.token,
            &format!("/api/v1/sessions/{}/certificates.zip", w.session),
        )
        .await;
    assert_eq!(status, 200);
    problem(
        w.s.app
            .get_as(
                &w.s.dean.token,
                &format!("/api/v1/certificates/{}", id_of(&certificate)),
            )
            .await,
        404,
    )
    .await;
}

#[tokio::test]
async fn a_completion_recorded_before_certificates_existed_gets_its_certificate_at_start() {
    let w = world().await;
    let learner = w.nearly_done("ancienne@univ-exemple.fr").await;
    // As the learning path recorded completions before this feature: a row, no certificate.
    diesel::insert_into(completions::table)
        .values((
            completions::enrolment_id.eq(&learner.enrolment),
            completions::completed_at.eq(chrono::Utc::now().naive_utc()),
            completions::active_seconds.eq(3_600),
        ))
        .execute(&mut *w.s.app.conn())
        .unwrap();
    assert!(w.my_certificates(&learner).await.is_empty());

    // The next start of any instance issues what is owed, once.
    let restarted = w.s.app.another_instance().await;
    let _again = w.s.app.another_instance().await;
    let mine = eventually(std::time::Duration::from_secs(10), || {
        let rows: i64 = certificates::table
            .filter(certificates::enrolment_id.eq(&learner.enrolment))
            .count()
            .get_result(&mut *restarted.conn())
            .unwrap();
        (rows > 0).then_some(rows)
    })
    .await;
    assert_eq!(mine, 1);
    let listed = w.my_certificates(&learner).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["attested"]["measured_seconds"], 3_600);
}

#[tokio::test]
async fn a_certificate_purged_with_its_holders_account_stays_revoked_for_verifiers() {
    let w = world().await;
    let (learner, certificate) = w.certified("partie@univ-exemple.fr").await;
    let jwt = credential_of(&w, &learner, id_of(&certificate)).await;
    assert_eq!(w.check_credential(&jwt).await["status"], "valid");

    // Erased long ago, purged now (what `qvt-campus purge` does).
    let mut conn = w.s.app.conn();
    let now = chrono::Utc::now().naive_utc();
    diesel::update(accounts::table.find(&learner.user.id))
        .set(accounts::erased_at.eq(now - chrono::Duration::days(3000)))
        .execute(&mut *conn)
        .unwrap();
    let before = now - chrono::Duration::days(365);
    let purged = conn
        .write(|c| {
            qvt_campus::certificates::store::bury_certificates_of_purged(c, before, now)?;
            qvt_campus::identity::store::purge_erased(c, before)
        })
        .unwrap();
    assert_eq!(purged, 1);

    assert_eq!(w.check_credential(&jwt).await["status"], "revoked");
    let code = certificate["code"].as_str().unwrap();
    assert_eq!(w.verify(code).await["status"], "unknown");
}
