//! The seat policies an owner sets on the license, written with their audit row in one
//! transaction.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::Executor;
use sqlx::types::Json;
use uuid::Uuid;

use super::{Driver, Param, Record, SqlRecords};
use crate::domain::{License, SeatPolicy};
use crate::store::{StoreError, StoreResult};

/// The audit action of a policy change.
pub(in crate::store) const POLICY_CHANGED: &str = "license.policy_changed";

impl<DB> SqlRecords<DB>
where
    DB: Driver,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    Uuid: Param<DB>,
    for<'a> &'a str: Param<DB>,
    i32: Param<DB>,
    i64: Param<DB>,
    DateTime<Utc>: Param<DB>,
    for<'a> Json<&'a serde_json::Value>: Param<DB>,
    License: Record<DB>,
{
    /// See [`crate::store::Store::set_seat_policy`].
    pub(in crate::store) async fn set_seat_policy(
        &self,
        tenant_id: Uuid,
        policy: &SeatPolicy,
        actor: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<License> {
        let borrow = policy
            .max_borrow_seconds
            .map_or(Ok(0), i64::try_from)
            .map_err(|_| StoreError::Conflict("borrow period out of range".into()))?;
        let per_user = policy
            .max_seats_per_user
            .map_or(Ok(0), i32::try_from)
            .map_err(|_| StoreError::Conflict("seats per user out of range".into()))?;
        let mut tx = DB::begin_write(&self.pool).await?;
        // The policy this change replaces, read under the row's write lock: a plain SELECT on
        // PostgreSQL (read committed) could read a policy a concurrent change is about to
        // replace, and the audit row would name the wrong "before". An UPDATE that changes
        // nothing takes the lock (and waits for a racing change to commit) on both backends.
        let before: Option<License> = sqlx::query_as(
            "UPDATE licenses SET updated_at = updated_at WHERE tenant_id = $1 RETURNING *",
        )
        .bind(tenant_id)
        .fetch_optional(&mut *tx)
        .await?;
        let before = before.ok_or(StoreError::NotFound("license"))?;
        let license: License = sqlx::query_as(
            "UPDATE licenses SET max_borrow_seconds = $2, max_seats_per_user = $3, updated_at = $4
             WHERE tenant_id = $1 RETURNING *",
        )
        .bind(tenant_id)
        .bind(borrow)
        .bind(per_user)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let detail = json!({ "before": before.policy(), "after": license.policy() });
        sqlx::query(
            "INSERT INTO audit_events (tenant_id, license_id, user_id, action, detail, occurred_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tenant_id)
        .bind(license.id)
        .bind(actor)
        .bind(POLICY_CHANGED)
        .bind(Json(&detail))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(license)
    }
}
