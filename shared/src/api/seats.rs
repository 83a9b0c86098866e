//! Acquire and heartbeat bodies, and the license summary a grant carries. Release has no body: it
//! answers 204.

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
