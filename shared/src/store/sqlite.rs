//! The records in a SQLite file: the embedded default, so the service runs with nothing installed.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use uuid::Uuid;

use super::sql::{Driver, RowsAffected, SqlRecords};
use super::{LicensePlan, NewInvitation, Registered, Registration, Store, StoreResult};
use crate::api::{UsagePeriod, UsageResponse, WebhookOutcome};
use crate::billing::BillingEvent;
use crate::domain::{
    AuditEvent, Invitation, License, NewAuditEvent, Role, SeatPolicy, Tenant, User,
};

/// The SQLite migrations, applied automatically at start-up of the embedded default.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// Records in SQLite.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// The queries, on a pool of SQLite connections: one writer at a time, and WAL lets readers
    /// proceed beside it.
    sql: SqlRecords<Sqlite>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path` or `sqlite::memory:`).
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .context("DATABASE_URL is not a valid SQLite URL")?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        // An in-memory database exists once per connection; keep exactly one so every query sees it.
        let max = if url.contains(":memory:") { 1 } else { 4 };
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .connect_with(options)
            .await
            .with_context(|| "opening the SQLite database")?;
        Ok(Self {
            sql: SqlRecords::new(pool),
        })
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR
            .run(self.pool())
            .await
            .context("applying SQLite migrations")
    }

    /// The pool, for tests that need to break or inspect it.
    pub fn pool(&self) -> &SqlitePool {
        self.sql.pool()
    }
}

impl Driver for Sqlite {
    /// Holds the write lock from the transaction's first statement.
    ///
    /// A deferred transaction that reads before it writes cannot take the write lock once another
    /// connection has committed since its read: WAL answers "database is locked" at once, without
    /// waiting out `busy_timeout`. `BEGIN IMMEDIATE` takes the lock up front, and waits for it.
    async fn begin_write(pool: &SqlitePool) -> sqlx::Result<Transaction<'static, Sqlite>> {
        pool.begin_with("BEGIN IMMEDIATE").await
    }
}

impl RowsAffected for SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        SqliteQueryResult::rows_affected(self)
    }
}

// Every body is the shared SQL in `sql/`; the store module doc says how to add a method.
#[async_trait]
impl Store for SqliteStore {
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
