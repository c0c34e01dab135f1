//! The pages' static files — the stylesheets and the scripts — each served under a
//! content hash (`/static/app-<hash>.css`): a new version gets a new address, so browsers
//! may keep one for a year. Scripts live in files, never inline, so the Content Security
//! Policy can refuse every inline script (see [`crate::http::headers`]).

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use sha2::{Digest, Sha256};

pub struct Asset {
    pub path: String,
    body: &'static str,
    content_type: &'static str,
}

impl Asset {
    fn new(name: &str, extension: &str, body: &'static str, content_type: &'static str) -> Self {
        let hash = Sha256::digest(body.as_bytes());
        let hex: String = hash.iter().take(6).map(|b| format!("{b:02x}")).collect();
        Self {
            path: format!("/static/{name}-{hex}.{extension}"),
            body,
            content_type,
        }
    }
}

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// Every page's stylesheet.
pub static APP_CSS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "app",
        "css",
        include_str!("../../templates/static/app.css"),
        CSS,
    )
});
/// The certificate verification page's (a page of its own, light for a phone).
pub static VERIFIER_CSS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "verifier",
        "css",
        include_str!("../../templates/static/verifier.css"),
        CSS,
    )
});
/// Heartbeats of a lesson page.
pub static LESSON_JS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "lecon",
        "js",
        include_str!("../../templates/static/lecon.js"),
        JS,
    )
});
/// Autosave, countdown and confirmation of a quiz page.
pub static QUIZ_JS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "quiz",
        "js",
        include_str!("../../templates/static/quiz.js"),
        JS,
    )
});

/// Sends a deep linking response back to the learning platform.
pub static LTI_JS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "lti",
        "js",
        include_str!("../../templates/static/lti.js"),
        JS,
    )
});

pub fn configure(cfg: &mut web::ServiceConfig) {
    for asset in [&APP_CSS, &VERIFIER_CSS, &LESSON_JS, &QUIZ_JS, &LTI_JS] {
        let asset: &'static Asset = asset;
        cfg.service(web::resource(asset.path.as_str()).get(move || async move { serve(asset) }));
    }
}

fn serve(asset: &Asset) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(asset.content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(asset.body)
}

/// What a page template needs to link them.
pub fn links() -> serde_json::Value {
    serde_json::json!({ "lecon": LESSON_JS.path, "quiz": QUIZ_JS.path, "lti": LTI_JS.path })
}
