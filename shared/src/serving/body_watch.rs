//! Whose fault a timed-out request is: the request body is wrapped so the observer can tell a
//! handler waiting for the client's bytes (a body that never completes: a Content-Length larger
//! than what is sent, a chunked body that stalls) from one waiting for a backend.
//!
//! [`WatchedBody`] marks its [`BodyWait`] while a read of it is pending and clears the mark when
//! a frame (or the end, or an error) arrives. Handlers read the whole body before they call any
//! backend (the JSON extractor runs first), so a request that times out while the mark is set was
//! waiting for its client: it answers 408 `body_timeout` and is logged as the client's fault, not
//! as a failure of ours.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use hyper::body::{Body as HttpBody, Frame, SizeHint};

/// Shared between the body and the observer: whether a read of the body is waiting for the client.
#[derive(Debug, Clone, Default)]
pub(super) struct BodyWait(Arc<AtomicBool>);

impl BodyWait {
    /// Whether the handler is, right now, waiting for bytes the client has not sent.
    pub(super) fn waiting_for_client(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// `body`, reporting its waits to this mark.
    pub(super) fn watch(&self, body: Body) -> Body {
        Body::new(WatchedBody {
            inner: body,
            wait: self.clone(),
        })
    }
}

/// A request body that reports when a read of it waits for the client.
struct WatchedBody {
    inner: Body,
    wait: BodyWait,
}

impl HttpBody for WatchedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        self.wait.0.store(polled.is_pending(), Ordering::Release);
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::time::Duration;

    use tokio::sync::oneshot;

    use super::*;

    /// A body whose one chunk arrives when the test sends it, as a slow client's would.
    struct Slow(Option<oneshot::Receiver<Bytes>>);

    impl HttpBody for Slow {
        type Data = Bytes;
        type Error = axum::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
            let Some(receiver) = self.0.as_mut() else {
                return Poll::Ready(None);
            };
            match Pin::new(receiver).poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(chunk) => {
                    self.0 = None;
                    Poll::Ready(chunk.ok().map(|bytes| Ok(Frame::data(bytes))))
                }
            }
        }
    }

    #[tokio::test]
    async fn a_read_waiting_for_the_client_is_marked_and_a_finished_one_is_not() {
        let (send, receive) = oneshot::channel();
        let wait = BodyWait::default();
        let body = wait.watch(Body::new(Slow(Some(receive))));
        assert!(!wait.waiting_for_client(), "nothing read yet");

        let reading = tokio::spawn(axum::body::to_bytes(body, 1024));
        tokio::time::timeout(Duration::from_secs(10), async {
            while !wait.waiting_for_client() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the pending read is marked");

        send.send(Bytes::from_static(b"{}"))
            .expect("the reader waits");
        let read = reading.await.expect("joins").expect("reads");
        assert_eq!(read, Bytes::from_static(b"{}"));
        assert!(!wait.waiting_for_client(), "the body ended");
    }
}
