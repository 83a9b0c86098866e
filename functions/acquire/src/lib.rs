//! The acquire function: `POST /api/v1/licenses/acquire`.
//!
//! A signed-in member asks for a seat of their tenant's license for one machine. The caller's
//! membership and license are looked up (cached for `LICENSE_CACHE_SECONDS`), refused when there is
//! no license or it is suspended, canceled or expired, then one atomic seat-store step grants a seat,
//! returns the caller's existing one for this machine, or answers that the pool is full. A granted
//! seat comes with a signed lease.
//!
//! With `wait_seconds`, a caller that finds no seat free for it waits in the license's fair queue
//! (see `shared::seats`): the request asks the seat store again every [`CHECK_EVERY`] for up to
//! that long (at most [`MAX_WAIT_SECONDS`]), answering 200 with the seat as soon as its ticket
//! claims one, or 202 with its place ([`QueuedResponse`]). The request's time limit is moved on by
//! the wait. `POST /api/v1/licenses/leave` takes a ticket out of the queue.
//!
//! The same step checks the rate limits (`ACQUIRE_RATE_PER_MACHINE`, `ACQUIRE_RATE_PER_SEAT`): a
//! limited call answers 429 `rate_limited` with `Retry-After`, takes no seat, counts as no denial
//! and signs nothing.

mod license_cache;
mod request;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use shared::api::{
    AcquireResponse, LeaveRequest, LeaveResponse, LicenseSummary, MAX_WAIT_SECONDS, ProblemCode,
    QueuedResponse, SeatHolder,
};
use shared::backends::Backends;
use shared::config::Config;
use shared::domain::{License, LicenseStatus, NewAuditEvent, User};
use shared::error::{ApiError, ApiResult, Problem};
use shared::identity::IdTokenVerifier;
use shared::leases::signing::LeaseSigner;
use shared::leases::{LeaseClaims, fingerprint_hash};
use shared::seats::{
    AcquireLimits, Acquired, LimitScope, Limited, SeatRequest, SeatStore, SessionData, Ticket,
    new_session_id,
};
use shared::serving::auth::BearerToken;
use shared::serving::{Json, Readiness, TimeLimit, service_router};
use shared::store::Store;

pub use license_cache::LicenseCache;
use shared::api::AcquireRequest;

/// What acquire needs.
#[derive(Clone)]
pub struct AcquireState {
    /// Memberships and licenses.
    pub store: Arc<dyn Store>,
    /// Live seats.
    pub seats: Arc<dyn SeatStore>,
    /// Signs the lease of a granted seat.
    pub signer: Arc<dyn LeaseSigner>,
    /// Verifies the caller's ID token.
    pub identity: Arc<IdTokenVerifier>,
    /// Memberships and licenses seen in the last few seconds.
    pub licenses: Arc<LicenseCache>,
    /// Seat lifetime, heartbeat interval, offline grace, lease issuer.
    pub config: Arc<Config>,
}

impl AcquireState {
    /// The state of acquire, on `backends`.
    pub async fn new(backends: &Backends) -> anyhow::Result<Self> {
        let config = backends.config().clone();
        Ok(Self {
            store: backends.records().await?,
            seats: backends.seats().await?,
            signer: backends.lease_signer().await?,
            identity: backends.identity().await?,
            licenses: Arc::new(LicenseCache::new(config.license_cache_ttl)),
            config,
        })
    }
}

/// The routes of this function, without the common stack (the local server merges them).
pub fn routes(state: AcquireState) -> Router {
    Router::new()
        .route("/api/v1/licenses/acquire", post(acquire))
        .route("/api/v1/licenses/leave", post(leave))
        .with_state(state)
}

/// The whole service: routes, health, readiness (database and seat store) and middleware.
pub fn router(state: AcquireState) -> Router {
    let config = state.config.clone();
    let readiness = Readiness::new()
        .with_database(state.store.clone())
        .with_seats(state.seats.clone());
    service_router(routes(state), readiness, &config)
}

