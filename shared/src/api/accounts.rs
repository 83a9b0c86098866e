//! Registration, the caller's own view (`me`), and the views of a tenant, a member and a license
//! that the other bodies embed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Defines a text enumeration with its one spelling, used on the wire and in the database.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        // The spelling is the variant's name in upper case; `rename_all` rather than a `rename`
        // per variant because utoipa does not read a literal passed through `macro_rules!` (the
        // unit test below holds `$text` and serde's spelling together).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "UPPERCASE")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// The spelling used on the wire and in the database.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];
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

/// `POST /api/v1/register`: the optional body (an empty body names the organisation after the
/// email's domain).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Name of the organisation to create (1 to 200 printable characters); ignored when joining
    /// by invitation or already a member. Surrounding whitespace is trimmed.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069](?:[^\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*[^\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069])?[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$",
        example = "Acme Robotics"
    )]
    pub tenant_name: Option<String>,
}

/// 201 (created or joined) or 200 (already a member) of registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RegisterResponse {
    /// The caller's organisation.
    pub tenant: TenantView,
    /// The caller's membership.
    pub user: MemberView,
    /// The organisation's license.
    pub license: LicenseView,
    /// Whether this call redeemed an invitation.
    pub joined_by_invitation: bool,
}

/// `GET /api/v1/me`: who the caller is in which organisation, and its license.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MeResponse {
    /// The caller's membership.
    pub user: MemberView,
    /// The caller's role (as in `user.role`).
    pub role: Role,
    /// The caller's organisation.
    pub tenant: TenantView,
    /// Its license, when it holds one.
    pub license: Option<LicenseView>,
    /// Seats held now.
    pub seats_in_use: u32,
}

/// An organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenantView {
    /// Stable id: the `{tenant_id}` of every tenant path.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// When it registered.
    pub created_at: DateTime<Utc>,
}

/// A member of an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MemberView {
    /// Stable id: the `{user_id}` of member paths.
    pub id: Uuid,
    /// Their organisation.
    pub tenant_id: Uuid,
    /// Identity Platform's `sub` of their sign-in.
    pub firebase_uid: String,
    /// Email from the sign-in, if any.
    pub email: Option<String>,
    /// Name from the sign-in, if any.
    pub display_name: Option<String>,
    /// Their role.
    pub role: Role,
    /// When they joined.
    pub created_at: DateTime<Utc>,
}

/// An organisation's license.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LicenseView {
    /// Stable id.
    pub id: Uuid,
    /// The organisation holding it.
    pub tenant_id: Uuid,
    /// Plan.
    pub tier: Tier,
    /// Seats allowed at once.
    pub max_seats: u32,
    /// Feature flags the CLI unlocks.
    pub features: Vec<String>,
    /// Whether it grants seats.
    pub status: LicenseStatus,
    /// When it stops granting seats; absent for never.
    pub expires_at: Option<DateTime<Utc>>,
    /// A payment failed: the plan grants seats until then, and is suspended after unless paid
    /// (`BILLING_GRACE_DAYS` after the failure); absent when billing is in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_until: Option<DateTime<Utc>>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// The seat policies the owners set.
    pub policy: SeatPolicy,
}

/// The most a member may borrow a seat for, in seconds: 30 days.
pub const MAX_BORROW_SECONDS: u64 = 30 * 24 * 3600;

/// Seat policies of a license, set by its owners (`PUT …/license/policy`); each absent (`null`)
/// when off, as it is by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeatPolicy {
    /// Members may borrow a seat for offline use for up to this long (seconds, at most 2592000:
    /// 30 days); a borrowed seat is held without heartbeats until it is returned or its borrow
    /// ends. Absent: borrowing is off.
    #[serde(default, deserialize_with = "super::whole::optional")]
    #[schema(minimum = 1, maximum = 2592000)]
    pub max_borrow_seconds: Option<u64>,
    /// The most seats one member may hold at once on all their machines (1 to 10000). Absent:
    /// no cap beyond the license's seats.
    #[serde(default, deserialize_with = "super::whole::optional")]
    #[schema(minimum = 1, maximum = 10000)]
    pub max_seats_per_user: Option<u32>,
}

/// A borrow period as a person reads it: whole days when it is whole days, else hours, else
/// minutes ("7 days", "36 hours", "1 minute").
pub fn duration_words(seconds: u64) -> String {
    let (count, unit) = match seconds {
        s if s >= 86_400 && s % 86_400 == 0 => (s / 86_400, "day"),
        s if s >= 3600 && s % 3600 == 0 => (s / 3600, "hour"),
        s => (s.div_ceil(60), "minute"),
    };
    format!("{count} {unit}{}", if count == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_borrow_period_reads_in_its_largest_whole_unit() {
        assert_eq!(duration_words(7 * 86_400), "7 days");
        assert_eq!(duration_words(86_400), "1 day");
        assert_eq!(duration_words(36 * 3600), "36 hours");
        assert_eq!(duration_words(5400), "90 minutes");
        assert_eq!(duration_words(61), "2 minutes");
    }

    fn assert_spelled_as_on_the_wire<T: Serialize + Copy>(
        all: &[T],
        as_str: fn(T) -> &'static str,
    ) {
        for value in all {
            let wire = serde_json::to_value(value).expect("serializes");
            assert_eq!(wire, serde_json::Value::from(as_str(*value)));
        }
    }

    #[test]
    fn every_enumeration_serializes_as_its_database_spelling() {
        assert_spelled_as_on_the_wire(Role::ALL, Role::as_str);
        assert_spelled_as_on_the_wire(Tier::ALL, Tier::as_str);
        assert_spelled_as_on_the_wire(LicenseStatus::ALL, LicenseStatus::as_str);
    }
}
