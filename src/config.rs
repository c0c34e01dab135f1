//! Typed settings read from the environment, with defaults that work on a laptop.
//!
//! Secrets (the SMTP password inside `SMTP_URL`, a PostgreSQL password inside
//! `DATABASE_URL`) are kept in [`Secret`], whose `Debug` never prints them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};

pub use crate::secret::Secret;

#[derive(Clone, Debug)]
pub struct Settings {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    pub courses_dir: PathBuf,
    pub templates_dir: Option<PathBuf>,
    pub public_url: String,
    pub body_limit: usize,
    pub shutdown_timeout: Duration,
    /// After SIGTERM, how long `/readyz` says not ready while requests are still served
    /// (`QVT_DRAIN_SECONDS`): behind a load balancer, longer than its health checks take to
    /// see it, so that it stops sending requests before the instance stops taking them.
    pub drain: Duration,
    /// How long a request's body may take to arrive (`QVT_BODY_DEADLINE_SECONDS`): enough
    /// for a 16 MB roster on a slow line, far below a connection hoarder's patience.
    pub body_deadline: Duration,
    /// Open connections per worker thread (`QVT_MAX_CONNECTIONS_PER_WORKER`).
    pub max_connections_per_worker: usize,
    pub log_format: LogFormat,
    pub database: DatabaseSettings,
    pub mail: MailSettings,
    pub identity: IdentitySettings,
    /// Public verification codes looked up per minute and client address.
    pub verify_per_minute: u32,
    /// Reverse proxies whose `X-Forwarded-For` / `Forwarded` headers are believed.
    pub trusted_proxies: crate::http::TrustedProxies,
    /// `/metrics` is served only with this bearer token (`QVT_METRICS_TOKEN`); unset, not at all.
    pub metrics_token: Option<Secret>,
    /// The first wait before a grade an LMS did not take is sent again
    /// (`QVT_LTI_RETRY_SECONDS`, default 30); it doubles with each failure, up to 6 hours.
    pub lti_retry: Duration,
    /// The OpenID Connect providers people may sign in with (Pro Santé Connect…).
    pub oidc: Vec<crate::oidc::settings::ProviderSettings>,
}

#[derive(Clone, Debug)]
pub struct IdentitySettings {
    /// Ed25519 signing keys (`<kid>.pem`, mode 0600); the newest signs, all verify.
    pub keys_dir: PathBuf,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub verify_email_ttl: Duration,
    pub password_reset_ttl: Duration,
    /// How long proof of training outlives an erased account before `purge` removes it.
    pub retention_years: u32,
    pub login_window: Duration,
    pub login_max_failures_per_account: i64,
    pub login_max_failures_per_address: i64,
    /// Sign-ups allowed per client address and hour.
    pub sign_ups_per_address_per_hour: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug)]
