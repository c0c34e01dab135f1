//! A deadline for reading a request's body. actix bounds the time to receive the head but
//! not the body: a client sending a byte now and then holds a connection (and a file
//! descriptor) as long as it likes, and thousands of them starve the instance. The body
//! must arrive within the deadline (`QVT_BODY_DEADLINE_SECONDS`, a [`BodyDeadline`] in
//! the app's data) of the request's start, or its read fails (a 4xx problem) and the
//! connection is freed.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::HttpMessage;
use futures_util::Stream;

/// How long a request's body may take to arrive.
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline(pub Duration);

struct Deadline<S> {
    inner: S,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl<S> Stream for Deadline<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "corps de requête reçu trop lentement",
            )))));
        }
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

/// The middleware: the request's body stream, read through the deadline.
pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // Most requests (page views, downloads) have no body: no timer for them.
    let bodiless = matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    );
    if bodiless {
        return next.call(req).await;
    }
    let Some(deadline) = req
        .app_data::<actix_web::web::Data<BodyDeadline>>()
        .map(|d| d.0)
    else {
        return next.call(req).await;
    };
    let payload = req.take_payload();
    let limited = Deadline {
        inner: payload,
        sleep: Box::pin(tokio::time::sleep(deadline)),
    };
    req.set_payload(Payload::Stream {
        payload: Box::pin(limited),
    });
    next.call(req).await
}
