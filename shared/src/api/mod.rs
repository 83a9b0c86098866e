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
//! - [`usage`]: the usage report of one tenant's license.
//! - [`identity`]: `GET /api/v1/auth/config`, how a client signs in to this deployment.
//! - [`service`]: health and readiness bodies.
//! - [`whole`]: whole numbers in request bodies, `5.0` included.
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
pub mod usage;
pub mod whole;

pub use accounts::{
    LicenseStatus, LicenseView, MAX_BORROW_SECONDS, MeResponse, MemberView, RegisterRequest,
    RegisterResponse, Role, SeatPolicy, TenantView, Tier, duration_words,
};
pub use billing::{BillingSessionResponse, CheckoutRequest, WebhookOutcome, WebhookResponse};
pub use identity::{AuthConfigResponse, SignInProvider};
pub use problem::{ProblemCode, ProblemDetails, SeatHolder};
pub use seats::{
    AcquireRequest, AcquireResponse, HeartbeatResponse, LeaveRequest, LeaveResponse,
    LicenseSummary, MAX_WAIT_SECONDS, QueuedResponse,
};
pub use service::{HealthResponse, HealthStatus};
pub use tenants::{
    AuditEventView, AuditQuery, AuditResponse, InvitationRequest, InvitationResponse,
    InvitationView, InvitationsResponse, LicenseResponse, MemberResponse, MembersResponse,
    QueueEntryView, RoleChange, SessionView, SessionsResponse,
};
pub use usage::{
    DenialCover, PeriodError, UsageBucket, UsageBucketSize, UsageFigures, UsagePeriod, UsageQuery,
    UsageResponse, UsageTime,
};
