//! Accepting and timing connections, so idle or slow clients cannot use up the process.
//!
//! Three limits, each configuration ([`ConnectionLimits`]):
//!
//! - **header read timeout**: a new connection must deliver its first request's headers within it
//!   of being accepted, and a kept-alive one a later request's headers within it of their first
//!   byte (slowloris);
//! - **keep-alive timeout**: a connection with no request in flight is closed after that long
//!   without a new request's first byte;
//! - **connection cap**: at most that many connections are served at once (clamped below the file
//!   descriptor limit, which [`raise_fd_limit`] raises to the hard limit at start-up); the next
//!   one waits in the listen backlog until a connection closes, so the process never runs out of
//!   descriptors for its database, Redis and log files.
//!
//! hyper's own `header_read_timeout` counts from the moment it starts waiting for a request, so it
//! would also close every kept-alive connection idle for that long; the two timeouts are kept apart
//! here instead ([`super::timeouts`]), by watching each connection's reads and requests.
//! Accept errors (`EMFILE` when descriptors run out anyway) back off and are logged once per
//! [`LOG_EVERY`] with how many there were, never once per attempt.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio::time::Instant;
use tower::ServiceExt;

use super::timeouts::{Activity, Watched};
use crate::config::Config;

/// Descriptors kept back from the connection cap for everything else the process opens.
pub const RESERVED_FDS: u64 = 64;

/// How often a repeated accept error or a full connection cap is logged at most.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// How long each connection may take, and how many there may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Headers of a request must arrive within this (`HEADER_READ_TIMEOUT_SECONDS`).
    pub header_read_timeout: Duration,
    /// An idle kept-alive connection closes after this (`KEEP_ALIVE_TIMEOUT_SECONDS`).
    pub keep_alive_timeout: Duration,
    /// Connections served at once (`MAX_CONNECTIONS`), before clamping to the descriptor limit.
    pub max_connections: usize,
}

impl ConnectionLimits {
    /// The limits `config` names.
    pub fn from_config(config: &Config) -> Self {
        Self {
            header_read_timeout: config.header_read_timeout,
            keep_alive_timeout: config.keep_alive_timeout,
            max_connections: config.max_connections,
        }
    }

    /// The cap actually applied: `max_connections`, but below the descriptor soft limit
    /// `fd_limit` by [`RESERVED_FDS`] (and never 0).
    pub fn effective_cap(&self, fd_limit: Option<u64>) -> usize {
        let room = fd_limit.map_or(u64::MAX, |limit| limit.saturating_sub(RESERVED_FDS));
        let room = usize::try_from(room).unwrap_or(usize::MAX).max(1);
        self.max_connections.clamp(1, room)
    }
}

impl Default for ConnectionLimits {
    /// The configuration defaults (10 s, 75 s, 10 000).
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(75),
            max_connections: 10_000,
        }
    }
}

/// Raises the soft limit of open file descriptors to the hard limit, where the platform allows;
/// the soft limit in force afterwards (`None` where there is no such limit).
pub fn raise_fd_limit() -> Option<u64> {
    if !rlimit::Resource::NOFILE.is_supported() {
        return None;
    }
    let before = rlimit::getrlimit(rlimit::Resource::NOFILE)
        .ok()
        .map(|(soft, _)| soft);
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(now) => {
            if before.is_some_and(|before| before < now) {
                tracing::info!(from = before, to = now, "raised the open-file limit");
            }
            Some(now)
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not raise the open-file limit");
            before
        }
    }
}

/// The descriptor soft limit in force, if any.
pub fn fd_limit() -> Option<u64> {
    rlimit::Resource::NOFILE
        .is_supported()
        .then(|| rlimit::getrlimit(rlimit::Resource::NOFILE).ok())
        .flatten()
        .map(|(soft, _)| soft)
}

