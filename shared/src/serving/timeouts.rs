//! The two timeouts of a connection, kept apart: a header-read deadline (from the accept for a new
//! connection, from the first byte of a later request) and a keep-alive deadline (from the end of
//! the last request). [`Watched`] reports reads, the service reports requests, and
//! [`Activity::expired`] resolves when the deadline in force passes with no request in flight.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::connections::ConnectionLimits;

/// What a connection is doing, for its timeouts.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for a request's first byte: until `deadline`. `fresh` for a new connection, whose
    /// header deadline counts from the accept and does not move with its first byte.
    Waiting { deadline: Instant, fresh: bool },
    /// Some bytes of a request head are in: the rest must come by `deadline`.
    ReadingHead { deadline: Instant },
    /// Requests in flight: the request timeout bounds them, not these limits.
    Busy(usize),
}

/// One connection's phase, updated by its reads and its requests, read by its watchdog.
pub(crate) struct Activity {
    phase: Mutex<Phase>,
    /// Wakes the watchdog when a deadline may have come closer (a first byte) or gone.
    changed: Notify,
    limits: ConnectionLimits,
}

impl Activity {
    pub(crate) fn new(limits: ConnectionLimits) -> Self {
        Self {
            phase: Mutex::new(Phase::Waiting {
                deadline: Instant::now() + limits.header_read_timeout,
                fresh: true,
            }),
            changed: Notify::new(),
            limits,
        }
    }

    fn update(&self, change: impl FnOnce(Phase) -> Phase) {
        let mut phase = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        *phase = change(*phase);
        drop(phase);
        self.changed.notify_one();
    }

    pub(crate) fn bytes_read(&self) {
        let waiting = matches!(
            *self.phase.lock().unwrap_or_else(PoisonError::into_inner),
            Phase::Waiting { .. }
        );
        if waiting {
            let header = self.limits.header_read_timeout;
            self.update(|phase| match phase {
                Phase::Waiting { deadline, fresh } => Phase::ReadingHead {
                    deadline: if fresh {
                        deadline
                    } else {
                        Instant::now() + header
                    },
                },
                other => other,
            });
        }
    }

    pub(crate) fn request_started(&self) {
        self.update(|phase| match phase {
            Phase::Busy(n) => Phase::Busy(n + 1),
            _ => Phase::Busy(1),
        });
    }

    pub(crate) fn request_finished(&self) {
        let idle = self.limits.keep_alive_timeout;
        self.update(|phase| match phase {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => Phase::Waiting {
                deadline: Instant::now() + idle,
                fresh: false,
            },
        });
    }

    fn deadline(&self) -> Option<Instant> {
        match *self.phase.lock().unwrap_or_else(PoisonError::into_inner) {
            Phase::Waiting { deadline, .. } | Phase::ReadingHead { deadline } => Some(deadline),
            Phase::Busy(_) => None,
        }
    }

    /// Resolves once the connection is past its deadline with no request in flight.
    pub(crate) async fn expired(&self) {
        loop {
            match self.deadline() {
                None => self.changed.notified().await,
                Some(deadline) if deadline <= Instant::now() => return,
                Some(deadline) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline) => {}
                        () = self.changed.notified() => {}
                    }
                }
            }
        }
    }
}

/// A TCP stream that tells its [`Activity`] when bytes arrive.
pub(crate) struct Watched {
    /// The connection.
    pub(crate) stream: TcpStream,
    /// Told of every read that brings bytes.
    pub(crate) activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_first_byte_moves_a_kept_alive_connection_to_the_header_deadline() {
        let limits = ConnectionLimits {
            header_read_timeout: Duration::from_millis(200),
            keep_alive_timeout: Duration::from_secs(10),
            max_connections: 1,
        };
        let before = Instant::now();
        let activity = Activity::new(limits);
        let accepted = activity.deadline().expect("a deadline");

        // A new connection: the header deadline counts from the accept, bytes or not.
        assert!(accepted >= before + limits.header_read_timeout);
        tokio::time::sleep(Duration::from_millis(50)).await;
        activity.bytes_read();
        assert_eq!(activity.deadline(), Some(accepted));
        activity.request_started();
        assert_eq!(
            activity.deadline(),
            None,
            "no deadline while a request runs"
        );
        let answering = Instant::now();
        activity.request_finished();
        let idle = activity.deadline().expect("a deadline");
        assert!(
            idle >= answering + limits.keep_alive_timeout
                && idle <= Instant::now() + limits.keep_alive_timeout
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        let first_byte = Instant::now();
        activity.bytes_read();
        let deadline = activity.deadline().expect("a deadline");
        assert!(
            deadline >= first_byte + limits.header_read_timeout
                && deadline <= Instant::now() + limits.header_read_timeout,
            "the next request's headers must follow its first byte within the header timeout"
        );
        tokio::time::timeout(Duration::from_secs(2), activity.expired())
            .await
            .expect("expires at the header deadline, long before the keep-alive one");
        assert!(Instant::now() >= deadline);
    }
}
