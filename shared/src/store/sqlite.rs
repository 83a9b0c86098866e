//! The records in a SQLite file: the embedded default, so the service runs with nothing installed.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::sql::{impl_store, lock_membership, owners_without};

/// The SQLite migrations, applied automatically at start-up of the embedded default.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// Records in SQLite.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// SQLite has one writer at a time; WAL lets readers proceed beside it.
    pool: SqlitePool,
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
        Ok(Self { pool })
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR
            .run(&self.pool)
            .await
            .context("applying SQLite migrations")
    }

    /// The pool, for tests that need to break or inspect it.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Begins a transaction that will write, holding the write lock from its first statement.
    ///
    /// A deferred transaction that reads before it writes cannot take the write lock once another
    /// connection has committed since its read: WAL answers "database is locked" at once, without
    /// waiting out `busy_timeout`. `BEGIN IMMEDIATE` takes the lock up front, and waits for it.
    async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }
}

impl_store!(SqliteStore);
