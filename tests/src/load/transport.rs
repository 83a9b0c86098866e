//! One simulated client's three calls, over HTTP to the service or as raw EVALSHA to Redis.
//!
//! The HTTP side is the SDK itself ([`LicenseClient`]), one per function URL, sharing one
//! connection pool. The raw side runs the very scripts [`shared::seats::RedisSeats`] runs
//! ([`shared::seats::lua`]), with the same keys, arguments and connection kind (one multiplexed,
//! self-reconnecting connection), so the ratio between the two is what the service adds on top of
//! Redis: HTTP, authentication, JSON, lease signing and its own scheduling.

use std::time::Duration;

use anyhow::Context;
use coditect_license::{ClientError, LicenseClient, ProblemCode};
use redis::Script;
use shared::config::RedisTarget;
use shared::seats::{RedisConnection, RedisEndpoint, SessionData, lua, new_session_id};
use uuid::Uuid;

use super::target::Urls;
use crate::api::acquire_request;

/// The seat lifetime both sides use: the service's default `SEAT_TTL_SECONDS`.
pub const SEAT_TTL: Duration = Duration::from_secs(360);

/// Who a simulated CLI is.
#[derive(Debug, Clone)]
pub struct Client {
    /// Its number in the fleet.
    pub index: usize,
    /// The license it draws from (index into the target's licenses).
    pub license: usize,
    /// The emulator ID token of the member it signs in as (HTTP only).
    pub id_token: String,
    /// Its machine.
    pub fingerprint: String,
    /// Its machine's name.
    pub hostname: String,
}

/// How an acquire ended, when it was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Granted {
    /// A seat: the session, the credential heartbeat and release need, and its expiry (ms).
    Seat {
        /// The session id.
        session_id: String,
        /// The lease (HTTP) or the session id (raw).
        lease: String,
        /// When the seat lapses without a heartbeat, by the server's clock.
        expires_at_ms: i64,
    },
    /// The pool is full (`seats_exhausted`).
    Full,
}

/// A call that failed, named by its problem code (`transport`, `protocol`, `http_<status>`,
/// `redis` when there is none).
pub type Failure = String;

/// The service or Redis.
pub enum Api {
    /// The HTTP API through the SDK.
    Http(HttpApi),
    /// The scripts straight on Redis.
    Raw(RawRedis),
}

/// The SDK, one client per function.
pub struct HttpApi {
    /// The connection pool, for `/healthz`.
    http: reqwest::Client,
    /// `/healthz` of the heartbeat service.
    healthz: String,
    acquire: LicenseClient,
    heartbeat: LicenseClient,
    release: LicenseClient,
}

/// The seat scripts on a Redis key prefix of their own.
pub struct RawRedis {
    /// Shared by every client task, as the service shares its one connection (to an instance or
    /// a cluster, made as the service makes it).
    conn: RedisConnection,
    acquire: Script,
    heartbeat: Script,
    release: Script,
    /// Put before every key; deleted after the run.
    prefix: String,
    /// Per license: id, tenant, members and cap, as the service would pass them.
    licenses: Vec<RawLicense>,
}

/// A license that exists only in Redis, for the baseline.
#[derive(Debug, Clone)]
pub struct RawLicense {
    /// The pool's key.
    pub id: Uuid,
    /// Put in the session data, as the service does.
    pub tenant: Uuid,
    /// The members clients sign in as.
    pub users: Vec<Uuid>,
    /// The cap.
    pub seats: u32,
}

impl HttpApi {
    /// The SDK pointed at `urls`, with one connection pool for the whole fleet.
    pub fn new(urls: &Urls) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            healthz: format!("{}/healthz", urls.heartbeat),
            acquire: LicenseClient::with_http(&urls.acquire, http.clone()),
            heartbeat: LicenseClient::with_http(&urls.heartbeat, http.clone()),
            release: LicenseClient::with_http(&urls.release, http.clone()),
            http,
        })
    }
}

impl RawRedis {
    /// Connects to `redis` (trusting the CA in `REDIS_CA_CERT` when set); the scripts are loaded
    /// on first use (EVALSHA, then EVAL on NOSCRIPT).
    pub async fn connect(
        redis: &RedisTarget,
        prefix: &str,
        licenses: Vec<RawLicense>,
    ) -> anyhow::Result<Self> {
        let conn = RedisEndpoint::new(redis, redis_ca()?)?
            .connect()
            .await
            .context("connecting to Redis for the baseline")?;
        Ok(Self {
            conn,
            acquire: Script::new(&lua::acquire()),
            heartbeat: Script::new(lua::HEARTBEAT),
            release: Script::new(&lua::release()),
            prefix: prefix.to_owned(),
            licenses,
        })
    }

    fn keys(&self, license: Uuid) -> [String; 13] {
        lua::pool_keys(&self.prefix, license)
    }
}

/// The CA in `REDIS_CA_CERT`, trusted as the services trust it, so the baseline reaches a TLS
/// Redis too.
pub fn redis_ca() -> anyhow::Result<Option<Vec<u8>>> {
    match std::env::var_os("REDIS_CA_CERT").filter(|p| !p.is_empty()) {
        Some(path) => Ok(Some(shared::seats::read_redis_ca(path.as_ref())?)),
        None => Ok(None),
    }
}

