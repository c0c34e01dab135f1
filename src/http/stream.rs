//! Responses produced while they are sent: a blocking producer (a ZIP of PDFs, a CSV of
//! 100,000 lines) writes into a bounded channel from a blocking thread, the response body
//! reads from it. Memory stays flat, and a client that goes away stops the producer with
//! a broken pipe.

use std::io::Write;

use actix_web::web::Bytes;
use futures_util::Stream;
use tokio::sync::mpsc;

const CHUNK: usize = 64 * 1024;

pub struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buffer: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK),
        ));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// Runs `produce` on a blocking thread and streams what it writes. An error half-way is
/// logged and ends the body abruptly, so the client sees a failed download, not a
/// truncated file that looks whole.
pub fn stream_blocking(
    name: &'static str,
    produce: impl FnOnce(&mut ChannelWriter) -> anyhow::Result<()> + Send + 'static,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    let (tx, rx) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let mut out = ChannelWriter {
            tx: tx.clone(),
            buffer: Vec::with_capacity(CHUNK),
        };
        // A panic must not end the body cleanly: the client would keep a truncated file.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            produce(&mut out).and_then(|()| Ok(out.flush()?))
        }))
        .unwrap_or_else(|_| Err(anyhow::anyhow!("the producer panicked")));
        if let Err(e) = result {
            tracing::warn!(stream = name, error = %format!("{e:#}"), "streamed response interrupted");
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}