pub struct DatabaseSettings {
    pub url: Secret,
    pub pool_size: u32,
    /// SQLite `PRAGMA synchronous`; ignored on PostgreSQL.
    pub sqlite_synchronous: SqliteSynchronous,
    pub sqlite_busy_timeout: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

impl DatabaseKind {
    pub fn of_url(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::Postgres
        } else {
            Self::Sqlite
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

impl DatabaseSettings {
    pub fn kind(&self) -> DatabaseKind {
        DatabaseKind::of_url(self.url.expose())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqliteSynchronous {
    Off,
    Normal,
    Full,
    Extra,
}

impl SqliteSynchronous {
    pub fn parse(value: &str) -> anyhow::Result<Self> {
        match value.to_ascii_uppercase().as_str() {
            "OFF" => Ok(Self::Off),
            "NORMAL" => Ok(Self::Normal),
            "FULL" => Ok(Self::Full),
            "EXTRA" => Ok(Self::Extra),
            other => {
                bail!("QVT_SQLITE_SYNCHRONOUS must be OFF, NORMAL, FULL or EXTRA, not {other:?}")
            }
        }
    }
    pub fn as_sql(self) -> &'static str {
        match self {
            Self::Off => "OFF",
            Self::Normal => "NORMAL",
            Self::Full => "FULL",
            Self::Extra => "EXTRA",
        }
    }
}

#[derive(Clone, Debug)]
pub struct MailSettings {
    pub transport: MailTransportKind,
    pub from: String,
    pub outbox_dir: PathBuf,
    /// Run the outbox worker inside `serve`.
    pub worker: bool,
    pub poll_interval: Duration,
    pub retry_base: Duration,
    pub max_attempts: i32,
    /// How long a claimed message stays reserved for the instance sending it.
    pub lease: Duration,
}

#[derive(Clone, Debug)]
pub enum MailTransportKind {
    File,
    Smtp { url: Secret },
    Log,
}

impl Settings {
    /// Reads every `QVT_*` variable, `DATABASE_URL` and `SMTP_URL`.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|key| std::env::var(key).ok().filter(|v| !v.is_empty()))
    }

    /// Same as [`Settings::from_env`] over any source of variables (tests use a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let data_dir = PathBuf::from(get("QVT_DATA_DIR").unwrap_or_else(|| "data".into()));
        let bind: SocketAddr = get("QVT_BIND")
            .unwrap_or_else(|| "127.0.0.1:8080".into())
            .parse()
            .context("QVT_BIND must be an address such as 127.0.0.1:8080")?;
        let database_url = get("DATABASE_URL").unwrap_or_else(|| {
            data_dir
                .join("qvt-campus.sqlite3")
                .to_string_lossy()
                .into_owned()
        });
        let transport = match get("QVT_MAIL_TRANSPORT").as_deref().unwrap_or("file") {
            "file" => MailTransportKind::File,
            "log" => MailTransportKind::Log,
            "smtp" => MailTransportKind::Smtp {
                url: Secret::new(get("SMTP_URL").ok_or_else(|| {
                    anyhow!("QVT_MAIL_TRANSPORT=smtp needs SMTP_URL (smtp://…?tls=required or smtps://…)")
                })?),
            },
            other => bail!("QVT_MAIL_TRANSPORT must be file, smtp or log, not {other:?}"),
        };
        let public_url = get("QVT_PUBLIC_URL")
            .unwrap_or_else(|| format!("http://{bind}"))
            .trim_end_matches('/')
            .to_owned();
        let database_kind = DatabaseKind::of_url(&database_url);
        Ok(Self {
            bind,
            courses_dir: get("QVT_COURSES_DIR")
                .unwrap_or_else(|| "courses".into())
                .into(),
            templates_dir: get("QVT_TEMPLATES_DIR").map(PathBuf::from),
            public_url,
            body_limit: number(&get, "QVT_BODY_LIMIT", 1024 * 1024)?,
            shutdown_timeout: Duration::from_secs(number(&get, "QVT_SHUTDOWN_TIMEOUT", 30)?),
            drain: Duration::from_secs(number(&get, "QVT_DRAIN_SECONDS", 0)?),
            max_connections_per_worker: number(&get, "QVT_MAX_CONNECTIONS_PER_WORKER", 1024)?,
            body_deadline: Duration::from_secs(number(&get, "QVT_BODY_DEADLINE_SECONDS", 60)?),
            lti_retry: Duration::from_secs(number(&get, "QVT_LTI_RETRY_SECONDS", 30)?),
            log_format: match get("QVT_LOG_FORMAT").as_deref().unwrap_or("text") {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                other => bail!("QVT_LOG_FORMAT must be text or json, not {other:?}"),
            },
            database: DatabaseSettings {
                url: Secret::new(database_url),
                pool_size: number(&get, "QVT_DB_POOL_SIZE", default_pool_size(database_kind))?,
                sqlite_synchronous: SqliteSynchronous::parse(
                    &get("QVT_SQLITE_SYNCHRONOUS").unwrap_or_else(|| "FULL".into()),
                )?,
                sqlite_busy_timeout: Duration::from_millis(number(
                    &get,
                    "QVT_SQLITE_BUSY_TIMEOUT_MS",
                    5000,
                )?),
            },
            mail: MailSettings {
                transport,
                from: get("QVT_MAIL_FROM")
                    .unwrap_or_else(|| "QVT Campus <ne-pas-repondre@qvt-campus.localhost>".into()),
                outbox_dir: data_dir.join("outbox"),
                worker: get("QVT_MAIL_WORKER").is_none_or(|v| v != "off"),
                poll_interval: Duration::from_millis(number(&get, "QVT_MAIL_POLL_MS", 2000)?),
                retry_base: Duration::from_secs(number(&get, "QVT_MAIL_RETRY_BASE_SECONDS", 30)?),
                max_attempts: number(&get, "QVT_MAIL_MAX_ATTEMPTS", 8)?,
                // The SMTP timeout (20 s) and a margin: a message claimed by an instance that
                // died is sent by another within this.
                lease: Duration::from_secs(number(&get, "QVT_MAIL_LEASE_SECONDS", 30)?),
            },
            identity: IdentitySettings {
                keys_dir: get("QVT_KEYS_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| data_dir.join("keys")),
                access_ttl: Duration::from_secs(number(&get, "QVT_ACCESS_TOKEN_SECONDS", 900)?),
                refresh_ttl: Duration::from_secs(
                    86400 * number::<u64>(&get, "QVT_REFRESH_TOKEN_DAYS", 30)?,
                ),
                verify_email_ttl: Duration::from_secs(3600 * 48),
                password_reset_ttl: Duration::from_secs(3600),
                retention_years: number(&get, "QVT_RETENTION_YEARS", 6)?,
                login_window: Duration::from_secs(15 * 60),
                login_max_failures_per_account: number(&get, "QVT_LOGIN_MAX_FAILURES", 10)?,
                login_max_failures_per_address: number(
                    &get,
                    "QVT_LOGIN_MAX_FAILURES_PER_ADDRESS",
                    50,
                )?,
                sign_ups_per_address_per_hour: number(
                    &get,
                    "QVT_SIGN_UPS_PER_ADDRESS_PER_HOUR",
                    100,
                )?,
            },
            verify_per_minute: number(&get, "QVT_VERIFY_PER_MINUTE", 30)?,
            trusted_proxies: crate::http::TrustedProxies::parse(
                &get("QVT_TRUSTED_PROXIES").unwrap_or_default(),
            )
            .map_err(|e| anyhow!("QVT_TRUSTED_PROXIES: {e}"))?,
            metrics_token: get("QVT_METRICS_TOKEN").map(Secret::new),
            oidc: crate::oidc::settings::from_lookup(&get)?,
            data_dir,
        })
    }

    /// Whether the site is served over https (then cookies are Secure, HSTS is sent).
    pub fn https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    pub fn sqlite_path(&self) -> Option<&Path> {
        match self.database.kind() {
            DatabaseKind::Sqlite => Some(Path::new(self.database.url.expose())),
            DatabaseKind::Postgres => None,
        }
    }
}

/// Connections per instance unless `QVT_DB_POOL_SIZE` says otherwise. On PostgreSQL a
/// connection spends most of a transaction waiting for the server, so more of them keep
/// both busy: 24 against 8 gave 1,027 / 879 quiz pairs/s at 64 learners against 685 / 687
/// (bench, alternated; `bench/README.md`). SQLite's writes are serial whatever the pool.
fn default_pool_size(kind: DatabaseKind) -> u32 {
    match kind {
        DatabaseKind::Sqlite => 8,
        DatabaseKind::Postgres => 24,
    }
}

fn number<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: T,
) -> anyhow::Result<T> {
    match get(key) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|_| anyhow!("{key} must be a number, not {raw:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_serve_sqlite_under_data() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database.kind(), DatabaseKind::Sqlite);
        assert_eq!(s.database.url.expose(), "data/qvt-campus.sqlite3");
        assert_eq!(s.mail.outbox_dir, PathBuf::from("data/outbox"));
        assert_eq!(s.database.sqlite_synchronous, SqliteSynchronous::Full);
        assert_eq!(s.public_url, "http://127.0.0.1:8080");
    }

    #[test]
    fn postgres_is_chosen_from_the_url_scheme() {
        let s = settings(&[("DATABASE_URL", "postgres://u:pw@db/qvt")]).unwrap();
        assert_eq!(s.database.kind(), DatabaseKind::Postgres);
        assert_eq!(s.database.pool_size, 24, "PostgreSQL's own default pool");
        assert_eq!(settings(&[]).unwrap().database.pool_size, 8);
        assert_eq!(
            DatabaseKind::of_url("postgresql://x"),
            DatabaseKind::Postgres
        );
    }

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let s = settings(&[
            ("DATABASE_URL", "postgres://u:db-hunter2@db/qvt"),
            ("QVT_MAIL_TRANSPORT", "smtp"),
            ("SMTP_URL", "smtps://u:smtp-hunter2@mail:465"),
        ])
        .unwrap();
        let printed = format!("{s:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("[redacted]"));
    }

    #[test]
    fn bad_values_are_named() {
        let err = settings(&[("QVT_BODY_LIMIT", "lots")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("QVT_BODY_LIMIT"), "{err}");
        let err = settings(&[("QVT_MAIL_TRANSPORT", "smtp")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("SMTP_URL"), "{err}");
        let err = settings(&[("QVT_SQLITE_SYNCHRONOUS", "sometimes")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("QVT_SQLITE_SYNCHRONOUS"), "{err}");
    }
}
