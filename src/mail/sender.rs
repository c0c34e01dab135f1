//! Delivery of due outbox messages: claim, render, send, record. Blocking; the worker
//! runs it off the async executor.

use std::sync::Arc;

use anyhow::Context;
use lettre::message::{Mailbox, MultiPart};
use lettre::Message;

use super::outbox::{self, OutboxRow};
use super::transport::Transport;
use crate::config::MailSettings;
use crate::db::DbConn;
use crate::templates::Templates;

/// Messages claimed at a time: one. A claimed message is sent and recorded before the next
/// is claimed, so a crash leaves at most one message sent but not recorded (sent again,
/// with the same Message-ID, once its lease runs out) and holds back no other.
const BATCH: i64 = 1;

pub struct Sender {
    transport: Transport,
    templates: Arc<Templates>,
    from: Mailbox,
    public_url: String,
    settings: MailSettings,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    pub retry: usize,
    pub failed: usize,
}

impl Sender {
    pub fn new(
        settings: &MailSettings,
        public_url: &str,
        templates: Arc<Templates>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            transport: Transport::from_settings(settings)?,
            templates,
            from: settings
                .from
                .parse()
                .with_context(|| format!("QVT_MAIL_FROM is not a mailbox: {:?}", settings.from))?,
            public_url: public_url.to_owned(),
            settings: settings.clone(),
        })
    }

    /// Sends every message due now, batch after batch, until none is left.
    pub fn deliver_due(&self, conn: &mut DbConn) -> anyhow::Result<DeliveryReport> {
        let mut report = DeliveryReport::default();
        loop {
            let batch = outbox::claim_due(conn, outbox::now(), BATCH, self.settings.lease)?;
            if batch.is_empty() {
                return Ok(report);
            }
            for row in &batch {
                self.deliver(conn, row, &mut report)?;
            }
        }
    }

    fn deliver(
        &self,
        conn: &mut DbConn,
        row: &OutboxRow,
        report: &mut DeliveryReport,
    ) -> anyhow::Result<()> {
        let outcome = match self.render(row) {
            Err(e) => Err((true, format!("{e:#}"))),
            Ok(message) => self
                .transport
                .send(&message)
                .map_err(|e| (e.permanent, e.message)),
        };
        match outcome {
            Ok(()) => {
                // The server has the message: record it, retrying the write rather than
                // ever letting the row become due again.
                let mut tries = 0;
                loop {
                    match outbox::mark_sent(conn, row) {
                        Ok(true) => break,
                        Ok(false) => {
                            tracing::warn!(mail_id = %row.id, "mail sent after its lease ran out: another instance had claimed it again");
                            break;
                        }
                        Err(e) => {
                            tries += 1;
                            if tries >= 5 {
                                return Err(e).context("message sent but not recorded as sent");
                            }
                            std::thread::sleep(std::time::Duration::from_millis(200 * tries));
                        }
                    }
                }
                report.sent += 1;
                tracing::info!(mail_id = %row.id, template = %row.template, "mail sent");
            }
            Err((permanent, error)) => {
                let retry_at =
                    (!permanent && row.attempts < self.settings.max_attempts).then(|| {
                        outbox::now()
                            + chrono::Duration::from_std(outbox::backoff(
                                row.attempts,
                                self.settings.retry_base,
                            ))
                            .unwrap_or(chrono::Duration::hours(6))
                    });
                if !outbox::mark_failed(conn, row, &error, retry_at)? {
                    tracing::warn!(mail_id = %row.id, %error, "mail not sent, and its lease ran out: another instance had claimed it again");
                } else if retry_at.is_some() {
                    report.retry += 1;
                    tracing::warn!(mail_id = %row.id, attempts = row.attempts, %error, "mail not sent, will retry");
                } else {
                    report.failed += 1;
                    tracing::error!(mail_id = %row.id, attempts = row.attempts, %error, "mail given up");
                }
            }
        }
        Ok(())
    }

    fn render(&self, row: &OutboxRow) -> anyhow::Result<Message> {
        let mut context: serde_json::Value =
            serde_json::from_str(&row.context).context("stored context is not JSON")?;
        if let Some(map) = context.as_object_mut() {
            map.entry("recipient")
                .or_insert_with(|| row.recipient.clone().into());
            map.entry("public_url")
                .or_insert_with(|| self.public_url.clone().into());
        }
        let name = |part: &str| format!("email/{}/{part}", row.template);
        let subject = self.templates.render(&name("subject"), &context)?;
        let text = self.templates.render(&name("text"), &context)?;
        let html = self.templates.render(&name("html"), &context)?;
        // A stable Message-ID lets receivers recognise a re-send after a crash.
        let domain = self.from.email.domain().to_owned();
        Message::builder()
            .from(self.from.clone())
            .to(row
                .recipient
                .parse()
                .context("stored recipient is not an address")?)
            .subject(subject.trim())
            .message_id(Some(format!("<{}@{domain}>", row.id)))
            .multipart(MultiPart::alternative_plain_html(text, html))
            .context("cannot build the message")
    }
}
