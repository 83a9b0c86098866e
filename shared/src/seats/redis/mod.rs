//! Live seats in Redis (Memorystore in production).
//!
//! Each operation is one Lua script run by EVALSHA (reloaded automatically after a Redis restart),
//! so it is atomic. A license's keys share the `{lic:<id>}` hash tag and are all passed in `KEYS`,
//! so every script touches one slot and stays valid on Redis Cluster:
//!
//! - `{lic:<id>}:seats`: sorted set, session id scored by its expiry in ms from Redis `TIME`;
//! - `{lic:<id>}:sessions`: hash, session id → [`SessionData`] JSON;
//! - `{lic:<id>}:holders`: hash, `user:fingerprint` → session id (one seat per user per machine);
//! - `{lic:<id>}:events`: stream of seat events waiting for [`super::cleanup`], never trimmed;
//! - `{lic:<id>}:denials`: hash, `user:fingerprint` → that machine's pending denial count;
//! - `{lic:<id>}:grants`: hash, session id → its latest grant (1, then one more per renewal), which
//!   a lease must carry to release the seat;
//! - `{lic:<id>}:borrowed`: hash, session id → when its borrow ends (ms);
//! - `{lic:<id>}:users`: hash, user id → live seats the user holds (the per-user cap);
//! - `{lic:<id>}:queue`: sorted set, ticket → its place (FIFO); `{lic:<id>}:tickets`: hash, ticket
//!   → `joined_ms data`; `{lic:<id>}:waiters`: hash, `user:fingerprint` → its ticket;
//!   `{lic:<id>}:deadlines`: sorted set, ticket → when it lapses unless polled (ms);
//! - `{lic:<id>}:frees`: hash, when a seat last freed and the running mean time between frees
//!   (the queue's estimate), expiring an hour after the last free;
//! - `{lic:<id>}:rate:acquire:<user:fingerprint>`, `{lic:<id>}:rate:acquire` and
//!   `{lic:<id>}:rate:release:<user:fingerprint hash>`: the rate limits' TATs in µs
//!   ([`super::limits`]), each expiring when its bucket is full again.
//!
//! The Redis is one instance or, with `REDIS_CLUSTER=true`, a Redis Cluster ([`connection`]); the
//! scripts are the same. Only what spans licenses differs on a cluster: [`SeatStore::pools`] and
//! [`RedisSeats::delete_all`] scan every primary, and nothing pipelines commands of two licenses
//! together (a pipeline must stay in one slot).
//!
//! With `REDIS_CA_CERT` the server's certificate is checked against that CA (Memorystore's
//! in-transit encryption) instead of the system roots; see [`redis_client`].
//!
//! The connection is made on first use, so a service starts while Redis is down and `/readyz` says
//! so; each command has a response timeout, so a hung Redis answers `unavailable`, not a hang.

mod connection;

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::anyhow;
use async_trait::async_trait;
use redis::{AsyncCommands, Script, Value};
use tokio::sync::OnceCell;
use tokio::task::JoinSet;
use uuid::Uuid;

pub use self::connection::{
    RedisConnection, RedisEndpoint, cluster_client, read_redis_ca, redis_client,
};
use super::{
    Acquired, Holder, LimitScope, Limited, MAX_QUEUE, QueueEvent, Rate, ReleaseRequest, Released,
    SeatError, SeatEvent, SeatEventKind, SeatRequest, SeatResult, SeatStore, Ticket, Waiter, lua,
};

/// The seat store on Redis.
pub struct RedisSeats {
    /// Parsed from `REDIS_URL` (and `REDIS_CLUSTER`); connecting waits for first use.
    endpoint: RedisEndpoint,
    /// The multiplexed, self-reconnecting connection every request shares.
    connection: OnceCell<RedisConnection>,
    /// Put before every key, so tests (and several deployments sharing one Redis) stay apart.
    prefix: String,
    acquire: Script,
    heartbeat: Script,
    release: Script,
    reap: Script,
    holders: Script,
    leave: Script,
    queue: Script,
    flush_denials: Script,
    ack_events: Script,
}

/// Denial counts moved per `flush_denials` script call: enough that a normal pool needs one call,
/// few enough that a pool refusing many thousands of machines never blocks Redis for long.
const FLUSH_BATCH: u32 = 1000;

