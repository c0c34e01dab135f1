//! Browser hardening headers on every response: a Content Security Policy that allows no
//! inline script and no framing, `nosniff`, no referrer sent to other sites, and — when
//! the public address is https — Strict-Transport-Security.

use actix_web::middleware::DefaultHeaders;
use base64::Engine;
use sha2::{Digest, Sha256};

/// The policy. Scripts and stylesheets come from this site only; an inline `<style>`
/// element is allowed when its exact text is one of `inline_styles` (by hash: the
/// certificate's HTML file carries its style so it prints the same once saved).
pub fn content_security_policy(inline_styles: &[&str]) -> String {
    let hashes: String = inline_styles
        .iter()
        .map(|style| {
            let digest = Sha256::digest(style.as_bytes());
            format!(
                " 'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            )
        })
        .collect();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'{hashes}; img-src 'self' data:; \
         connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
}

pub fn security_headers(https: bool, inline_styles: &[&str]) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add((
            "content-security-policy",
            content_security_policy(inline_styles),
        ))
        .add(("x-content-type-options", "nosniff"))
        .add(("x-frame-options", "DENY"))
        .add(("referrer-policy", "same-origin"))
        .add(("cross-origin-opener-policy", "same-origin"))
        .add((
            "permissions-policy",
            "camera=(), microphone=(), geolocation=(), payment=()",
        ));
    if https {
        // Two years, as browsers' preload lists expect; sub-domains are not ours to bind.
        headers.add(("strict-transport-security", "max-age=63072000"))
    } else {
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_styles_are_allowed_by_their_hash_only() {
        // The hash of "a{}" computed by `printf 'a{}' | openssl dgst -sha256 -binary | base64`.
        let policy = content_security_policy(&["a{}"]);
        assert!(
            policy.contains(
                "style-src 'self' 'sha256-X1RutGBrXCt9KkSaXMK7tHftWiRscFHOhxsS8tv8hBk=';"
            ),
            "{policy}"
        );
        assert!(!policy.contains("unsafe-inline"));
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(policy.contains("script-src 'self';"));
    }
}