/// How often a waiting acquire asks the seat store again: a seat that frees reaches the head of
/// the queue within this (plus a round trip), and a waiter costs two store calls a second.
pub const CHECK_EVERY: Duration = Duration::from_millis(500);

async fn acquire(
    State(state): State<AcquireState>,
    limit: Option<Extension<TimeLimit>>,
    BearerToken(token): BearerToken,
    Json(body): Json<AcquireRequest>,
) -> ApiResult<Response> {
    let caller = state.identity.verify(&token).await?;
    let body = request::validated(body)?;
    let (user, license) = state
        .licenses
        .lookup(state.store.as_ref(), &caller.uid)
        .await?;
    let now = Utc::now();
    if let Some(refusal) = license_refusal(&license, now) {
        audit_refusal(&state, &user, &license, &refusal, &body.hostname).await;
        return Err(refusal.into());
    }
    let policy = license.policy();
    let borrow = match borrow_refusal(body.borrow_seconds, &policy) {
        Ok(borrow) => borrow,
        Err(refusal) => {
            audit_refusal(&state, &user, &license, &refusal, &body.hostname).await;
            return Err((*refusal).into());
        }
    };
    let wait = body
        .wait_seconds
        .map(|seconds| Duration::from_secs(seconds.min(MAX_WAIT_SECONDS)));
    if let (Some(wait), Some(Extension(limit))) = (wait, &limit) {
        limit.extend(wait);
    }
    let mut request = SeatRequest {
        license_id: license.id,
        max_seats: license.seats(),
        ttl: state.config.seat_ttl,
        session: SessionData::new(
            user.tenant_id,
            user.id,
            &body.fingerprint,
            &body.hostname,
            body.client_version.clone(),
        ),
        limits: state.config.rate_limits.acquire(license.seats()),
        per_user: policy.max_seats_per_user,
        borrow,
        wait: wait.map(|_| state.config.queue_ticket_ttl),
        ticket: None,
    };
    let started = tokio::time::Instant::now();
    let outcome = loop {
        let outcome = state.seats.acquire(&request, &new_session_id()).await?;
        match (&outcome, wait) {
            (Acquired::Queued(place), Some(wait)) if started.elapsed() + CHECK_EVERY < wait => {
                // One request is one call against the limits, however often it looks; and it
                // looks only for this ticket: once it is gone (the client left), nothing joins
                // or takes a seat on its behalf.
                request.limits = AcquireLimits {
                    per_machine: None,
                    per_license: None,
                };
                request.ticket = Some(place.ticket.clone());
                tokio::time::sleep(CHECK_EVERY).await;
            }
            _ => break outcome,
        }
    };
    let now = Utc::now();
    match outcome {
        Acquired::Granted {
            session_id,
            expires_at_ms,
            in_use,
            renewed,
            grant,
            borrowed_until_ms,
            waited_ms,
        } => {
            let borrowed_until = borrowed_until_ms.map(from_ms);
            let seat = Seat {
                session_id: &session_id,
                grant,
                fingerprint: &body.fingerprint,
                borrowed_until,
            };
            let lease = sign_lease(&state, &user, &license, &seat, now).await?;
            let expires_at = from_ms(expires_at_ms);
            tracing::info!(
                license = %license.id, session = %session_id, renewed, in_use,
                borrowed = borrowed_until.is_some(), waited_ms, "seat granted"
            );
            Ok(Json(AcquireResponse {
                session_id,
                lease,
                heartbeat_interval_seconds: state.config.heartbeat_interval.as_secs(),
                expires_at,
                expires_in: seconds_until(expires_at, now),
                renewed,
                borrowed_until,
                waited_seconds: waited_ms.map(|ms| (ms.max(0) as u64).div_ceil(1000)),
                license: LicenseSummary {
                    id: license.id,
                    tier: license.tier,
                    max_seats: license.seats(),
                    seats_in_use: in_use,
                    features: license.features.0.clone(),
                    expires_at: license.expires_at,
                },
            })
            .into_response())
        }
        Acquired::Queued(ticket) => Ok(queued(&license, &ticket, now).into_response()),
        Acquired::TicketGone => Err(Problem::new(
            StatusCode::CONFLICT,
            ProblemCode::SeatsExhausted,
            "This machine's place in the queue was given up while it waited (it left, or another \
             program of this machine took the seat); ask again to join the queue.",
        )
        .into()),
        Acquired::Full {
            in_use,
            next_expiry_ms,
            queued,
        } => {
            Err(seats_exhausted(&state, &user, &license, in_use, queued, next_expiry_ms, now).await)
        }
        Acquired::UserFull { held } => {
            let refusal = user_seat_limit(&state, &user, &license, held).await;
            audit_refusal(&state, &user, &license, &refusal, &body.hostname).await;
            Err(refusal.into())
        }
        Acquired::Limited(limited) => Err(rate_limited(&state.config, &license, &limited)),
    }
}

