//! The `qvt-campus` command: parses the command line and wires the library together.

use anyhow::Context;
use clap::{Parser, Subcommand};
use qvt_campus::config::Settings;
use qvt_campus::{db, mail, startup::Application, telemetry, templates::Templates};

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
    Serve,
    /// Apply pending database migrations to DATABASE_URL and exit.
    Migrate,
    /// Outgoing mail: check the configured transport.
    #[command(subcommand)]
    Mail(MailCommand),
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
        Command::Serve => serve(settings),
        Command::Migrate => {
            let pool = db::connect(&settings.database)?;
            let applied = db::migrate(&mut *pool.get()?)?;
            println!(
                "{applied} migration(s) applied to the {} database",
                pool_kind(&settings)
            );
            Ok(())
        }
        Command::Mail(MailCommand::Test { to }) => {
            let pool = db::connect(&settings.database)?;
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

fn pool_kind(settings: &Settings) -> &'static str {
    settings.database.kind().name()
}

#[actix_web::main]
async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    tracing::info!(port = app.port(), "qvt-campus is listening");
    app.run_until_stopped().await?;
    tracing::info!("qvt-campus stopped");
    Ok(())
}
