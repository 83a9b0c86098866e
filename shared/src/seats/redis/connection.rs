//! The connection under the seat store: one Redis instance, or a Redis Cluster.
//!
//! [`RedisEndpoint`] is what `REDIS_URL` (and `REDIS_CLUSTER`, `REDIS_CA_CERT`) names, built once
//! at start-up without connecting. [`RedisConnection`] is a connection to it that every request
//! shares: a self-reconnecting `ConnectionManager` for an instance, redis-rs's cluster client for a
//! cluster (it learns the slots from the seed nodes, follows `MOVED`/`ASK`, and loads a script on
//! every primary on `NOSCRIPT`). Both run the same commands, scripts and single-slot pipelines, so
//! the store above is written once; only a scan of the whole keyspace differs, as a cluster's
//! keys are spread over its primaries ([`RedisConnection::scan`]).
//!
//! Every command is bounded in time in both modes: a Redis or cluster that is down or hung
//! answers a timeout or I/O error (the store's `unavailable`), never a hang.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, ConnectionInfo, IntoConnectionInfo, Pipeline, RedisFuture, RedisResult, Value};

use crate::config::RedisTarget;

/// How long one Redis command may take before the request answers `unavailable`.
pub(super) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest a cluster command may take in all: one retry after a redirection or a reconnect
/// fits, a cluster that stopped answering does not stall a request beyond it.
const CLUSTER_BUDGET: Duration = Duration::from_secs(4);

/// Keys a SCAN step asks each node for.
const SCAN_COUNT: u32 = 1000;

/// The Redis the seat store uses, not yet connected.
#[derive(Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "built once per process; boxing would only move the bytes"
)]
pub enum RedisEndpoint {
    /// One instance.
    Instance(redis::Client),
    /// A Redis Cluster, through its seed nodes.
    Cluster(ClusterClient),
}

/// A shared connection to a [`RedisEndpoint`]; clones share it.
#[derive(Clone)]
pub enum RedisConnection {
    /// To one instance.
    Instance(ConnectionManager),
    /// To every node of a cluster.
    Cluster(ClusterConnection),
}

impl RedisEndpoint {
    /// The endpoint `target` names; with `ca_pem`, every server's certificate must chain to that
    /// CA instead of the system roots ([`redis_client`] says which checks apply). Nothing connects.
    pub fn new(target: &RedisTarget, ca_pem: Option<Vec<u8>>) -> anyhow::Result<Self> {
        match target {
            RedisTarget::Instance(url) => Ok(Self::Instance(redis_client(url.expose(), ca_pem)?)),
            RedisTarget::Cluster(seeds) => {
                let seeds: Vec<&str> = seeds.iter().map(|s| s.expose()).collect();
                Ok(Self::Cluster(cluster_client(&seeds, ca_pem)?))
            }
        }
    }

    /// Connects: an instance within the response timeout, a cluster (the seeds, then the slot map
    /// and every primary) within the cluster budget.
    pub async fn connect(&self) -> RedisResult<RedisConnection> {
        match self {
            Self::Instance(client) => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(RESPONSE_TIMEOUT))
                    .set_response_timeout(Some(RESPONSE_TIMEOUT))
                    .set_number_of_retries(1);
                ConnectionManager::new_with_config(client.clone(), config)
                    .await
                    .map(RedisConnection::Instance)
            }
            Self::Cluster(client) => bounded(client.get_async_connection())
                .await
                .map(RedisConnection::Cluster),
        }
    }
}

impl RedisConnection {
    /// Every key matching `pattern`: one SCAN on an instance, one on each primary of a cluster
    /// (where a cursor belongs to one node). A key may be missed if the cluster moves its slot
    /// meanwhile; the callers (cleanup, tests) run again later.
    pub async fn scan(&mut self, pattern: &str) -> RedisResult<Vec<String>> {
        let nodes = match self {
            Self::Instance(_) => vec![None],
            Self::Cluster(conn) => primaries(conn)
                .await?
                .into_iter()
                .map(|(host, port)| {
                    Some(RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                        host,
                        port,
                    }))
                })
                .collect(),
        };
        let mut keys = Vec::new();
        for node in nodes {
            keys.extend(self.scan_node(pattern, node).await?);
        }
        Ok(keys)
    }

    /// SCAN to the end on one node: `node` of a cluster, or the instance (`None`).
    async fn scan_node(
        &mut self,
        pattern: &str,
        node: Option<RoutingInfo>,
    ) -> RedisResult<Vec<String>> {
        let mut cursor: u64 = 0;
        let mut keys = Vec::new();
        loop {
            let mut cmd = redis::cmd("SCAN");
            cmd.arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(SCAN_COUNT);
            let answer: Value = match (&mut *self, &node) {
                (Self::Cluster(conn), Some(node)) => {
                    bounded(conn.route_command(cmd, node.clone())).await?
                }
                (conn, _) => cmd.query_async(conn).await?,
            };
            let (next, batch): (u64, Vec<String>) = redis::from_redis_value(answer)?;
            keys.extend(batch);
            if next == 0 {
                return Ok(keys);
            }
            cursor = next;
        }
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Instance(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => Box::pin(bounded(conn.req_packed_command(cmd))),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Instance(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(conn) => {
                Box::pin(bounded(conn.req_packed_commands(pipeline, offset, count)))
            }
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Instance(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
        }
    }
}

/// `work` within [`CLUSTER_BUDGET`], else a timeout error. The cluster client bounds each attempt
/// itself; this bounds the sum of its reconnects and retries too.
async fn bounded<T>(work: impl Future<Output = RedisResult<T>>) -> RedisResult<T> {
    match tokio::time::timeout(CLUSTER_BUDGET, work).await {
        Ok(answer) => answer,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("the Redis Cluster did not answer within {CLUSTER_BUDGET:?}"),
        )
        .into()),
    }
}

