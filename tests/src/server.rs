//! The local server on a free port, in this process, over real HTTP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use shared::config::Config;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::backends::PgSchema;

/// A running local server; stops when dropped.
pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Its configuration.
    pub config: Arc<Config>,
    /// The records and seats it uses, for arranging and inspecting state.
    pub local: LocalHandles,
    /// Keeps the data directory alive as long as the server.
    pub data_dir: TempDir,
    /// The PostgreSQL schema of a real-backend server, dropped with it.
    schema: Option<PgSchema>,
    /// The environment it was started with, to start it again.
    vars: Vec<(String, String)>,
    stop: Option<oneshot::Sender<()>>,
    /// Ends when the server has stopped serving.
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// A server that was stopped, with its data dir and database kept so it can start again on the
/// same address.
pub struct StoppedServer {
    url: String,
    vars: Vec<(String, String)>,
    data_dir: TempDir,
    schema: Option<PgSchema>,
}

/// Which backends a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backends {
    /// SQLite in the data dir, seats in process.
    Embedded,
    /// PostgreSQL (a fresh schema on `DATABASE_URL`) and Redis (a fresh prefix on `REDIS_URL`,
    /// a Redis Cluster's seed nodes when `REDIS_CLUSTER=true`).
    Real,
    /// PostgreSQL as for `Real`, and the local three-master Redis Cluster this process starts
    /// ([`crate::redis_cluster::shared`]) under a fresh prefix.
    Cluster,
}

/// The backends of a running server.
pub struct LocalHandles {
    /// Records.
    pub store: Arc<dyn shared::store::Store>,
    /// Seats.
    pub seats: Arc<dyn shared::seats::SeatStore>,
}

/// A directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TempDir {
    /// A fresh directory under the system temp dir.
    pub fn new() -> Self {
        let path =
            std::env::temp_dir().join(format!("coditect-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).expect("create temp dir");
        Self(path)
    }
}

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}

impl TestServer {
    /// The local server on the embedded default in a fresh data dir, with `vars` set on top
    /// (e.g. `SEAT_TTL_SECONDS`).
    pub async fn embedded(vars: &[(&str, &str)]) -> Self {
        let data_dir = TempDir::new();
        let dir = data_dir.0.display().to_string();
        let mut all: Vec<(String, String)> = vec![("DATA_DIR".into(), dir)];
        all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Self::with(all, data_dir).await
    }

    /// The local server on `backends` with `vars` on top; `None` when real backends are not
    /// configured outside CI (the test then skips, saying so).
    pub async fn start(backends: Backends, vars: &[(&str, &str)]) -> Option<Self> {
        match backends {
            Backends::Embedded => Some(Self::embedded(vars).await),
            Backends::Real | Backends::Cluster => {
                let (redis, cluster) = match backends {
                    Backends::Cluster => {
                        let cluster = crate::redis_cluster::shared()?;
                        (cluster.redis_url(), "true".to_owned())
                    }
                    _ => (
                        crate::backends::backend_url("REDIS_URL")?,
                        std::env::var("REDIS_CLUSTER").unwrap_or_default(),
                    ),
                };
                let schema = PgSchema::create().await?;
                let data_dir = TempDir::new();
                let mut all: Vec<(String, String)> = vec![
                    ("DATA_DIR".into(), data_dir.0.display().to_string()),
                    ("DATABASE_URL".into(), schema.url()),
                    ("REDIS_URL".into(), redis),
                    ("REDIS_CLUSTER".into(), cluster),
                    (
                        "REDIS_KEY_PREFIX".into(),
                        format!("test:{}:", uuid::Uuid::new_v4().simple()),
                    ),
                ];
                all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
                let mut server = Self::with(all, data_dir).await;
                server.schema = Some(schema);
                Some(server)
            }
        }
    }

    /// The local server with exactly `vars` as its environment.
    pub async fn with(vars: Vec<(String, String)>, data_dir: TempDir) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Self::on(listener, vars, data_dir).await
    }

    /// Stops serving (the embedded seat store's seats are gone with the process state it models;
    /// records, the lease key, Redis and PostgreSQL stay), waiting until the port is closed.
    pub async fn stop(mut self) -> StoppedServer {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), served).await;
        }
        StoppedServer {
            url: self.url.clone(),
            vars: std::mem::take(&mut self.vars),
            data_dir: std::mem::replace(&mut self.data_dir, TempDir(std::path::PathBuf::new())),
            schema: self.schema.take(),
        }
    }

    async fn on(listener: TcpListener, vars: Vec<(String, String)>, data_dir: TempDir) -> Self {
        let config = Arc::new(
            Config::from_lookup(|name| {
                // The last value of a name wins, as in an environment: a test's own vars
                // override the defaults they were put on top of.
                vars.iter()
                    .rev()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            })
            .expect("test configuration parses"),
        );
        let local = local::build(config.clone())
            .await
            .expect("local server builds");
        let handles = LocalHandles {
            store: local.store.clone(),
            seats: local.seats.clone(),
        };
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(shared::serving::serve(
            listener,
            local.app,
            async {
                let _ = stopped.await;
            },
            Duration::from_secs(1),
        ));
        Self {
            url: format!("http://{addr}"),
            config,
            local: handles,
            data_dir,
            schema: None,
            vars,
            stop: Some(stop),
            served: Some(served),
        }
    }

    /// Runs the cleanup task once, as the timer or Cloud Scheduler would.
    pub async fn cleanup(&self) -> shared::seats::cleanup::CleanupReport {
        shared::seats::cleanup::run(self.local.seats.as_ref(), self.local.store.as_ref())
            .await
            .expect("cleanup runs")
    }
}

impl StoppedServer {
    /// Starts the server again on its old address, with its old data.
    ///
    /// # Panics
    /// When the address cannot be bound again within five seconds.
    pub async fn start_again(mut self) -> TestServer {
        let addr = self.url.trim_start_matches("http://").to_owned();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match TcpListener::bind(&addr).await {
                Ok(listener) => break listener,
                Err(e) if std::time::Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("{addr} could not be bound again: {e}"),
            }
        };
        let vars = std::mem::take(&mut self.vars);
        let data_dir = std::mem::replace(&mut self.data_dir, TempDir(std::path::PathBuf::new()));
        let mut server = TestServer::on(listener, vars, data_dir).await;
        server.schema = self.schema.take();
        server
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(schema) = self.schema.take() {
            drop_schema(schema);
        }
    }
}

/// Runs each listed `async fn(Backends)` test body once per backend: `embedded::name` always,
/// `real::name` against PostgreSQL and Redis (skipping outside CI when they are not configured).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::server::Backends::Embedded).await;
                }
            )+
        }
        mod real {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(
                    not(all(real_postgres, real_redis)),
                    ignore = "DATABASE_URL or REDIS_URL is not set"
                )]
                async fn $name() {
                    super::$name($crate::server::Backends::Real).await;
                }
            )+
        }
    };
}

impl Drop for StoppedServer {
    fn drop(&mut self) {
        if let Some(schema) = self.schema.take() {
            drop_schema(schema);
        }
    }
}

/// Drops a test schema from a synchronous `Drop`: a short-lived runtime on its own thread, so it
/// happens even when the test panicked.
fn drop_schema(schema: PgSchema) {
    let _ = std::thread::spawn(move || {
        if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            runtime.block_on(schema.drop());
        }
    })
    .join();
}
