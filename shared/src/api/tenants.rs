//! The bodies of `/api/v1/tenants/{tenant_id}/…`: members, invitations, the license, live
//! sessions and the audit trail.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::accounts::{LicenseView, MemberView, Role};

/// `GET …/members`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MembersResponse {
    /// Every member, oldest first.
    pub members: Vec<MemberView>,
}

/// `PATCH …/members/{user_id}`: the new role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    /// The role to give. Only owners grant or take ownership; the last owner stays one.
    pub role: Role,
}

/// 200 of a role change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MemberResponse {
    /// The member with their new role.
    pub member: MemberView,
}

/// `POST …/invitations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "bo@acme.test", "role": "MEMBER"}))]
pub struct InvitationRequest {
    /// Who to invite; whoever signs in with this email, verified, joins at registration. Compared
    /// lower-cased; surrounding whitespace is trimmed.
    #[schema(
        max_length = 254,
        pattern = r"^[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^@\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]+@[^@.\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069][^@\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*\.[^@\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*[^@.\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069][\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub email: String,
    /// Their role on joining (default `MEMBER`; only owners invite owners).
    #[serde(default = "member")]
    pub role: Role,
}

fn member() -> Role {
    Role::Member
}

/// An invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InvitationView {
    /// Stable id: the `{invitation_id}` of its path.
    pub id: Uuid,
    /// The inviting organisation.
    pub tenant_id: Uuid,
    /// Lower-cased email it is for.
    pub email: String,
    /// Role on joining.
    pub role: Role,
    /// The member who invited.
    pub invited_by: Uuid,
    /// When.
    pub created_at: DateTime<Utc>,
    /// After this it can no longer be redeemed.
    pub expires_at: DateTime<Utc>,
    /// When it was redeemed.
    pub accepted_at: Option<DateTime<Utc>>,
    /// When it was withdrawn.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Whether it can still be redeemed now.
    pub pending: bool,
}

/// `GET …/invitations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InvitationsResponse {
    /// Every invitation, newest first.
    pub invitations: Vec<InvitationView>,
}

/// 201 of an invitation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InvitationResponse {
    /// The invitation created.
    pub invitation: InvitationView,
}

/// `GET …/license`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LicenseResponse {
    /// The license.
    pub license: LicenseView,
    /// Seats held now.
    pub seats_in_use: u32,
}

/// `GET …/sessions`: who holds a seat on which machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SessionsResponse {
    /// The live sessions.
    pub sessions: Vec<SessionView>,
    /// The license's seat count.
    pub max_seats: u32,
    /// The machines waiting for a seat, first first.
    #[serde(default)]
    pub queue: Vec<QueueEntryView>,
}

/// A machine waiting in the license's queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QueueEntryView {
    /// Its ticket.
    pub ticket: String,
    /// 1 for the head of the queue.
    pub position: u32,
    /// The member waiting.
    pub user_id: Uuid,
    /// The machine's name.
    pub hostname: String,
    /// When it joined the queue.
    pub joined_at: DateTime<Utc>,
}

/// A live seat session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SessionView {
    /// The session: `DELETE …/sessions/{session_id}` ends it.
    pub session_id: String,
    /// The member holding it.
    pub user_id: Uuid,
    /// The machine's name.
    pub hostname: String,
    /// The CLI's version, if it said.
    pub client_version: Option<String>,
    /// When it frees unless its holder heartbeats; for a borrowed seat, when its borrow ends.
    pub expires_at: DateTime<Utc>,
    /// When its borrow ends, if the seat is borrowed for offline use (held without heartbeats
    /// until then unless returned; `DELETE …/sessions/{session_id}` ends it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub borrowed_until: Option<DateTime<Utc>>,
}

/// The query string of `GET …/audit`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// At most this many events (default 100; clamped to 1..=1000).
    #[param(value_type = i64, required = false)]
    #[serde(default)]
    pub limit: Option<i64>,
}

/// `GET …/audit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditResponse {
    /// The newest events, newest first.
    pub events: Vec<AuditEventView>,
}

/// One line of the append-only audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEventView {
    /// Insertion order.
    pub id: i64,
    /// Whose trail it is.
    pub tenant_id: Uuid,
    /// The license concerned, if any.
    pub license_id: Option<Uuid>,
    /// Who acted or was acted for; absent for the system (an expiry).
    pub user_id: Option<Uuid>,
    /// What happened: `seat.acquired`, `seat.denied`, `seat.released`, `seat.expired`, …
    pub action: String,
    /// The seat session concerned, if any.
    pub session_id: Option<String>,
    /// Anything else worth keeping (the reason of a denial, the hostname…).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// The request that caused it, to find its log lines.
    pub request_id: Option<String>,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
}
