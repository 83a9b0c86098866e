//! The records: who the tenants, members and licenses are, and what happened (the audit trail).
//!
//! One [`Store`] trait, two implementations: [`PgStore`] on PostgreSQL (production, Cloud SQL) and
//! [`SqliteStore`] on a SQLite file (the embedded default). Both run the same body of SQL
//! (`sql::SqlRecords`, ordinary functions generic over the sqlx driver), so they cannot drift,
//! and both pass one conformance suite (`tests/tests/store_conformance/`). Every query that reads
//! or changes a tenant's data takes the tenant id, so a caller can only ever reach its own
//! tenant's rows.
//!
//! Layout: `mod.rs` the trait and its types; `sql/` the queries (`tenants.rs`, `membership.rs`,
//! `events.rs`, `billing.rs`, `usage.rs`); `postgres.rs` and `sqlite.rs` open a pool, say how a writing transaction begins
//! on their database, and hand each [`Store`] method to the queries.
//!
//! # Adding a method
//!
//! 1. Declare it on [`Store`] below, with its promise in the `///`.
//! 2. Write its body once, as a `pub(in crate::store) async fn` in the `impl` block of the
//!    `sql/` file it belongs to (a new file there starts its `impl` block from a neighbour's
//!    header). If it binds or reads a Rust type that block's `where` clause does not list yet,
//!    add one line (`T: Param<DB>` or `T: Record<DB>`); the compiler names a missing one. A transaction that writes begins with
//!    `DB::begin_write(&self.pool)`; one that changes membership takes `Self::lock_membership`
//!    first.
//! 3. Forward to it in `impl Store for PgStore` and in `impl Store for SqliteStore`: one line
//!    each, `self.sql.the_method(args).await`.
//!
//! Add the promise to the conformance suite, which runs it on both databases. A method that must
//! tell a duplicate key from other failures reads it from the `sqlx::Error`
//! (`is_unique_violation`) before `?` turns it into a [`StoreError`], as registration does.

mod postgres;
mod sql;
mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use crate::api::{UsagePeriod, UsageResponse, WebhookOutcome};
use crate::billing::BillingEvent;
use crate::domain::{
    AuditEvent, Invitation, License, LicenseStatus, NewAuditEvent, Role, SeatPolicy, Tenant, Tier,
    User,
};

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist (for this tenant). Names what was looked for.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The change would break a rule (last owner, duplicate invitation…). Says which.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database does not answer.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// Anything else.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => Self::Unavailable(err),
            other => Self::Other(anyhow::Error::new(other)),
        }
    }
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// A first sign-in, to be turned into a membership.
#[derive(Debug, Clone)]
pub struct Registration {
    /// Identity Platform's `sub`.
    pub firebase_uid: String,
    /// Email from the token.
    pub email: Option<String>,
    /// Whether Identity Platform verified that email: only a verified email redeems an invitation.
    pub email_verified: bool,
    /// Name from the token.
    pub display_name: Option<String>,
    /// Name of the tenant to create when no invitation applies.
    pub tenant_name: String,
    /// The license a new tenant starts with.
    pub starting_plan: LicensePlan,
    /// The time of the request.
    pub now: DateTime<Utc>,
}

/// How a registration ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationOutcome {
    /// The person was already a member; nothing changed.
    Existing,
    /// A new tenant was created with the person as its owner.
    CreatedTenant,
    /// The person joined the tenant that invited their email.
    JoinedByInvitation,
}

/// A registered person with their tenant and its license.
#[derive(Debug, Clone)]
pub struct Registered {
    /// The tenant.
    pub tenant: Tenant,
    /// The person.
    pub user: User,
    /// The tenant's license.
    pub license: License,
    /// What this call did.
    pub outcome: RegistrationOutcome,
}

/// The terms of a license, as a plan change sets them.
#[derive(Debug, Clone, PartialEq)]
pub struct LicensePlan {
    /// Plan.
    pub tier: Tier,
    /// Seats.
    pub max_seats: i32,
    /// Feature flags.
    pub features: Vec<String>,
    /// Whether it grants seats.
    pub status: LicenseStatus,
    /// When it ends.
    pub expires_at: Option<DateTime<Utc>>,
}

impl LicensePlan {
    /// The plan of a new tenant: one seat, no expiry unless `expires_at` says otherwise.
    pub fn free(expires_at: Option<DateTime<Utc>>) -> Self {
        Self {
            tier: Tier::Free,
            max_seats: 1,
            features: Vec::new(),
            status: LicenseStatus::Active,
            expires_at,
        }
    }
}

