//! The records on PostgreSQL 16 (Cloud SQL in production).

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgQueryResult};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::sql::{Driver, RowsAffected, SqlRecords};
use super::{LicensePlan, NewInvitation, Registered, Registration, Store, StoreResult};
use crate::api::{UsagePeriod, UsageResponse, WebhookOutcome};
use crate::billing::BillingEvent;
use crate::domain::{
    AuditEvent, Invitation, License, NewAuditEvent, Role, SeatPolicy, Tenant, User,
};

/// The PostgreSQL migrations, applied by `admin migrate` (the deploy's migrate step).
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// Records on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStore {
    /// The queries, on a pool shared by all requests of this instance (sized by
    /// `DATABASE_MAX_CONNECTIONS`).
    sql: SqlRecords<Postgres>,
}

impl PgStore {
    /// Opens a pool. Connections are made lazily, so a service starts (and answers `/healthz`)
    /// while the database is down, and `/readyz` says so.
    pub fn connect_lazy(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let options: PgConnectOptions = url
            .parse()
            .context("DATABASE_URL is not a valid PostgreSQL URL")?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(3))
            .connect_lazy_with(options);
        Ok(Self::from_pool(pool))
    }

    /// Wraps an existing pool (tests use a pool per schema).
    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            sql: SqlRecords::new(pool),
        }
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR
            .run(self.pool())
            .await
            .context("applying PostgreSQL migrations")
    }

    /// The pool, for tests that need to break or inspect it.
    pub fn pool(&self) -> &PgPool {
        self.sql.pool()
    }
}

impl Driver for Postgres {
    /// PostgreSQL locks rows as statements reach them, so a plain `BEGIN` serves (SQLite needs
    /// more; see `SqliteStore`).
    async fn begin_write(pool: &PgPool) -> sqlx::Result<Transaction<'static, Postgres>> {
        pool.begin().await
    }
}

impl RowsAffected for PgQueryResult {
    fn rows_affected(&self) -> u64 {
        PgQueryResult::rows_affected(self)
    }
}

// Every body is the shared SQL in `sql/`; the store module doc says how to add a method.
#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        self.sql.ping().await
    }

    async fn register(&self, registration: &Registration) -> StoreResult<Registered> {
        self.sql.register(registration).await
    }

    async fn user_by_uid(&self, firebase_uid: &str) -> StoreResult<Option<User>> {
        self.sql.user_by_uid(firebase_uid).await
    }

    async fn tenant(&self, tenant_id: Uuid) -> StoreResult<Option<Tenant>> {
        self.sql.tenant(tenant_id).await
    }

    async fn license_of_tenant(&self, tenant_id: Uuid) -> StoreResult<Option<License>> {
        self.sql.license_of_tenant(tenant_id).await
    }

    async fn update_license(
        &self,
        tenant_id: Uuid,
        plan: &LicensePlan,
        now: DateTime<Utc>,
    ) -> StoreResult<License> {
        self.sql.update_license(tenant_id, plan, now).await
    }

    async fn set_seat_policy(
        &self,
        tenant_id: Uuid,
        policy: &SeatPolicy,
        actor: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<License> {
        self.sql
            .set_seat_policy(tenant_id, policy, actor, now)
            .await
    }

    async fn members(&self, tenant_id: Uuid) -> StoreResult<Vec<User>> {
        self.sql.members(tenant_id).await
    }

    async fn member(&self, tenant_id: Uuid, user_id: Uuid) -> StoreResult<Option<User>> {
        self.sql.member(tenant_id, user_id).await
    }

    async fn change_role(&self, tenant_id: Uuid, user_id: Uuid, role: Role) -> StoreResult<User> {
        self.sql.change_role(tenant_id, user_id, role).await
    }

    async fn remove_member(&self, tenant_id: Uuid, user_id: Uuid) -> StoreResult<User> {
        self.sql.remove_member(tenant_id, user_id).await
    }

    async fn create_invitation(&self, invitation: &NewInvitation) -> StoreResult<Invitation> {
        self.sql.create_invitation(invitation).await
    }

    async fn invitations(&self, tenant_id: Uuid) -> StoreResult<Vec<Invitation>> {
        self.sql.invitations(tenant_id).await
    }

    async fn revoke_invitation(
        &self,
        tenant_id: Uuid,
        invitation_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Invitation> {
        self.sql
            .revoke_invitation(tenant_id, invitation_id, now)
            .await
    }

    async fn record_stripe_event(
        &self,
        event_id: &str,
        kind: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.sql.record_stripe_event(event_id, kind, now).await
    }

    async fn apply_billing_event(
        &self,
        event: &BillingEvent,
        now: DateTime<Utc>,
    ) -> StoreResult<WebhookOutcome> {
        self.sql.apply_billing_event(event, now).await
    }

    async fn append_audit(&self, events: &[NewAuditEvent]) -> StoreResult<u64> {
        self.sql.append_audit(events).await
    }

    async fn audit_events(&self, tenant_id: Uuid, limit: i64) -> StoreResult<Vec<AuditEvent>> {
        self.sql.audit_events(tenant_id, limit).await
    }

    async fn usage(
        &self,
        tenant_id: Uuid,
        period: &UsagePeriod,
        max_seats: u32,
    ) -> StoreResult<UsageResponse> {
        self.sql.usage(tenant_id, period, max_seats).await
    }
}
