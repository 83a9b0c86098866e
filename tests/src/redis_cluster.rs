//! A real Redis Cluster on this machine: three masters (`redis-server --cluster-enabled yes`) on
//! free ports with a temporary data directory each, joined by `redis-cli --cluster create`, every
//! slot served and every node agreeing before anything uses it.
//!
//! A test binary shares one cluster ([`shared`], started on first use), each test under a key
//! prefix of its own ([`cluster_seats`]), so the cluster costs its start-up once per binary. A
//! [`LocalCluster`] of its own ([`LocalCluster::start`]) is for a test that stops it. Dropping one
//! kills its nodes and removes its directory; the shared one lives in a static, which is never
//! dropped, so every cluster also has a reaper: a `sh` that waits for end-of-file on a pipe this
//! process holds and then kills the nodes and removes the directory. However this process ends
//! (even `SIGKILL`), the nodes go with it.
//!
//! [`LocalCluster::start_tls`] starts one whose nodes speak only TLS, client and cluster bus alike
//! (`--tls-cluster yes`), with a certificate the caller made, as Memorystore Cluster's in-transit
//! encryption does.
//!
//! Needs `redis-server` and `redis-cli` (7.x) on `PATH`; without them the tests skip, saying so,
//! except in CI (`CI` set), where they fail.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use shared::config::{RedisTarget, Secret};
use shared::seats::RedisSeats;

/// Masters in a cluster: the smallest cluster `redis-cli --cluster create` accepts.
pub const MASTERS: usize = 3;

/// How long the nodes may take to start and agree on the slots.
const START_BUDGET: Duration = Duration::from_secs(30);

/// The certificate every node of a TLS cluster serves, and the CA clients trust.
#[derive(Debug, Clone)]
pub struct ClusterTls {
    /// The nodes' certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// The CA that signed it (PEM), which `redis-cli` trusts too.
    pub ca: PathBuf,
}

/// A running Redis Cluster of [`MASTERS`] masters, no replicas.
pub struct LocalCluster {
    /// The client port of each node, in creation order (the TLS port of a TLS cluster).
    ports: Vec<u16>,
    /// Whether the nodes speak TLS only, with this certificate.
    tls: Option<ClusterTls>,
    /// The `redis-server` processes.
    nodes: Vec<Child>,
    /// The nodes' data directories, config files and logs.
    dir: PathBuf,
    /// Kills the nodes if this process ends without dropping the cluster; its stdin is the pipe
    /// it waits on.
    reaper: Option<(Child, ChildStdin)>,
}

impl LocalCluster {
    /// Starts a cluster (blocking, up to [`START_BUDGET`] per attempt; a port taken between
    /// choosing and binding it is retried on new ports).
    pub fn start() -> anyhow::Result<Self> {
        Self::start_with(None)
    }

    /// Starts a cluster whose nodes accept only TLS, serving `tls.cert` (blocking, as
    /// [`Self::start`]).
    pub fn start_tls(tls: ClusterTls) -> anyhow::Result<Self> {
        Self::start_with(Some(tls))
    }

    fn start_with(tls: Option<ClusterTls>) -> anyhow::Result<Self> {
        let mut failure = None;
        for _ in 0..3 {
            match Self::start_once(tls.clone()) {
                Ok(cluster) => return Ok(cluster),
                Err(why) => failure = Some(why),
            }
        }
        Err(failure.expect("three attempts ran"))
    }

    /// The URL of every node: `redis://`, or `rediss://` for a TLS cluster.
    pub fn node_urls(&self) -> Vec<String> {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        self.ports
            .iter()
            .map(|port| format!("{scheme}://127.0.0.1:{port}"))
            .collect()
    }

    /// The cluster as configuration names it: every node a seed (`REDIS_URL`'s list).
    pub fn target(&self) -> RedisTarget {
        RedisTarget::Cluster(self.node_urls().into_iter().map(Secret::new).collect())
    }

    /// `REDIS_URL` for a server on this cluster (with `REDIS_CLUSTER=true`).
    pub fn redis_url(&self) -> String {
        self.node_urls().join(",")
    }