/// An invitation to create.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    /// The inviting tenant.
    pub tenant_id: Uuid,
    /// Who is invited (lower-cased by the store).
    pub email: String,
    /// Their role on joining.
    pub role: Role,
    /// The inviting member.
    pub invited_by: Uuid,
    /// Now.
    pub now: DateTime<Utc>,
    /// When it lapses.
    pub expires_at: DateTime<Utc>,
}

/// The records, scoped by tenant.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Whether the database answers.
    async fn ping(&self) -> StoreResult<()>;

    /// Turns a sign-in into a membership: the existing one, the invited one, or a new tenant with
    /// this person as owner and a license on `starting_plan`. Safe to call concurrently for the same
    /// person: exactly one membership results.
    async fn register(&self, registration: &Registration) -> StoreResult<Registered>;

    /// The member signed in as `firebase_uid`.
    async fn user_by_uid(&self, firebase_uid: &str) -> StoreResult<Option<User>>;

    /// A tenant.
    async fn tenant(&self, tenant_id: Uuid) -> StoreResult<Option<Tenant>>;

    /// The tenant's license.
    async fn license_of_tenant(&self, tenant_id: Uuid) -> StoreResult<Option<License>>;

    /// Sets the terms of the tenant's license.
    async fn update_license(
        &self,
        tenant_id: Uuid,
        plan: &LicensePlan,
        now: DateTime<Utc>,
    ) -> StoreResult<License>;

    /// Sets the seat policies of the tenant's license, with a `license.policy_changed` audit event
    /// naming `actor` and the policies before and after, in one transaction.
    async fn set_seat_policy(
        &self,
        tenant_id: Uuid,
        policy: &SeatPolicy,
        actor: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<License>;

    /// The tenant's members, oldest first.
    async fn members(&self, tenant_id: Uuid) -> StoreResult<Vec<User>>;

    /// One member of the tenant.
    async fn member(&self, tenant_id: Uuid, user_id: Uuid) -> StoreResult<Option<User>>;

    /// Changes a member's role; refuses to leave the tenant without an owner.
    async fn change_role(&self, tenant_id: Uuid, user_id: Uuid, role: Role) -> StoreResult<User>;

    /// Removes a member; refuses to remove the last owner. Returns who was removed.
    async fn remove_member(&self, tenant_id: Uuid, user_id: Uuid) -> StoreResult<User>;

    /// Invites an email; refuses when a pending invitation or a member with that email exists.
    async fn create_invitation(&self, invitation: &NewInvitation) -> StoreResult<Invitation>;

    /// The tenant's invitations, newest first.
    async fn invitations(&self, tenant_id: Uuid) -> StoreResult<Vec<Invitation>>;

    /// Withdraws a pending invitation.
    async fn revoke_invitation(
        &self,
        tenant_id: Uuid,
        invitation_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Invitation>;

    /// Remembers a Stripe event id; `false` when it was already seen (a retried delivery).
    async fn record_stripe_event(
        &self,
        event_id: &str,
        kind: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Applies a verified Stripe webhook event: records its id and applies its effect to the
    /// license it names (by `metadata.tenant_id` / `client_reference_id`, else the Stripe customer)
    /// in one transaction. A redelivery, also concurrent, is `Duplicate` and changes nothing; an
    /// event older than what the license reflects is `Stale`; a change of the terms writes one
    /// `billing.plan_changed` audit event naming the Stripe event.
    async fn apply_billing_event(
        &self,
        event: &BillingEvent,
        now: DateTime<Utc>,
    ) -> StoreResult<WebhookOutcome>;

    /// Appends audit events in one transaction; events whose `dedupe_key` is already present are
    /// skipped. Returns how many were new.
    async fn append_audit(&self, events: &[NewAuditEvent]) -> StoreResult<u64>;

    /// The tenant's newest audit events, newest first.
    async fn audit_events(&self, tenant_id: Uuid, limit: i64) -> StoreResult<Vec<AuditEvent>>;

    /// The usage report of the tenant's license over `period`, from its audit trail: one bucket
    /// per UTC hour or day touching the period (also those without events), the period's totals
    /// and the seats that would have avoided 50, 90 and 100 % of its denials (`denial_cover`'s
    /// `more_seats` is counted from `max_seats`, the license's seats now). The figures are
    /// defined in [`crate::api::usage`].
    async fn usage(
        &self,
        tenant_id: Uuid,
        period: &UsagePeriod,
        max_seats: u32,
    ) -> StoreResult<UsageResponse>;
}
