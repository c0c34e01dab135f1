//! The `qvt-campus` command: parses the command line and wires the library together.

use anyhow::Context;
use clap::{Parser, Subcommand};
use qvt_campus::config::Settings;
use qvt_campus::identity::model::{Email, FullName, Password};
use qvt_campus::identity::tokens::{self, KeyRing};
use qvt_campus::identity::{service, store};
use qvt_campus::{
    catalog, certificates, db, mail, startup::Application, telemetry, templates::Templates,
};

#[derive(Parser)]
#[command(
    name = "qvt-campus",
    version,
    about = "QVT training platform for health professionals and students"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database, then serve the platform on QVT_BIND (default 127.0.0.1:8080).
    ///
    /// With no configuration this uses an embedded SQLite database at
    /// data/qvt-campus.sqlite3 and writes outgoing mail as .eml files into data/outbox/.
    Serve {
        /// Seed demo organisations, sessions and one account per role (printed at start).
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations to DATABASE_URL and exit.
    Migrate,
    /// Outgoing mail: check the configured transport.
    #[command(subcommand)]
    Mail(MailCommand),
    /// Platform administrators.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Token signing keys (in QVT_KEYS_DIR, default data/keys).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Course folders: check them, or import them without serving.
    #[command(subcommand)]
    Courses(CoursesCommand),
    /// Delete erased accounts whose retention period (QVT_RETENTION_YEARS, default 6) is over.
    Purge,
}

#[derive(Subcommand)]
enum CoursesCommand {
    /// Validate every course under DIR (default QVT_COURSES_DIR); print `path:line: message`
    /// for each problem and exit non-zero, or one summary line per course. Warnings (items
    /// that give their answer away, hours the content does not back…) are printed too.
    Check {
        dir: Option<std::path::PathBuf>,
        /// Warnings are errors (CI checks the shipped courses this way).
        #[arg(long)]
        strict: bool,
    },
    /// Check, then store each changed course as a new version (unchanged ones are kept).
    Import { dir: Option<std::path::PathBuf> },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a platform administrator. Without --password-stdin a password is generated
    /// and printed once.
    Create {
        #[arg(long)]
        email: String,
        /// Full name.
        #[arg(long)]
        name: String,
        /// Read the password from standard input (first line).
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a new signing key. Tokens signed by older keys stay valid until they expire;
    /// delete an old key file once its tokens have expired (15 minutes by default) and every
    /// instance has restarted.
    Rotate,
}

#[derive(Subcommand)]
enum MailCommand {
    /// Queue a French test message to ADDRESS and deliver the outbox once, now.
    Test {
        /// Recipient address.
        #[arg(long)]
        to: String,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::from_env().context("invalid configuration")?;
    telemetry::init(&settings.log_format);
    match cli.command {
        Command::Serve { demo } => serve(settings, demo),
        Command::Migrate => {
            let pool = one_connection(&settings)?;
            let applied = db::migrate(&mut *pool.get()?)?;
            println!(
                "{applied} migration(s) applied to the {} database",
                pool_kind(&settings)
            );
            Ok(())
        }
        Command::Admin(AdminCommand::Create {
            email,
            name,
            password_stdin,
        }) => admin_create(&settings, &email, &name, password_stdin),
        Command::Keys(KeysCommand::Rotate) => {
            KeyRing::load_or_create(&settings.identity.keys_dir, &settings.public_url)?;
            let kid = tokens::generate_key(&settings.identity.keys_dir)?;
            println!("new signing key {kid}; restart every instance to sign with it");
            Ok(())
        }
        Command::Courses(CoursesCommand::Check { dir, strict }) => {
            let dir = dir.unwrap_or_else(|| settings.courses_dir.clone());
            match catalog::load_dir(&dir) {
                Ok(courses) => {
                    let warnings: Vec<_> = courses.iter().flat_map(|c| &c.warnings).collect();
                    for w in &warnings {
                        eprintln!("{w}");
                    }
                    if strict && !warnings.is_empty() {
                        eprintln!("{} avertissement(s), refusés avec --strict", warnings.len());
                        std::process::exit(1);
                    }
                    for c in &courses {
                        let course = &c.course;
                        println!(
                            "{}: ok ({} {}, {} leçons, {} questions, {} quiz, {})",
                            course.slug,
                            course.kind.code(),
                            course.version_label,
                            course.lessons.len(),
                            course.bank.question_count(),
                            course.quizzes.len(),
                            &c.content_hash[..12]
                        );
                    }
                    Ok(())
                }
                Err(problems) => {
                    for p in &problems {
                        eprintln!("{p}");
                    }
                    eprintln!("{} problème(s)", problems.len());
                    std::process::exit(1);
                }
            }
        }
        Command::Courses(CoursesCommand::Import { dir }) => {
            let dir = dir.unwrap_or_else(|| settings.courses_dir.clone());
            let pool = one_connection(&settings)?;
            db::migrate(&mut *pool.get()?)?;
            for (slug, outcome) in catalog::import_dir(&pool, &dir)? {
                println!("{slug}: {outcome:?}");
            }
            Ok(())
        }
        Command::Purge => {
            let pool = one_connection(&settings)?;
            let mut conn = pool.get()?;
            db::migrate(&mut conn)?;
            let years = i64::from(settings.identity.retention_years);
            let before = chrono::Utc::now().naive_utc() - chrono::Duration::days(365 * years);
            let purged = conn.write(|c| {
                // Their certificates' status bits stay set: purged is not un-revoked.
                let now = chrono::Utc::now().naive_utc();
                certificates::store::bury_certificates_of_purged(c, before, now)?;
                store::purge_erased(c, before)
            })?;
            println!("{purged} erased account(s) older than {years} years purged");
            Ok(())
        }
        Command::Mail(MailCommand::Test { to }) => {
            let pool = one_connection(&settings)?;
            db::migrate(&mut *pool.get()?)?;
            let templates = Templates::load(settings.templates_dir.as_deref())?;
            let sender = mail::Sender::new(
                &settings.mail,
                &settings.public_url,
                std::sync::Arc::new(templates),
            )?;
            let id = mail::queue_test_message(&mut *pool.get()?, &to)?;
            let report = sender.deliver_due(&mut *pool.get()?)?;
            println!(
                "queued {id}; delivered {}, retry later {}, failed {}",
                report.sent, report.retry, report.failed
            );
            Ok(())
        }
    }
}

fn admin_create(
    settings: &Settings,
    email: &str,
    name: &str,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("--email: {e}"))?;
    let name = FullName::parse(name).map_err(|e| anyhow::anyhow!("--name: {e}"))?;
    let (password, generated) = if password_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        (line.trim_end_matches(['\r', '\n']).to_owned(), false)
    } else {
        (tokens::random_token(), true)
    };
    let password = Password::parse(&password).map_err(|e| anyhow::anyhow!("password: {e}"))?;
    let pool = one_connection(settings)?;
    let mut conn = pool.get()?;
    db::migrate(&mut conn)?;
    let id = service::create_platform_admin(&mut conn, &email, &name, &password)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "platform administrator {} created (id {id})",
        email.as_str()
    );
    if generated {
        println!("password (shown only now): {}", password.expose());
    }
    Ok(())
}

