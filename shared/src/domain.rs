//! The records of the product: tenants, their members, licenses, invitations and the audit trail.
//!
//! Enumerations are stored as upper-case text in both databases, so a row read by hand reads the
//! same as the API shows it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use uuid::Uuid;

/// Defines a text-backed enumeration with its wire and column spelling.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// The spelling used in the database and on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err(format!("unknown {} {other:?}", stringify!($name))),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum! {
    /// What a member may do in their tenant.
    Role {
        /// Everything, including billing; a tenant always keeps at least one.
        Owner = "OWNER",
        /// Manages members and invitations, sees who holds seats.
        Admin = "ADMIN",
        /// Uses seats.
        Member = "MEMBER",
    }
}

impl Role {
    /// Whether this role manages members, invitations and sees seat holders.
    pub fn manages_members(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }
}

text_enum! {
    /// The plan a license is on.
    Tier {
        /// The plan every new tenant starts on.
        Free = "FREE",
        /// Paid, individual.
        Pro = "PRO",
        /// Paid, per-seat for teams.
        Team = "TEAM",
        /// Negotiated.
        Enterprise = "ENTERPRISE",
    }
}

text_enum! {
    /// Whether a license grants seats.
    LicenseStatus {
        /// Grants seats.
        Active = "ACTIVE",
        /// Temporarily grants none (unpaid invoice, abuse).
        Suspended = "SUSPENDED",
        /// Ended; grants none.
        Canceled = "CANCELED",
    }
}

/// An organisation: the unit that holds a license and whose data no other tenant sees.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Tenant {
    /// Stable id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// When it registered.
    pub created_at: DateTime<Utc>,
}

/// A person, member of exactly one tenant.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct User {
    /// Stable id.
    pub id: Uuid,
    /// The tenant they belong to.
    pub tenant_id: Uuid,
    /// Identity Platform's `sub`: the only link between a token and this row.
    pub firebase_uid: String,
    /// Email from the token, if any.
    pub email: Option<String>,
    /// Name from the token, if any.
    pub display_name: Option<String>,
    /// Their role in the tenant.
    #[sqlx(try_from = "String")]
    pub role: Role,
    /// When they joined.
    pub created_at: DateTime<Utc>,
}

/// A tenant's right to run the CLI on up to `max_seats` machines at once.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct License {
    /// Stable id; also the seat pool's key.
    pub id: Uuid,
    /// The tenant holding it.
    pub tenant_id: Uuid,
    /// Plan.
    #[sqlx(try_from = "String")]
    pub tier: Tier,
    /// Live sessions allowed at once.
    pub max_seats: i32,
    /// Feature flags the CLI unlocks.
    pub features: Json<Vec<String>>,
    /// Whether it grants seats.
    #[sqlx(try_from = "String")]
    pub status: LicenseStatus,
    /// When it stops granting seats; `None` never.
    pub expires_at: Option<DateTime<Utc>>,
    /// Stripe's customer, once billing knows the tenant.
    #[serde(skip)]
    pub stripe_customer_id: Option<String>,
    /// Stripe's subscription that sets the plan.
    #[serde(skip)]
    pub stripe_subscription_id: Option<String>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl License {
    /// Whether the license is past its expiry at `now`.
    pub fn expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// An offer to join a tenant, redeemed by signing in with the invited, verified email.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Invitation {
    /// Stable id.
    pub id: Uuid,
    /// The tenant to join.
    pub tenant_id: Uuid,
    /// Lower-cased email it is for.
    pub email: String,
    /// Role on joining.
    #[sqlx(try_from = "String")]
    pub role: Role,
    /// Who invited.
    pub invited_by: Uuid,
    /// When.
    pub created_at: DateTime<Utc>,
    /// After this it can no longer be redeemed.
    pub expires_at: DateTime<Utc>,
    /// When it was redeemed.
    pub accepted_at: Option<DateTime<Utc>>,
    /// When it was withdrawn.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Invitation {
    /// Whether it can still be redeemed at `now`.
    pub fn is_pending(&self, now: DateTime<Utc>) -> bool {
        self.accepted_at.is_none() && self.revoked_at.is_none() && self.expires_at > now
    }
}

/// One line of the append-only audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AuditEvent {
    /// Insertion order.
    pub id: i64,
    /// Whose trail it is.
    pub tenant_id: Uuid,
    /// The license concerned, if any.
    pub license_id: Option<Uuid>,
    /// The user who acted or was acted for; `None` for the system (expiry).
    pub user_id: Option<Uuid>,
    /// What happened: `seat.acquired`, `seat.denied`, `seat.released`, `seat.expired`, …
    pub action: String,
    /// The seat session concerned, if any.
    pub session_id: Option<String>,
    /// Anything else worth keeping (reason of a denial, hostname…).
    pub detail: Json<serde_json::Value>,
    /// The request that caused it, to find its log lines.
    pub request_id: Option<String>,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
}

/// An audit event to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEvent {
    /// Whose trail it is.
    pub tenant_id: Uuid,
    /// The license concerned.
    pub license_id: Option<Uuid>,
    /// Who.
    pub user_id: Option<Uuid>,
    /// What.
    pub action: String,
    /// Which session.
    pub session_id: Option<String>,
    /// Details.
    pub detail: serde_json::Value,
    /// Which request.
    pub request_id: Option<String>,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// Appending twice with the same key keeps one row: how the expiry drain stays idempotent.
    pub dedupe_key: Option<String>,
}
