//! The OpenAPI document checked by something other than us: `openapi-spec-validator`
//! (see `helpers::python_with`) validates it, and every route
//! the server mounts outside the pages is in it.

use std::collections::BTreeSet;
use std::path::Path;

use crate::helpers::{python_with, real_courses, spawn_app, spawn_app_with};

#[tokio::test]
async fn an_independent_validator_accepts_the_document() {
    let app = spawn_app().await;
    let doc = app.get("/api/openapi.json").await.text().await.unwrap();
    let Some(mut python) = python_with(&["openapi_spec_validator"]) else {
        return;
    };
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &doc).unwrap();
    let out = python
        .args(["-m", "openapi_spec_validator"])
        .arg(file.path())
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(said.contains("OK"), "{said}");
}

/// The routes mounted by a `configure*` function of `file`, as its source names them.
fn mounted(file: &str, function: &str) -> Vec<String> {
    let source = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
    let start = source
        .find(&format!("pub fn {function}("))
        .unwrap_or_else(|| panic!("{file}: no {function}"));
    let body = &source[start..];
    let body = &body[..body.find("\n}\n").unwrap()];
    body.split("web::resource(\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_route_outside_the_pages_is_documented() {
    let app = spawn_app().await;
    let doc: serde_json::Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let documented: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();

    // The API's scope (startup mounts these under /api/v1) and the public machine routes.
    let mut served: BTreeSet<String> = BTreeSet::new();
    for (file, function) in [
        ("src/identity/routes/mod.rs", "configure"),
        ("src/catalog/routes.rs", "configure"),
        ("src/enrolment/routes.rs", "configure"),
        ("src/learning/routes.rs", "configure"),
        ("src/quiz/routes.rs", "configure"),
        ("src/du/routes.rs", "configure"),
        ("src/reports/routes.rs", "configure"),
        ("src/resources/routes.rs", "configure"),
        ("src/completion/routes.rs", "configure"),
        ("src/certificates/routes.rs", "configure"),
        ("src/lti/routes.rs", "configure"),
    ] {
        served.extend(
            mounted(file, function)
                .into_iter()
                .map(|p| format!("/api/v1{p}")),
        );
    }
    served.extend(mounted(
        "src/identity/routes/mod.rs",
        "configure_well_known",
    ));
    // The verification page is a page (HTML for people); its API twin is documented.
    served.extend(
        mounted("src/certificates/routes.rs", "configure_public")
            .into_iter()
            .filter(|p| !p.starts_with("/verifier/")),
    );
    // LTI's login, launch and deep linking answer browsers (redirects and pages), in the
    // protocol's steps; its configuration and keys are documented.
    served.extend(
        mounted("src/lti/routes.rs", "configure_public")
            .into_iter()
            .filter(|p| p == "/lti/configuration" || p == "/lti/jwks.json"),
    );
    served.extend(["/healthz", "/readyz", "/api/openapi.json", "/metrics"].map(String::from));

    let missing: Vec<&String> = served.difference(&documented).collect();
    assert!(missing.is_empty(), "served but not documented: {missing:?}");
    let stale: Vec<&String> = documented.difference(&served).collect();
    assert!(stale.is_empty(), "documented but not served: {stale:?}");
    // Every operation has its own id (generated clients name their functions after them).
    let mut ids = BTreeSet::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            if let Some(id) = op["operationId"].as_str() {
                assert!(ids.insert(id.to_owned()), "operationId {id} twice");
            }
        }
    }
}

#[tokio::test]
async fn timestamps_are_sent_in_utc_with_their_offset_as_the_document_says() {
    let app = spawn_app().await;
    let admin = app.platform_admin().await;
    let dean = app.learner("doyenne@faculte-exemple.fr").await;
    let org = app.organisation(&admin, "Faculté", &dean).await;
    let members: Vec<serde_json::Value> = app
        .get_json(&dean.token, &format!("/api/v1/organisations/{org}/members"))
        .await;
    let since = members[0]["member_since"].as_str().unwrap();
    assert!(since.ends_with('Z'), "{since}");
    assert!(
        chrono::DateTime::parse_from_rfc3339(since).is_ok(),
        "{since}"
    );
}

#[tokio::test]
async fn every_operation_documents_the_refusals_it_can_give() {
    let app = spawn_app().await;
    let doc: serde_json::Value = app.get("/api/openapi.json").await.json().await.unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            if op.get("security").is_some() {
                assert!(responses.contains_key("401"), "{method} {path}: 401");
            }
            if op.get("requestBody").is_some() {
                for code in ["400", "413", "415", "422"] {
                    assert!(responses.contains_key(code), "{method} {path}: {code}");
                }
            }
        }
    }
}

/// Codes (statuses, kinds, modes) are documented as the API sends them: a course listed
/// carries a kind the document's enum names (Schemathesis found them in Rust's case).
#[tokio::test]
async fn codes_are_documented_as_the_api_spells_them() {
    let app = spawn_app_with(|s| s.courses_dir = real_courses()).await;
    let doc: serde_json::Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["EnrolmentStatus"]["enum"],
        serde_json::json!(["active", "withdrawn"])
    );
    assert_eq!(
        schemas["EnrolmentMode"]["enum"],
        serde_json::json!(["open", "key", "admin_only"])
    );
    let courses: Vec<serde_json::Value> = app.get("/api/v1/courses").await.json().await.unwrap();
    let kinds = schemas["CourseKind"]["enum"].as_array().unwrap();
    assert!(!courses.is_empty());
    for course in &courses {
        assert!(
            kinds.contains(&course["kind"]),
            "{} not in {kinds:?}",
            course["kind"]
        );
    }
}
