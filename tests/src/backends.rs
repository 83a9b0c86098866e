//! Real PostgreSQL and Redis for tests, each test in its own schema or key prefix.

use std::sync::Arc;

use shared::seats::{EmbeddedSeats, RedisSeats, SeatStore};
use shared::store::{PgStore, SqliteStore, Store};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// The value of a real-backend variable, `None` (with a note on stderr) when the test should skip.
///
/// # Panics
/// When the variable is unset and `CI` is set: CI must run real-backend tests.
#[track_caller]
pub fn backend_url(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("{name} must be set in CI: real-backend tests may not be skipped there")
        }
        _ => {
            eprintln!("SKIPPED: {name} is not set, so this real-backend test did not run");
            None
        }
    }
}

/// A PostgreSQL store in a fresh schema, migrated; the schema is dropped by [`PgSchema::drop`].
pub struct PgSchema {
    /// The store on that schema.
    pub store: PgStore,
    admin: sqlx::PgPool,
    name: String,
    url: String,
}

impl PgSchema {
    /// A fresh schema on `DATABASE_URL`, or `None` when the test should skip.
    ///
    /// # Panics
    /// When the server cannot be reached (in CI that is a failure, never a skip).
    pub async fn create() -> Option<Self> {
        let url = backend_url("DATABASE_URL")?;
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let options: PgConnectOptions = url.parse().expect("DATABASE_URL parses");
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .expect("DATABASE_URL must reach a running PostgreSQL");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&admin)
            .await
            .expect("create schema");
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options.options([("search_path", name.as_str())]))
            .await
            .expect("connect to the test schema");
        let store = PgStore::from_pool(pool);
        store.migrate().await.expect("migrations apply");
        Some(Self {
            store,
            admin,
            url,
            name,
        })
    }

    /// A `DATABASE_URL` whose connections use this schema.
    pub fn url(&self) -> String {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!(
            "{}{separator}options=-c%20search_path%3D{}",
            self.url, self.name
        )
    }

    /// Drops the schema and everything in it.
    pub async fn drop(self) {
        self.store.pool().close().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA {} CASCADE",
            self.name
        )))
        .execute(&self.admin)
        .await
        .expect("drop schema");
    }
}

/// A migrated in-memory SQLite store.
pub async fn sqlite_store() -> SqliteStore {
    let store = SqliteStore::connect("sqlite::memory:")
        .await
        .expect("in-memory SQLite opens");
    store.migrate().await.expect("migrations apply");
    store
}

/// A store of either kind, for suites that run the same bodies against both.
pub type DynStore = Arc<dyn Store>;

/// A Redis seat store under a fresh key prefix, or `None` when the test should skip.
pub fn redis_seats() -> Option<Arc<RedisSeats>> {
    let url = backend_url("REDIS_URL")?;
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    Some(Arc::new(
        RedisSeats::new(&url, &prefix).expect("REDIS_URL parses"),
    ))
}

/// An in-process seat store.
pub fn embedded_seats() -> Arc<dyn SeatStore> {
    Arc::new(EmbeddedSeats::new())
}