/// Licenses whose pool keys [`SeatStore::pools`] checks at once, one single-slot pipeline each.
const POOL_CHECKS_IN_FLIGHT: usize = 256;

impl RedisSeats {
    /// A store on the Redis at `url`, keys prefixed with `prefix` (empty in production).
    pub fn new(url: &str, prefix: &str) -> anyhow::Result<Self> {
        Ok(Self::on(
            RedisEndpoint::Instance(redis_client(url, None)?),
            prefix,
        ))
    }

    /// A store on a `rediss://` URL whose server certificate is signed by the CA in `ca_pem`
    /// (Memorystore's in-transit encryption uses its own CA, not a public one).
    pub fn with_ca(url: &str, prefix: &str, ca_pem: Vec<u8>) -> anyhow::Result<Self> {
        Ok(Self::on(
            RedisEndpoint::Instance(redis_client(url, Some(ca_pem))?),
            prefix,
        ))
    }

    /// A store on the Redis Cluster that `seeds` belong to (one node is enough).
    pub fn cluster(seeds: &[&str], prefix: &str) -> anyhow::Result<Self> {
        Ok(Self::on(
            RedisEndpoint::Cluster(cluster_client(seeds, None)?),
            prefix,
        ))
    }

    /// A store on `endpoint`, keys prefixed with `prefix`.
    pub fn on(endpoint: RedisEndpoint, prefix: &str) -> Self {
        Self {
            endpoint,
            connection: OnceCell::new(),
            prefix: prefix.to_owned(),
            acquire: Script::new(&lua::acquire()),
            heartbeat: Script::new(lua::HEARTBEAT),
            release: Script::new(&lua::release()),
            reap: Script::new(&lua::reap()),
            holders: Script::new(lua::HOLDERS),
            leave: Script::new(&lua::leave()),
            queue: Script::new(lua::QUEUE),
            flush_denials: Script::new(lua::FLUSH_DENIALS),
            ack_events: Script::new(lua::ACK_EVENTS),
        }
    }

    async fn conn(&self) -> SeatResult<RedisConnection> {
        let connection = self
            .connection
            .get_or_try_init(|| self.endpoint.connect())
            .await
            .map_err(classify)?;
        Ok(connection.clone())
    }

    fn key(&self, license: Uuid, part: &str) -> String {
        format!("{}{{lic:{license}}}:{part}", self.prefix)
    }

    /// The keys of a license's pool, in the order the scripts expect.
    fn pool_keys(&self, license: Uuid) -> [String; 13] {
        lua::pool_keys(&self.prefix, license)
    }

    /// Deletes every key under this store's prefix (tests clean up with it).
    pub async fn delete_all(&self) -> SeatResult<()> {
        let mut conn = self.conn().await?;
        let keys = conn
            .scan(&format!("{}{{lic:*", self.prefix))
            .await
            .map_err(classify)?;
        // On a cluster redis-rs splits a many-key DEL by slot.
        if !keys.is_empty() {
            let _: () = conn.del(keys).await.map_err(classify)?;
        }
        Ok(())
    }
}

/// Whether a failure means "Redis cannot serve right now" (`unavailable`, 503, the client's offline
/// grace) rather than a fault of ours. Beyond I/O and timeouts: a cluster with no live connection to
/// a slot's node, a cluster that is down or failing over, a node still loading its data.
fn classify(err: redis::RedisError) -> SeatError {
    use redis::{ErrorKind, ServerErrorKind};
    let unavailable = err.is_io_error()
        || err.is_connection_refusal()
        || err.is_timeout()
        || err.is_connection_dropped()
        || matches!(
            err.kind(),
            ErrorKind::ClusterConnectionNotFound
                | ErrorKind::Server(
                    ServerErrorKind::ClusterDown
                        | ServerErrorKind::MasterDown
                        | ServerErrorKind::TryAgain
                        | ServerErrorKind::BusyLoading
                )
        );
    if unavailable {
        SeatError::Unavailable(err.into())
    } else {
        SeatError::Other(err.into())
    }
}

