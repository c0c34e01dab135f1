//! The pages in a real browser: Debian's Chromium, headless, driven through WebDriver
//! (`chromedriver`) against the real server. A student signs up, confirms the address,
//! signs in, enrols with a key, reads every lesson, takes the final quiz, gets the
//! certificate and opens its verification page. Every page is photographed into
//! `target/screenshots/` and checked with axe-core (no serious or critical violation).
//!
//! Without a browser the test says it is skipped, except under `CI=true`, where it fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::helpers::{
    copy_courses, course_with_completion, day, eventually, free_port, replace_last_section,
    setup_in, Setup,
};

const COURSE: &str = "qvt-formation-initiale";
const KEY: &str = "DFGSM-2026";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tool(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
}

/// The browser and its driver, or None (the test is skipped) when they are not installed.
async fn browser() -> Option<(Client, Driver)> {
    let (Some(chromium), Some(chromedriver)) = (tool("chromium"), tool("chromedriver")) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true: the browser tests need Debian's chromium and chromium-driver"
        );
        eprintln!("browser tests SKIPPED: install Debian's chromium and chromium-driver");
        return None;
    };
    let port = free_port();
    let driver = Driver(
        Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({ "binary": chromium, "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--window-size=390,900", "--lang=fr-FR"] }),
    );
    // Two TLS back-ends are linked in; the WebDriver client (plain HTTP here) needs one named.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        let builder = ClientBuilder::rustls()
            .expect("TLS roots")
            .capabilities(caps.clone())
            .clone();
        if let Ok(client) = builder.connect(&url).await {
            return Some((client, driver));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not answer on {url}");
}

fn axe_source() -> Option<String> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/axe/node_modules/axe-core/axe.min.js");
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(_) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true: axe-core is missing ({}); scripts/test installs it with npm",
                path.display()
            );
            eprintln!("accessibility checks SKIPPED: {} missing", path.display());
            None
        }
    }
}

/// Photographs the page and runs axe-core on it.
struct Inspector {
    dir: PathBuf,
    axe: Option<String>,
    count: usize,
}

impl Inspector {
    fn new() -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            dir,
            axe: axe_source(),
            count: 0,
        }
    }

    async fn check(&mut self, client: &Client, name: &str) {
        self.count += 1;
        // A phone, then a laptop: no page wider than the screen at either width.
        for width in [390u32, 1280] {
            settled(client).await;
            client.set_window_size(width, 900).await.unwrap();
            let png = screenshot(client).await;
            std::fs::write(
                self.dir
                    .join(format!("{:02}-{name}-{width}.png", self.count)),
                png,
            )
            .unwrap();
            // The page's width, and the outermost elements that stick out (to name them).
            let overflow = client
                .execute(
                    "const w = document.documentElement.clientWidth;
                     const out = [...document.querySelectorAll('body *')]
                        .filter(e => e.getBoundingClientRect().right > w + 1 && !e.closest('.table'))
                        .filter(e => !e.parentElement || e.parentElement.getBoundingClientRect().right <= w + 1)
                        .slice(0, 5).map(e => e.tagName + '.' + e.className);
                     return [document.documentElement.scrollWidth, w, out];",
                    vec![],
                )
                .await
                .unwrap();
            let (scroll, client_width) =
                (overflow[0].as_u64().unwrap(), overflow[1].as_u64().unwrap());
            assert!(
                scroll <= client_width,
                "{name} at {width} px: the page is {scroll} px wide: {}",
                overflow[2]
            );
        }
        client.set_window_size(390, 900).await.unwrap();
        let html = client.source().await.unwrap();
        assert!(html.len() < 100_000, "{name}: {} bytes", html.len());
        assert!(html.contains("<html lang=\"fr\">"), "{name}");
        let Some(axe) = &self.axe else { return };
        client.execute(axe, vec![]).await.unwrap();
        let found = client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] })
                    .then(r => done(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                        .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))));",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(found, json!([]), "{name}: accessibility violations");
    }
}

/// The QVT module completed by its lessons and the final quiz, here one true/false
/// statement (bank item q11), opened once the lessons are done.
fn course() -> tempfile::TempDir {
    let dir = course_with_completion(
        COURSE,
        "min_lesson_seconds = 0\nrequired_quizzes = [\"quiz-final\"]",
    );
    let course = dir.path().join(COURSE);
    let quiz = course.join("quizzes/quiz-final.toml");
    let text = std::fs::read_to_string(&quiz).unwrap();
    let draws = text.find("[[draw]]").unwrap();
    std::fs::write(&quiz, format!("{}items = [\"q11\"]\n", &text[..draws])).unwrap();
    dir
}

