//! The server under load.
//!
//! In process (the default), the local server runs on its own two-thread runtime, as a separate
//! process would, on the embedded backends or on PostgreSQL and Redis (a fresh schema and key
//! prefix, removed afterwards). Externally (`--url`, or one URL per function), the server is
//! whatever answers there. Either way [`super::tenants`] sets up its licenses.

use std::sync::Arc;

use anyhow::{Context, bail};
use shared::api::SessionsResponse;
use shared::config::RedisTarget;
use shared::seats::{RedisEndpoint, RedisSeats, SeatStore, read_redis_ca};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::watch;
use uuid::Uuid;

use super::scenario::Workload;
pub use super::tenants::LicenseUnderTest;
use super::tenants::{call, connect, register_all, set_seats};
use crate::server::{Backends, TestServer};
use crate::tokens::Person;

/// Where each function answers: one URL for the local server, or one per Cloud Run service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Urls {
    /// Base URL of acquire.
    pub acquire: String,
    /// Base URL of heartbeat.
    pub heartbeat: String,
    /// Base URL of release.
    pub release: String,
    /// Base URL of admin (registration, invitations, the sessions an audit reads).
    pub admin: String,
}

impl Urls {
    /// Every function at `base`.
    pub fn one(base: &str) -> Self {
        let base = base.trim_end_matches('/').to_owned();
        Self {
            acquire: base.clone(),
            heartbeat: base.clone(),
            release: base.clone(),
            admin: base,
        }
    }
}

/// Which server to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Where {
    /// The local server in this process, on these backends.
    InProcess(Backends),
    /// A running server; seat counts through `database_url` when given, else each license keeps
    /// the single seat of the FREE plan.
    External {
        /// Its functions.
        urls: Urls,
        /// Its records database, for setting seat counts.
        database_url: Option<String>,
    },
}

/// The live holders of each license, read from the seat store for the server-side audit.
pub enum HolderSource {
    /// Straight from a seat store (the in-process server's, or the raw baseline's Redis prefix).
    Store {
        /// The store.
        seats: Arc<dyn SeatStore>,
        /// The licenses, by index.
        licenses: Vec<Uuid>,
    },
    /// Through the admin API, as each tenant's owner (`GET …/sessions`).
    Admin {
        /// HTTP client.
        http: reqwest::Client,
        /// Base URL of admin.
        admin: String,
        /// Each license's owner and tenant, by index.
        owners: Vec<(Person, Uuid)>,
    },
}

impl HolderSource {
    /// How many licenses it covers.
    pub fn licenses(&self) -> usize {
        match self {
            Self::Store { licenses, .. } => licenses.len(),
            Self::Admin { owners, .. } => owners.len(),
        }
    }

    /// The live holders of license `index` now.
    pub async fn live(&self, index: usize) -> anyhow::Result<u32> {
        match self {
            Self::Store { seats, licenses } => {
                Ok(seats.holders(licenses[index]).await?.len() as u32)
            }
            Self::Admin {
                http,
                admin,
                owners,
            } => {
                let (owner, tenant) = &owners[index];
                let answer: SessionsResponse = call(
                    http,
                    reqwest::Method::GET,
                    &format!("{admin}/api/v1/tenants/{tenant}/sessions"),
                    owner,
                    None,
                )
                .await?;
                Ok(answer.sessions.len() as u32)
            }
        }
    }
}

/// A server ready for load, with its licenses set up.
pub struct Target {
    /// Where the clients send their calls.
    pub urls: Urls,
    /// The licenses, by index.
    pub licenses: Vec<LicenseUnderTest>,
    /// One line for the report: which server, which backends.
    pub description: String,
    /// The in-process server and its runtime, when there is one.
    local: Option<InProcess>,
}

/// The server's environment for a workload without rate limits.
const LIMITS_OFF: &[(&str, &str)] = &[
    ("ACQUIRE_RATE_PER_MACHINE", "0"),
    ("ACQUIRE_RATE_PER_SEAT", "0"),
    ("RELEASE_RATE_PER_MACHINE", "0"),
];

/// The local server running in this process.
struct InProcess {
    /// Its own runtime, so it competes with the load generator for the CPU as a separate process
    /// would, not for the same scheduler.
    runtime: Runtime,
    /// The server; `None` once torn down.
    server: Option<TestServer>,
    /// The Redis store of a real-backend server, its key prefix deleted at teardown.
    redis: Option<RedisSeats>,
    /// Stops the cleanup timer, and the task to wait for.
    cleanup: Option<(watch::Sender<bool>, tokio::task::JoinHandle<()>)>,
}