fn failure(err: ClientError) -> Failure {
    match err {
        ClientError::Refused {
            problem: Some(problem),
            ..
        } => problem.code.to_string(),
        ClientError::Refused { status, .. } => format!("http_{status}"),
        ClientError::Unreachable(_) => "transport".into(),
        ClientError::Protocol(_) => "protocol".into(),
        ClientError::NotSignedIn(_) => "not_signed_in".into(),
        ClientError::Files(_) => "files".into(),
        ClientError::WaitedOut { .. } => "waited_out".into(),
    }
}

fn redis_failure(err: redis::RedisError) -> Failure {
    if err.is_timeout() || err.is_io_error() || err.is_connection_dropped() {
        "transport".into()
    } else {
        "redis".into()
    }
}

impl Api {
    /// Asks for a seat for `client` on machine `fingerprint`.
    pub async fn acquire(&self, client: &Client, fingerprint: &str) -> Result<Granted, Failure> {
        match self {
            Self::Http(api) => {
                let answer = api
                    .acquire
                    .acquire(
                        &client.id_token,
                        &acquire_request(fingerprint, &client.hostname, "loadgen"),
                    )
                    .await;
                match answer {
                    Ok(grant) => Ok(Granted::Seat {
                        expires_at_ms: grant.expires_at.timestamp_millis(),
                        session_id: grant.session_id,
                        lease: grant.lease,
                    }),
                    Err(e) if e.code() == Some(ProblemCode::SeatsExhausted) => Ok(Granted::Full),
                    Err(e) => Err(failure(e)),
                }
            }
            Self::Raw(raw) => {
                let license = &raw.licenses[client.license];
                let user = license.users[client.index % license.users.len()];
                let data = SessionData::new(
                    license.tenant,
                    user,
                    fingerprint,
                    &client.hostname,
                    Some("loadgen".into()),
                );
                let json = serde_json::to_string(&data).map_err(|_| "protocol".to_owned())?;
                let reply: Vec<String> = raw
                    .acquire
                    .key(&raw.keys(license.id)[..])
                    .arg(license.seats)
                    .arg(SEAT_TTL.as_millis() as u64)
                    .arg(&data.holder)
                    .arg(new_session_id())
                    .arg(json)
                    .invoke_async(&mut raw.conn.clone())
                    .await
                    .map_err(redis_failure)?;
                match reply.as_slice() {
                    [kind, session, expires, _, _, _, _]
                        if kind == "granted" || kind == "renewed" =>
                    {
                        Ok(Granted::Seat {
                            session_id: session.clone(),
                            lease: session.clone(),
                            expires_at_ms: expires.parse().map_err(|_| "protocol".to_owned())?,
                        })
                    }
                    [kind, ..] if kind == "full" => Ok(Granted::Full),
                    _ => Err("protocol".into()),
                }
            }
        }
    }

    /// Keeps the seat of `lease` alive: its new expiry, or `None` for `session_not_found`.
    pub async fn heartbeat(&self, client: &Client, lease: &str) -> Result<Option<i64>, Failure> {
        match self {
            Self::Http(api) => match api.heartbeat.heartbeat(lease).await {
                Ok(beat) => Ok(Some(beat.expires_at.timestamp_millis())),
                Err(e) if e.code() == Some(ProblemCode::SessionNotFound) => Ok(None),
                Err(e) => Err(failure(e)),
            },
            Self::Raw(raw) => {
                let license = raw.licenses[client.license].id;
                let expires: i64 = raw
                    .heartbeat
                    .key(format!("{}{{lic:{license}}}:seats", raw.prefix))
                    .arg(lease)
                    .arg(SEAT_TTL.as_millis() as u64)
                    .invoke_async(&mut raw.conn.clone())
                    .await
                    .map_err(redis_failure)?;
                Ok((expires >= 0).then_some(expires))
            }
        }
    }

    /// `GET /healthz`, or `PING`.
    pub async fn floor(&self) -> Result<(), Failure> {
        match self {
            Self::Http(api) => match api.http.get(&api.healthz).send().await {
                Ok(answer) if answer.status().is_success() => answer
                    .bytes()
                    .await
                    .map(drop)
                    .map_err(|_| "transport".into()),
                Ok(answer) => Err(format!("http_{}", answer.status().as_u16())),
                Err(_) => Err("transport".into()),
            },
            Self::Raw(raw) => redis::cmd("PING")
                .query_async::<String>(&mut raw.conn.clone())
                .await
                .map(drop)
                .map_err(redis_failure),
        }
    }

    /// Gives the seat of `lease` back.
    pub async fn release(&self, client: &Client, lease: &str) -> Result<(), Failure> {
        match self {
            Self::Http(api) => api.release.release(lease).await.map_err(failure),
            Self::Raw(raw) => {
                let license = raw.licenses[client.license].id;
                let _: i64 = raw
                    .release
                    .key(&raw.keys(license)[..])
                    .arg(lease)
                    .arg(0) // no release limit
                    .arg(0)
                    .arg(shared::seats::ANY_GRANT)
                    .arg(1) // as an admin's release: whatever the grant, borrowed or not
                    .invoke_async(&mut raw.conn.clone())
                    .await
                    .map_err(redis_failure)?;
                Ok(())
            }
        }
    }
}
