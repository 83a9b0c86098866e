//! Every operation of the API, declared against the wire types.
//!
//! Each declaration is a marker function carrying `#[utoipa::path]`: the handlers live in the
//! function crates, which `shared` cannot depend on, and `tests/tests/openapi.rs` checks that every
//! declared operation is routed and every routed operation declared. The doc comment of each is its
//! summary (first line) and description.

use serde::Serialize;
use utoipa::ToSchema;

use crate::api::{
    AcquireRequest, AcquireResponse, AuditQuery, AuditResponse, AuthConfigResponse,
    BillingSessionResponse, CheckoutRequest, HealthResponse, HeartbeatResponse, InvitationRequest,
    InvitationResponse, InvitationsResponse, LeaveRequest, LeaveResponse, LicenseResponse,
    MeResponse, MemberResponse, MembersResponse, ProblemDetails, QueuedResponse, RegisterRequest,
    RegisterResponse, RoleChange, SeatPolicy, SessionsResponse, UsageQuery, UsageResponse,
    WebhookResponse,
};
use crate::seats::cleanup::CleanupReport;

/// The public keys that verify leases (RFC 7517 JSON Web Key Set).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k", "alg": "EdDSA", "use": "sig"}]}))]
pub(super) struct Jwks {
    /// Every key still accepted: the signing key and those rotated out whose leases may live on.
    #[schema(value_type = Vec<Object>)]
    keys: Vec<serde_json::Value>,
}

/// Declares one operation: the common problem answers are appended to the listed ones (401 for an
/// authenticated operation, 503 `unavailable`/`timeout` for all).
macro_rules! operation {
    (
        $(#[doc = $doc:literal])*
        $name:ident: $method:ident $path:literal, tag = $tag:literal, auth = none,
        $(params($($params:tt)*),)?
        $(request_body($($body:tt)*),)?
        responses($($responses:tt)*)
    ) => {
        #[utoipa::path(
            $method,
            path = $path,
            operation_id = stringify!($name),
            tag = $tag,
            $(params($($params)*),)?
            $(request_body($($body)*),)?
            responses(
                $($responses)*
                (status = 503, description = "`unavailable`: a backend does not answer; `timeout`: \
                    the request ran too long. Retry after `Retry-After`.",
                    body = ProblemDetails, content_type = "application/problem+json",
                    headers(("Retry-After" = u64, description = "Seconds to wait before retrying."))),
            )
        )]
        $(#[doc = $doc])*
        #[expect(dead_code, reason = "a declaration for the OpenAPI document; the handler is in its function crate")]
        fn $name() {}
    };
    (
        $(#[doc = $doc:literal])*
        $name:ident: $method:ident $path:literal, tag = $tag:literal, auth = $auth:literal,
        $(params($($params:tt)*),)?
        $(request_body($($body:tt)*),)?
        responses($($responses:tt)*)
    ) => {
        #[utoipa::path(
            $method,
            path = $path,
            operation_id = stringify!($name),
            tag = $tag,
            security(($auth = [])),
            $(params($($params)*),)?
            $(request_body($($body)*),)?
            responses(
                $($responses)*
                (status = 401, description = "`invalid_token`: the bearer token is missing, \
                    malformed, forged or expired (`lease_expired` for a lease past its offline \
                    grace). `WWW-Authenticate: Bearer` names the error.",
                    body = ProblemDetails, content_type = "application/problem+json",
                    headers(("WWW-Authenticate" = String, description = "RFC 6750 challenge."))),
                (status = 503, description = "`unavailable`: a backend does not answer; `timeout`: \
                    the request ran too long. Retry after `Retry-After`.",
                    body = ProblemDetails, content_type = "application/problem+json",
                    headers(("Retry-After" = u64, description = "Seconds to wait before retrying."))),
            )
        )]
        $(#[doc = $doc])*
        #[expect(dead_code, reason = "a declaration for the OpenAPI document; the handler is in its function crate")]
        fn $name() {}
    };
}

