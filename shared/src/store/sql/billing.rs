//! Stripe webhook events applied to a license: the event id recorded and its effect written in
//! one transaction, so a redelivery (also 20 at once) applies once, and an older event never
//! overwrites a newer one's state ([`crate::billing::BillingState::apply`]).

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::Executor;
use sqlx::types::Json;
use uuid::Uuid;

use super::{Driver, Param, Record, RowsAffected, SqlRecords};
use crate::api::WebhookOutcome;
use crate::billing::{Applied, BillingChange, BillingEvent, BillingState, EventMark};
use crate::domain::{LicenseStatus, Tier};
use crate::store::StoreResult;

/// The audit action of a plan change made by Stripe.
pub(in crate::store) const PLAN_CHANGED: &str = "billing.plan_changed";

/// A license's billing columns (read from `SELECT *`: the others are ignored).
#[derive(sqlx::FromRow)]
pub(in crate::store) struct BillingRow {
    #[sqlx(try_from = "String")]
    tier: Tier,
    max_seats: i32,
    #[sqlx(try_from = "String")]
    status: LicenseStatus,
    expires_at: Option<DateTime<Utc>>,
    grace_until: Option<DateTime<Utc>>,
    stripe_customer_id: Option<String>,
    stripe_subscription_id: Option<String>,
    subscription_status: Option<String>,
    plan_event_at: Option<DateTime<Utc>>,
    plan_event_id: Option<String>,
    grace_event_at: Option<DateTime<Utc>>,
    grace_event_id: Option<String>,
}

impl BillingRow {
    fn state(&self) -> BillingState {
        let mark = |at: Option<DateTime<Utc>>, id: &Option<String>| {
            Some(EventMark {
                at: at?,
                id: id.clone()?,
            })
        };
        BillingState {
            tier: self.tier,
            max_seats: self.max_seats,
            status: self.status,
            expires_at: self.expires_at,
            grace_until: self.grace_until,
            customer_id: self.stripe_customer_id.clone(),
            subscription_id: self.stripe_subscription_id.clone(),
            subscription_status: self.subscription_status.clone(),
            plan_mark: mark(self.plan_event_at, &self.plan_event_id),
            grace_mark: mark(self.grace_event_at, &self.grace_event_id),
        }
    }
}

