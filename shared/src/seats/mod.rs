//! Live seats: who holds one of a license's seats right now.
//!
//! One [`SeatStore`] trait, two implementations with identical semantics: [`RedisSeats`]
//! (production; one Lua script per operation, one sorted set per license scored by expiry in ms from
//! Redis `TIME`, every key under the license's `{lic:<id>}` hash tag, on one Redis instance or a Redis
//! Cluster) and [`EmbeddedSeats`] (the embedded default, in process). All three pass one conformance
//! suite (`tests/tests/seat_conformance/`).
//!
//! **Invariant:** a license never has more live sessions than `max_seats`, under any interleaving.
//! Acquire is one atomic step (prune expired, reuse the caller's session, else add below the cap);
//! heartbeat never revives an expired session; release is idempotent.
//!
//! Every seat event (acquired, released, expired) is appended to a per-license event log in the same
//! atomic step that causes it; [`cleanup`] drains those logs into the audit table, so heartbeat and
//! release never touch the database and no event is lost between the two. Nothing ever trims the log:
//! an event leaves it only when cleanup has written it.
//!
//! Denials are counted rather than logged one by one: a machine retrying a full pool thousands of
//! times would otherwise fill the log (and the audit table) with identical lines. Each denial adds
//! one to a pending count per machine (`user:fingerprint`) with its first and last time, in the same
//! atomic step; [`SeatStore::flush_denials`] (called by cleanup) moves each count into the log as one
//! `denied` event, so the counts stay exact and a storm costs one event per machine per cleanup run.
//!
//! **Rate limits** ([`limits`]): acquire checks the calling machine's limit and, for a machine that
//! holds no seat, the license's; release checks the machine's limit when it finds the seat already
//! gone. The check is part of the same atomic step, a refused call changes nothing (no seat, no
//! denial count, no event) and answers [`Acquired::Limited`] / [`Released::Limited`].
//!
//! **What bounds the log while cleanup is down:** pending denial counts, one per distinct machine
//! refused since the last flush, whatever the number of retries; grants, releases and expiries, at
//! most one each per seat change, which only a client that really takes and gives back seats can
//! cause (at most `max_seats` grants before a release or expiry must come first).

pub mod cleanup;
mod embedded;
pub mod limits;
mod redis;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use embedded::EmbeddedSeats;
pub use limits::{AcquireLimits, LimitScope, Limited, Rate};
pub use redis::{
    RedisConnection, RedisEndpoint, RedisSeats, cluster_client, read_redis_ca, redis_client,
};

/// Why a seat operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SeatError {
    /// The seat store does not answer.
    #[error("seat store unavailable: {0:#}")]
    Unavailable(anyhow::Error),
    /// Anything else (a script answering something unexpected).
    #[error(transparent)]
    Other(anyhow::Error),
}

/// Result of a seat operation.
pub type SeatResult<T> = Result<T, SeatError>;

/// What is kept about a session while it holds a seat, and copied into its events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionData {
    /// The holder-index key: one session per user per machine.
    pub holder: String,
    /// The tenant whose seat it is.
    pub tenant: Uuid,
    /// The user holding it.
    pub user: Uuid,
    /// The machine's fingerprint as the client sent it (hex).
    pub fingerprint: String,
    /// The machine's name, shown to admins when the pool is full.
    pub hostname: String,
    /// The CLI version, for support.
    #[serde(default)]
    pub client_version: Option<String>,
}

impl SessionData {
    /// Session data for `user` on the machine `fingerprint`.
    pub fn new(
        tenant: Uuid,
        user: Uuid,
        fingerprint: &str,
        hostname: &str,
        client_version: Option<String>,
    ) -> Self {
        Self {
            holder: format!("{user}:{fingerprint}"),
            tenant,
            user,
            fingerprint: fingerprint.to_owned(),
            hostname: hostname.to_owned(),
            client_version,
        }
    }
}

/// A request for a seat.
#[derive(Debug, Clone)]
pub struct SeatRequest {
    /// The license whose pool to draw from.
    pub license_id: Uuid,
    /// The cap at this moment.
    pub max_seats: u32,
    /// How long the seat lives without a heartbeat.
    pub ttl: Duration,
    /// Who asks, from which machine.
    pub session: SessionData,
    /// How often this machine and this license may ask (none: unlimited).
    pub limits: AcquireLimits,
}

/// A [`ReleaseRequest::grant`] that frees the session whatever its latest grant (an admin ending
/// a session, a member removed).
pub const ANY_GRANT: u64 = u64::MAX;

