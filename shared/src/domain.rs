//! The records of the product: tenants, their members, licenses, invitations and the audit trail.
//!
//! Enumerations are stored as upper-case text in both databases, so a row read by hand reads the
//! same as the API shows it; they are defined once, in the wire contract ([`crate::api`]). Each
//! record converts into its wire view (`From`), which leaves out what clients never see (Stripe
//! ids).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json;
use uuid::Uuid;

use crate::api;

pub use crate::api::{LicenseStatus, Role, SeatPolicy, Tier};

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
    /// A payment failed: seats are granted until then, and the license counts as suspended after
    /// (billing's grace, `BILLING_GRACE_DAYS`).
    pub grace_until: Option<DateTime<Utc>>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// The longest a member may borrow a seat for offline use, in seconds; 0: borrowing is off.
    pub max_borrow_seconds: i64,
    /// The most seats one member may hold at once on all their machines; 0: no cap.
    pub max_seats_per_user: i32,
}

impl License {
    /// The seat policies an owner sets ([`Self::max_borrow_seconds`], [`Self::max_seats_per_user`]).
    pub fn policy(&self) -> SeatPolicy {
        SeatPolicy {
            max_borrow_seconds: u64::try_from(self.max_borrow_seconds)
                .ok()
                .filter(|&s| s > 0),
            max_seats_per_user: u32::try_from(self.max_seats_per_user)
                .ok()
                .filter(|&n| n > 0),
        }
    }

    /// Whether the license is past its expiry at `now`.
    pub fn expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// Whether an unpaid subscription's grace has run out at `now`: the license grants no seat
    /// until Stripe reports a payment.
    pub fn grace_over_at(&self, now: DateTime<Utc>) -> bool {
        self.grace_until.is_some_and(|at| at <= now)
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

impl From<&Tenant> for api::TenantView {
    fn from(tenant: &Tenant) -> Self {
        Self {
            id: tenant.id,
            name: tenant.name.clone(),
            created_at: tenant.created_at,
        }
    }
}

impl From<&User> for api::MemberView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            tenant_id: user.tenant_id,
            firebase_uid: user.firebase_uid.clone(),
            email: user.email.clone(),
            display_name: user.display_name.clone(),
            role: user.role,
            created_at: user.created_at,
        }
    }
}

impl License {
    /// The seat count as the wire carries it (the column is a signed integer; a negative count
    /// grants nothing).
    pub fn seats(&self) -> u32 {
        u32::try_from(self.max_seats).unwrap_or(0)
    }
}

impl From<&License> for api::LicenseView {
    fn from(license: &License) -> Self {
        Self {
            id: license.id,
            tenant_id: license.tenant_id,
            tier: license.tier,
            max_seats: license.seats(),
            features: license.features.0.clone(),
            status: license.status,
            expires_at: license.expires_at,
            grace_until: license.grace_until,
            updated_at: license.updated_at,
            policy: license.policy(),
        }
    }
}

impl Invitation {
    /// The wire view, with whether it is still pending at `now`.
    pub fn view(&self, now: DateTime<Utc>) -> api::InvitationView {
        api::InvitationView {
            id: self.id,
            tenant_id: self.tenant_id,
            email: self.email.clone(),
            role: self.role,
            invited_by: self.invited_by,
            created_at: self.created_at,
            expires_at: self.expires_at,
            accepted_at: self.accepted_at,
            revoked_at: self.revoked_at,
            pending: self.is_pending(now),
        }
    }
}

impl From<AuditEvent> for api::AuditEventView {
    fn from(event: AuditEvent) -> Self {
        Self {
            id: event.id,
            tenant_id: event.tenant_id,
            license_id: event.license_id,
            user_id: event.user_id,
            action: event.action,
            session_id: event.session_id,
            detail: event.detail.0,
            request_id: event.request_id,
            occurred_at: event.occurred_at,
        }
    }
}