impl<DB> SqlRecords<DB>
where
    DB: Driver,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    Uuid: Param<DB>,
    Option<Uuid>: Param<DB>,
    for<'a> &'a str: Param<DB>,
    String: Param<DB>,
    Option<String>: Param<DB>,
    i32: Param<DB>,
    DateTime<Utc>: Param<DB>,
    Option<DateTime<Utc>>: Param<DB>,
    for<'a> Json<&'a serde_json::Value>: Param<DB>,
    BillingRow: Record<DB>,
    (Uuid, Uuid): Record<DB>,
{
    /// See [`crate::store::Store::apply_billing_event`].
    pub(in crate::store) async fn apply_billing_event(
        &self,
        event: &BillingEvent,
        now: DateTime<Utc>,
    ) -> StoreResult<WebhookOutcome> {
        let mut tx = DB::begin_write(&self.pool).await?;
        // The id first: a concurrent delivery of the same event waits here on the unique key
        // until this transaction ends, then inserts nothing.
        let recorded = sqlx::query(
            "INSERT INTO stripe_events (id, type, received_at, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&event.id)
        .bind(&event.kind)
        .bind(now)
        .bind(event.created)
        .execute(&mut *tx)
        .await?;
        if recorded.rows_affected() == 0 {
            return Ok(WebhookOutcome::Duplicate);
        }
        let (outcome, tenant) = match Self::license_for(&mut tx, &event.change).await? {
            None => match event.change {
                BillingChange::Ignored => (WebhookOutcome::Ignored, None),
                _ => (WebhookOutcome::Unmatched, None),
            },
            Some(license_id) => {
                let outcome = Self::apply_to_license(&mut tx, license_id, event, now).await?;
                (outcome, Some(license_id.1))
            }
        };
        sqlx::query("UPDATE stripe_events SET outcome = $2, tenant_id = $3 WHERE id = $1")
            .bind(&event.id)
            .bind(outcome.as_str())
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// The license (id, tenant) an event is about: by tenant id when the event names one (our
    /// Checkout writes it), else by the Stripe customer. Locks the row until the transaction ends,
    /// so two events of one license apply one after the other.
    async fn license_for(
        conn: &mut DB::Connection,
        change: &BillingChange,
    ) -> StoreResult<Option<(Uuid, Uuid)>> {
        let (tenant_id, customer_id) = match change {
            BillingChange::Link {
                tenant_id,
                customer_id,
                ..
            }
            | BillingChange::Subscription {
                tenant_id,
                customer_id,
                ..
            } => (*tenant_id, customer_id.clone()),
            BillingChange::Invoice { customer_id, .. } => (None, customer_id.clone()),
            BillingChange::Unmapped { .. } | BillingChange::Ignored => return Ok(None),
        };
        // An UPDATE that changes nothing takes the row lock on PostgreSQL (SQLite's write lock
        // is already held since BEGIN IMMEDIATE).
        let found: Option<(Uuid, Uuid)> = match (tenant_id, customer_id) {
            (Some(tenant), _) => {
                sqlx::query_as(
                    "UPDATE licenses SET updated_at = updated_at WHERE tenant_id = $1
                     RETURNING id, tenant_id",
                )
                .bind(tenant)
                .fetch_optional(&mut *conn)
                .await?
            }
            (None, Some(customer)) => {
                sqlx::query_as(
                    "UPDATE licenses SET updated_at = updated_at WHERE stripe_customer_id = $1
                     RETURNING id, tenant_id",
                )
                .bind(customer)
                .fetch_optional(&mut *conn)
                .await?
            }
            (None, None) => None,
        };
        Ok(found)
    }

    /// Applies `event` to the locked license and audits a change of its terms.
    async fn apply_to_license(
        conn: &mut DB::Connection,
        (license_id, tenant_id): (Uuid, Uuid),
        event: &BillingEvent,
        now: DateTime<Utc>,
    ) -> StoreResult<WebhookOutcome> {
        let row: BillingRow = sqlx::query_as("SELECT * FROM licenses WHERE id = $1")
            .bind(license_id)
            .fetch_one(&mut *conn)
            .await?;
        let before = row.state();
        let after = match before.apply(event) {
            Applied::Stale => return Ok(WebhookOutcome::Stale),
            Applied::Updated(after) => after,
        };
        // A customer or subscription that another license already holds is someone else's:
        // writing it would break the unique columns, and applying it would cross tenants.
        let taken = sqlx::query(
            "SELECT id FROM licenses
             WHERE id <> $1 AND (stripe_customer_id = $2 OR stripe_subscription_id = $3)",
        )
        .bind(license_id)
        .bind(&after.customer_id)
        .bind(&after.subscription_id)
        .fetch_optional(&mut *conn)
        .await?;
        if taken.is_some() {
            tracing::warn!(
                event = %event.id,
                %tenant_id,
                "Stripe customer or subscription already belongs to another tenant; event not applied"
            );
            return Ok(WebhookOutcome::Unmatched);
        }
        let changed = after.terms_differ(&before);
        let split = |mark: &Option<EventMark>| {
            (
                mark.as_ref().map(|m| m.at),
                mark.as_ref().map(|m| m.id.clone()),
            )
        };
        let (plan_at, plan_id) = split(&after.plan_mark);
        let (grace_at, grace_id) = split(&after.grace_mark);
        sqlx::query(
            "UPDATE licenses SET tier = $2, max_seats = $3, status = $4, expires_at = $5,
                    grace_until = $6, stripe_customer_id = $7, stripe_subscription_id = $8,
                    subscription_status = $9, plan_event_at = $10, plan_event_id = $11,
                    grace_event_at = $12, grace_event_id = $13
             WHERE id = $1",
        )
        .bind(license_id)
        .bind(after.tier.as_str())
        .bind(after.max_seats)
        .bind(after.status.as_str())
        .bind(after.expires_at)
        .bind(after.grace_until)
        .bind(&after.customer_id)
        .bind(&after.subscription_id)
        .bind(&after.subscription_status)
        .bind(plan_at)
        .bind(plan_id)
        .bind(grace_at)
        .bind(grace_id)
        .execute(&mut *conn)
        .await?;
        if !changed {
            return Ok(WebhookOutcome::Unchanged);
        }
        sqlx::query("UPDATE licenses SET updated_at = $2 WHERE id = $1")
            .bind(license_id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        let terms = |s: &BillingState| {
            json!({
                "tier": s.tier,
                "max_seats": s.max_seats,
                "status": s.status,
                "grace_until": s.grace_until,
            })
        };
        let detail = json!({
            "stripe_event_id": event.id,
            "stripe_event_type": event.kind,
            "before": terms(&before),
            "after": terms(&after),
        });
        sqlx::query(
            "INSERT INTO audit_events (tenant_id, license_id, action, detail, occurred_at,
                                       dedupe_key)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .bind(tenant_id)
        .bind(license_id)
        .bind(PLAN_CHANGED)
        .bind(Json(&detail))
        .bind(now)
        .bind(format!("stripe:{}", event.id))
        .execute(&mut *conn)
        .await?;
        Ok(WebhookOutcome::Changed)
    }
}
