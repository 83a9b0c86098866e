//! The wire contract: every request and response body of the HTTP API, the problem body and the
//! enum of problem codes, written once.
//!
//! Servers return these types, the client SDK and the tests deserialize them, and the OpenAPI
//! document ([`openapi`], served at `GET /openapi.json` and committed as `docs/openapi.json`) is
//! generated from them, so renaming a field fails to compile instead of breaking a client in the
//! field. This module needs none of the server's backends: the client links it with the crate's
//! `server` feature off.
//!
//! # Layout
//!
//! - [`problem`]: [`ProblemDetails`] (RFC 9457) and [`ProblemCode`].
//! - [`billing`]: the Stripe webhook's answer, Checkout and the Billing Portal.
//! - [`seats`]: acquire, heartbeat and the license summary a grant carries.
//! - [`accounts`]: registration, `me`, and the tenant, member and license views.
//! - [`tenants`]: members, invitations, sessions and the audit trail of one tenant.
//! - [`identity`]: `GET /api/v1/auth/config`, how a client signs in to this deployment.
//! - [`service`]: health and readiness bodies.
//! - [`openapi`] (server only): the OpenAPI 3.1 document.

pub mod accounts;
pub mod billing;
pub mod identity;
#[cfg(feature = "server")]
pub mod openapi;
pub mod problem;
pub mod seats;
pub mod service;
pub mod tenants;

pub use accounts::{
    LicenseStatus, LicenseView, MeResponse, MemberView, RegisterRequest, RegisterResponse, Role,
    TenantView, Tier,
};
pub use billing::{BillingSessionResponse, CheckoutRequest, WebhookOutcome, WebhookResponse};
pub use identity::{AuthConfigResponse, SignInProvider};
pub use problem::{ProblemCode, ProblemDetails, SeatHolder};
pub use seats::{AcquireRequest, AcquireResponse, HeartbeatResponse, LicenseSummary};
pub use service::{HealthResponse, HealthStatus};
pub use tenants::{
    AuditEventView, AuditQuery, AuditResponse, InvitationRequest, InvitationResponse,
    InvitationView, InvitationsResponse, LicenseResponse, MemberResponse, MembersResponse,
    RoleChange, SessionView, SessionsResponse,
};
