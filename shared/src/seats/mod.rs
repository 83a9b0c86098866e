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
//! **Borrowed seats** are held for a set time without heartbeats (for working offline): the seat
//! lives until its borrow ends, counts against `max_seats` throughout, and only a release that ends
//! the borrow (the user returning it, an admin) frees it sooner; a program's ordinary release on
//! exit leaves it held. **The per-user cap** bounds the seats one user holds at once on all their
//! machines; refusing a new seat over it changes nothing.
//!
//! **The fair queue.** A caller refused a seat may wait ([`SeatRequest::wait`]): it gets a ticket
//! (one per machine, like its seat) at the back of the license's FIFO queue, and keeps it by
//! asking again before the ticket's deadline (each ask moves the deadline on). While tickets wait,
//! the free seats are theirs, the first ticket's first: a ticket among the first `free` claims a
//! seat when it asks, and a caller without a ticket gets one only when more seats are free than
//! tickets wait. So a seat that frees is reserved for the head of the queue until it claims it or
//! its ticket lapses, and reservations never take the pool over the cap: live seats plus reserved
//! ones are at most `max_seats`. A ticket past its deadline leaves the queue in the next atomic
//! step that prunes; [`SeatStore::leave`] takes one out at once. Joining, claiming and leaving are
//! events (`queue.joined`, `queue.claimed`, `queue.left` with reason `left` or `expired`).
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
    /// The most live seats one user may hold on this license at once, on all their machines
    /// (none: no cap). A renewal of the caller's own seat is never refused by it.
    pub per_user: Option<u32>,
    /// Borrow the seat for this long: it lives until then without heartbeats (still counting
    /// against `max_seats`) and a program's ordinary release leaves it held; only a release that
    /// [`ReleaseRequest::ends_borrow`] frees it sooner. On the caller's held seat, it sets the
    /// borrow's end afresh.
    pub borrow: Option<Duration>,
    /// Wait in the license's queue when no seat is free for the caller: a ticket that lives this
    /// long without the caller asking again ([`Acquired::Queued`]). `None`: refuse at once
    /// ([`Acquired::Full`]).
    pub wait: Option<Duration>,
    /// The ticket this request polls, when it asks again inside one long poll: if that ticket no
    /// longer waits (it left, lapsed, or claimed a seat), nothing changes and the answer is
    /// [`Acquired::TicketGone`] — a poll whose client has gone never joins afresh nor takes a seat.
    pub ticket: Option<String>,
}

/// The most tickets one license's queue holds; a caller that would be the next waits no more
/// than one refused outright ([`Acquired::Full`]).
pub const MAX_QUEUE: u32 = 10_000;

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
    /// Whether this release also ends a borrow (the user returns the seat, or an admin ends it);
    /// without it a borrowed seat stays held ([`Released::Borrowed`]).
    pub ends_borrow: bool,
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
    /// The seat is borrowed and the release does not end the borrow: it stays held until it is
    /// returned or its borrow ends; nothing changed.
    Borrowed,
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
        /// When the seat's borrow ends (ms), if it is borrowed: by this request or an earlier one.
        borrowed_until_ms: Option<i64>,
        /// How long the caller waited in the queue for it (ms), when its ticket claimed it.
        waited_ms: Option<i64>,
    },
    /// No seat is free for the caller and it waits: its place in the queue.
    Queued(Ticket),
    /// [`SeatRequest::ticket`] no longer waits; nothing changed.
    TicketGone,
    /// The user already holds [`SeatRequest::per_user`] seats on other machines; nothing changed
    /// (no seat, and no denial count: more seats would not have helped).
    UserFull {
        /// Live seats the user holds.
        held: u32,
    },
    /// Every seat is held.
    Full {
        /// Live sessions.
        in_use: u32,
        /// When the soonest-expiring seat frees if its holder stops heartbeating (ms).
        next_expiry_ms: i64,
        /// Tickets waiting in the queue: seats below the cap are theirs (`in_use` may be below
        /// the cap while they wait).
        queued: u32,
    },
    /// A rate limit refused the call before any seat decision; nothing changed.
    Limited(Limited),
}

/// A caller's place in a license's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// The ticket's id (one per machine: the same machine asking again gets the same ticket).
    pub ticket: String,
    /// 1 for the head of the queue.
    pub position: u32,
    /// Tickets waiting, this one included.
    pub queued: u32,
    /// How long until a seat frees for this ticket, at the pace seats have freed lately (ms);
    /// `None` before two seats of the license have freed within the last hour.
    pub estimated_wait_ms: Option<i64>,
    /// Live seats now.
    pub in_use: u32,
    /// When the ticket leaves the queue unless the caller asks again first (ms).
    pub deadline_ms: i64,
}

/// One waiting ticket, as shown to an admin or the waiting user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waiter {
    /// The ticket.
    pub ticket: String,
    /// 1 for the head of the queue.
    pub position: u32,
    /// Who waits, on which machine.
    #[serde(flatten)]
    pub data: SessionData,
    /// When it joined (ms).
    pub joined_ms: i64,
    /// When it leaves unless polled (ms).
    pub deadline_ms: i64,
}