/// The database for a command that runs and exits: a pool of one connection. r2d2 opens
/// the rest of a pool in background threads, and a process that exits while one of them is
/// inside libpq can abort in its Kerberos library (`k5_mutex_lock` assertion: diesel#3226,
/// rust-lang/rust#75527), as the CLI's test once did on PostgreSQL.
fn one_connection(settings: &Settings) -> anyhow::Result<db::Pool> {
    let mut database = settings.database.clone();
    database.pool_size = 1;
    db::connect(&database)
}

fn pool_kind(settings: &Settings) -> &'static str {
    settings.database.kind().name()
}

#[actix_web::main]
async fn serve(settings: Settings, demo: bool) -> anyhow::Result<()> {
    let app = Application::build(settings.clone()).await?;
    let url = settings.public_url.clone();
    if demo {
        let pool = db::connect(&settings.database)?;
        let password = qvt_campus::demo::new_password();
        let chosen = password.clone();
        let seeded =
            tokio::task::spawn_blocking(move || qvt_campus::demo::seed(&pool, &settings, &chosen))
                .await??;
        if seeded {
            println!("Démo créée — comptes (mot de passe, propre à cette démo : {password}) :");
        } else {
            println!(
                "Démo déjà en place — comptes (mot de passe affiché lors de sa création ; \
                 ou « Mot de passe oublié ») :"
            );
        }
        for (role, email) in qvt_campus::demo::ACCOUNTS {
            println!("  {email:<36} {role}");
        }
        for (session, key) in qvt_campus::demo::KEYS {
            println!("Clé d'inscription de « {session} » : {key}");
        }
        println!("Ouvrez {url}/ et connectez-vous avec l'un de ces comptes.");
    }
    tracing::info!(port = app.port(), url = %url, "qvt-campus is listening");
    app.run_until_stopped().await?;
    tracing::info!("qvt-campus stopped");
    Ok(())
}
