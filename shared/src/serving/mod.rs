//! How every service serves HTTP: one middleware stack, one JSON extractor, health and readiness,
//! and a graceful shutdown with a bounded drain.
//!
//! - [`stack`]: request id, trace, metrics, timeout, body limit, problem+json for unknown routes,
//!   wrong methods and panics; [`access_log`]: the access line at the severity of its outcome
//!   (routine successes at `debug`: [`Routine`]), repeated refusals aggregated; [`body_watch`]:
//!   a body still arriving at the timeout answers 408, the client's fault.
//! - [`json`]: the `Json` extractor whose rejections are problem+json; [`extract`]: `Path` and
//!   `Query` likewise; [`rejections`]: any other plain-text 4xx of axum's (a raw `Bytes` body over
//!   the limit) rewritten as problem+json.
//! - [`auth`]: the bearer token and the lease of a request.
//! - [`health`]: `GET /healthz` and `GET /readyz`.
//! - [`shutdown`]: serving until SIGTERM / Ctrl-C, then draining for a bounded time; on which
//!   address ([`listen_address`]).
//! - [`connections`]: accepting connections within a cap and the descriptor limit; `timeouts`:
//!   their header-read and keep-alive deadlines.

pub mod access_log;
pub mod auth;
mod body_watch;
pub mod connections;
mod extract;
mod health;
mod json;
mod rejections;
mod shutdown;
mod stack;
mod timeouts;

pub use connections::ConnectionLimits;
pub use extract::{Path, Query};
pub use health::Readiness;
pub use json::{Json, Object};
pub use shutdown::{
    listen_address, serve, serve_until_signal, serve_until_signal_keeping, serve_with,
    shutdown_signal,
};
pub use stack::{Routine, TimeLimit, service_router};