/// Serves one accepted connection until it ends, times out, or `closing` turns true; holds its
/// `permit` of the connection cap until then.
pub(crate) async fn serve_connection(
    stream: TcpStream,
    remote: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    mut closing: watch::Receiver<bool>,
    permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new(limits));
    let io = TokioIo::new(Watched {
        stream,
        activity: activity.clone(),
    });
    let requests = activity.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        requests.request_started();
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(remote));
        let answered = app.clone().oneshot(request);
        let requests = requests.clone();
        async move {
            let response = answered.await;
            requests.request_finished();
            Ok::<_, Infallible>(match response {
                Ok(response) => response,
                Err(never) => match never {},
            })
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The timeouts are this module's (see the module doc), not hyper's.
    builder.header_read_timeout(None);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    tokio::select! {
        served = connection.as_mut() => {
            if let Err(e) = served {
                tracing::debug!(%remote, error = %e, "connection ended with an error");
            }
            drop(permit);
            return;
        }
        () = activity.expired() => {
            // No request has been in flight for the whole timeout, so nothing is lost by closing
            // at once. (hyper's graceful shutdown would wait for a half-sent head to complete.)
            tracing::debug!(%remote, "closing a connection idle or slow past its timeout");
        }
        () = until_true(&mut closing) => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
    drop(permit);
}

/// Resolves once `flag` holds `true` (never, if its sender is gone without setting it).
async fn until_true(flag: &mut watch::Receiver<bool>) {
    while !*flag.borrow_and_update() {
        if flag.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Accept errors, backed off and logged at most once per [`LOG_EVERY`].
pub(crate) struct AcceptErrors {
    delay: Duration,
    last_logged: Option<Instant>,
    unlogged: u64,
}

impl AcceptErrors {
    const FIRST_DELAY: Duration = Duration::from_millis(10);
    const MAX_DELAY: Duration = Duration::from_secs(1);

    pub(crate) fn new() -> Self {
        Self {
            delay: Self::FIRST_DELAY,
            last_logged: None,
            unlogged: 0,
        }
    }

    /// Records an accept error; how long to wait before accepting again (zero for errors of one
    /// connection only, which say nothing about the next).
    pub(crate) fn failed(&mut self, error: &io::Error) -> Duration {
        if matches!(
            error.kind(),
            io::ErrorKind::ConnectionAborted
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionRefused
        ) {
            return Duration::ZERO;
        }
        self.unlogged += 1;
        if self.last_logged.is_none_or(|at| at.elapsed() >= LOG_EVERY) {
            tracing::warn!(
                error = %error,
                errors = self.unlogged,
                "cannot accept connections; backing off (logged at most every 10 s)"
            );
            self.last_logged = Some(Instant::now());
            self.unlogged = 0;
        }
        let delay = self.delay;
        self.delay = (self.delay * 2).min(Self::MAX_DELAY);
        delay
    }

    /// Records a successful accept.
    pub(crate) fn accepted(&mut self) {
        self.delay = Self::FIRST_DELAY;
    }
}

/// A "connection cap reached" warning at most once per [`LOG_EVERY`].
pub(crate) struct CapWarning(Option<Instant>);

impl CapWarning {
    pub(crate) fn new() -> Self {
        Self(None)
    }

    pub(crate) fn reached(&mut self, cap: usize) {
        if self.0.is_none_or(|at| at.elapsed() >= LOG_EVERY) {
            tracing::warn!(
                cap,
                "connection cap reached; new connections wait in the listen backlog \
                 (logged at most every 10 s)"
            );
            self.0 = Some(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_stays_below_the_descriptor_limit() {
        let limits = ConnectionLimits::default();

        assert_eq!(limits.effective_cap(None), 10_000);
        assert_eq!(limits.effective_cap(Some(1_048_576)), 10_000);
        assert_eq!(limits.effective_cap(Some(1024)), 1024 - 64);
        assert_eq!(limits.effective_cap(Some(10)), 1, "never zero");
    }

    #[test]
    fn accept_errors_back_off_up_to_a_second_and_connection_errors_do_not() {
        let mut errors = AcceptErrors::new();
        let emfile = io::Error::other("Too many open files");
        let reset = io::Error::from(io::ErrorKind::ConnectionAborted);

        let delays: Vec<Duration> = (0..10).map(|_| errors.failed(&emfile)).collect();
        let after_reset = errors.failed(&reset);
        errors.accepted();

        assert_eq!(delays[0], Duration::from_millis(10));
        assert_eq!(delays[1], Duration::from_millis(20));
        assert_eq!(delays[9], Duration::from_secs(1));
        assert_eq!(after_reset, Duration::ZERO);
        assert_eq!(errors.failed(&emfile), Duration::from_millis(10));
        assert_eq!(errors.unlogged, 10, "logged once, the others counted");
    }
}
