//! The admin function: registration, the caller's own view, and tenant administration.
//!
//! - `POST /api/v1/register`, `GET /api/v1/me` ([`account`]);
//! - `/api/v1/tenants/{tenant_id}/members[/{user_id}]` ([`members`]);
//! - `/api/v1/tenants/{tenant_id}/invitations[/{invitation_id}]` ([`invitations`]);
//! - `/api/v1/tenants/{tenant_id}/license`, `…/sessions[/{session_id}]`, `…/audit` ([`license`]);
//! - `GET /api/v1/tenants/{tenant_id}/usage`: the license's usage report, per hour or day, from
//!   the audit trail ([`usage`]);
//! - `POST /api/v1/tenants/{tenant_id}/billing/checkout` and `…/billing/portal`: Stripe Checkout
//!   and the Billing Portal for owners and admins ([`billing`]);
//! - `GET /api/v1/auth/config`: how a client signs in, without authentication ([`sign_in`]);
//! - `GET /.well-known/jwks.json`: the public keys that verify leases.
//!
//! Every tenant resource is reached through [`access::member_of`], which answers `not_found` (never
//! `forbidden`) when the caller is not a member of that tenant, so ids of other tenants reveal
//! nothing.

mod access;
mod account;
mod billing;
mod invitations;
mod license;
mod members;
mod sign_in;
mod usage;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{delete, get, patch, post, put};
use shared::backends::Backends;
use shared::config::{Config, Database};
use shared::identity::IdTokenVerifier;
use shared::leases::JwkSet;
use shared::seats::SeatStore;
use shared::serving::{Readiness, service_router};
use shared::store::Store;

/// What admin needs.
#[derive(Clone)]
pub struct AdminState {
    /// Tenants, members, invitations, licenses, audit.
    pub store: Arc<dyn Store>,
    /// Live seats (seats in use, sessions, releasing a removed member's seats).
    pub seats: Arc<dyn SeatStore>,
    /// Verifies callers' ID tokens.
    pub identity: Arc<IdTokenVerifier>,
    /// The public lease keys it publishes (never a private key).
    pub lease_keys: Arc<JwkSet>,
    /// Free-plan length, invitation lifetime.
    pub config: Arc<Config>,
}

impl AdminState {
    /// The state of admin, on `backends`.
    pub async fn new(backends: &Backends) -> anyhow::Result<Self> {
        Ok(Self {
            store: backends.records().await?,
            seats: backends.seats().await?,
            identity: backends.identity().await?,
            lease_keys: backends.lease_keys().await?,
            config: backends.config().clone(),
        })
    }
}

/// The routes of this function, without the common stack.
pub fn routes(state: AdminState) -> Router {
    let tenant = "/api/v1/tenants/{tenant_id}";
    Router::new()
        .route("/api/v1/register", post(account::register))
        .route("/api/v1/me", get(account::me))
        .route("/api/v1/auth/config", get(sign_in::auth_config))
        .route(&format!("{tenant}/members"), get(members::list))
        .route(
            &format!("{tenant}/members/{{user_id}}"),
            patch(members::change_role).delete(members::remove),
        )
        .route(
            &format!("{tenant}/invitations"),
            get(invitations::list).post(invitations::create),
        )
        .route(
            &format!("{tenant}/invitations/{{invitation_id}}"),
            delete(invitations::revoke),
        )
        .route(&format!("{tenant}/license"), get(license::show))
        .route(
            &format!("{tenant}/license/policy"),
            put(license::set_policy),
        )
        .route(&format!("{tenant}/sessions"), get(license::sessions))
        .route(
            &format!("{tenant}/sessions/{{session_id}}"),
            delete(license::end_session),
        )
        .route(&format!("{tenant}/audit"), get(license::audit))
        .route(&format!("{tenant}/usage"), get(usage::report))
        .route(
            &format!("{tenant}/billing/checkout"),
            post(billing::checkout),
        )
        .route(&format!("{tenant}/billing/portal"), post(billing::portal))
        .route("/.well-known/jwks.json", get(jwks))
        .with_state(state)
}

/// The whole service: routes, health, readiness (database and seat store) and middleware.
pub fn router(state: AdminState) -> Router {
    let config = state.config.clone();
    let readiness = Readiness::new()
        .with_database(state.store.clone())
        .with_seats(state.seats.clone());
    service_router(routes(state), readiness, &config)
}

/// The lease public keys; cacheable for an hour (a rotation publishes the new key well before it
/// signs).
async fn jwks(State(state): State<AdminState>) -> impl IntoResponse {
    (
        [(axum::http::header::CACHE_CONTROL, "public, max-age=3600")],
        axum::Json(JwkSet::clone(&state.lease_keys)),
    )
}

/// Applies the migrations of the configured database and returns: the one explicit migration step
/// of a deploy (SQLite is also migrated automatically at start-up).
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    match &config.database {
        Database::Sqlite(url) => {
            std::fs::create_dir_all(&config.data_dir)?;
            shared::store::SqliteStore::connect(url.expose())
                .await?
                .migrate()
                .await?;
        }
        Database::Postgres(url) => {
            shared::store::PgStore::connect_lazy(url.expose(), 1)?
                .migrate()
                .await?;
        }
    }
    tracing::info!("migrations applied");
    Ok(())
}