/// A limit as the scripts take it: calls and window in µs, `0 0` when off.
fn limit_args(rate: Option<Rate>) -> (u32, i64) {
    rate.map_or((0, 0), |rate| (rate.calls, rate.window_us()))
}

/// A borrow's end as the scripts answer it: `0` when the seat is not borrowed.
fn borrow_end(value: &str) -> SeatResult<Option<i64>> {
    Ok(Some(int(value)?).filter(|&ms| ms > 0))
}

fn int(value: &str) -> SeatResult<i64> {
    // Redis answers scores as decimal text, sometimes with a fraction ("1.7e12" never occurs for
    // integer scores below 2^53, but be lenient).
    value
        .parse::<i64>()
        .or_else(|_| value.parse::<f64>().map(|f| f as i64))
        .map_err(|_| SeatError::Other(anyhow!("seat script answered a non-number {value:?}")))
}

#[async_trait]
impl SeatStore for RedisSeats {
    async fn ping(&self) -> SeatResult<()> {
        let mut conn = self.conn().await?;
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn acquire(&self, request: &SeatRequest, new_session_id: &str) -> SeatResult<Acquired> {
        let mut conn = self.conn().await?;
        let data =
            serde_json::to_string(&request.session).map_err(|e| SeatError::Other(e.into()))?;
        let (machine_calls, machine_window) = limit_args(request.limits.per_machine);
        let (license_calls, license_window) = limit_args(request.limits.per_license);
        let reply: Vec<String> = self
            .acquire
            .key(&self.pool_keys(request.license_id)[..])
            .key(
                &lua::acquire_limit_keys(&self.prefix, request.license_id, &request.session.holder)
                    [..],
            )
            .arg(request.max_seats)
            .arg(request.ttl.as_millis() as u64)
            .arg(&request.session.holder)
            .arg(new_session_id)
            .arg(data)
            .arg(machine_calls)
            .arg(machine_window)
            .arg(license_calls)
            .arg(license_window)
            .arg(request.per_user.unwrap_or(0))
            .arg(request.borrow.map_or(0, |borrow| borrow.as_millis() as u64))
            .arg(request.wait.map_or(0, |ttl| ttl.as_millis().max(1) as u64))
            .arg(MAX_QUEUE)
            .arg(request.ticket.as_deref().unwrap_or(""))
            .invoke_async(&mut conn)
            .await
            .map_err(classify)?;
        match reply.as_slice() {
            [kind, session, expires, in_use, grant, borrowed, waited]
                if kind == "granted" || kind == "renewed" =>
            {
                Ok(Acquired::Granted {
                    session_id: session.clone(),
                    expires_at_ms: int(expires)?,
                    in_use: int(in_use)? as u32,
                    renewed: kind == "renewed",
                    grant: int(grant)? as u64,
                    borrowed_until_ms: borrow_end(borrowed)?,
                    waited_ms: Some(int(waited)?).filter(|&ms| ms >= 0),
                })
            }
            [kind, ticket, position, queued, estimate, in_use, deadline] if kind == "queued" => {
                Ok(Acquired::Queued(Ticket {
                    ticket: ticket.clone(),
                    position: int(position)? as u32,
                    queued: int(queued)? as u32,
                    estimated_wait_ms: Some(int(estimate)?).filter(|&ms| ms >= 0),
                    in_use: int(in_use)? as u32,
                    deadline_ms: int(deadline)?,
                }))
            }
            [kind] if kind == "gone" => Ok(Acquired::TicketGone),
            [kind, held] if kind == "user_full" => Ok(Acquired::UserFull {
                held: int(held)? as u32,
            }),
            [kind, in_use, earliest, queued] if kind == "full" => Ok(Acquired::Full {
                in_use: int(in_use)? as u32,
                next_expiry_ms: int(earliest)?,
                queued: int(queued)? as u32,
            }),
            [kind, scope, wait] if kind == "limited" => {
                let scope = LimitScope::parse(scope).ok_or_else(|| {
                    SeatError::Other(anyhow!("acquire script answered limit scope {scope:?}"))
                })?;
                Ok(Acquired::Limited(Limited::after_us(scope, int(wait)?)))
            }
            other => Err(SeatError::Other(anyhow!(
                "acquire script answered {other:?}"
            ))),
        }
    }

    async fn heartbeat(
        &self,
        license_id: Uuid,
        session_id: &str,
        ttl: Duration,
    ) -> SeatResult<Option<i64>> {
        let mut conn = self.conn().await?;
        let expires: i64 = self
            .heartbeat
            .key(self.key(license_id, "seats"))
            .arg(session_id)
            .arg(ttl.as_millis() as u64)
            .invoke_async(&mut conn)
            .await
            .map_err(classify)?;
        Ok((expires >= 0).then_some(expires))
    }

    async fn release_from(&self, request: &ReleaseRequest) -> SeatResult<Released> {
        let mut conn = self.conn().await?;
        let (calls, window) = limit_args(request.limit);
        let license = request.license_id;
        let released: i64 = self
            .release
            .key(&self.pool_keys(license)[..])
            .key(lua::release_limit_key(
                &self.prefix,
                license,
                &request.machine,
            ))
            .arg(&request.session_id)
            .arg(calls)
            .arg(window)
            .arg(request.grant)
            .arg(u8::from(request.ends_borrow))
            .invoke_async(&mut conn)
            .await
            .map_err(classify)?;
        Ok(match released {
            1 => Released::Freed,
            0 => Released::Gone,
            2 => Released::Superseded,
            3 => Released::Borrowed,
            wait => Released::Limited(Limited::after_us(LimitScope::Machine, -wait)),
        })
    }

    async fn holders(&self, license_id: Uuid) -> SeatResult<Vec<Holder>> {
        let mut conn = self.conn().await?;
        let flat: Vec<String> = self
            .holders
            .key(self.key(license_id, "seats"))
            .key(self.key(license_id, "sessions"))
            .key(self.key(license_id, "borrowed"))
            .invoke_async(&mut conn)
            .await
            .map_err(classify)?;
        flat.chunks_exact(4)
            .map(|chunk| {
                Ok(Holder {
                    session_id: chunk[0].clone(),
                    expires_at_ms: int(&chunk[1])?,
                    data: serde_json::from_str(&chunk[2])
                        .map_err(|e| SeatError::Other(e.into()))?,
                    borrowed_until_ms: borrow_end(&chunk[3])?,
                })
            })
            .collect()
    }

    async fn leave(&self, license_id: Uuid, ticket: &str, holder: &str) -> SeatResult<bool> {
        let mut conn = self.conn().await?;
        let left: i64 = self
            .leave
            .key(&self.pool_keys(license_id)[..])
            .arg(ticket)
            .arg(holder)
            .invoke_async(&mut conn)
            .await
            .map_err(classify)?;
        Ok(left == 1)
    }

    async fn queue(&self, license_id: Uuid) -> SeatResult<Vec<Waiter>> {
        let mut conn = self.conn().await?;
        let flat: Vec<String> = self
            .queue
            .key(self.key(license_id, "queue"))
            .key(self.key(license_id, "tickets"))
            .key(self.key(license_id, "deadlines"))
            .invoke_async(&mut conn)
            .await
            .map_err(classify)?;
        flat.chunks_exact(4)
            .zip(1..)
            .map(|(chunk, position)| {
                Ok(Waiter {
                    ticket: chunk[0].clone(),
                    position,
                    joined_ms: int(&chunk[1])?,
                    deadline_ms: int(&chunk[2])?,
                    data: serde_json::from_str(&chunk[3])
                        .map_err(|e| SeatError::Other(e.into()))?,
                })
            })
            .collect()
    }

    async fn reap(&self, license_id: Uuid) -> SeatResult<u32> {
        let mut conn = self.conn().await?;
        let reaped: i64 = self
            .reap
            .key(&self.pool_keys(license_id)[..])
            .invoke_async(&mut conn)
            .await
            .map_err(classify)?;
        Ok(reaped as u32)
    }

    async fn flush_denials(&self, license_id: Uuid) -> SeatResult<u64> {
        let mut conn = self.conn().await?;
        let mut moved = 0;
        loop {
            let (batch, remaining): (u64, u64) = self
                .flush_denials
                .key(self.key(license_id, "denials"))
                .key(self.key(license_id, "events"))
                .arg(FLUSH_BATCH)
                .invoke_async(&mut conn)
                .await
                .map_err(classify)?;
            moved += batch;
            // Denials arriving while this runs start new counts; those wait for the next run
            // rather than keeping this loop going during a storm.
            if remaining == 0 || batch < u64::from(FLUSH_BATCH) {
                return Ok(moved);
            }
        }
    }

    async fn pools(&self) -> SeatResult<Vec<Uuid>> {
        let mut conn = self.conn().await?;
        let keys = conn
            .scan(&format!("{}{{lic:*", self.prefix))
            .await
            .map_err(classify)?;
        let start = self.prefix.len() + "{lic:".len();
        let ids: BTreeSet<Uuid> = keys
            .iter()
            .filter_map(|key| key.get(start..start + 36))
            .filter_map(|id| id.parse().ok())
            .collect();
        // XDEL leaves a drained stream in place (it keeps the stream's last id, so ids never
        // repeat and the audit dedupe key stays unique): a license whose only key is an empty
        // stream has neither seats, denials nor events, and is not a pool. One pipeline per
        // license, as a license is one slot and a cluster refuses pipelines across slots.
        let ids: Vec<Uuid> = ids.into_iter().collect();
        let mut pools = Vec::new();
        for chunk in ids.chunks(POOL_CHECKS_IN_FLIGHT) {
            let mut checks = JoinSet::new();
            for &id in chunk {
                let mut conn = conn.clone();
                let mut pipe = redis::pipe();
                pipe.exists(self.key(id, "seats"))
                    .exists(self.key(id, "queue"))
                    .exists(self.key(id, "denials"))
                    .xlen(self.key(id, "events"));
                checks.spawn(async move {
                    let counts: Vec<i64> = pipe.query_async(&mut conn).await?;
                    Ok::<_, redis::RedisError>((id, counts.iter().any(|&n| n > 0)))
                });
            }
            while let Some(checked) = checks.join_next().await {
                let (id, is_pool) = checked
                    .map_err(|e| SeatError::Other(e.into()))?
                    .map_err(classify)?;
                if is_pool {
                    pools.push(id);
                }
            }
        }
        pools.sort_unstable();
        Ok(pools)
    }

    async fn events(&self, license_id: Uuid, max: usize) -> SeatResult<Vec<SeatEvent>> {
        let mut conn = self.conn().await?;
        let reply: redis::streams::StreamRangeReply = conn
            .xrange_count(self.key(license_id, "events"), "-", "+", max)
            .await
            .map_err(classify)?;
        reply
            .ids
            .into_iter()
            .map(|entry| {
                let field = |name: &str| match entry.map.get(name) {
                    Some(Value::BulkString(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
                    Some(Value::SimpleString(s)) => s.clone(),
                    _ => String::new(),
                };
                let kind = SeatEventKind::parse(&field("kind")).ok_or_else(|| {
                    SeatError::Other(anyhow!(
                        "event {} has unknown kind {:?}",
                        entry.id,
                        field("kind")
                    ))
                })?;
                let at_ms = int(&field("at"))?;
                Ok(SeatEvent {
                    kind,
                    session_id: field("session"),
                    data: serde_json::from_str(&field("data")).ok(),
                    at_ms,
                    in_use: field("in_use").parse().ok(),
                    count: field("count").parse().unwrap_or(1),
                    last_at_ms: field("last").parse().unwrap_or(at_ms),
                    until_ms: field("until").parse().ok(),
                    queue: Some(field("ticket"))
                        .filter(|t| !t.is_empty())
                        .map(|ticket| QueueEvent {
                            ticket,
                            position: field("position").parse().ok(),
                            waited_ms: field("waited").parse().ok(),
                            reason: Some(field("reason")).filter(|r| !r.is_empty()),
                        }),
                    id: entry.id.clone(),
                })
            })
            .collect()
    }

    async fn ack_events(&self, license_id: Uuid, ids: &[String]) -> SeatResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn().await?;
        let _: i64 = self
            .ack_events
            .key(self.key(license_id, "events"))
            .arg(ids)
            .invoke_async(&mut conn)
            .await
            .map_err(classify)?;
        Ok(())
    }
}
