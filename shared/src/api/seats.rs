//! Acquire and heartbeat bodies, the license summary a grant carries, and the queue a refused
//! acquire may wait in. Release has no body: it answers 204.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::accounts::Tier;

/// `POST /api/v1/licenses/acquire`: a seat for this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"fingerprint": "v1:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "hostname": "ana-laptop", "client_version": "1.4.2"}))]
pub struct AcquireRequest {
    /// A stable id of the machine: 16 to 128 hex digits, optionally after a version prefix such
    /// as `v1:`, compared lower-cased. The client hashes the OS machine id; the raw id never
    /// travels.
    #[schema(
        pattern = r"^[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(?:[vV][0-9]:)?[0-9a-fA-F]{16,128}[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub fingerprint: String,
    /// The machine's name, shown to owners and admins in the holders list (1 to 255 printable
    /// characters, without control or bidirectional formatting characters, which could make one
    /// machine's name read as another's; surrounding whitespace is trimmed).
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = r"^[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069](?:[^\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*[^\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069])?[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub hostname: String,
    /// The CLI's version, for support (at most 64 printable characters, without control or
    /// bidirectional formatting characters).
    #[serde(default)]
    #[schema(
        max_length = 64,
        pattern = r"^[^\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*$"
    )]
    pub client_version: Option<String>,
    /// Borrow the seat for offline use for this many seconds (at most the license's
    /// `policy.max_borrow_seconds`): it is held without heartbeats until then, a program's exit
    /// leaves it held, and `POST /api/v1/licenses/return` gives it back sooner. On the seat this
    /// machine already holds, it sets the borrow's end afresh. Refused with `borrow_not_allowed`
    /// when the license does not allow it or allows less.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::whole::optional"
    )]
    #[schema(minimum = 1, maximum = 2592000)]
    pub borrow_seconds: Option<u64>,
    /// Wait in the license's fair queue when no seat is free: this request waits up to this many
    /// seconds (0 to 25) for a seat and answers 200 with it, or 202 with this machine's place in
    /// the queue ([`QueuedResponse`]). Ask again (the same request) before `poll_before` to keep
    /// the place; `POST /api/v1/licenses/leave` leaves the queue. Without it a full pool answers
    /// 409 `seats_exhausted` at once.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::whole::optional"
    )]
    #[schema(minimum = 0, maximum = 25)]
    pub wait_seconds: Option<u64>,
}

/// The longest one acquire waits for a seat (`wait_seconds`): a waiting client costs one request
/// per this long.
pub const MAX_WAIT_SECONDS: u64 = 25;

/// No seat yet: this machine's place in the license's queue (202 of an acquire that waits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QueuedResponse {
    /// The ticket: one per machine (asking again from this machine keeps it), and what
    /// `POST /api/v1/licenses/leave` takes.
    pub ticket: String,
    /// 1 for the head of the queue: the next seat that frees is reserved for it.
    pub position: u32,
    /// Machines waiting, this one included.
    pub queue_length: u32,
    /// About how long until a seat frees for this ticket, at the pace the license's seats freed
    /// lately; absent until that pace is known (two seats freed within the last hour).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_wait_seconds: Option<u64>,
    /// Ask again before this, or the ticket leaves the queue.
    pub poll_before: DateTime<Utc>,
    /// The license's seats.
    pub max_seats: u32,
    /// Seats held now (below `max_seats` while a freed seat waits for the head to claim it).
    pub seats_in_use: u32,
}

/// `POST /api/v1/licenses/leave`: this machine leaves the queue (a waiting CLI's Ctrl-C).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaveRequest {
    /// The machine's fingerprint, as in its acquire.
    #[schema(
        pattern = r"^[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(?:[vV][0-9]:)?[0-9a-fA-F]{16,128}[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub fingerprint: String,
    /// The ticket the acquire answered (hexadecimal).
    #[schema(min_length = 1, max_length = 64, pattern = r"^[0-9a-fA-F]+$")]
    pub ticket: String,
}

/// What a leave did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LeaveResponse {
    /// Whether the ticket was waiting and has left; `false` when it had already claimed a seat,
    /// lapsed or left, or is not this machine's.
    pub left: bool,
}

/// A granted seat (200 of acquire).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AcquireResponse {
    /// The seat session: heartbeat and release act on it (through the lease).
    pub session_id: String,
    /// The signed lease (compact JWS): send it as `Authorization: Bearer` to heartbeat and
    /// release, and verify it offline against `/.well-known/jwks.json`.
    pub lease: String,
    /// How often to heartbeat.
    pub heartbeat_interval_seconds: u64,
    /// When the seat frees unless a heartbeat comes first.
    pub expires_at: DateTime<Utc>,
    /// Seconds from now until `expires_at`.
    pub expires_in: u64,
    /// Whether this is the seat this user already held on this machine (a retried acquire).
    pub renewed: bool,
    /// When the seat's borrow ends, if it is borrowed (by this request or an earlier one): the
    /// lease is valid offline until then and needs no heartbeat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub borrowed_until: Option<DateTime<Utc>>,
    /// How long this machine waited in the queue for the seat, when its ticket claimed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waited_seconds: Option<u64>,
    /// The license the seat belongs to.
    pub license: LicenseSummary,
}

/// What a grant says about its license.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LicenseSummary {
    /// The license.
    pub id: Uuid,
    /// Its plan.
    pub tier: Tier,
    /// Seats it allows at once.
    pub max_seats: u32,
    /// Seats held right after this grant, this one included.
    pub seats_in_use: u32,
    /// Feature flags the CLI may unlock.
    pub features: Vec<String>,
    /// When it stops granting seats; absent for never.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A seat kept alive (200 of heartbeat).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HeartbeatResponse {
    /// The session kept alive.
    pub session_id: String,
    /// The seat's new expiry.
    pub expires_at: DateTime<Utc>,
    /// Seconds from now until `expires_at`.
    pub expires_in: u64,
}
