//! A person in a browser, without the browser: the page-session cookie, `Accept: text/html`
//! on every request as a browser sends it, forms posted with the session's CSRF token, and
//! redirects shown rather than followed (so a test sees where a form leads).

use qvt_campus::identity::auth::csrf_of;

use super::{no_redirects, page_session, TestApp};

pub struct Browsing {
    base: String,
    token: Option<String>,
    client: reqwest::Client,
}

pub const HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

impl Browsing {
    /// Signed in through the sign-in page.
    pub async fn signed_in(app: &TestApp, email: &str) -> Self {
        Self {
            base: app.address.clone(),
            token: Some(page_session(app, email).await),
            client: no_redirects(),
        }
    }

    /// Signed in through the sign-in page with another password than the journeys' one.
    pub async fn signed_in_with(app: &TestApp, email: &str, password: &str) -> Self {
        let signed_in = no_redirects()
            .post(app.url("/connexion"))
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .unwrap();
        assert_eq!(signed_in.status().as_u16(), 303);
        Self {
            base: app.address.clone(),
            token: Some(super::access_cookie(&signed_in)),
            client: no_redirects(),
        }
    }

    /// With a page session opened elsewhere (a provider's sign-in).
    pub fn with_session(app: &TestApp, token: String) -> Self {
        Self {
            base: app.address.clone(),
            token: Some(token),
            client: no_redirects(),
        }
    }

    pub fn signed_out(app: &TestApp) -> Self {
        Self {
            base: app.address.clone(),
            token: None,
            client: no_redirects(),
        }
    }

    fn with_cookie(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let request = request.header("accept", HTML);
        match &self.token {
            Some(token) => request.header("cookie", format!("qvt_access={token}")),
            None => request,
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.with_cookie(self.client.get(format!("{}{path}", self.base)))
            .send()
            .await
            .unwrap()
    }

    /// A page's status and text, its character references read as the browser reads them.
    pub async fn page(&self, path: &str) -> (u16, String) {
        let response = self.get(path).await;
        (
            response.status().as_u16(),
            unescape(&response.text().await.unwrap()),
        )
    }

    /// Posts a form as the page would, with the CSRF token of the session.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        if let Some(token) = &self.token {
            form.push(("csrf".into(), csrf_of(token)));
        }
        self.with_cookie(self.client.post(format!("{}{path}", self.base)))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    /// Where a 303 leads.
    pub fn location(response: &reqwest::Response) -> String {
        assert_eq!(response.status().as_u16(), 303, "a redirect");
        response.headers()["location"].to_str().unwrap().to_owned()
    }
}

/// The text of a page as a reader sees it: handlebars writes `'` and `=` as references.
pub fn unescape(html: &str) -> String {
    html.replace("&#x27;", "'")
        .replace("&#x3D;", "=")
        .replace("&#x60;", "`")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