/// A request to give a seat back.
#[derive(Debug, Clone)]
pub struct ReleaseRequest {
    /// The license of the seat.
    pub license_id: Uuid,
    /// The seat.
    pub session_id: String,
    /// Who releases, from which machine (`user:fingerprint hash` from the lease): the key of its
    /// release limit.
    pub machine: String,
    /// How often this machine may release a seat that is already gone (none: unlimited).
    pub limit: Option<Rate>,
    /// The grant the lease carries ([`Acquired::Granted::grant`]; 0 for a lease without one):
    /// only the session's latest grant frees it.
    pub grant: u64,
}

/// How a release ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// The seat was held and is free now (never limited).
    Freed,
    /// The seat was already gone; nothing changed.
    Gone,
    /// The lease is older than the session's latest grant: the same user re-acquired on the same
    /// machine (another process) since, and that grant's holder runs on the seat; nothing changed.
    Superseded,
    /// The seat was already gone and this machine released gone seats too often.
    Limited(Limited),
}

/// How an acquire ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// A seat is held: a new one, or (`renewed`) the one this user already held on this machine.
    Granted {
        /// The session id (the seat).
        session_id: String,
        /// When it expires without a heartbeat (ms since the epoch, by the store's clock).
        expires_at_ms: i64,
        /// Live sessions now, including this one.
        in_use: u32,
        /// Whether this is the caller's existing session.
        renewed: bool,
        /// Which grant of the session this is: 1 when new, one more per renewal. The lease
        /// carries it, so that an older lease cannot release the seat a newer grant holds.
        grant: u64,
    },
    /// Every seat is held.
    Full {
        /// Live sessions.
        in_use: u32,
        /// When the soonest-expiring seat frees if its holder stops heartbeating (ms).
        next_expiry_ms: i64,
    },
    /// A rate limit refused the call before any seat decision; nothing changed.
    Limited(Limited),
}

/// One live session, as shown to an admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    /// The session id.
    pub session_id: String,
    /// Who holds it.
    #[serde(flatten)]
    pub data: SessionData,
    /// When it expires without a heartbeat (ms).
    pub expires_at_ms: i64,
}

/// What happened to a seat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeatEventKind {
    /// A new seat was granted.
    Acquired,
    /// A request found the pool full.
    Denied,
    /// The holder released it.
    Released,
    /// Its heartbeats stopped and it was reclaimed.
    Expired,
}

impl SeatEventKind {
    /// The audit action name.
    pub fn action(self) -> &'static str {
        match self {
            Self::Acquired => "seat.acquired",
            Self::Denied => "seat.denied",
            Self::Released => "seat.released",
            Self::Expired => "seat.expired",
        }
    }

    fn parse(kind: &str) -> Option<Self> {
        Some(match kind {
            "acquired" => Self::Acquired,
            "denied" => Self::Denied,
            "released" => Self::Released,
            "expired" => Self::Expired,
            _ => return None,
        })
    }
}

/// One entry of a license's event log, waiting to be drained into the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatEvent {
    /// Position in the license's log; unique per license, increasing.
    pub id: String,
    /// What happened.
    pub kind: SeatEventKind,
    /// The session (empty for a denial).
    pub session_id: String,
    /// Who and which machine (`None` if the data was unreadable).
    pub data: Option<SessionData>,
    /// When (ms since the epoch); for an expiry, the moment the seat lapsed.
    pub at_ms: i64,
    /// Live sessions at that moment, for grants and denials (for a denial count, at the last one).
    pub in_use: Option<u32>,
    /// How many occurrences the event stands for: the number of refusals of a `denied` count, 1 for
    /// every other event.
    pub count: u64,
    /// When the last of them happened (ms); `at_ms` for a single occurrence.
    pub last_at_ms: i64,
}