impl Target {
    /// Starts (or reaches) the server and sets up the workload's licenses.
    pub async fn prepare(place: &Where, workload: &Workload) -> anyhow::Result<Self> {
        let http = reqwest::Client::new();
        match place {
            Where::InProcess(backends) => {
                let local = InProcess::start(*backends, workload.rate_limits).await?;
                let server = local.server.as_ref().context("server just started")?;
                let urls = Urls::one(&server.url);
                let store = server.local.store.clone();
                let licenses = register_all(&http, &urls, workload).await?;
                let handle = local.runtime.handle().clone();
                set_seats(&handle, store, &licenses).await?;
                let description = match backends {
                    Backends::Embedded => {
                        "in-process local server, embedded backends (SQLite, in-process seats)"
                    }
                    Backends::Real => match server.config.redis {
                        Some(RedisTarget::Cluster(_)) => {
                            "in-process local server, PostgreSQL + Redis Cluster"
                        }
                        _ => "in-process local server, PostgreSQL + Redis",
                    },
                    Backends::Cluster => {
                        "in-process local server, PostgreSQL + local 3-master Redis Cluster"
                    }
                };
                Ok(Self {
                    urls,
                    licenses,
                    description: description.into(),
                    local: Some(local),
                })
            }
            Where::External { urls, database_url } => {
                let mut licenses = register_all(&http, urls, workload).await?;
                match database_url {
                    Some(url) => set_seats(&Handle::current(), connect(url).await?, &licenses)
                        .await
                        .context("setting seat counts through --database-url")?,
                    None => {
                        eprintln!(
                            "note: no --database-url, so every license keeps the FREE plan's 1 seat"
                        );
                        licenses.iter_mut().for_each(|l| l.seats = 1);
                    }
                }
                Ok(Self {
                    urls: urls.clone(),
                    licenses,
                    description: format!("external server at {}", urls.acquire),
                    local: None,
                })
            }
        }
    }

    /// Whether the server runs in this process (its threads are then named `server`).
    pub fn in_process(&self) -> bool {
        self.local.is_some()
    }

    /// Where the server-side audit reads holders, and the runtime it must run on.
    pub fn holders(&self) -> (HolderSource, Handle) {
        match self
            .local
            .as_ref()
            .and_then(|l| l.server.as_ref().map(|s| (l, s)))
        {
            Some((local, server)) => (
                HolderSource::Store {
                    seats: server.local.seats.clone(),
                    licenses: self.licenses.iter().map(|l| l.id).collect(),
                },
                local.runtime.handle().clone(),
            ),
            None => (
                HolderSource::Admin {
                    http: reqwest::Client::new(),
                    admin: self.urls.admin.clone(),
                    owners: self
                        .licenses
                        .iter()
                        .map(|l| (l.owner.clone(), l.tenant))
                        .collect(),
                },
                Handle::current(),
            ),
        }
    }

    /// Stops an in-process server and removes what it stored (schema, Redis keys).
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        let Some(mut local) = self.local.take() else {
            return Ok(());
        };
        if let Some((stop, task)) = local.cleanup.take() {
            let _ = stop.send(true);
            task.await?;
        }
        if let Some(seats) = local.redis.take() {
            local
                .runtime
                .spawn(async move { seats.delete_all().await })
                .await??;
        }
        let server = local.server.take();
        // Dropping the server drops its PostgreSQL schema, which blocks on a thread of its own.
        tokio::task::spawn_blocking(move || drop(server)).await?;
        local.runtime.shutdown_background();
        Ok(())
    }
}

impl InProcess {
    async fn start(backends: Backends, rate_limits: bool) -> anyhow::Result<Self> {
        if backends != Backends::Embedded {
            let needed: &[&str] = match backends {
                Backends::Cluster => &["DATABASE_URL"],
                _ => &["DATABASE_URL", "REDIS_URL"],
            };
            for &name in needed {
                if std::env::var(name).map_or(true, |v| v.trim().is_empty()) {
                    bail!(
                        "--backend real needs {name} (e.g. {name}={})",
                        example(name)
                    );
                }
            }
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("server")
            .enable_all()
            .build()
            .context("building the server's runtime")?;
        let server = runtime
            .spawn(async move {
                let vars: &[(&str, &str)] = if rate_limits { &[] } else { LIMITS_OFF };
                TestServer::start(backends, vars).await
            })
            .await?
            .context("real backends are not configured")?;
        // The local binary runs cleanup on this timer too; so does the server under load.
        let (stop, stopped) = watch::channel(false);
        let cleanup = runtime.spawn(cleanup_every(
            server.config.cleanup_interval,
            server.local.seats.clone(),
            server.local.store.clone(),
            stopped,
        ));
        let redis = match &server.config.redis {
            Some(target) => {
                let ca = match &server.config.redis_ca_cert {
                    Some(path) => Some(read_redis_ca(path)?),
                    None => None,
                };
                let endpoint = RedisEndpoint::new(target, ca)?;
                Some(RedisSeats::on(endpoint, &server.config.redis_key_prefix))
            }
            None => None,
        };
        Ok(Self {
            runtime,
            server: Some(server),
            redis,
            cleanup: Some((stop, cleanup)),
        })
    }
}

/// Runs the cleanup task every `every` until `stop` turns true, never stopping one midway: a
/// cleanup cut off inside its transaction would hold locks the schema's removal then waits for.
async fn cleanup_every(
    every: std::time::Duration,
    seats: Arc<dyn SeatStore>,
    store: Arc<dyn shared::store::Store>,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            _ = ticker.tick() => {}
        }
        if let Err(e) = shared::seats::cleanup::run(seats.as_ref(), store.as_ref()).await {
            eprintln!("cleanup failed: {e:#}");
        }
    }
}

fn example(name: &str) -> &'static str {
    match name {
        "DATABASE_URL" => "postgres://postgres@127.0.0.1:5432/test",
        _ => "redis://127.0.0.1:6379",
    }
}
