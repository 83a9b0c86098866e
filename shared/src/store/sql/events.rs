//! What happened: Stripe event ids (a redelivery is seen once) and the audit trail.

use chrono::{DateTime, Utc};
use sqlx::Executor;
use sqlx::types::Json;
use uuid::Uuid;

use super::{Driver, Param, Record, RowsAffected, SqlRecords};
use crate::domain::{AuditEvent, NewAuditEvent};
use crate::store::StoreResult;

impl<DB> SqlRecords<DB>
where
    DB: Driver,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    Uuid: Param<DB>,
    Option<Uuid>: Param<DB>,
    for<'a> &'a str: Param<DB>,
    String: Param<DB>,
    Option<String>: Param<DB>,
    i64: Param<DB>,
    DateTime<Utc>: Param<DB>,
    for<'a> Json<&'a serde_json::Value>: Param<DB>,
    AuditEvent: Record<DB>,
{
    /// See [`crate::store::Store::record_stripe_event`].
    pub(in crate::store) async fn record_stripe_event(
        &self,
        event_id: &str,
        kind: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let inserted = sqlx::query(
            "INSERT INTO stripe_events (id, type, received_at) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(event_id)
        .bind(kind)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// See [`crate::store::Store::append_audit`].
    pub(in crate::store) async fn append_audit(
        &self,
        events: &[NewAuditEvent],
    ) -> StoreResult<u64> {
        let mut tx = DB::begin_write(&self.pool).await?;
        let mut inserted = 0;
        for e in events {
            inserted += sqlx::query(
                "INSERT INTO audit_events (tenant_id, license_id, user_id, action, session_id,
                                           detail, request_id, occurred_at, dedupe_key)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (dedupe_key) DO NOTHING",
            )
            .bind(e.tenant_id)
            .bind(e.license_id)
            .bind(e.user_id)
            .bind(&e.action)
            .bind(&e.session_id)
            .bind(Json(&e.detail))
            .bind(&e.request_id)
            .bind(e.occurred_at)
            .bind(&e.dedupe_key)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(inserted)
    }

    /// See [`crate::store::Store::audit_events`].
    pub(in crate::store) async fn audit_events(
        &self,
        tenant_id: Uuid,
        limit: i64,
    ) -> StoreResult<Vec<AuditEvent>> {
        Ok(sqlx::query_as(
            "SELECT id, tenant_id, license_id, user_id, action, session_id, detail, request_id,
                    occurred_at
             FROM audit_events WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(tenant_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}
