//! Where rendered messages go: `.eml` files (default), an SMTP server, or the log.

use lettre::{FileTransport, Message, SmtpTransport, Transport as _};

use crate::config::{MailSettings, MailTransportKind};

pub enum Transport {
    File(FileTransport),
    Smtp(SmtpTransport),
    Log,
}

/// Why a send failed, and whether trying again could help.
pub struct SendError {
    pub permanent: bool,
    pub message: String,
}

impl Transport {
    pub fn from_settings(settings: &MailSettings) -> anyhow::Result<Self> {
        Ok(match &settings.transport {
            MailTransportKind::File => {
                // The messages hold live one-time links: the folder is the owner's alone.
                crate::private::dir(&settings.outbox_dir)?;
                Transport::File(FileTransport::new(&settings.outbox_dir))
            }
            MailTransportKind::Smtp { url } => Transport::Smtp(
                SmtpTransport::from_url(url.expose())
                    // The URL holds the password: never echo it back in the error.
                    .map_err(|_| {
                        anyhow::anyhow!("SMTP_URL is not a valid smtp:// or smtps:// URL")
                    })?
                    .timeout(Some(std::time::Duration::from_secs(20)))
                    .build(),
            ),
            MailTransportKind::Log => Transport::Log,
        })
    }

    pub fn send(&self, message: &Message) -> Result<(), SendError> {
        match self {
            Transport::File(t) => t.send(message).map(drop).map_err(|e| SendError {
                permanent: false,
                message: format!("file transport: {e}"),
            }),
            Transport::Smtp(t) => t.send(message).map(drop).map_err(|e| SendError {
                permanent: e.is_permanent(),
                message: format!("smtp: {e}"),
            }),
            Transport::Log => {
                // Bodies may hold one-time links: only the envelope is logged.
                let to: Vec<String> = message
                    .envelope()
                    .to()
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                tracing::info!(to = ?to, "mail (log transport, not delivered)");
                Ok(())
            }
        }
    }
}
