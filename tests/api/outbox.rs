//! The mail outbox: real SMTP delivery, retries, crashes, concurrent workers.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use mail_parser::MessageParser;
use qvt_campus::db::DbConn;
use qvt_campus::mail::{
    self, claim_due, enqueue, find, mark_failed, mark_sent, NewMail, Sender, Status,
};
use qvt_campus::templates::Templates;
use serde_json::json;

use crate::helpers::{
    eventually, free_port, smtp_transport, spawn_app, spawn_app_on, spawn_app_with, test_settings,
    SmtpSink, TestDb,
};

fn queue(conn: &mut DbConn, to: &str, template: &str) -> String {
    let mail = NewMail::new(to, template, json!({})).unwrap();
    conn.write(|c| enqueue(c, &mail)).unwrap()
}

fn status_of(conn: &mut DbConn, id: &str) -> mail::OutboxRow {
    find(conn, id).unwrap()
}

#[tokio::test]
async fn a_message_goes_through_a_real_smtp_conversation_once() {
    // Arrange
    let port = free_port();
    let sink = SmtpSink::start(port);
    let app = spawn_app_with(|s| s.mail.transport = smtp_transport(port)).await;

    // Act
    let id = queue(&mut app.conn(), "soignante@chu-exemple.fr", "essai");

    // Assert: received, with headers and both bodies, accents intact.
    eventually(Duration::from_secs(10), || {
        (sink.messages().len() == 1).then_some(())
    })
    .await;
    let raw = sink.messages().remove(0);
    let message = MessageParser::new()
        .parse(&raw)
        .expect("a parsable message");
    assert_eq!(
        message.subject(),
        Some("QVT Campus : vérification de la messagerie (message d'essai)")
    );
    assert_eq!(
        message.from().unwrap().first().unwrap().address(),
        Some("ne-pas-repondre@qvt-campus.localhost")
    );
    assert_eq!(
        message.to().unwrap().first().unwrap().address(),
        Some("soignante@chu-exemple.fr")
    );
    assert_eq!(
        message.message_id(),
        Some(format!("{id}@qvt-campus.localhost").as_str())
    );
    let text = message.body_text(0).unwrap();
    assert!(
        text.contains("Ce message d'essai a été envoyé par QVT Campus à soignante@chu-exemple.fr"),
        "{text}"
    );
    assert!(text.contains("« Prendre soin de ceux qui nous soignent »"));
    let html = message.body_html(0).unwrap();
    assert!(
        html.contains("<strong>soignante@chu-exemple.fr</strong>"),
        "{html}"
    );
    assert!(html.contains("L'équipe QVT Campus"));

    let row = eventually(Duration::from_secs(5), || {
        let row = status_of(&mut app.conn(), &id);
        (row.status == Status::Sent).then_some(row)
    })
    .await;
    assert_eq!(row.attempts, 1);
    assert!(row.sent_at.is_some() && row.last_error.is_none());

    // An acknowledged message is never sent again, whoever runs the outbox next.
    let templates = Arc::new(Templates::load(None).unwrap());
    let sender = Sender::new(&app.settings.mail, &app.settings.public_url, templates).unwrap();
    assert_eq!(sender.deliver_due(&mut app.conn()).unwrap().sent, 0);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn when_smtp_is_down_the_message_waits_and_is_sent_later() {
    // Arrange: nothing listens on the SMTP port yet.
    let port = free_port();
    let app = spawn_app_with(|s| s.mail.transport = smtp_transport(port)).await;

    // Act
    let id = queue(&mut app.conn(), "interne@faculte-exemple.fr", "essai");

    // Assert: the failure is recorded and a retry scheduled.
    let row = eventually(Duration::from_secs(10), || {
        let row = status_of(&mut app.conn(), &id);
        (row.attempts >= 1 && row.status == Status::Pending).then_some(row)
    })
    .await;
    assert!(
        row.last_error.as_deref().unwrap().contains("smtp"),
        "{:?}",
        row.last_error
    );
    assert!(row.next_attempt_at > row.created_at);

    // The server comes back: the same message is delivered, once.
    let sink = SmtpSink::start(port);
    let row = eventually(Duration::from_secs(20), || {
        let row = status_of(&mut app.conn(), &id);
        (row.status == Status::Sent).then_some(row)
    })
    .await;
    assert!(row.attempts >= 2);
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn a_crash_between_queueing_and_sending_loses_nothing() {
    // Arrange: an instance that queues mail but dies before its worker runs.
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let db = Arc::new(TestDb::fresh(dir.path()));
    let mut settings = test_settings(dir.path(), &db);
    settings.mail.worker = false;
    let first = spawn_app_on(settings.clone(), db.clone(), dir.clone()).await;
    let queued = queue(&mut first.conn(), "etudiant@ifsi-exemple.fr", "essai");
    // …and one that had claimed a message when it died (its lease runs out at once).
    let claimed = queue(&mut first.conn(), "tuteur@ifsi-exemple.fr", "essai");
    let taken = claim_due(&mut first.conn(), mail::outbox_now(), 10, Duration::ZERO).unwrap();
    assert_eq!(taken.len(), 2);
    diesel::update(qvt_campus::db::schema::mail_outbox::table.find(&queued))
        .set(qvt_campus::db::schema::mail_outbox::status.eq("pending"))
        .execute(&mut first.conn())
        .unwrap();
    first.handle.stop(false).await;

    // Act: a new instance starts on the same database.
    settings.mail.worker = true;
    let second = spawn_app_on(settings, db, dir).await;

    // Assert: both are delivered, as files in the outbox folder.
    for id in [&queued, &claimed] {
        eventually(Duration::from_secs(10), || {
            (status_of(&mut second.conn(), id).status == Status::Sent).then_some(())
        })
        .await;
    }
    let files: Vec<String> = std::fs::read_dir(&second.settings.mail.outbox_dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(files.len(), 2);
    assert!(files
        .iter()
        .any(|f| f.contains(&format!("<{claimed}@qvt-campus.localhost>"))));
}

#[tokio::test]
async fn a_sender_whose_lease_ran_out_cannot_undo_the_instance_that_took_over() {
    // Arrange: instance A claimed a message and hung (a slow SMTP server) past its lease;
    // instance B claimed it again.
    let app = spawn_app_with(|s| s.mail.worker = false).await;
    let id = queue(&mut app.conn(), "infirmier@chu-exemple.fr", "essai");
    let at = mail::outbox_now();
    let by_a = claim_due(&mut app.conn(), at, 10, Duration::from_secs(1)).unwrap();
    let later = at + chrono::Duration::seconds(2);
    let by_b = claim_due(&mut app.conn(), later, 10, Duration::from_secs(60)).unwrap();
    assert_eq!(
        (by_a.len(), by_b.len()),
        (1, 1),
        "the lapsed lease is taken over"
    );

    // Act: A's SMTP conversation fails at last while B is sending (it must not make the
    // message due for a third sender); B's succeeds; then A's late success arrives.
    let failed = mark_failed(&mut app.conn(), &by_a[0], "smtp: timed out", Some(later)).unwrap();
    assert!(mark_sent(&mut app.conn(), &by_b[0]).unwrap());
    let sent = mark_sent(&mut app.conn(), &by_a[0]).unwrap();

    // Assert: neither late record counts; the message stays sent, due to nobody again.
    assert!(!failed && !sent);
    let row = status_of(&mut app.conn(), &id);
    assert_eq!((row.status, row.attempts), (Status::Sent, 2));
    assert_eq!(row.last_error, None);
    let hour = later + chrono::Duration::hours(1);
    assert!(claim_due(&mut app.conn(), hour, 10, Duration::ZERO)
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_rolled_back_change_sends_no_mail() {
    let app = spawn_app_with(|s| s.mail.worker = false).await;
    let mail = NewMail::new("medecin@cabinet-exemple.fr", "essai", json!({})).unwrap();

    let result: Result<(), diesel::result::Error> = app.conn().write(|c| {
        enqueue(c, &mail)?;
        Err(diesel::result::Error::RollbackTransaction)
    });

    assert!(result.is_err());
    let count: i64 = qvt_campus::db::schema::mail_outbox::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn a_message_that_cannot_render_fails_at_once_with_its_reason() {
    let app = spawn_app().await;
    let id = queue(
        &mut app.conn(),
        "medecin@cabinet-exemple.fr",
        "modele-inexistant",
    );
    let row = eventually(Duration::from_secs(10), || {
        let row = status_of(&mut app.conn(), &id);
        (row.status == Status::Failed).then_some(row)
    })
    .await;
    assert_eq!(row.attempts, 1);
    assert!(row.last_error.unwrap().contains("modele-inexistant"));
}

#[tokio::test]
async fn concurrent_workers_claim_disjoint_messages() {
    // Arrange
    let app = spawn_app_with(|s| s.mail.worker = false).await;
    let queued: HashSet<String> = (0..40)
        .map(|i| {
            queue(
                &mut app.conn(),
                &format!("apprenant{i}@exemple.fr"),
                "essai",
            )
        })
        .collect();

    // Act: two "instances" drain the outbox at the same time.
    let claimers: Vec<_> = (0..2)
        .map(|_| {
            let pool = app.pool.clone();
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                loop {
                    let batch = claim_due(
                        &mut pool.get().unwrap(),
                        mail::outbox_now(),
                        3,
                        Duration::from_secs(60),
                    )
                    .unwrap();
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(batch.into_iter().map(|r| r.id));
                }
            })
        })
        .collect();
    let claims: Vec<Vec<String>> = claimers.into_iter().map(|t| t.join().unwrap()).collect();

    // Assert: every message claimed exactly once.
    let all: Vec<&String> = claims.iter().flatten().collect();
    assert_eq!(all.len(), 40);
    assert_eq!(all.into_iter().cloned().collect::<HashSet<_>>(), queued);
}

use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
