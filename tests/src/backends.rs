//! Real PostgreSQL and Redis for tests, each test in its own schema or key prefix.

use std::sync::Arc;

use shared::seats::{EmbeddedSeats, RedisSeats, SeatStore};
use shared::store::{PgStore, SqliteStore, Store};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// The value of a real-backend variable, or `None` (with a note on stderr) when this test binary
/// was built with the variable set and is run without it.
///
/// A test that needs `name` is marked to be ignored when `name` is unset at build time (the cfgs of
/// `tests/build.rs`: `#[cfg_attr(not(real_redis), ignore = "REDIS_URL is not set")]`), so the
/// runner's summary counts it as ignored rather than passed.
///
/// # Panics
/// When the variable is unset and `CI` is set (CI must run real-backend tests), and when it is
/// unset and the test was not marked for it: a test that would pass having done nothing.
#[track_caller]
pub fn backend_url(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("{name} must be set in CI: real-backend tests may not be skipped there")
        }
        _ if built_with(name) => {
            eprintln!(
                "SKIPPED: {name} was set when this test binary was built but is not set now, so \
                 this real-backend test did not run"
            );
            None
        }
        _ => panic!(
            "{name} is not set, so this real-backend test cannot run: set it, or (if this test was \
             not run with --include-ignored) mark the test \
             #[cfg_attr(not({cfg}), ignore = \"{name} is not set\")] so the summary counts it as \
             ignored (tests/build.rs)",
            cfg = cfg_of(name)
        ),
    }
}

/// The real-backend variables, each with the cfg `tests/build.rs` sets when it was set at build
/// time and whether it was.
const BUILT_WITH: [(&str, &str, bool); 3] = [
    ("DATABASE_URL", "real_postgres", cfg!(real_postgres)),
    ("REDIS_URL", "real_redis", cfg!(real_redis)),
    (
        "FIREBASE_AUTH_EMULATOR_HOST",
        "firebase_emulator",
        cfg!(firebase_emulator),
    ),
];

fn built_with(name: &str) -> bool {
    BUILT_WITH
        .iter()
        .any(|&(var, _, built)| var == name && built)
}

fn cfg_of(name: &str) -> &'static str {
    BUILT_WITH.iter().find(|&&(var, _, _)| var == name).map_or(
        "an unknown cfg: add the variable to tests/build.rs",
        |&(_, cfg, _)| cfg,
    )
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