/// Waits until the browser has finished loading the current document: a form sent by a
/// step may still be navigating when the next step starts.
async fn settled(client: &Client) {
    let ready = "return document.readyState === 'complete';";
    assert!(
        until(client, ready).await,
        "the page never finished loading"
    );
}

/// Polls `script` in the page every 50 ms, for up to 10 s: whether it came to return true
/// (a navigation in progress makes it fail meanwhile, which is not an answer).
async fn until(client: &Client, script: &str) -> bool {
    for _ in 0..200 {
        let done = client.execute(script, vec![]).await;
        if done.is_ok_and(|v| v == json!(true)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// A screenshot of a settled page. A navigation that starts just after the page looked
/// settled aborts the capture ("Not attached to an active page"): wait and take it again.
async fn screenshot(client: &Client) -> Vec<u8> {
    let mut last = None;
    for _ in 0..3 {
        match client.screenshot().await {
            Ok(png) => return png,
            Err(e) => last = Some(e),
        }
        settled(client).await;
    }
    panic!("no screenshot: {last:?}");
}

/// The page's source once the browser has a whole document (under load, a navigation may
/// report done before the new document is there).
async fn loaded_source(client: &Client) -> String {
    for _ in 0..100 {
        let source = client.source().await.unwrap();
        if source.contains("</main>") {
            return source;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client.source().await.unwrap()
}

async fn text_of(client: &Client) -> String {
    match client.find(Locator::Css("main")).await {
        Ok(main) => main.text().await.unwrap(),
        Err(_) => panic!("not a page: {}", client.source().await.unwrap()),
    }
}

async fn fill(client: &Client, id: &str, value: &str) {
    let field = client.find(Locator::Id(id)).await.unwrap();
    field.send_keys(value).await.unwrap();
}

/// Does the lesson's activities as a learner would: every self-audit item answered « Non »
/// (to see its advice), a written answer typed where one is asked, each form sent in turn;
/// checks each answer comes back saved with what it unlocks. Returns how many were done.
async fn do_activities(client: &Client) -> usize {
    let mut done = 0;
    loop {
        let mut pending = None;
        for section in client
            .find_all(Locator::Css("section.activity"))
            .await
            .unwrap()
        {
            if !section
                .text()
                .await
                .unwrap()
                .contains("réponse enregistrée")
            {
                pending = section.attr("id").await.unwrap();
                break;
            }
        }
        let Some(id) = pending else { return done };
        let radios = client
            .find_all(Locator::Css(&format!("#{id} input[type=radio][value=non]")))
            .await
            .unwrap();
        for radio in &radios {
            radio.click().await.unwrap();
        }
        let area = client
            .find(Locator::Css(&format!("#{id} textarea")))
            .await
            .unwrap();
        let needed: usize = area
            .attr("minlength")
            .await
            .unwrap()
            .map_or(0, |m| m.parse().unwrap());
        let answer = "Je préviens l'équipe, je note les faits et j'en parle au référent. ";
        area.send_keys(&answer.repeat(needed / answer.chars().count() + 1))
            .await
            .unwrap();
        click(client, &format!("#{id} form button[type=submit]")).await;
        let saved = client
            .find(Locator::Id(&id))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(saved.contains("réponse enregistrée"), "{saved}");
        if !radios.is_empty() {
            assert!(
                client
                    .find_all(Locator::Css(&format!("#{id} .advice")))
                    .await
                    .unwrap()
                    .len()
                    == radios.len(),
                "each « Non » shows its advice"
            );
        }
        done += 1;
        assert!(done < 20, "the activities end");
    }
}

/// Clicks what leads to another page and waits for that page to be loaded.
async fn click(client: &Client, css: &str) {
    client
        .execute("window.__leaving = true;", vec![])
        .await
        .unwrap();
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let loaded = "return window.__leaving === undefined && document.readyState === 'complete';";
    assert!(
        until(client, loaded).await,
        "no new page after clicking {css}"
    );
}

#[tokio::test]
async fn a_student_signs_up_enrols_learns_passes_the_quiz_and_verifies_the_certificate() {
    let Some((client, _driver)) = browser().await else {
        return;
    };
    let courses = course();
    let s: Setup = setup_in(courses.path().to_path_buf()).await;
    s.qvt_session(json!({ "enrolment_mode": "key", "enrolment_key": KEY }))
        .await;
    let mut inspect = Inspector::new();
    let base = s.app.url("");
    let email = "etudiante.navigateur@univ-exemple.fr";

    client.goto(&format!("{base}/")).await.unwrap();
    inspect.check(&client, "accueil").await;
    click(&client, "a[href='/inscription']").await;
    inspect.check(&client, "inscription").await;
    fill(&client, "first_name", "Zoé").await;
    fill(&client, "last_name", "Lefèvre").await;
    fill(&client, "email", email).await;
    fill(&client, "password", "prendre soin de soi 2017").await;
    client
        .find(Locator::Css("#profession option[value='etudiant']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    fill(&client, "student_number", "22001234").await;
    click(&client, "form button[type=submit]").await;
    assert!(text_of(&client).await.contains("Vérifiez votre messagerie"));

    let first_link = s
        .app
        .token_from_mail(email, "confirmez votre adresse")
        .await;
    // Signed in before confirming: enrolling is refused, with a way to get a new link.
    sign_in(&client, &base, email).await;
    client
        .goto(&format!("{base}/formations/{COURSE}"))
        .await
        .unwrap();
    client
        .find(Locator::Css("input[name=key]"))
        .await
        .unwrap()
        .send_keys(KEY)
        .await
        .unwrap();
    click(&client, "section.card form button[type=submit]").await;
    assert!(text_of(&client)
        .await
        .contains("Adresse e-mail non confirmée"));
    inspect.check(&client, "adresse-non-confirmee").await;
    click(&client, "form[action='/verifier-email/renvoyer'] button").await;
    assert!(text_of(&client)
        .await
        .contains("nouveau lien de confirmation"));
    let token = eventually(Duration::from_secs(10), || {
        s.app
            .confirmation_tokens(email)
            .into_iter()
            .find(|t| *t != first_link)
    })
    .await;
    client
        .goto(&format!("{base}/verifier-email?jeton={token}"))
        .await
        .unwrap();
    assert!(text_of(&client).await.contains("Adresse confirmée"));
    client.goto(&format!("{base}/connexion")).await.unwrap();
    inspect.check(&client, "connexion").await;
    fill(&client, "email", email).await;
    fill(&client, "password", "prendre soin de soi 2017").await;
    click(&client, "form.form button[type=submit]").await;
    assert!(text_of(&client).await.contains("Bonjour Zoé Lefèvre"));
    inspect.check(&client, "tableau-de-bord-vide").await;

    client
        .goto(&format!("{base}/formations/{COURSE}"))
        .await
        .unwrap();
    inspect.check(&client, "formation").await;
    client
        .find(Locator::Css("input[name=key]"))
        .await
        .unwrap()
        .send_keys(KEY)
        .await
        .unwrap();
    click(&client, "section.card form button[type=submit]").await;

    let at = client.current_url().await.unwrap();
    assert!(
        at.path().contains("/lecons/"),
        "{at}: {}",
        text_of(&client).await
    );

    // Every lesson, in order, to the end, its activities done.
    let mut read = 0;
    let mut activities = 0;
    while client
        .current_url()
        .await
        .unwrap()
        .path()
        .contains("/lecons/")
    {
        assert!(client.find(Locator::Css("article.lesson h1")).await.is_ok());
        if read == 0 {
            inspect.check(&client, "lecon").await;
        }
        activities += do_activities(&client).await;
        if read == 0 {
            inspect.check(&client, "lecon-activites").await;
        }
        click(&client, "form[action$='/terminer'] button").await;
        read += 1;
        assert!(read < 50, "the lessons end");
    }
    assert!(read >= 5, "{read} lessons");
    assert!(activities >= read, "{activities} activities");
    assert!(text_of(&client).await.contains("quiz"));
    inspect.check(&client, "tableau-de-bord").await;

    // The final quiz: its rules first, then « Commencer » starts the attempt.
    click(&client, "a[href$='/quiz/quiz-final']").await;
    let rules = text_of(&client).await;
    assert!(
        rules.contains("Tentatives : 3 au total, 3 restante(s)")
            && rules.contains("Seuil de réussite : 70 %")
            && rules.contains("une fois le quiz réussi ou les tentatives épuisées"),
        "{rules}"
    );
    inspect.check(&client, "quiz-regles").await;
    click(&client, "form[action$='/quiz/quiz-final'] button").await;
    assert!(client
        .current_url()
        .await
        .unwrap()
        .path()
        .starts_with("/tentatives/"));
    inspect.check(&client, "quiz").await;
    client
        .find(Locator::Css("#quiz input[type=radio][value=false]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .execute("window.confirm = () => true;", vec![])
        .await
        .unwrap();
    click(&client, "#rendre").await;
    let result = text_of(&client).await;
    assert!(
        result.contains("Résultat : 100 %") && result.contains("Réussi"),
        "{result}"
    );
    // The review of one's answers, in words (the policy shows them once passed).
    assert!(result.contains("Revoir mes réponses"), "{result}");
    assert!(
        result.contains("Votre réponse : Vrai") || result.contains("Votre réponse : Faux"),
        "{result}"
    );
    inspect.check(&client, "resultat").await;

    // The certificate, and its public verification page.
    client
        .goto(&format!("{base}/tableau-de-bord"))
        .await
        .unwrap();
    let dashboard = text_of(&client).await;
    assert!(
        dashboard.contains("Formation terminée") && dashboard.contains("Délivrée le"),
        "{dashboard}"
    );
    let code = client
        .find(Locator::Css("section.card code"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    client
        .goto(&format!("{base}/verifier/{code}"))
        .await
        .unwrap();
    let page = loaded_source(&client).await;
    assert!(
        page.contains("Attestation valide") && page.contains("Zoé Lefèvre"),
        "verifying {code} from the dashboard ({dashboard}): {page}"
    );
    inspect.check(&client, "verification").await;
    client.goto(&format!("{base}/mon-compte")).await.unwrap();
    assert!(text_of(&client).await.contains("Supprimer mon compte"));
    inspect.check(&client, "mon-compte").await;
    client.close().await.unwrap();
}

async fn sign_in(client: &Client, base: &str, email: &str) {
    client.goto(&format!("{base}/connexion")).await.unwrap();
    fill(client, "email", email).await;
    fill(client, "password", crate::journeys::PASSWORD).await;
    click(client, "form.form button[type=submit]").await;
    assert!(
        text_of(client).await.contains("Bonjour"),
        "{email} signed in"
    );
}

async fn sign_out(client: &Client) {
    click(client, "form[action='/deconnexion'] button").await;
}

/// Fetches a file with the page's own cookies, as a click on an export link does.
async fn download(client: &Client, path: &str) -> String {
    client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0], { credentials: 'same-origin' }).then(r => r.text()).then(done);",
            vec![json!(path)],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_org_admin_imports_and_exports_and_a_du_tutor_grades_before_the_jury_decides() {
    let Some((client, _driver)) = browser().await else {
        return;
    };
    // The DU's online part is left out of its rules here (its units' online assessments
    // are another journey), as in the DU API tests.
    let courses = copy_courses(&[COURSE, "du-soigner-les-soignants"]);
    replace_last_section(
        &courses.path().join("du-soigner-les-soignants"),
        "[du_rules]",
        "online_required = false",
    );
    let s = setup_in(courses.path().to_path_buf()).await;
    let mut inspect = Inspector::new();
    let base = s.app.url("");

    // The university's helpline, given on « Ressources locales » for its learners' lessons.
    sign_in(&client, &base, &s.dean.email).await;
    client.goto(&format!("{base}/gestion")).await.unwrap();
    inspect.check(&client, "gestion").await;
    click(
        &client,
        &format!("a[href='/gestion/organisations/{}']", s.university),
    )
    .await;
    inspect.check(&client, "organisation").await;
    click(
        &client,
        &format!(
            "a[href='/gestion/organisations/{}/ressources']",
            s.university
        ),
    )
    .await;
    let form = text_of(&client).await;
    assert!(
        form.contains("Dispositif d'écoute") && form.contains("À défaut"),
        "{form}"
    );
    inspect.check(&client, "ressources-locales").await;
    fill(
        &client,
        "res-ecoute",
        "Cellule d'écoute étudiante : 01 23 45 67 89",
    )
    .await;
    click(&client, "form.form button[type=submit]").await;
    assert!(text_of(&client).await.contains("Ressources enregistrées"));
    let listed: Value = s
        .app
        .get_json(
            &s.dean.token,
            &format!("/api/v1/organisations/{}/resources", s.university),
        )
        .await;
    assert!(
        listed.to_string().contains("Cellule d'écoute étudiante"),
        "{listed}"
    );

    // A session opened from the pages.
    client.goto(&format!("{base}/gestion")).await.unwrap();
    click(
        &client,
        &format!(
            "a[href='/gestion/organisations/{}/sessions/nouvelle']",
            s.university
        ),
    )
    .await;
    inspect.check(&client, "nouvelle-session").await;
    client
        .find(Locator::Css(
            "#course option[value='qvt-formation-initiale']",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    fill(&client, "title", "Promotion DFGSM2 — navigateur").await;
    client
        .execute(
            "document.getElementById('opens_on').value = arguments[0]; document.getElementById('closes_on').value = arguments[1];",
            vec![json!(day(-1)), json!(day(60))],
        )
        .await
        .unwrap();
    fill(&client, "academic_year", "2026-2027").await;
    click(&client, "form.form button[type=submit]").await;
    let at = client.current_url().await.unwrap();
    let session = at
        .path()
        .strip_prefix("/gestion/sessions/")
        .unwrap_or_else(|| panic!("{at}: {}", "session page expected"))
        .to_owned();
    inspect.check(&client, "gestion-session").await;
    // The file as French Excel saves it: Windows-1252 (è = E8), `;`, CRLF.
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("promotion.csv");
    std::fs::write(
        &file,
        b"Nom;Pr\xe9nom;Courriel\r\nBernard;In\xe8s;ines.bernard@univ-exemple.fr\r\nRoux;Malo;malo.roux@univ-exemple.fr\r\n",
    )
    .unwrap();
    client
        .find(Locator::Id("fichier"))
        .await
        .unwrap()
        .send_keys(file.to_str().unwrap())
        .await
        .unwrap();
    click(&client, "button[value=verifier]").await;
    let checked = text_of(&client).await;
    assert!(
        checked
            .contains("Vérification de « promotion.csv » : 2 ligne(s), 2 inscription(s) à faire"),
        "{checked}"
    );
    let rows = client.find_all(Locator::Css("tbody tr")).await.unwrap();
    assert!(rows.is_empty(), "nothing imported yet");
    inspect.check(&client, "import-verifie").await;
    click(&client, "button[value=importer]").await;
    let imported = text_of(&client).await;
    assert!(imported.contains("Import terminé"), "{imported}");
    let rows = client.find_all(Locator::Css("tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 2);
    let roster = download(&client, &format!("/api/v1/sessions/{session}/report.csv")).await;
    assert!(
        roster.contains("ines.bernard@univ-exemple.fr")
            && roster.contains("Inès Bernard")
            && roster.contains("malo.roux@univ-exemple.fr")
    );

    // A DU cohort: the tutor grades, the admin records the jury's decision.
    let tutor = s.university_tutor("tutrice@univ-exemple.fr").await;
    let du = s
        .session(
            &s.dean,
            &s.university,
            json!({ "course": "du-soigner-les-soignants", "title": "DIU 2026-2027",
            "opens_on": day(-1), "closes_on": day(200),
            "enrolment_mode": "open", "academic_year": "2026-2027" }),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let candidate = s.app.learner("candidate@chu-exemple.fr").await;
    let enrolment: serde_json::Value = s
        .enrol(&candidate, &du, json!({}))
        .await
        .json()
        .await
        .unwrap();
    let enrolment = enrolment["id"].as_str().unwrap().to_owned();

    sign_out(&client).await;
    sign_in(&client, &base, &tutor.email).await;
    client
        .goto(&format!("{base}/gestion/du/{enrolment}"))
        .await
        .unwrap();
    inspect.check(&client, "dossier-du").await;
    for unit in ["u1", "u2", "u3", "u4"] {
        fill(&client, &format!("grade-{unit}"), "12,5").await;
        client
            .execute(
                "document.getElementById(arguments[0]).value = '2026-11-05';",
                vec![json!(format!("day-{unit}"))],
            )
            .await
            .unwrap();
    }
    fill(
        &client,
        "thesis_title",
        "Soigner les soignants : le médecin du médecin",
    )
    .await;
    fill(&client, "thesis_supervisor", "Pr Anne Martin").await;
    fill(&client, "thesis_grade", "14").await;
    click(&client, "form[action$='/notes'] button").await;
    let file = text_of(&client).await;
    assert!(
        file.contains("Proposition selon les règles du diplôme\nAdmis"),
        "the rules propose « Admis »: {file}"
    );
    assert!(
        !file.contains("ajourne") && !file.contains("12.5"),
        "no codes, no decimal points: {file}"
    );

    sign_out(&client).await;
    sign_in(&client, &base, &s.dean.email).await;
    client
        .goto(&format!("{base}/gestion/du/{enrolment}"))
        .await
        .unwrap();
    client
        .execute(
            "document.getElementById('decided_on').value = '2027-06-30';",
            vec![],
        )
        .await
        .unwrap();
    client
        .find(Locator::Css("#mention option[value='bien']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    fill(&client, "jury", "Pr Anne Martin").await;
    click(&client, "form[action$='/decision'] button").await;
    let decided = text_of(&client).await;
    assert!(
        decided.contains("Décision en vigueur : Admis (Bien), le 30 juin 2027"),
        "{decided}"
    );
    inspect.check(&client, "decision-du").await;

    // The cohort's end of year: the grid, the minutes closed, the numbered records.
    click(&client, "nav.crumbs a[href$='/diplome']").await;
    let grid = text_of(&client).await;
    assert!(grid.contains("Admis (Bien)"), "{grid}");
    inspect.check(&client, "grille-du").await;
    click(&client, "form[action$='/proces-verbal'] button").await;
    assert!(text_of(&client).await.contains("Le procès-verbal est clos"));
    click(&client, "form[action$='/releves'] button").await;
    let issued = text_of(&client).await;
    assert!(issued.contains("Relevé n°"), "{issued}");
    inspect.check(&client, "releves-du").await;
    client.close().await.unwrap();
}

#[tokio::test]
async fn a_reader_sees_the_minimum_counted_live_and_a_too_early_finish_stays_on_the_lesson() {
    let Some((client, _driver)) = browser().await else {
        return;
    };
    let courses = course_with_completion(COURSE, "min_lesson_seconds = 60");
    let s: Setup = setup_in(courses.path().to_path_buf()).await;
    let session = s.qvt_session(json!({})).await;
    let reader = s.app.learner("lectrice@univ-exemple.fr").await;
    let enrolled: serde_json::Value = s
        .enrol(&reader, &session, json!({}))
        .await
        .json()
        .await
        .unwrap();
    let base = s.app.url("");
    let mut inspect = Inspector::new();
    sign_in(&client, &base, &reader.email).await;
    let lessons = crate::helpers::lesson_ids(&s.app, COURSE).await;
    let lesson = format!(
        "/apprendre/{}/lecons/{}",
        enrolled["id"].as_str().unwrap(),
        lessons[0]
    );
    client.goto(&format!("{base}{lesson}")).await.unwrap();
    let page = text_of(&client).await;
    assert!(
        page.contains("Temps de lecture minimum : 1 min 00 s"),
        "{page}"
    );
    assert!(page.contains("faire défiler"), "what counts is said");

    // Reading by scrolling only, then coming back to the window: the page's own heartbeat
    // answers update what it shows, with no reload.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    client
        .execute(
            "window.scrollBy(0, 200); window.dispatchEvent(new Event('focus'));",
            vec![],
        )
        .await
        .unwrap();
    let mut shown = String::new();
    for i in 1..=200 {
        // Under load the page's first beat may reach the server after this one (then this
        // one is the first, crediting nothing): the reader keeps reading.
        if i % 40 == 0 {
            client
                .execute(
                    "window.scrollBy(0, 20); window.dispatchEvent(new Event('focus'));",
                    vec![],
                )
                .await
                .unwrap();
        }
        shown = client
            .find(Locator::Css("[data-credited]"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if shown != "0 min 00 s" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        shown.starts_with("0 min 0") && shown != "0 min 00 s",
        "{shown}"
    );
    inspect.check(&client, "lecon-temps-de-lecture").await;

    do_activities(&client).await;
    click(&client, "form[action$='/terminer'] button").await;
    let refused = text_of(&client).await;
    assert!(
        refused.contains("il vous reste 1 min de lecture"),
        "{refused}"
    );
    assert!(
        client.find(Locator::Css("article.lesson h1")).await.is_ok(),
        "still the lesson"
    );
    inspect.check(&client, "lecon-trop-tot").await;
    client.close().await.unwrap();
}

/// The DPC « Sécurité de l'exercice » with one known item in each test: q10 (true) in the
/// pre-test, q11 (false) in the post-test; no minimum time, so the journey is quick.
fn dpc_course() -> tempfile::TempDir {
    let slug = "dpc-securite-exercice";
    let dir = course_with_completion(
        slug,
        "min_lesson_seconds = 0\nrequired_quizzes = [\"pre-test\", \"post-test\"]",
    );
    for (file, item) in [("pre-test", "q10"), ("post-test", "q11")] {
        let path = dir.path().join(slug).join(format!("quizzes/{file}.toml"));
        let text = std::fs::read_to_string(&path).unwrap();
        let draws = text.find("[[draw]]").unwrap();
        std::fs::write(&path, format!("{}items = [\"{item}\"]\n", &text[..draws])).unwrap();
    }
    dir
}

/// Answers a one-item true/false quiz from its introduction page and submits it.
async fn take_quiz(client: &Client, quiz: &str, answer: bool) -> String {
    click(client, &format!("a[href$='/quiz/{quiz}']")).await;
    click(client, &format!("form[action$='/quiz/{quiz}'] button")).await;
    client
        .find(Locator::Css(&format!(
            "#quiz input[type=radio][value={answer}]"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .execute("window.confirm = () => true;", vec![])
        .await
        .unwrap();
    click(client, "#rendre").await;
    text_of(client).await
}

#[tokio::test]
async fn a_liberal_nurse_earns_a_dpc_attestation_and_the_training_body_declares_it() {
    let Some((client, _driver)) = browser().await else {
        return;
    };
    let courses = dpc_course();
    let s: Setup = setup_in(courses.path().to_path_buf()).await;
    let session = s.session(
        &s.odpc_admin,
        &s.training_body,
        json!({ "course": "dpc-securite-exercice", "title": "Sécurité de l'exercice — printemps", "opens_on": day(-1),
                "closes_on": day(60), "enrolment_mode": "open", "dpc_action_ref": "1234 5678 901", "dpc_session_no": "4",
                "dpc_orientation": "12", "capacity": 20 }),
    )
    .await["id"]
    .as_str()
    .unwrap()
    .to_owned();
    let mut inspect = Inspector::new();
    let base = s.app.url("");
    let email = "hugo.bernard@cabinet-exemple.fr";

    // Sign-up: names apart, RPPS, mode d'exercice.
    client.goto(&format!("{base}/inscription")).await.unwrap();
    fill(&client, "first_name", "Hugo").await;
    fill(&client, "last_name", "Bernard").await;
    fill(&client, "email", email).await;
    fill(&client, "password", crate::journeys::PASSWORD).await;
    for option in [
        "#profession option[value='infirmier']",
        "#mode_exercice option[value='liberal']",
    ] {
        client
            .find(Locator::Css(option))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    fill(&client, "rpps", "10012345673").await;
    click(&client, "form button[type=submit]").await;
    let token = s
        .app
        .token_from_mail(email, "confirmez votre adresse")
        .await;
    client
        .goto(&format!("{base}/verifier-email?jeton={token}"))
        .await
        .unwrap();
    sign_in(&client, &base, email).await;

    // The course page: who runs the session, seats left; enrolling leads to the pre-test.
    client
        .goto(&format!("{base}/formations/dpc-securite-exercice"))
        .await
        .unwrap();
    let course = text_of(&client).await;
    assert!(
        course.contains("Organisée par ODPC Exemple") && course.contains("Places restantes : 20."),
        "{course}"
    );
    click(&client, "section.card form button[type=submit]").await;
    let rules = text_of(&client).await;
    assert!(
        rules.contains("Test de positionnement"),
        "the pre-test comes first: {rules}"
    );
    inspect.check(&client, "dpc-pre-test-regles").await;
    client
        .goto(&format!("{base}/tableau-de-bord"))
        .await
        .unwrap();
    let pre = take_quiz(&client, "pre-test", true).await;
    assert!(pre.contains("Quiz non noté"), "{pre}");

    // The lessons in order, their activities done, then the post-test.
    client
        .goto(&format!("{base}/tableau-de-bord"))
        .await
        .unwrap();
    click(&client, "p a.button").await;
    let mut read = 0;
    while client
        .current_url()
        .await
        .unwrap()
        .path()
        .contains("/lecons/")
    {
        do_activities(&client).await;
        click(&client, "form[action$='/terminer'] button").await;
        read += 1;
        assert!(read < 30, "the lessons end");
    }
    client
        .goto(&format!("{base}/tableau-de-bord"))
        .await
        .unwrap();
    let post = take_quiz(&client, "post-test", false).await;
    assert!(post.contains("Réussi"), "{post}");
    client
        .goto(&format!("{base}/tableau-de-bord"))
        .await
        .unwrap();
    let dashboard = text_of(&client).await;
    assert!(
        dashboard.contains("Formation terminée")
            && dashboard.contains("Ajouter à mon portefeuille"),
        "{dashboard}"
    );
    inspect.check(&client, "dpc-tableau-de-bord").await;
    client.goto(&format!("{base}/mon-compte")).await.unwrap();
    let account = text_of(&client).await;
    assert!(
        account.contains("Mon parcours de DPC") && account.contains("1 action·s suivie·s ici"),
        "{account}"
    );
    inspect.check(&client, "dpc-mon-compte").await;
    sign_out(&client).await;

    // The training body: its page, the declarations for its funder.
    sign_in(&client, &base, &s.odpc_admin.email).await;
    client
        .goto(&format!("{base}/gestion/organisations/{}", s.training_body))
        .await
        .unwrap();
    inspect.check(&client, "odpc-organisation").await;
    let declarations = download(
        &client,
        &format!(
            "/api/v1/organisations/{}/dpc-declarations.csv?bom=true",
            s.training_body
        ),
    )
    .await;
    let line = declarations
        .lines()
        .find(|l| l.contains("10012345673"))
        .expect("the nurse is declared");
    for value in [
        "Bernard",
        "Hugo",
        "Infirmier",
        "Libéral",
        "12345678901",
        "12",
    ] {
        assert!(line.contains(value), "{value} in {line}");
    }
    // The session's figures: the gain per objective of those who took both tests.
    client
        .goto(&format!("{base}/gestion/sessions/{session}"))
        .await
        .unwrap();
    let figures = text_of(&client).await;
    assert!(
        figures.contains("Progression par objectif (1 apprenant·s ayant passé les deux tests)"),
        "{figures}"
    );
    inspect.check(&client, "odpc-session").await;
    client.close().await.unwrap();
}

#[tokio::test]
async fn a_student_opens_the_module_inside_the_lms_frame() {
    let Some(c) = crate::lti::campus().await else {
        return;
    };
    let Some((client, _driver)) = browser().await else {
        return;
    };
    c.opened_by_teacher().await;
    // The LMS's course page frames the activity: the launch runs inside the frame, and our
    // page must be allowed there (frame-ancestors names the launching platform).
    let course = format!(
        "{}/course?user=s-frame&roles=learner&name=Zo%C3%A9+Cadre&course={COURSE}&context=moodle-course-7",
        c.lms.url
    );
    client.goto(&course).await.unwrap();
    client.enter_frame(0).await.unwrap();
    let mut text = String::new();
    for _ in 0..100 {
        if let Ok(main) = client.find(Locator::Css("main")).await {
            text = main.text().await.unwrap_or_default();
            if text.contains("Leçon") || text.contains("leçon") {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The frame's own address (WebDriver's current URL is the top page's).
    let url = client
        .execute("return location.href", vec![])
        .await
        .unwrap();
    let url = url.as_str().unwrap_or_default().to_owned();
    assert!(url.starts_with(&c.app.url("/apprendre/")), "{url}: {text}");
    assert!(text.to_lowercase().contains("leçon"), "{text}");
    client.enter_parent_frame().await.unwrap();
    client.close().await.unwrap();
}

#[tokio::test]
async fn a_practitioner_signs_in_with_the_pro_sante_connect_button() {
    let Some(psc) = crate::helpers::psc::Psc::start() else {
        return;
    };
    let Some((client, _driver)) = browser().await else {
        return;
    };
    // The provider sends the browser back to our public address: here, our real one.
    let port = free_port();
    let settings = psc.settings();
    let app = crate::helpers::spawn_app_with(|s| {
        s.bind = format!("127.0.0.1:{port}").parse().unwrap();
        s.public_url = format!("http://127.0.0.1:{port}");
        s.oidc = vec![settings];
    })
    .await;
    psc.register(&app, false).await;
    let doctor = &psc.practitioners().await[0];
    let mut inspect = Inspector::new();

    client.goto(&app.url("/connexion")).await.unwrap();
    inspect.check(&client, "connexion-psc").await;
    click(&client, "#oidc-psc").await;
    // The provider's own page: the practitioner's national identifier, then validation.
    fill(&client, "login", &doctor.sub).await;
    client
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let mut url = String::new();
    for _ in 0..100 {
        url = client.current_url().await.unwrap().to_string();
        if url.starts_with(&app.url("/tableau-de-bord")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(url.starts_with(&app.url("/tableau-de-bord")), "{url}");

    client.goto(&app.url("/mon-compte")).await.unwrap();
    let text = text_of(&client).await;
    assert!(text.contains("RPPS vérifié"), "{text}");
    assert!(text.contains(&doctor.rpps), "{text}");
    inspect.check(&client, "mon-compte-psc").await;
    client.close().await.unwrap();
}