/// The 202 of a waiting caller: its place, the estimate, and when to ask again by.
fn queued(license: &License, ticket: &Ticket, now: DateTime<Utc>) -> impl IntoResponse {
    tracing::info!(
        license = %license.id, position = ticket.position, queued = ticket.queued, "waiting for a seat"
    );
    let poll_before = from_ms(ticket.deadline_ms);
    (
        StatusCode::ACCEPTED,
        Json(QueuedResponse {
            ticket: ticket.ticket.clone(),
            position: ticket.position,
            queue_length: ticket.queued,
            estimated_wait_seconds: ticket
                .estimated_wait_ms
                .map(|ms| (ms.max(0) as u64).div_ceil(1000)),
            poll_before: poll_before.max(now),
            max_seats: license.seats(),
            seats_in_use: ticket.in_use,
        }),
    )
}

/// `POST /api/v1/licenses/leave`: the caller's machine leaves the queue.
async fn leave(
    State(state): State<AcquireState>,
    BearerToken(token): BearerToken,
    Json(body): Json<LeaveRequest>,
) -> ApiResult<Json<LeaveResponse>> {
    let caller = state.identity.verify(&token).await?;
    let body = request::leave_validated(body)?;
    let (user, license) = state
        .licenses
        .lookup(state.store.as_ref(), &caller.uid)
        .await?;
    let holder = SessionData::new(user.tenant_id, user.id, &body.fingerprint, "", None).holder;
    let left = state.seats.leave(license.id, &body.ticket, &holder).await?;
    tracing::info!(license = %license.id, left, "left the queue");
    Ok(Json(LeaveResponse { left }))
}

/// How long to borrow the seat for, or the `borrow_not_allowed` refusal: the license's policy
/// allows no borrowing, or less than asked.
fn borrow_refusal(
    seconds: Option<u64>,
    policy: &shared::api::SeatPolicy,
) -> Result<Option<Duration>, Box<Problem>> {
    let Some(seconds) = seconds else {
        return Ok(None);
    };
    let refused = |detail: String| {
        Box::new(Problem::new(
            StatusCode::FORBIDDEN,
            ProblemCode::BorrowNotAllowed,
            detail,
        ))
    };
    match policy.max_borrow_seconds {
        None => Err(refused(
            "Your organisation's license does not allow borrowing seats for offline use; an \
             owner can allow it (license policy)."
                .into(),
        )),
        Some(max) if seconds > max => Err(refused(format!(
            "Your organisation's license lets you borrow a seat for up to {}; ask for that long \
             or less.",
            shared::api::duration_words(max)
        ))),
        Some(_) => Ok(Some(Duration::from_secs(seconds))),
    }
}