operation! {
    /// Acquire a seat for this machine
    ///
    /// Grants a seat of the caller's organisation's license, or returns the seat this user already
    /// holds on this machine (a retried acquire never takes a second seat). The lease in the answer
    /// authorises heartbeat and release and verifies offline. With `wait_seconds` a caller that
    /// finds no free seat waits in the license's fair queue: the request waits up to that long for
    /// a seat, then answers 202 with the machine's place; asking again before `poll_before` keeps
    /// it. While machines wait, a seat that frees is theirs, the head's first: a caller outside the
    /// queue is refused while free seats are reserved for it.
    acquire: post "/api/v1/licenses/acquire", tag = "seats", auth = "id_token",
    request_body(content = AcquireRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "A seat is held: the new one, or this machine's own (`renewed`); `waited_seconds` when the queue gave it.", body = AcquireResponse),
        (status = 202, description = "No seat yet and the caller waits (`wait_seconds`): its ticket, place and estimate. Ask again before `poll_before`.", body = QueuedResponse),
        (status = 400, description = "`malformed_json`: the body is not JSON.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`no_license` (register first), `license_suspended`, `license_canceled` or `license_expired`: the license grants no seat; `borrow_not_allowed`: `borrow_seconds` was asked and the license's policy allows no borrowing, or less.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`seats_exhausted`: every seat is held, or the free ones are reserved for the `queue_length` machines waiting. `max_seats`, `seats_in_use`, `next_seat_frees_at`, and for owners and admins `holders`. `user_seat_limit`: the caller already holds the license's `max_seats_per_user` seats on other machines; `holders` lists them.", body = ProblemDetails, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until the soonest-expiring seat frees unless its holder heartbeats."))),
        (status = 413, description = "`payload_too_large`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`: send `application/json`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a field is missing or invalid; the detail names it.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: this machine (user + fingerprint) asked more often than `ACQUIRE_RATE_PER_MACHINE` per window, or the license's machines without a seat more often than `ACQUIRE_RATE_PER_SEAT` × seats; a machine renewing its own seat is only held to its own limit. Nothing changed.", body = ProblemDetails, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until a call would pass (at least 1)."))),
    )
}

operation! {
    /// Leave the queue
    ///
    /// A waiting machine gives up its place at once (a waiting CLI's Ctrl-C), so the machines
    /// behind it move up; a ticket not polled before its `poll_before` leaves by itself.
    leave: post "/api/v1/licenses/leave", tag = "seats", auth = "id_token",
    request_body(content = LeaveRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "`left`: whether the ticket was waiting and has left (false: it had claimed a seat, lapsed, left already, or is not this machine's).", body = LeaveResponse),
        (status = 400, description = "`malformed_json`: the body is not JSON.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`no_license`: the caller belongs to no organisation with a license.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`: send `application/json`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a field is missing or invalid; the detail names it.", body = ProblemDetails, content_type = "application/problem+json"),
    )
}

operation! {
    /// Keep a seat alive
    ///
    /// Pushes the seat's expiry a seat lifetime ahead. A seat that already expired or was released
    /// never revives: the client acquires again.
    heartbeat: put "/api/v1/licenses/heartbeat", tag = "seats", auth = "lease",
    responses(
        (status = 200, description = "The seat lives on.", body = HeartbeatResponse),
        (status = 404, description = "`session_not_found`: the seat expired or was released; acquire again.", body = ProblemDetails, content_type = "application/problem+json"),
    )
}

