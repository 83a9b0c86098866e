//! Members, roles and invitations: every change takes the tenant's membership lock first.

use chrono::{DateTime, Utc};
use sqlx::Executor;
use uuid::Uuid;

use super::{Driver, Param, Record, SqlRecords};
use crate::domain::{Invitation, Role, User};
use crate::store::{NewInvitation, StoreError, StoreResult};

impl<DB> SqlRecords<DB>
where
    DB: Driver,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    Uuid: Param<DB>,
    for<'a> &'a str: Param<DB>,
    String: Param<DB>,
    DateTime<Utc>: Param<DB>,
    (i64,): Record<DB>,
    User: Record<DB>,
    Invitation: Record<DB>,
{
    /// See [`crate::store::Store::members`].
    pub(in crate::store) async fn members(&self, tenant_id: Uuid) -> StoreResult<Vec<User>> {
        Ok(
            sqlx::query_as("SELECT * FROM users WHERE tenant_id = $1 ORDER BY created_at, id")
                .bind(tenant_id)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// See [`crate::store::Store::member`].
    pub(in crate::store) async fn member(
        &self,
        tenant_id: Uuid,
        user_id: Uuid,
    ) -> StoreResult<Option<User>> {
        Ok(
            sqlx::query_as("SELECT * FROM users WHERE tenant_id = $1 AND id = $2")
                .bind(tenant_id)
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// See [`crate::store::Store::change_role`].
    pub(in crate::store) async fn change_role(
        &self,
        tenant_id: Uuid,
        user_id: Uuid,
        role: Role,
    ) -> StoreResult<User> {
        let mut tx = DB::begin_write(&self.pool).await?;
        Self::lock_membership(&mut tx, tenant_id).await?;
        let owners_left = Self::owners_without(&mut tx, tenant_id, user_id).await?;
        let current: Option<User> =
            sqlx::query_as("SELECT * FROM users WHERE tenant_id = $1 AND id = $2")
                .bind(tenant_id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        let current = current.ok_or(StoreError::NotFound("member"))?;
        if current.role == Role::Owner && role != Role::Owner && owners_left == 0 {
            return Err(StoreError::Conflict(
                "A tenant needs at least one owner; make someone else owner first.".into(),
            ));
        }
        let user = sqlx::query_as(
            "UPDATE users SET role = $3 WHERE tenant_id = $1 AND id = $2 RETURNING *",
        )
        .bind(tenant_id)
        .bind(user_id)
        .bind(role.as_str())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    /// See [`crate::store::Store::remove_member`].
    pub(in crate::store) async fn remove_member(
        &self,
        tenant_id: Uuid,
        user_id: Uuid,
    ) -> StoreResult<User> {
        let mut tx = DB::begin_write(&self.pool).await?;
        Self::lock_membership(&mut tx, tenant_id).await?;
        let owners_left = Self::owners_without(&mut tx, tenant_id, user_id).await?;
        let removed: Option<User> =
            sqlx::query_as("DELETE FROM users WHERE tenant_id = $1 AND id = $2 RETURNING *")
                .bind(tenant_id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        let removed = removed.ok_or(StoreError::NotFound("member"))?;
        if removed.role == Role::Owner && owners_left == 0 {
            return Err(StoreError::Conflict(
                "The last owner cannot be removed; make someone else owner first.".into(),
            ));
        }
        tx.commit().await?;
        Ok(removed)
    }

    /// See [`crate::store::Store::create_invitation`].
    pub(in crate::store) async fn create_invitation(
        &self,
        inv: &NewInvitation,
    ) -> StoreResult<Invitation> {
        let email = inv.email.trim().to_lowercase();
        let mut tx = DB::begin_write(&self.pool).await?;
        Self::lock_membership(&mut tx, inv.tenant_id).await?;
        let (members,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM users WHERE tenant_id = $1 AND lower(email) = $2")
                .bind(inv.tenant_id)
                .bind(&email)
                .fetch_one(&mut *tx)
                .await?;
        if members > 0 {
            return Err(StoreError::Conflict(format!(
                "{email} is already a member."
            )));
        }
        let existing: Vec<Invitation> =
            sqlx::query_as("SELECT * FROM invitations WHERE tenant_id = $1 AND email = $2")
                .bind(inv.tenant_id)
                .bind(&email)
                .fetch_all(&mut *tx)
                .await?;
        if existing.iter().any(|i| i.is_pending(inv.now)) {
            return Err(StoreError::Conflict(format!(
                "{email} already has a pending invitation; revoke it to invite again."
            )));
        }
        let invitation = sqlx::query_as(
            "INSERT INTO invitations (id, tenant_id, email, role, invited_by, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
        )
        .bind(Uuid::now_v7())
        .bind(inv.tenant_id)
        .bind(&email)
        .bind(inv.role.as_str())
        .bind(inv.invited_by)
        .bind(inv.now)
        .bind(inv.expires_at)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(invitation)
    }

    /// See [`crate::store::Store::invitations`].
    pub(in crate::store) async fn invitations(
        &self,
        tenant_id: Uuid,
    ) -> StoreResult<Vec<Invitation>> {
        Ok(sqlx::query_as(
            "SELECT * FROM invitations WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC",
        )
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// See [`crate::store::Store::revoke_invitation`].
    pub(in crate::store) async fn revoke_invitation(
        &self,
        tenant_id: Uuid,
        invitation_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Invitation> {
        sqlx::query_as(
            "UPDATE invitations SET revoked_at = $3
             WHERE tenant_id = $1 AND id = $2 AND accepted_at IS NULL AND revoked_at IS NULL
             RETURNING *",
        )
        .bind(tenant_id)
        .bind(invitation_id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("pending invitation"))
    }

    /// How many owners the tenant has besides `user_id`.
    async fn owners_without(
        conn: &mut DB::Connection,
        tenant_id: Uuid,
        user_id: Uuid,
    ) -> StoreResult<i64> {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM users WHERE tenant_id = $1 AND role = 'OWNER' AND id <> $2",
        )
        .bind(tenant_id)
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await?;
        Ok(count)
    }
}
