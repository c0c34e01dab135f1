//! Wiring: builds the application from settings — database (migrated), keys, background
//! workers, and the HTTP server bound to `settings.bind` (port 0 in tests, see
//! [`Application::port`]). The state handlers share is [`crate::app::AppState`].

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{from_fn, ErrorHandlers};
use actix_web::{web, App, HttpServer};
use actix_web_prom::PrometheusMetricsBuilder;
use anyhow::Context;

use crate::app::AppState;
use crate::background::Periodic;
use crate::catalog::{self, cache::CourseCache};
use crate::certificates::{self, keys::IssuerKey};
use crate::completion;
use crate::config::{DatabaseKind, Settings};
use crate::db::{self, Pool};
use crate::du;
use crate::enrolment;
use crate::http;
use crate::identity::{self, current::AccountCache, tokens::KeyRing};
use crate::learning::{self, Learning};
use crate::lti;
use crate::mail;
use crate::ops::{self, health, openapi};
use crate::pages;
use crate::quiz;
use crate::reports;
use crate::resources;
use crate::stale::peers::Peers;
use crate::templates::Templates;

pub struct Application {
    port: u16,
    server: Server,
    workers: Vec<Periodic>,
    /// Writes the time on task held in memory (run first when a stop signal comes).
    flush_time: Arc<dyn Fn() -> anyhow::Result<()> + Send + Sync>,
    /// Set at the stop signal (see `AppState::draining`), for `drain` before the stop.
    draining: Arc<AtomicBool>,
    drain: Duration,
    signals: StopSignals,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with(settings, |_| {}).await
    }

    /// Like [`Application::build`], with extra routes mounted (tests use it for probes).
    pub async fn build_with(
        settings: Settings,
        extra_routes: impl Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
    ) -> anyhow::Result<Self> {
        let (pool, broken_courses) = open_database(&settings).await?;
        let templates = Arc::new(Templates::load(settings.templates_dir.as_deref())?);
        let (keys, issuer, lti_key) = load_keys(&settings).await?;
        let courses = Arc::new(CourseCache::default());
        let learning = Arc::new(Learning::default());
        let mut workers = spawn_workers(&settings, &pool, &templates, &courses, &learning)?;
        let flush_time: Arc<dyn Fn() -> anyhow::Result<()> + Send + Sync> = {
            let (pool, courses, learning) = (pool.clone(), courses.clone(), learning.clone());
            Arc::new(move || learning::service::flush(&pool, &courses, &learning).map(drop))
        };
        let writer = db::writer(&settings.database)?;
        let accounts = Arc::new(AccountCache::default());
        let peers = match settings.database.kind() {
            DatabaseKind::Postgres => Peers::start(
                settings.database.url.expose().to_owned(),
                accounts.clone(),
                learning.clone(),
            ),
            DatabaseKind::Sqlite => Peers::alone(),
        };
        let draining = Arc::new(AtomicBool::new(false));
        let drain = settings.drain;
        let state = web::Data::new(AppState {
            pool,
            writer,
            settings,
            templates,
            keys,
            issuer,
            lti_key,
            lti: Default::default(),
            lti_frames: Default::default(),
            oidc: Default::default(),
            status_lists: Default::default(),
            courses,
            learning,
            accounts,
            peers,
            draining: draining.clone(),
            broken_courses,
        });
        workers.push(grades_worker(state.clone()));
        workers.push(rosters_worker(state.clone()));
        let signals = StopSignals::listen();
        let (server, port) = http_server(state, extra_routes)?;
        Ok(Self {
            port,
            server,
            workers,
            flush_time,
            draining,
            drain,
            signals,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server like SIGTERM does: `stop(true)` lets in-flight requests finish.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM/SIGINT (or a handle's stop), then stops the background jobs
    /// (the last time on task is flushed). On the signal, `/readyz` says not ready and the
    /// time on task held in memory is written at once; requests are still taken for the
    /// drain time (`QVT_DRAIN_SECONDS`, for a load balancer to notice), then the server
    /// stops taking them and waits for those in flight (slow clients among them): a stop
    /// forced at the end of the grace period then loses no time on task.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let flush = self.flush_time.clone();
        let (handle, draining, drain) = (self.server.handle(), self.draining, self.drain);
        let signals = self.signals;
        let on_signal = tokio::spawn(async move {
            signals.recv().await;
            draining.store(true, Ordering::Relaxed);
            let drained = tokio::time::sleep(drain);
            let flushed = tokio::task::spawn_blocking(move || flush()).await;
            if let Ok(Err(e)) = flushed {
                tracing::error!(error = %e, "time on task not written at the stop signal");
            }
            drained.await;
            handle.stop(true).await;
        });
        let result = self.server.await;
        on_signal.abort();
        for worker in self.workers {
            worker.stop().await;
        }
        result
    }
}

/// The stop signals, listened to from before the server accepts its first connection: a
/// SIGTERM that comes as soon as `/readyz` first answers (a test, an orchestrator) must find
/// our handler, not the default action, which kills the process with no drain.
struct StopSignals(Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>);

impl StopSignals {
    fn listen() -> Self {
        use tokio::signal::unix::{signal, SignalKind};
        Self(
            signal(SignalKind::terminate())
                .and_then(|term| Ok((term, signal(SignalKind::interrupt())?)))
                .ok(),
        )
    }

    /// SIGTERM or SIGINT, whichever comes first (the signals actix stops on).
    async fn recv(self) {
        match self.0 {
            Some((mut term, mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            None => std::future::pending().await,
        }
    }
}

/// The data folder, the database (migrated) and the courses imported from their folder;
/// and the courses whose files are broken (served at their last good version).
async fn open_database(settings: &Settings) -> anyhow::Result<(Pool, Vec<(String, Vec<String>)>)> {
    crate::private::dir(&settings.data_dir).context("QVT_DATA_DIR")?;
    if let Some(file) = settings
        .sqlite_path()
        .filter(|f| !f.to_string_lossy().starts_with(':'))
    {
        if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
            crate::private::dir(parent)?;
        }
        crate::private::database_file(file)?;
    }
    let database = settings.database.clone();
    let pool = tokio::task::spawn_blocking(move || -> anyhow::Result<Pool> {
        let pool = db::connect(&database)?;
        let applied = db::migrate(&mut *pool.get()?)?;
        tracing::info!(database = database.kind().name(), applied, "database ready");
        Ok(pool)
    })
    .await??;
    let (import_pool, courses_dir) = (pool.clone(), settings.courses_dir.clone());
    let outcomes =
        tokio::task::spawn_blocking(move || catalog::import_dir(&import_pool, &courses_dir))
            .await??;
    let broken = outcomes
        .into_iter()
        .filter_map(|(slug, outcome)| match outcome {
            catalog::store::ImportOutcome::KeptLastGood { problems, .. } => Some((slug, problems)),
            _ => None,
        })
        .collect();
    Ok((pool, broken))
}

/// The access-token keys, the certificate issuer's key and the LTI tool key (created the
/// first time).
async fn load_keys(settings: &Settings) -> anyhow::Result<(KeyRing, IssuerKey, IssuerKey)> {
    let keys = KeyRing::load_or_create(&settings.identity.keys_dir, &settings.public_url)?;
    let keys_dir = settings.identity.keys_dir.clone();
    // RSA key generation takes a moment the first time: off the async runtime.
    let (issuer, lti_key) = tokio::task::spawn_blocking(move || {
        anyhow::Ok((
            IssuerKey::load_or_create(&keys_dir)?,
            IssuerKey::load_or_create_in(&keys_dir.join("lti"))?,
        ))
    })
    .await??;
    Ok((keys, issuer, lti_key))
}

/// The LMS courses' rosters, read again every hour (looked for every 5 minutes).
fn rosters_worker(state: web::Data<AppState>) -> Periodic {
    Periodic::spawn("lti rosters", Duration::from_secs(300), false, move || {
        let state = state.clone();
        tokio::runtime::Handle::current()
            .block_on(lti::roster::sync_due(&state))
            .map(drop)
    })
}

/// Grades owed to learning platforms, looked for every 2 seconds (one indexed read when
/// none is due; retries wait their turn).
fn grades_worker(state: web::Data<AppState>) -> Periodic {
    Periodic::spawn("lti grades", Duration::from_secs(2), false, move || {
        let state = state.clone();
        tokio::runtime::Handle::current()
            .block_on(lti::grades::send_due(&state))
            .map(drop)
    })
}

/// The background jobs: mail delivery, time on task, quiz deadlines, certificates owed.
fn spawn_workers(
    settings: &Settings,
    pool: &Pool,
    templates: &Arc<Templates>,
    courses: &Arc<CourseCache>,
    learning: &Arc<Learning>,
) -> anyhow::Result<Vec<Periodic>> {
    let mut workers = Vec::new();
    if settings.mail.worker {
        let sender = mail::Sender::new(&settings.mail, &settings.public_url, templates.clone())?;
        workers.push(mail::spawn_worker(
            pool.clone(),
            Arc::new(sender),
            settings.mail.poll_interval,
        ));
    }
    // Time on task is written in groups, woken by the beats waiting for their credit to be
    // written (`learning::commit`), and every few seconds for the stretches that close
    // without a beat; once more at shutdown. A crash loses no credit answered.
    let (flush_pool, flush_courses, flush_learning) =
        (pool.clone(), courses.clone(), learning.clone());
    workers.push(Periodic::spawn_woken(
        "time on task",
        Duration::from_secs(5),
        true,
        Some((learning.commits.wake.clone(), learning::commit::GATHER)),
        move || learning::service::flush(&flush_pool, &flush_courses, &flush_learning).map(drop),
    ));
    // Reset links asked for are sent in the background (the request's answer tells nothing).
    let (reset_pool, identity, public_url) = (
        pool.clone(),
        settings.identity.clone(),
        settings.public_url.clone(),
    );
    workers.push(Periodic::spawn(
        "reset links",
        Duration::from_millis(500),
        false,
        move || {
            let mut conn = reset_pool.get()?;
            identity::service::send_reset_links(&mut conn, &identity, &public_url)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(())
        },
    ));
    let throttle_pool = pool.clone();
    workers.push(Periodic::spawn(
        "throttle pruning",
        Duration::from_secs(600),
        false,
        move || {
            let mut conn = throttle_pool.get()?;
            crate::throttle::prune(&mut conn)?;
            crate::http::quota::prune(&mut conn)?;
            lti::launch::prune(&mut conn).map_err(|e| anyhow::anyhow!("{e}"))?;
            crate::oidc::service::prune(&mut conn).map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(())
        },
    ));
    // Attempts abandoned past their deadline are graded with what was saved.
    let (due_pool, due_courses) = (pool.clone(), courses.clone());
    workers.push(Periodic::spawn(
        "quiz deadlines",
        Duration::from_secs(10),
        false,
        move || quiz::service::grade_due(&due_pool, &due_courses).map(drop),
    ));
    // Completions recorded before certificates existed get theirs (then it is a no-op).
    let (owed_pool, owed_courses) = (pool.clone(), courses.clone());
    workers.push(Periodic::spawn(
        "certificates owed",
        Duration::from_secs(300),
        false,
        move || completion::issue_missing(&owed_pool, &owed_courses).map(drop),
    ));
    Ok(workers)
}

/// The HTTP server on `settings.bind`, with every route and middleware; and its port.
fn http_server(
    state: web::Data<AppState>,
    extra_routes: impl Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
) -> anyhow::Result<(Server, u16)> {
    let settings = &state.settings;
    let listener = TcpListener::bind(settings.bind)
        .with_context(|| format!("cannot listen on {}", settings.bind))?;
    let port = listener.local_addr()?.port();
    let metrics = PrometheusMetricsBuilder::new("qvt")
        .endpoint(ops::metrics::PATH)
        .mask_unmatched_patterns("UNKNOWN")
        .build()
        .map_err(|e| anyhow::anyhow!("cannot set up metrics: {e}"))?;
    let body_limit = settings.body_limit;
    // One limiter for every verification route, shared by all workers (and instances).
    let verify_limiter = web::Data::new(certificates::routes::limiter(
        settings.verify_per_minute,
        settings.database.kind(),
        &state.pool,
    ));
    let lti_logins = web::Data::new(lti::routes::LoginLimiter::new(
        settings.database.kind(),
        &state.pool,
    ));
    let oidc_sign_ins = web::Data::new(crate::oidc::routes::SignInLimiter::new(
        settings.database.kind(),
        &state.pool,
    ));
    let shutdown_timeout = settings.shutdown_timeout.as_secs();
    let max_connections = settings.max_connections_per_worker;
    let body_deadline = web::Data::new(http::deadline::BodyDeadline(settings.body_deadline));
    let https = settings.https();
    let trusted_proxies = web::Data::new(settings.trusted_proxies.clone());
    let server = HttpServer::new(move || {
        App::new()
            // Innermost first: a panic becomes a 500, then any bare error becomes a
            // problem, then it is counted, then logged with its request id.
            .wrap(from_fn(http::catch_panic))
            .wrap(ErrorHandlers::new().default_handler(http::problem_for_bare_errors))
            // A browser navigating gets the problem as a French page (or the sign-in page).
            .wrap(from_fn(pages::session::cross_site_forms))
            .wrap(from_fn(http::deadline::body_deadline))
            .wrap(from_fn(pages::errors::html_errors))
            .wrap(metrics.clone())
            .wrap(from_fn(ops::metrics::guard))
            .wrap(from_fn(http::request_id))
            .wrap(http::headers::security_headers(
                https,
                &[certificates::render::STYLE],
            ))
            // Outside the hardening headers, which it relaxes for an LTI platform's frame.
            .wrap(from_fn(lti::frame::allow_platform_frames))
            .app_data(state.clone())
            .app_data(verify_limiter.clone())
            .app_data(lti_logins.clone())
            .app_data(oidc_sign_ins.clone())
            .app_data(trusted_proxies.clone())
            .app_data(body_deadline.clone())
            .configure(|cfg| http::configure_extractors(cfg, body_limit))
            // Resources (not bare routes) so a wrong method is a 405 with `Allow`.
            .service(web::resource("/healthz").get(health::healthz))
            .service(web::resource("/readyz").get(health::readyz))
            .service(web::resource("/api/openapi.json").get(openapi::openapi_json))
            .configure(identity::routes::configure_well_known)
            .configure(certificates::routes::configure_public)
            .configure(lti::routes::configure_public)
            .configure(crate::oidc::routes::configure)
            // One scope for the whole API: a second scope with the same prefix would
            // never be reached.
            .service(
                web::scope("/api/v1")
                    .configure(identity::routes::configure)
                    .configure(catalog::routes::configure)
                    .configure(enrolment::routes::configure)
                    .configure(learning::routes::configure)
                    .configure(quiz::routes::configure)
                    .configure(du::routes::configure)
                    .configure(reports::routes::configure)
                    .configure(resources::routes::configure)
                    .configure(completion::routes::configure)
                    .configure(certificates::routes::configure)
                    .configure(lti::routes::configure),
            )
            .configure(pages::configure)
            .configure(extra_routes.clone())
            .default_service(web::to(http::not_found))
    })
    .listen(listener)?
    // A cap per worker thread: past it, new connections wait in the backlog instead of
    // exhausting file descriptors.
    .max_connections(max_connections)
    .shutdown_timeout(shutdown_timeout)
    // `Application::run_until_stopped` stops it on the signals, after the drain.
    .disable_signals()
    .run();
    Ok((server, port))
}