operation! {
    /// Give a seat back
    ///
    /// Idempotent: 204 whether the seat was held or already gone. A lease past its offline grace may
    /// still release its seat, but only the lease of the seat's latest grant (its `grant` claim)
    /// frees it: once another program of the same user on the same machine has acquired the seat
    /// again, an older lease's release changes nothing. A borrowed seat stays held until it is
    /// returned (`POST /api/v1/licenses/return`) or its borrow ends.
    release: delete "/api/v1/licenses/release", tag = "seats", auth = "lease",
    responses(
        (status = 204, description = "The seat is free (or was already gone, or is held by a later grant of this machine)."),
        (status = 429, description = "`rate_limited`: the seat was already gone (or held by a later grant) and this machine (user + fingerprint hash of the lease) released gone seats more often than `RELEASE_RATE_PER_MACHINE` per window. A release that frees a seat is never limited.", body = ProblemDetails, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until a call would pass (at least 1)."))),
    )
}

operation! {
    /// Return a borrowed seat before its borrow ends
    ///
    /// A borrowed seat is held without heartbeats until its borrow ends, and an ordinary release
    /// (a program exiting on the borrowing machine) leaves it held; this frees it at once. A seat
    /// that is not borrowed is released as by `DELETE /api/v1/licenses/release`.
    return_seat: post "/api/v1/licenses/return", tag = "seats", auth = "lease",
    responses(
        (status = 204, description = "The seat is free (or was already gone, or is held by a later grant of this machine)."),
        (status = 429, description = "`rate_limited`: the seat was already gone (or held by a later grant) and this machine released gone seats more often than `RELEASE_RATE_PER_MACHINE` per window.", body = ProblemDetails, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until a call would pass (at least 1)."))),
    )
}

operation! {
    /// Give a seat back (POST, for clients that cannot send DELETE on exit)
    ///
    /// The same as `DELETE /api/v1/licenses/release`.
    release_by_post: post "/api/v1/licenses/release", tag = "seats", auth = "lease",
    responses(
        (status = 204, description = "The seat is free (or was already gone, or is held by a later grant of this machine)."),
        (status = 429, description = "`rate_limited`: the seat was already gone (or held by a later grant) and this machine (user + fingerprint hash of the lease) released gone seats more often than `RELEASE_RATE_PER_MACHINE` per window. A release that frees a seat is never limited.", body = ProblemDetails, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until a call would pass (at least 1)."))),
    )
}

operation! {
    /// Register: turn a first sign-in into a membership
    ///
    /// Creates an organisation with the caller as its OWNER and a FREE license, or joins the
    /// organisation that invited the caller's verified email. Calling again returns the same
    /// membership. The body is optional.
    register: post "/api/v1/register", tag = "accounts", auth = "id_token",
    request_body(content = Option<RegisterRequest>, content_type = "application/json"),
    responses(
        (status = 200, description = "Already a member: nothing changed.", body = RegisterResponse),
        (status = 201, description = "An organisation was created, or an invitation redeemed.", body = RegisterResponse),
        (status = 400, description = "`malformed_json`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: concurrent registrations raced too often; retry.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: `tenant_name` is not 1 to 200 printable characters.", body = ProblemDetails, content_type = "application/problem+json"),
    )
}

operation! {
    /// How to sign in to this deployment
    ///
    /// The Identity Platform project, its public Web API key, the Identity Toolkit and Secure Token
    /// endpoints (Google's, or the Firebase Auth Emulator's), the providers offered, and whether
    /// the server runs the demo sign-in (emulator mode without an emulator: it accepts unsigned
    /// emulator-format tokens, so the client mints its own). Public; cacheable for five minutes.
    /// A server without `IDENTITY_API_KEY` outside emulator mode answers 503
    /// `sign_in_not_configured`.
    auth_config: get "/api/v1/auth/config", tag = "accounts", auth = none,
    responses(
        (status = 200, description = "How to sign in.", body = AuthConfigResponse),
    )
}

operation! {
    /// The caller: membership, organisation, license and seats in use
    me: get "/api/v1/me", tag = "accounts", auth = "id_token",
    responses(
        (status = 200, description = "The caller's view.", body = MeResponse),
        (status = 404, description = "`not_found`: not a member of an organisation yet; register first.", body = ProblemDetails, content_type = "application/problem+json"),
    )
}

operation! {
    /// The organisation's members (any member)
    members: get "/api/v1/tenants/{tenant_id}/members", tag = "tenants", auth = "id_token",
    params(("tenant_id" = uuid::Uuid, Path, description = "The organisation.")),
    responses(
        (status = 200, description = "Every member, oldest first.", body = MembersResponse),
        (status = 404, description = "`not_found`: no such organisation for the caller (also another organisation's id).", body = ProblemDetails, content_type = "application/problem+json"),
    )
}

operation! {
    /// Change a member's role (owners and admins)
    ///
    /// Only owners grant or take ownership; the last owner stays an owner.
    change_role: patch "/api/v1/tenants/{tenant_id}/members/{user_id}", tag = "tenants", auth = "id_token",
    params(
        ("tenant_id" = uuid::Uuid, Path, description = "The organisation."),
        ("user_id" = uuid::Uuid, Path, description = "The member."),
    ),
    request_body(content = RoleChange, content_type = "application/json"),
    responses(
        (status = 200, description = "The member with the new role.", body = MemberResponse),
        (status = 400, description = "`malformed_json`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: the caller's role may not make this change.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such organisation or member.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: the last owner cannot step down.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: `role` is not OWNER, ADMIN or MEMBER.", body = ProblemDetails, content_type = "application/problem+json"),
    )
}

operation! {
    /// Remove a member and release every seat they hold (owners and admins)
    remove_member: delete "/api/v1/tenants/{tenant_id}/members/{user_id}", tag = "tenants", auth = "id_token",
    params(
        ("tenant_id" = uuid::Uuid, Path, description = "The organisation."),
        ("user_id" = uuid::Uuid, Path, description = "The member."),
    ),
    responses(
        (status = 204, description = "Removed; their seats are free."),
        (status = 403, description = "`forbidden`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: the last owner cannot leave.", body = ProblemDetails, content_type = "application/problem+json"),
    )
}

operation! {
    /// The organisation's invitations (owners and admins)
    invitations: get "/api/v1/tenants/{tenant_id}/invitations", tag = "tenants", auth = "id_token",
    params(("tenant_id" = uuid::Uuid, Path, description = "The organisation.")),
    responses(
        (status = 200, description = "Every invitation, newest first.", body = InvitationsResponse),
        (status = 403, description = "`forbidden`: members may not see invitations.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`.", body = ProblemDetails, content_type = "application/problem+json"),
    )
}

operation! {
    /// Invite an email (owners and admins)
    ///
    /// Whoever signs in with that email, verified by the identity provider, joins at registration.
    invite: post "/api/v1/tenants/{tenant_id}/invitations", tag = "tenants", auth = "id_token",
    params(("tenant_id" = uuid::Uuid, Path, description = "The organisation.")),
    request_body(content = InvitationRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Invited.", body = InvitationResponse),
        (status = 400, description = "`malformed_json`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: a pending invitation or a member with that email exists.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: not an email address, or an unknown role.", body = ProblemDetails, content_type = "application/problem+json"),
    )
}

operation! {
    /// Withdraw a pending invitation (owners and admins)
    revoke_invitation: delete "/api/v1/tenants/{tenant_id}/invitations/{invitation_id}", tag = "tenants", auth = "id_token",
    params(
        ("tenant_id" = uuid::Uuid, Path, description = "The organisation."),
        ("invitation_id" = uuid::Uuid, Path, description = "The invitation."),
    ),
    responses(
        (status = 204, description = "Withdrawn."),
        (status = 403, description = "`forbidden`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such pending invitation.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: already redeemed or withdrawn.", body = ProblemDetails, content_type = "application/problem+json"),
    )
}

operation! {
    /// The license and the seats in use (any member)
    license: get "/api/v1/tenants/{tenant_id}/license", tag = "tenants", auth = "id_token",
    params(("tenant_id" = uuid::Uuid, Path, description = "The organisation.")),
    responses(
        (status = 200, description = "The license.", body = LicenseResponse),
        (status = 404, description = "`not_found`: no such organisation, or it holds no license.", body = ProblemDetails, content_type = "application/problem+json"),
    )
}

operation! {
    /// Set the license's seat policies (owners)
    ///
    /// Borrowing for offline use (`max_borrow_seconds`) and the per-user cap
    /// (`max_seats_per_user`); `null` turns one off. Seats already held or borrowed keep their
    /// terms; the policy applies from the next acquire. Recorded as a `license.policy_changed`
    /// audit event.
    set_policy: put "/api/v1/tenants/{tenant_id}/license/policy", tag = "tenants", auth = "id_token",
    params(("tenant_id" = uuid::Uuid, Path, description = "The organisation.")),
    request_body(content = SeatPolicy, content_type = "application/json"),
    responses(
        (status = 200, description = "The license with its new policies.", body = LicenseResponse),
        (status = 400, description = "`malformed_json`: the body is not JSON.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: only owners set policies.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`: send `application/json`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a value out of range; the detail names it.", body = ProblemDetails, content_type = "application/problem+json"),
    )
}

operation! {
    /// Who holds a seat on which machine (owners and admins)
    sessions: get "/api/v1/tenants/{tenant_id}/sessions", tag = "tenants", auth = "id_token",
    params(("tenant_id" = uuid::Uuid, Path, description = "The organisation.")),
    responses(
        (status = 200, description = "The live sessions.", body = SessionsResponse),
        (status = 403, description = "`forbidden`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`.", body = ProblemDetails, content_type = "application/problem+json"),
    )
}

operation! {
    /// End a session: free the seat of a machine that is gone (owners and admins)
    end_session: delete "/api/v1/tenants/{tenant_id}/sessions/{session_id}", tag = "tenants", auth = "id_token",
    params(
        ("tenant_id" = uuid::Uuid, Path, description = "The organisation."),
        ("session_id" = String, Path, description = "The session, as `…/sessions` lists it."),
    ),
    responses(
        (status = 204, description = "The seat is free."),
        (status = 403, description = "`forbidden`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such live session in this organisation.", body = ProblemDetails, content_type = "application/problem+json"),
    )
}

operation! {
    /// The newest audit events (owners and admins)
    ///
    /// Every seat grant, denial, release and expiry, newest first.
    audit: get "/api/v1/tenants/{tenant_id}/audit", tag = "tenants", auth = "id_token",
    params(
        ("tenant_id" = uuid::Uuid, Path, description = "The organisation."),
        AuditQuery,
    ),
    responses(
        (status = 200, description = "The events.", body = AuditResponse),
        (status = 403, description = "`forbidden`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: `limit` is not an integer.", body = ProblemDetails, content_type = "application/problem+json"),
    )
}

operation! {
    /// The license's usage report: seats in use, denials, borrows and the queue (owners and admins)
    ///
    /// Per UTC hour or day of the period, computed from the audit trail: peak and time-weighted
    /// average seats in use (rebuilt from grants, releases and expiries), denials of a full pool
    /// (the per-user cap apart), borrows started, queue joins, claims and abandons with the
    /// claims' median and 95th-percentile wait. For the period: the same totals, and the seats
    /// that would have avoided 50, 90 and 100 % of the denials (the demand at a denial is the
    /// seats in use then plus the distinct machines refused in the same minute; the seats for
    /// N % are the smallest count at or above the demand of N % of the denials, by count).
    usage: get "/api/v1/tenants/{tenant_id}/usage", tag = "tenants", auth = "id_token",
    params(
        ("tenant_id" = uuid::Uuid, Path, description = "The organisation."),
        UsageQuery,
    ),
    responses(
        (status = 200, description = "The report.", body = UsageResponse),
        (status = 400, description = "`invalid_range`: `from` is not before `to`, has not come yet, or the period is longer than 400 days.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: members do not see the report.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such organisation for the caller, or it holds no license.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a date that does not parse, a `bucket` other than `hour` or `day`, or an unknown parameter.", body = ProblemDetails, content_type = "application/problem+json"),
    )
}

operation! {
    /// Start a Stripe Checkout for a plan (owners and admins)
    ///
    /// Creates a Stripe Checkout Session in subscription mode for the tier's configured price and
    /// the seat count, tied to this organisation (`client_reference_id` and the subscription's
    /// `metadata.tenant_id`; the organisation's Stripe customer is reused when known). Send the
    /// browser to the answered URL; the plan changes when Stripe reports the subscription to the
    /// webhook.
    billing_checkout: post "/api/v1/tenants/{tenant_id}/billing/checkout", tag = "billing", auth = "id_token",
    params(("tenant_id" = uuid::Uuid, Path, description = "The organisation.")),
    request_body(content = CheckoutRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The Checkout page's URL.", body = BillingSessionResponse),
        (status = 400, description = "`malformed_json`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: members cannot buy.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: FREE, a seat count outside 1–10 000, or a tier this server has no Stripe price for.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 500, description = "`internal`: Stripe refused the request (a wrong key or price in the configuration).", body = ProblemDetails, content_type = "application/problem+json"),
    )
}

operation! {
    /// Open the Stripe Billing Portal (owners and admins)
    ///
    /// A Billing Portal session for the organisation's Stripe customer: change the plan or the
    /// seats, update the payment method, cancel.
    billing_portal: post "/api/v1/tenants/{tenant_id}/billing/portal", tag = "billing", auth = "id_token",
    params(("tenant_id" = uuid::Uuid, Path, description = "The organisation.")),
    responses(
        (status = 200, description = "The portal's URL.", body = BillingSessionResponse),
        (status = 403, description = "`forbidden`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: the organisation has no Stripe customer yet; subscribe through checkout first.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 500, description = "`internal`: Stripe refused the request.", body = ProblemDetails, content_type = "application/problem+json"),
    )
}

/// Receive a Stripe webhook delivery
///
/// Stripe's endpoint: `Stripe-Signature` (HMAC-SHA256 of `"{t}.{raw body}"` under the endpoint
/// secret, within 300 s) is verified over the raw body, then the event is applied once (by its id)
/// and in Stripe's order (by its `created`), whatever order and however often it is delivered.
/// Every verified event answers 200, also the ones that name no tenant or an unused type.
#[utoipa::path(
    post,
    path = "/api/v1/stripe/webhook",
    operation_id = "stripe_webhook",
    tag = "billing",
    security(("stripe_signature" = [])),
    request_body(content = Object, content_type = "application/json", description = "A Stripe event (`id`, `type`, `created`, `data.object`), up to 1 MiB."),
    params(("Stripe-Signature" = String, Header, description = "`t=<unix time>,v1=<hex HMAC-SHA256>[,v1=…]`, as Stripe sends it.")),
    responses(
        (status = 200, description = "Processed: `outcome` says what it did (`changed`, `unchanged`, `stale`, `duplicate`, `unmatched`, `ignored`).", body = WebhookResponse),
        (status = 400, description = "`invalid_signature`: `Stripe-Signature` is missing, malformed, too old or matches no secret (none does while `STRIPE_WEBHOOK_SECRET` is unset); nothing changed. `validation_failed`: signed, but not a Stripe event.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`: above 1 MiB.", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "`unavailable`: the database does not answer; Stripe retries. `timeout`: the request ran too long.",
            body = ProblemDetails, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying."))),
    )
)]
#[expect(
    dead_code,
    reason = "a declaration for the OpenAPI document; the handler is in its function crate"
)]
fn stripe_webhook() {}

operation! {
    /// The lease public keys
    ///
    /// Every key still accepted; cacheable for an hour (a rotation publishes the new key well
    /// before it signs).
    jwks: get "/.well-known/jwks.json", tag = "leases", auth = none,
    responses(
        (status = 200, description = "The key set.", body = Jwks),
    )
}

operation! {
    /// Reap abandoned seats and drain seat events into the audit trail
    ///
    /// Served by the `cleanup` function only (the local server runs it on a timer). Safe to run
    /// concurrently and to retry.
    cleanup: post "/api/v1/tasks/cleanup", tag = "tasks", auth = "cloud_run_iam",
    responses(
        (status = 200, description = "What the run did.", body = CleanupReport),
    )
}

operation! {
    /// Liveness: the process is up
    ///
    /// For the container's probes; through Cloud Run's public URL use `/health`.
    healthz: get "/healthz", tag = "service", auth = none,
    responses(
        (status = 200, description = "Up.", body = HealthResponse),
    )
}

operation! {
    /// Readiness: the backends this service needs answer
    ///
    /// For the container's probes; through Cloud Run's public URL use `/ready`.
    readyz: get "/readyz", tag = "service", auth = none,
    responses(
        (status = 200, description = "Ready.", body = HealthResponse),
    )
}

operation! {
    /// Liveness, through Cloud Run's public URL
    ///
    /// The same as `/healthz`: Cloud Run's front end reserves some paths ending in `z`.
    health: get "/health", tag = "service", auth = none,
    responses(
        (status = 200, description = "Up.", body = HealthResponse),
    )
}

operation! {
    /// Readiness, through Cloud Run's public URL
    ///
    /// The same as `/readyz`; a 503 names the failing backends in `failing`.
    ready: get "/ready", tag = "service", auth = none,
    responses(
        (status = 200, description = "Ready.", body = HealthResponse),
    )
}

operation! {
    /// This document
    openapi: get "/openapi.json", tag = "service", auth = none,
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of the whole API.", content_type = "application/json"),
    )
}
