//! Client SDK of the CODITECT floating-license service, and the `coditect-license` CLI built on it
//! (`src/bin/coditect-license/`).
//!
//! A program holds a seat with [`Seat::acquire`]: the guard heartbeats in the background at the
//! interval the server gives, re-acquires when the service lost the seat, refreshes its lease
//! before the lease's offline grace runs short, rides out an unreachable service until the last
//! verified lease's `exp`, obeys a refusal at once, and releases on [`Seat::release`] or drop.
//! What happens is told through [`Seat::events`] and [`Seat::status`].
//!
//! # Layout
//!
//! - [`http`]: [`LicenseClient`], the HTTP API in the wire types of `shared::api`, and
//!   [`ClientError`].
//! - [`seat`]: [`Seat`], the seat lifecycle; [`grace`]: the offline-grace rules it follows.
//! - [`backoff`]: exponential backoff with jitter that honours `Retry-After`.
//! - [`keys`]: lease keys pinned from the JWKS and cached on disk, refreshed on an unknown `kid`.
//! - [`clock`]: the wall clock and the latest trusted time, so a clock set back extends nothing.
//! - [`state`]: this machine's seat file (`seat.json`) and the processes sharing its seat.
//! - [`fingerprint`]: the machine's fingerprint (`v1:` + salted SHA-256 of the OS machine id) and
//!   hostname.
//! - [`home`]: the client's files: one directory per user, one per deployment inside it.
//! - [`signin`]: the stored Identity Platform sign-in and the ways to get one.
//! - [`token`]: [`IdTokens`], where acquire's ID token comes from.

pub mod backoff;
pub mod clock;
pub mod fingerprint;
pub mod grace;
pub mod home;
pub mod http;
pub mod keys;
pub mod seat;
pub mod signin;
pub mod state;
pub mod token;

pub use home::{Home, HomeError, ServerDir};
pub use http::{AcquireAnswer, ClientError, LicenseClient};
pub use seat::{LostReason, Seat, SeatEvent, SeatOptions, SeatStatus};
pub use shared::api::{
    AcquireRequest, AcquireResponse, HeartbeatResponse, LicenseSummary, ProblemCode,
    ProblemDetails, QueuedResponse, SeatHolder,
};
pub use shared::leases::LeaseClaims;
pub use shared::leases::verifying::{LeaseError, LeaseVerifier};
pub use token::{FixedIdToken, IdTokens};