/// The 409 of a user at the license's per-user cap: which machines hold their seats, so they can
/// close one.
async fn user_seat_limit(
    state: &AcquireState,
    user: &User,
    license: &License,
    held: u32,
) -> Problem {
    let own = match holders(state, license).await {
        Ok(all) => all.into_iter().filter(|h| h.user_id == user.id).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "could not list the user's seats for a denial");
            Vec::new()
        }
    };
    let machines: Vec<&str> = own
        .iter()
        .map(|h: &SeatHolder| h.hostname.as_str())
        .collect();
    let on = if machines.is_empty() {
        String::new()
    } else {
        format!(" (on {})", machines.join(", "))
    };
    Problem::new(
        StatusCode::CONFLICT,
        ProblemCode::UserSeatLimit,
        format!(
            "You already hold {held} of your organisation's seats{on}, the most one person may \
             hold at once; close the CLI on one of those machines (or `coditect-license return` \
             a borrowed seat there), or ask an owner to raise the limit."
        ),
    )
    .with(|body| body.holders = Some(own))
}

/// The 429 of a limited acquire, saying which limit and what to do.
fn rate_limited(config: &Config, license: &License, limited: &Limited) -> ApiError {
    let limits = config.rate_limits;
    let window = limits.window.as_secs();
    tracing::info!(license = %license.id, scope = ?limited.scope, "acquire rate-limited");
    Problem::rate_limited(limited, |wait| match limited.scope {
        LimitScope::Machine => format!(
            "This machine asked for a seat more than {} times in {window} s; wait {wait} s \
             (Retry-After) before asking again. One run of the CLI needs one request.",
            limits.acquire_per_machine
        ),
        LimitScope::License => format!(
            "Machines without a seat asked for one of your organisation's {} seats more than {} \
             times in {window} s; wait {wait} s (Retry-After) before asking again. Machines that \
             hold a seat keep it.",
            license.seats(),
            limits
                .acquire_per_seat
                .saturating_mul(license.seats().max(1))
        ),
    })
    .into()
}

/// Why this license grants no seat at `now`, if it does not.
fn license_refusal(license: &License, now: DateTime<Utc>) -> Option<Problem> {
    let forbidden = StatusCode::FORBIDDEN;
    match license.status {
        LicenseStatus::Suspended => Some(Problem::new(
            forbidden,
            ProblemCode::LicenseSuspended,
            "Your organisation's license is suspended; ask an owner to check billing.",
        )),
        LicenseStatus::Active if license.grace_over_at(now) => Some(Problem::new(
            forbidden,
            ProblemCode::LicenseSuspended,
            "Your organisation's subscription is unpaid and its grace has ended; ask an owner to \
             update the payment method in the billing portal.",
        )),
        LicenseStatus::Canceled => Some(Problem::new(
            forbidden,
            ProblemCode::LicenseCanceled,
            "Your organisation's license was canceled; an owner can subscribe again.",
        )),
        LicenseStatus::Active if license.expired_at(now) => Some(
            Problem::new(
                forbidden,
                ProblemCode::LicenseExpired,
                "Your organisation's license has expired; ask an owner to renew it.",
            )
            .with(|body| body.expired_at = license.expires_at),
        ),
        LicenseStatus::Active => None,
    }
}

/// The seat a lease is signed for.
struct Seat<'a> {
    session_id: &'a str,
    /// Which grant of the session (see [`LeaseClaims::grant`]).
    grant: u64,
    fingerprint: &'a str,
    /// When the seat's borrow ends, if it is borrowed: the lease is valid until then.
    borrowed_until: Option<DateTime<Utc>>,
}

async fn sign_lease(
    state: &AcquireState,
    user: &User,
    license: &License,
    seat: &Seat<'_>,
    now: DateTime<Utc>,
) -> ApiResult<String> {
    let config = &state.config;
    let claims = LeaseClaims {
        iss: config.lease_issuer.clone(),
        sub: user.id.to_string(),
        tenant: user.tenant_id.to_string(),
        license: license.id.to_string(),
        tier: license.tier.as_str().to_owned(),
        features: license.features.0.clone(),
        sid: seat.session_id.to_owned(),
        fph: fingerprint_hash(seat.fingerprint),
        iat: now.timestamp(),
        // A borrowed seat's lease lasts the borrow (the program runs on it offline).
        exp: (now + config.offline_grace)
            .max(seat.borrowed_until.unwrap_or(now))
            .timestamp(),
        hbi: config.heartbeat_interval.as_secs(),
        grant: seat.grant,
        bor: seat.borrowed_until.map(|at| at.timestamp()),
    };
    // A signer that fails (KMS down, a corrupted response) is a 503: the client retries, and the
    // seat just granted comes back to it as its own, not as a second one.
    state
        .signer
        .sign(&claims)
        .await
        .map_err(|e| ApiError::Unavailable(format!("lease signing: {e:#}")))
}