/// One live session, as shown to an admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    /// The session id.
    pub session_id: String,
    /// Who holds it.
    #[serde(flatten)]
    pub data: SessionData,
    /// When it expires without a heartbeat (ms); for a borrowed seat, when its borrow ends.
    pub expires_at_ms: i64,
    /// When its borrow ends (ms), if it is borrowed.
    pub borrowed_until_ms: Option<i64>,
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
    /// Its heartbeats stopped (or its borrow ended) and it was reclaimed.
    Expired,
    /// The holder borrowed it, until [`SeatEvent::until_ms`].
    Borrowed,
    /// A refused caller joined the queue ([`SeatEvent::queue`] says where).
    Queued,
    /// A ticket claimed a seat (the session is the new seat's).
    Claimed,
    /// A ticket left the queue without a seat: the caller left, or its deadline passed.
    Left,
}

impl SeatEventKind {
    /// The audit action name.
    pub fn action(self) -> &'static str {
        match self {
            Self::Acquired => "seat.acquired",
            Self::Denied => "seat.denied",
            Self::Released => "seat.released",
            Self::Expired => "seat.expired",
            Self::Borrowed => "seat.borrowed",
            Self::Queued => "queue.joined",
            Self::Claimed => "queue.claimed",
            Self::Left => "queue.left",
        }
    }

    fn parse(kind: &str) -> Option<Self> {
        Some(match kind {
            "acquired" => Self::Acquired,
            "denied" => Self::Denied,
            "released" => Self::Released,
            "expired" => Self::Expired,
            "borrowed" => Self::Borrowed,
            "queued" => Self::Queued,
            "claimed" => Self::Claimed,
            "left" => Self::Left,
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
    /// For a `borrowed` event, when the borrow ends (ms).
    pub until_ms: Option<i64>,
    /// For a queue event, the ticket and what happened to it.
    pub queue: Option<QueueEvent>,
}

/// What a queue event says about its ticket.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueEvent {
    /// The ticket.
    pub ticket: String,
    /// Where it joined (`queued`).
    pub position: Option<u32>,
    /// How long it had waited (ms): until its claim (`claimed`) or until it left (`left`).
    pub waited_ms: Option<i64>,
    /// Why it left (`left`): `left` (the caller left) or `expired` (its deadline passed).
    pub reason: Option<String>,
}

/// The live-seat store.
#[async_trait]
pub trait SeatStore: Send + Sync + 'static {
    /// Whether the store answers.
    async fn ping(&self) -> SeatResult<()>;

    /// Prunes expired seats, then returns the caller's live session (renewed), `UserFull` when the
    /// caller holds its per-user cap on other machines, a new one below the cap, or `Full`;
    /// `Limited` first when the request's limits refuse it (the machine's for any caller, the
    /// license's for a caller without a live seat). `new_session_id` is used only when a new seat
    /// is granted.
    async fn acquire(&self, request: &SeatRequest, new_session_id: &str) -> SeatResult<Acquired>;

    /// Extends a live session (never shortening it: a borrowed seat keeps its borrow's end); its
    /// expiry, or `None` when it is gone or already past its expiry.
    async fn heartbeat(
        &self,
        license_id: Uuid,
        session_id: &str,
        ttl: Duration,
    ) -> SeatResult<Option<i64>>;

    /// Frees a session; `Gone` when it was already gone, `Superseded` when the request's grant is
    /// older than the session's latest, `Borrowed` when it is borrowed and the request does not
    /// end the borrow, `Limited` instead of `Gone` or `Superseded` when the request's limit
    /// refuses another such release by that machine.
    async fn release_from(&self, request: &ReleaseRequest) -> SeatResult<Released>;

    /// Frees a session without any limit, borrowed or not (admins, removed members); `false` when
    /// it was already gone.
    async fn release(&self, license_id: Uuid, session_id: &str) -> SeatResult<bool> {
        let request = ReleaseRequest {
            license_id,
            session_id: session_id.to_owned(),
            machine: String::new(),
            limit: None,
            grant: ANY_GRANT,
            ends_borrow: true,
        };
        Ok(self.release_from(&request).await? == Released::Freed)
    }

    /// The live sessions of a license, soonest-expiring first.
    async fn holders(&self, license_id: Uuid) -> SeatResult<Vec<Holder>>;

    /// Takes `ticket` out of the license's queue at once, if it is the machine `holder`'s
    /// (`user:fingerprint`); whether it was waiting. Prunes first, as acquire does.
    async fn leave(&self, license_id: Uuid, ticket: &str, holder: &str) -> SeatResult<bool>;

    /// The tickets waiting in a license's queue, first first (none past its deadline).
    async fn queue(&self, license_id: Uuid) -> SeatResult<Vec<Waiter>>;

    /// Moves the expired sessions of a license into its event log; how many there were.
    async fn reap(&self, license_id: Uuid) -> SeatResult<u32>;

    /// Moves every pending denial count of a license into its event log, one `denied` event per
    /// machine, and starts those counts afresh; how many events it appended. Denials that happen
    /// meanwhile are either in a moved count or in a new one, never in both or neither.
    async fn flush_denials(&self, license_id: Uuid) -> SeatResult<u64>;

    /// Every license with live seats, waiting tickets, pending denial counts or undrained events.
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
    /// Waiting tickets with their data.
    pub const QUEUE: &str = include_str!("queue.lua");

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
    pub fn pool_keys(prefix: &str, license: uuid::Uuid) -> [String; 13] {
        [
            "seats",
            "sessions",
            "holders",
            "events",
            "denials",
            "grants",
            "borrowed",
            "users",
            "queue",
            "tickets",
            "waiters",
            "deadlines",
            "frees",
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

    /// Leave: prune, then take a ticket out of the queue.
    pub fn leave() -> String {
        format!("{PRUNE}\n{}", include_str!("leave.lua"))
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