    fn start_once(tls: Option<ClusterTls>) -> anyhow::Result<Self> {
        let dir =
            std::env::temp_dir().join(format!("redis-cluster-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let ports = free_ports(MASTERS * 2)?;
        let mut cluster = Self {
            ports: ports[..MASTERS].to_vec(),
            tls,
            nodes: Vec::new(),
            dir,
            reaper: None,
        };
        for (port, bus) in ports[..MASTERS].iter().zip(&ports[MASTERS..]) {
            let node = redis_server(&cluster.dir, *port, *bus, cluster.tls.as_ref())?;
            cluster.nodes.push(node);
        }
        cluster.reaper = Some(reaper(&cluster.dir, &cluster.nodes)?);
        cluster.create().map_err(|why| cluster.with_logs(why))?;
        Ok(cluster)
    }

    /// Waits for every node, joins them, and waits until each says the cluster is whole.
    fn create(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_BUDGET;
        for &port in &self.ports {
            until(deadline, &format!("node {port} answers PING"), || {
                Ok(self.redis_cli(port, &["PING"])?.contains("PONG"))
            })?;
        }
        // redis-cli waits for the nodes to join without end (a TLS bus that refuses the nodes'
        // certificates never joins), so it runs against the same deadline.
        let mut create = self
            .cli()
            .arg("--cluster")
            .arg("create")
            .args(self.ports.iter().map(|port| format!("127.0.0.1:{port}")))
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("running redis-cli --cluster create")?;
        let finished = until(deadline, "redis-cli --cluster create ends", || {
            Ok(create.try_wait()?.is_some())
        });
        if finished.is_err() {
            let _ = create.kill();
        }
        let output = create.wait_with_output()?;
        if finished.is_err() || !output.status.success() {
            bail!(
                "redis-cli --cluster create failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        for &port in &self.ports {
            until(
                deadline,
                &format!("node {port} reports the whole cluster"),
                || {
                    let info = self.redis_cli(port, &["CLUSTER", "INFO"])?;
                    Ok(info.contains("cluster_state:ok")
                        && info.contains("cluster_slots_ok:16384")
                        && info.contains(&format!("cluster_known_nodes:{MASTERS}")))
                },
            )?;
        }
        Ok(())
    }

    /// `redis-cli`, over TLS trusting the CA for a TLS cluster.
    fn cli(&self) -> Command {
        let mut cli = Command::new("redis-cli");
        if let Some(tls) = &self.tls {
            cli.arg("--tls").arg("--cacert").arg(&tls.ca);
        }
        cli.stdin(Stdio::null());
        cli
    }

    /// One command on the node at `port`, its answer as text.
    fn redis_cli(&self, port: u16, args: &[&str]) -> anyhow::Result<String> {
        let output = self
            .cli()
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(args)
            .output()
            .context("running redis-cli")?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// `why`, with the end of each node's log.
    fn with_logs(&self, why: anyhow::Error) -> anyhow::Error {
        let mut logs = String::new();
        for port in &self.ports {
            let mut log = String::new();
            let _ = std::fs::File::open(self.dir.join(format!("redis-{port}.log")))
                .and_then(|mut f| f.read_to_string(&mut log));
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            logs.push_str(&format!("\n--- node {port}:\n"));
            for line in tail.iter().rev() {
                logs.push_str(line);
                logs.push('\n');
            }
        }
        why.context(format!(
            "the local Redis Cluster did not start; logs:{logs}"
        ))
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.kill();
            let _ = node.wait();
        }
        if let Some((mut reaper, stdin)) = self.reaper.take() {
            // The nodes are gone: stop the reaper rather than let it kill their (reusable) pids.
            let _ = reaper.kill();
            let _ = reaper.wait();
            drop(stdin);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The binary's shared cluster, started on first call; `None` (with a note) when `redis-server`
/// is not installed, outside CI.
///
/// # Panics
/// In CI when `redis-server` or `redis-cli` is missing, and whenever the cluster cannot start.
pub fn shared() -> Option<&'static LocalCluster> {
    static SHARED: OnceLock<Option<LocalCluster>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            installed()?;
            Some(LocalCluster::start().unwrap_or_else(|why| panic!("{why:#}")))
        })
        .as_ref()
}

/// A seat store on the shared cluster under a fresh key prefix, or `None` when the test should
/// skip (see [`shared`]).
pub fn cluster_seats() -> Option<Arc<RedisSeats>> {
    let cluster = shared()?;
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let seeds = cluster.node_urls();
    let seeds: Vec<&str> = seeds.iter().map(String::as_str).collect();
    Some(Arc::new(
        RedisSeats::cluster(&seeds, &prefix).expect("the cluster's URLs parse"),
    ))
}

/// `Some(())` when `redis-server` and `redis-cli` run; `None` with a note when not, outside CI.
///
/// # Panics
/// In CI, when either is missing.
pub fn installed() -> Option<()> {
    let runs = |program: &str| {
        Command::new(program)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    if runs("redis-server") && runs("redis-cli") {
        return Some(());
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "redis-server and redis-cli (Redis 7) must be installed in CI: the Redis Cluster \
             tests start a local cluster and may not be skipped there (apt-get install redis-server)"
        );
    }
    if !cfg!(redis_tools) {
        panic!(
            "redis-server / redis-cli are not installed, so this Redis Cluster test cannot run: install \
             them, or mark the test #[cfg_attr(not(redis_tools), ignore = \"redis-server is not \
             installed\")] so the summary counts it as ignored (tests/build.rs)"
        );
    }
    eprintln!(
        "SKIPPED: redis-server / redis-cli were installed when this test binary was built but do \
         not run now, so the Redis Cluster test did not run"
    );
    None
}

/// One node: plain on `port`, or TLS only on `port` (client connections and cluster bus) with
/// `tls`; the cluster bus on `bus`.
fn redis_server(
    dir: &Path,
    port: u16,
    bus: u16,
    tls: Option<&ClusterTls>,
) -> anyhow::Result<Child> {
    let mut server = Command::new("redis-server");
    match tls {
        None => server.args(["--port", &port.to_string()]),
        Some(tls) => server
            .args(["--port", "0", "--tls-port", &port.to_string()])
            .args(["--tls-cluster", "yes", "--tls-auth-clients", "no"])
            .arg("--tls-cert-file")
            .arg(&tls.cert)
            .arg("--tls-key-file")
            .arg(&tls.key)
            .arg("--tls-ca-cert-file")
            .arg(&tls.ca),
    };
    server
        .args(["--cluster-port", &bus.to_string()])
        .args(["--bind", "127.0.0.1", "--protected-mode", "no"])
        .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "5000"])
        .arg("--cluster-config-file")
        .arg(dir.join(format!("nodes-{port}.conf")))
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .arg("--dir")
        .arg(dir)
        .arg("--logfile")
        .arg(dir.join(format!("redis-{port}.log")))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting redis-server")
}

/// A `sh` that kills `nodes` and removes `dir` once its stdin (held by this process) closes. It
/// waits a second between the two: a node that was also sent SIGTERM (a runner killing the whole
/// group) writes its last log lines while it stops, and Redis reopens its log file for every line.
fn reaper(dir: &Path, nodes: &[Child]) -> anyhow::Result<(Child, ChildStdin)> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#"cat >/dev/null; dir="$1"; shift; kill -9 "$@" 2>/dev/null; sleep 1; rm -rf "$dir""#)
        .arg("reaper")
        .arg(dir)
        .args(nodes.iter().map(|node| node.id().to_string()))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the cluster's reaper")?;
    let stdin = child.stdin.take().context("the reaper's stdin")?;
    Ok((child, stdin))
}

/// `count` distinct ports free right now (held together while chosen, so they differ).
fn free_ports(count: usize) -> anyhow::Result<Vec<u16>> {
    let listeners = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()
        .context("finding free ports")?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}

/// Polls `check` until it answers true, at most until `deadline`.
fn until(
    deadline: Instant,
    what: &str,
    mut check: impl FnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    loop {
        let last = check();
        if matches!(last, Ok(true)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("timed out waiting until {what} (last: {last:?})");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
