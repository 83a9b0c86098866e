//! The records on PostgreSQL 16 (Cloud SQL in production).

use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::sql::{impl_store, lock_membership, owners_without};

/// The PostgreSQL migrations, applied by `admin migrate` (the deploy's migrate step).
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// Records on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStore {
    /// Shared by all requests of this instance; sized by `DATABASE_MAX_CONNECTIONS`.
    pool: PgPool,
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
        Ok(Self { pool })
    }

    /// Wraps an existing pool (tests use a pool per schema).
    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR
            .run(&self.pool)
            .await
            .context("applying PostgreSQL migrations")
    }

    /// The pool, for tests that need to break or inspect it.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Begins a transaction that will write. PostgreSQL locks rows as statements reach them, so a
    /// plain `BEGIN` serves (SQLite needs more; see `SqliteStore::begin_write`).
    async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        self.pool.begin().await
    }
}

impl_store!(PgStore);