/// The live-seat store.
#[async_trait]
pub trait SeatStore: Send + Sync + 'static {
    /// Whether the store answers.
    async fn ping(&self) -> SeatResult<()>;

    /// Prunes expired seats, then returns the caller's live session (renewed), a new one below the
    /// cap, or `Full`; `Limited` first when the request's limits refuse it (the machine's for any
    /// caller, the license's for a caller without a live seat). `new_session_id` is used only when
    /// a new seat is granted.
    async fn acquire(&self, request: &SeatRequest, new_session_id: &str) -> SeatResult<Acquired>;

    /// Extends a live session; `None` when it is gone or already past its expiry.
    async fn heartbeat(
        &self,
        license_id: Uuid,
        session_id: &str,
        ttl: Duration,
    ) -> SeatResult<Option<i64>>;

    /// Frees a session; `Gone` when it was already gone, `Superseded` when the request's grant is
    /// older than the session's latest, `Limited` instead of either when the request's limit
    /// refuses another such release by that machine.
    async fn release_from(&self, request: &ReleaseRequest) -> SeatResult<Released>;

    /// Frees a session without any limit (admins, removed members); `false` when it was already
    /// gone.
    async fn release(&self, license_id: Uuid, session_id: &str) -> SeatResult<bool> {
        let request = ReleaseRequest {
            license_id,
            session_id: session_id.to_owned(),
            machine: String::new(),
            limit: None,
            grant: ANY_GRANT,
        };
        Ok(self.release_from(&request).await? == Released::Freed)
    }

    /// The live sessions of a license, soonest-expiring first.
    async fn holders(&self, license_id: Uuid) -> SeatResult<Vec<Holder>>;

    /// Moves the expired sessions of a license into its event log; how many there were.
    async fn reap(&self, license_id: Uuid) -> SeatResult<u32>;

    /// Moves every pending denial count of a license into its event log, one `denied` event per
    /// machine, and starts those counts afresh; how many events it appended. Denials that happen
    /// meanwhile are either in a moved count or in a new one, never in both or neither.
    async fn flush_denials(&self, license_id: Uuid) -> SeatResult<u64>;

    /// Every license with live seats, pending denial counts or undrained events.
    async fn pools(&self) -> SeatResult<Vec<Uuid>>;

    /// Up to `max` of a license's oldest undrained events.
    async fn events(&self, license_id: Uuid, max: usize) -> SeatResult<Vec<SeatEvent>>;

    /// Forgets drained events.
    async fn ack_events(&self, license_id: Uuid, ids: &[String]) -> SeatResult<()>;

    /// Releases every live session `user` holds on the license (a removed member's seats).
    async fn release_user(&self, license_id: Uuid, user: Uuid) -> SeatResult<u32> {
        let mut released = 0;
        for holder in self.holders(license_id).await? {
            if holder.data.user == user && self.release(license_id, &holder.session_id).await? {
                released += 1;
            }
        }
        Ok(released)
    }
}

/// The Lua of each Redis script exactly as [`RedisSeats`] runs it, for tools that must run the
/// very same text (the benchmarks' raw-Redis baseline).
pub mod lua {
    /// The shared prune head of acquire, release and reap.
    pub const PRUNE: &str = include_str!("prune.lua");
    /// Heartbeat (no prune: the hot path stays one `ZSCORE` + `ZADD`).
    pub const HEARTBEAT: &str = include_str!("heartbeat.lua");
    /// Live holders with their data.
    pub const HOLDERS: &str = include_str!("holders.lua");

    /// The rate limit check of acquire and release (after [`PRUNE`]).
    pub const RATE: &str = include_str!("rate.lua");

    /// Acquire: prune, then check the limits, then reuse, grant or refuse.
    pub fn acquire() -> String {
        format!("{PRUNE}\n{RATE}\n{}", include_str!("acquire.lua"))
    }

    /// Moves pending denial counts into the event log.
    pub const FLUSH_DENIALS: &str = include_str!("flush_denials.lua");
    /// Forgets drained events.
    pub const ACK_EVENTS: &str = include_str!("ack_events.lua");

    /// The keys of a license's pool in the order acquire, release and reap take them, all under
    /// its `{lic:<id>}` hash tag (`prefix` first: empty in production).
    pub fn pool_keys(prefix: &str, license: uuid::Uuid) -> [String; 6] {
        [
            "seats", "sessions", "holders", "events", "denials", "grants",
        ]
        .map(|part| format!("{prefix}{{lic:{license}}}:{part}"))
    }

    /// The keys of acquire's limits, after [`pool_keys`]: the machine `holder`'s and the
    /// license's, under the same hash tag.
    pub fn acquire_limit_keys(prefix: &str, license: uuid::Uuid, holder: &str) -> [String; 2] {
        [
            format!("{prefix}{{lic:{license}}}:rate:acquire:{holder}"),
            format!("{prefix}{{lic:{license}}}:rate:acquire"),
        ]
    }

    /// The key of release's limit for `machine`, after [`pool_keys`].
    pub fn release_limit_key(prefix: &str, license: uuid::Uuid, machine: &str) -> String {
        format!("{prefix}{{lic:{license}}}:rate:release:{machine}")
    }

    /// Release: prune, then remove (or check the limit when the seat is gone).
    pub fn release() -> String {
        format!("{PRUNE}\n{RATE}\n{}", include_str!("release.lua"))
    }

    /// Reap: prune only.
    pub fn reap() -> String {
        format!("{PRUNE}\n{}", include_str!("reap.lua"))
    }
}

/// A fresh, unguessable session id (128 random bits, hex).
pub fn new_session_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