/// The primaries of the cluster as the client's slot map knows them (a PING to each).
async fn primaries(conn: &mut ClusterConnection) -> RedisResult<Vec<(String, u16)>> {
    let all = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
    let answers = bounded(conn.route_command(redis::cmd("PING"), all))
        .await?
        .extract_error()?;
    let Value::Map(answers) = answers else {
        return Err(protocol_error("the primaries' PINGs", &answers));
    };
    answers
        .into_iter()
        .map(|(address, _)| {
            let address: String = redis::from_redis_value(address)?;
            address
                .rsplit_once(':')
                .and_then(|(host, port)| Some((host.to_owned(), port.parse().ok()?)))
                .ok_or_else(|| protocol_error("a node address", &Value::SimpleString(address)))
        })
        .collect()
}

fn protocol_error(what: &str, value: &Value) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::UnexpectedReturnType,
        "unexpected answer",
        format!("{what}: {value:?}"),
    ))
}

/// A client for `url`; with `ca_pem`, the server's certificate must chain to that CA instead of
/// the system roots. Nothing connects yet. The load generator's raw baseline builds its client
/// here too, so it reaches a TLS Redis the way the services do.
///
/// With a CA, the certificate's chain, validity and key usage are verified, but not its name:
/// Memorystore's in-transit encryption serves a certificate whose only name is the instance's IP
/// in the subject CN, without the subject alternative name rustls (like every current TLS
/// stack) matches against. The CA is the instance's own (Memorystore makes one per instance), so a
/// certificate it signed is that instance's. A URL's `#insecure`, which would verify nothing at
/// all, is refused.
pub fn redis_client(url: &str, ca_pem: Option<Vec<u8>>) -> anyhow::Result<redis::Client> {
    let info = connection_info(url)?;
    let Some(ca_pem) = ca_pem else {
        return redis::Client::open(info).map_err(|e| anyhow!("REDIS_URL is not usable: {e}"));
    };
    let certificates = trusted(url, ca_pem)?;
    let verified = redis::Client::build_with_tls(info, certificates)
        .map_err(|e| anyhow!("REDIS_URL with REDIS_CA_CERT is not usable: {e}"))?;
    let info = verified.get_connection_info().clone();
    let mut addr = info.addr().clone();
    addr.set_danger_accept_invalid_hostnames(true);
    redis::Client::open(info.set_addr(addr))
        .map_err(|e| anyhow!("REDIS_URL with REDIS_CA_CERT is not usable: {e}"))
}

/// A cluster client on `seeds`; TLS as [`redis_client`] does it (Memorystore Cluster's in-transit
/// encryption also has a CA of its own and certificates named by IP only), on every node the
/// cluster names.
pub fn cluster_client(seeds: &[&str], ca_pem: Option<Vec<u8>>) -> anyhow::Result<ClusterClient> {
    let infos = seeds
        .iter()
        .map(|seed| connection_info(seed))
        .collect::<anyhow::Result<Vec<ConnectionInfo>>>()?;
    if infos.is_empty() {
        bail!("REDIS_URL names no seed node of the Redis Cluster");
    }
    let mut builder = ClusterClientBuilder::new(infos)
        .connection_timeout(RESPONSE_TIMEOUT)
        .response_timeout(RESPONSE_TIMEOUT)
        .overall_response_timeout(Some(CLUSTER_BUDGET))
        .retries(1);
    if let Some(ca_pem) = ca_pem {
        builder = builder
            .certs(trusted(seeds[0], ca_pem)?)
            .danger_accept_invalid_hostnames(true);
    }
    builder
        .build()
        .map_err(|e| anyhow!("REDIS_URL (the Redis Cluster's seed nodes) is not usable: {e}"))
}

/// `url` parsed, refusing `#insecure` TLS.
fn connection_info(url: &str) -> anyhow::Result<ConnectionInfo> {
    let info = url
        .into_connection_info()
        .map_err(|e| anyhow!("REDIS_URL is not usable: {e}"))?;
    if let redis::ConnectionAddr::TcpTls { insecure: true, .. } = info.addr() {
        bail!(
            "REDIS_URL asks for #insecure TLS, which verifies no certificate; remove the fragment \
             and set REDIS_CA_CERT to the CA that signs the server's certificate"
        );
    }
    Ok(info)
}

/// The trust store of `ca_pem`, for a `url` that must be TLS.
fn trusted(url: &str, ca_pem: Vec<u8>) -> anyhow::Result<redis::TlsCertificates> {
    if !url.starts_with("rediss://") {
        bail!("REDIS_CA_CERT is set, but REDIS_URL is not a rediss:// (TLS) URL");
    }
    // redis-rs skips anything that is not a CERTIFICATE block, so a file without one would make
    // an empty trust store and fail every connection later instead of now.
    if !String::from_utf8_lossy(&ca_pem).contains("-----BEGIN CERTIFICATE-----") {
        bail!("REDIS_CA_CERT holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
    }
    Ok(redis::TlsCertificates {
        client_tls: None,
        root_cert: Some(ca_pem),
    })
}

/// The CA certificate file named by `REDIS_CA_CERT`, read once at start-up.
pub fn read_redis_ca(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("REDIS_CA_CERT: cannot read {}", path.display()))
}