/// The 409 of a full pool: counts, when the next seat frees, and for owners and admins who holds
/// the seats, so they can ask someone to close a session.
async fn seats_exhausted(
    state: &AcquireState,
    user: &User,
    license: &License,
    in_use: u32,
    queued: u32,
    next_expiry_ms: i64,
    now: DateTime<Utc>,
) -> ApiError {
    let next_free = from_ms(next_expiry_ms);
    // Rounded up: a client that waits exactly Retry-After must find the seat free, not 0.9 s early.
    let wait = ((next_free - now).num_milliseconds().max(1) as u64).div_ceil(1000);
    let waiting = match queued {
        0 => String::new(),
        1 => " and 1 machine is waiting in the queue for the next".into(),
        n => format!(" and {n} machines are waiting in the queue for the next"),
    };
    let mut problem = Problem::new(
        StatusCode::CONFLICT,
        ProblemCode::SeatsExhausted,
        format!(
            "All {} seats of your organisation's license are in use{waiting}. The next seat frees \
             by {} unless its holder is still working; wait in the queue for one, close the CLI \
             on another machine or ask an owner for more seats.",
            license.max_seats,
            next_free.to_rfc3339()
        ),
    )
    .with(|body| {
        body.max_seats = Some(license.seats());
        body.seats_in_use = Some(in_use);
        body.next_seat_frees_at = Some(next_free);
        body.queue_length = (queued > 0).then_some(queued);
    })
    .retry_after(wait);
    if user.role.manages_members() {
        match holders(state, license).await {
            Ok(holders) => problem = problem.with(|body| body.holders = Some(holders)),
            Err(e) => tracing::warn!(error = %e, "could not list seat holders for a denial"),
        }
    }
    problem.into()
}

async fn holders(state: &AcquireState, license: &License) -> anyhow::Result<Vec<SeatHolder>> {
    let members = state.store.members(license.tenant_id).await?;
    let holders = state
        .seats
        .holders(license.id)
        .await?
        .into_iter()
        .map(|h| {
            let who = members.iter().find(|m| m.id == h.data.user);
            SeatHolder {
                user_id: h.data.user,
                email: who.and_then(|m| m.email.clone()),
                hostname: h.data.hostname,
                expires_at: from_ms(h.expires_at_ms),
            }
        })
        .collect();
    Ok(holders)
}

/// Records a license-level refusal. Such refusals never reach the seat store, so they are written
/// here; a failure to write is logged with the whole event rather than failing the answer.
async fn audit_refusal(
    state: &AcquireState,
    user: &User,
    license: &License,
    refusal: &Problem,
    hostname: &str,
) {
    let event = NewAuditEvent {
        tenant_id: user.tenant_id,
        license_id: Some(license.id),
        user_id: Some(user.id),
        action: "seat.denied".into(),
        session_id: None,
        detail: json!({"reason": refusal.body.code, "hostname": hostname}),
        request_id: shared::telemetry::current_request_id(),
        occurred_at: Utc::now(),
        dedupe_key: None,
    };
    if let Err(e) = state.store.append_audit(std::slice::from_ref(&event)).await {
        tracing::error!(error = %e, ?event, "could not record a seat denial in the audit trail");
    }
}

/// Whole seconds from `now` until `at`, zero when it has passed.
fn seconds_until(at: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    u64::try_from((at - now).num_seconds()).unwrap_or(0)
}

fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_else(Utc::now)
}
