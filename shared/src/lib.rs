//! The common core of every CODITECT licensing service.
//!
//! Each Cloud Run function (`functions/<name>`) is a thin crate that builds a router from the pieces
//! here; the client SDK links this crate without its default `server` feature and gets only the wire
//! contract and the lease verification, so the server and the CLI speak the same types and check a
//! lease with the same code.
//!
//! # Layout
//!
//! - [`api`]: the wire contract: every request, response and problem body, the problem codes, and
//!   the OpenAPI document generated from them.
//! - [`config`]: typed configuration read once from the environment.
//! - [`error`]: the one error type, rendered as RFC 9457 problem+json with a stable `code`.
//! - [`telemetry`]: JSON logs in Cloud Logging's format, request ids and trace ids; [`metrics`]:
//!   the operators' counters, as Prometheus text on a single node.
//! - [`serving`]: the middleware stack, the JSON extractor, `/healthz`, `/readyz`, graceful shutdown.
//! - [`domain`]: tenants, users, licenses, roles, invitations and audit events.
//! - [`store`]: the records (`Store` trait) on PostgreSQL and SQLite, one body of SQL for both.
//! - [`seats`]: the live seats (`SeatStore` trait) on Redis and in-process.
//! - [`leases`]: signing and verifying the lease token a client holds while it runs.
//! - [`identity`]: verifying Identity Platform ID tokens (and the emulator's) into a caller.
//! - [`billing`]: Stripe: webhook signatures, what events mean, the order-safe billing state,
//!   Checkout and the Billing Portal.
//! - [`backends`]: the one wiring: configuration into connected stores, signers and verifiers,
//!   from which every function builds its state.

pub mod api;
#[cfg(feature = "server")]
pub mod backends;
#[cfg(feature = "server")]
pub mod billing;
#[cfg(feature = "server")]
pub mod config;
#[cfg(feature = "server")]
pub mod domain;
#[cfg(feature = "server")]
pub mod error;
#[cfg(feature = "server")]
pub mod identity;
pub mod leases;
#[cfg(feature = "server")]
pub mod metrics;
#[cfg(feature = "server")]
pub mod seats;
#[cfg(feature = "server")]
pub mod serving;
#[cfg(feature = "server")]
pub mod store;
#[cfg(feature = "server")]
pub mod telemetry;
