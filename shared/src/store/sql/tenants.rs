//! Sign-in and registration, the tenant and its license.

use chrono::{DateTime, Utc};
use sqlx::Executor;
use sqlx::types::Json;
use uuid::Uuid;

use super::{Driver, Param, Record, RowsAffected, SqlRecords};
use crate::domain::{Invitation, License, Role, Tenant, User};
use crate::store::{
    LicensePlan, Registered, Registration, RegistrationOutcome, StoreError, StoreResult,
};

impl<DB> SqlRecords<DB>
where
    DB: Driver,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    Uuid: Param<DB>,
    for<'a> &'a str: Param<DB>,
    String: Param<DB>,
    Option<String>: Param<DB>,
    i32: Param<DB>,
    DateTime<Utc>: Param<DB>,
    Option<DateTime<Utc>>: Param<DB>,
    for<'a> Json<&'a Vec<String>>: Param<DB>,
    Tenant: Record<DB>,
    User: Record<DB>,
    License: Record<DB>,
    Invitation: Record<DB>,
{
    /// See [`crate::store::Store::register`].
    pub(in crate::store) async fn register(&self, r: &Registration) -> StoreResult<Registered> {
        // Two first sign-ins of one person can race; the loser's insert hits the unique
        // firebase_uid, or (when invited) finds the invitation already redeemed, and the retry
        // finds the winner's membership. If someone else redeemed the invitation, the retry no
        // longer sees it and creates a tenant instead.
        for _ in 0..3 {
            if let Some(user) = self.user_by_uid(&r.firebase_uid).await? {
                let tenant = self.tenant(user.tenant_id).await?;
                let tenant = tenant.ok_or(StoreError::NotFound("tenant"))?;
                let license = self.license_of_tenant(user.tenant_id).await?;
                let license = license.ok_or(StoreError::NotFound("license"))?;
                return Ok(Registered {
                    tenant,
                    user,
                    license,
                    outcome: RegistrationOutcome::Existing,
                });
            }
            match self.register_new(r).await {
                Ok(registered) => return Ok(registered),
                Err(Attempt::Raced) => continue,
                Err(Attempt::Failed(err)) => return Err(err),
            }
        }
        Err(StoreError::Conflict(
            "registration raced too often; retry".into(),
        ))
    }

    /// See [`crate::store::Store::user_by_uid`].
    pub(in crate::store) async fn user_by_uid(
        &self,
        firebase_uid: &str,
    ) -> StoreResult<Option<User>> {
        Ok(
            sqlx::query_as("SELECT * FROM users WHERE firebase_uid = $1")
                .bind(firebase_uid)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// See [`crate::store::Store::tenant`].
    pub(in crate::store) async fn tenant(&self, tenant_id: Uuid) -> StoreResult<Option<Tenant>> {
        Ok(
            sqlx::query_as("SELECT id, name, created_at FROM tenants WHERE id = $1")
                .bind(tenant_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// See [`crate::store::Store::license_of_tenant`].
    pub(in crate::store) async fn license_of_tenant(
        &self,
        tenant_id: Uuid,
    ) -> StoreResult<Option<License>> {
        Ok(
            sqlx::query_as("SELECT * FROM licenses WHERE tenant_id = $1")
                .bind(tenant_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// See [`crate::store::Store::update_license`].
    pub(in crate::store) async fn update_license(
        &self,
        tenant_id: Uuid,
        plan: &LicensePlan,
        now: DateTime<Utc>,
    ) -> StoreResult<License> {
        sqlx::query_as(
            "UPDATE licenses SET tier = $2, max_seats = $3, features = $4, status = $5,
                    expires_at = $6, updated_at = $7
             WHERE tenant_id = $1 RETURNING *",
        )
        .bind(tenant_id)
        .bind(plan.tier.as_str())
        .bind(plan.max_seats)
        .bind(Json(&plan.features))
        .bind(plan.status.as_str())
        .bind(plan.expires_at)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("license"))
    }

    /// The insert half of [`Self::register`]: joins an invitation or creates a tenant.
    async fn register_new(&self, r: &Registration) -> Result<Registered, Attempt> {
        let email = r.email.as_deref().map(|e| e.trim().to_lowercase());
        let mut tx = DB::begin_write(&self.pool).await?;
        // Only a verified email may redeem an invitation, or anyone could claim any address.
        let invitation: Option<Invitation> = match (&email, r.email_verified) {
            (Some(email), true) => {
                let found: Vec<Invitation> = sqlx::query_as(
                    "SELECT * FROM invitations WHERE email = $1 ORDER BY created_at DESC",
                )
                .bind(email)
                .fetch_all(&mut *tx)
                .await?;
                found.into_iter().find(|i| i.is_pending(r.now))
            }
            _ => None,
        };
        let (tenant_id, role, outcome) = match &invitation {
            Some(inv) => {
                let accepted = sqlx::query(
                    "UPDATE invitations SET accepted_at = $2
                     WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL",
                )
                .bind(inv.id)
                .bind(r.now)
                .execute(&mut *tx)
                .await?;
                if accepted.rows_affected() != 1 {
                    // Used or revoked meanwhile: the retry no longer sees it.
                    return Err(Attempt::Raced);
                }
                Self::lock_membership(&mut tx, inv.tenant_id).await?;
                (
                    inv.tenant_id,
                    inv.role,
                    RegistrationOutcome::JoinedByInvitation,
                )
            }
            None => {
                let tenant_id = Uuid::now_v7();
                sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
                    .bind(tenant_id)
                    .bind(&r.tenant_name)
                    .bind(r.now)
                    .execute(&mut *tx)
                    .await?;
                let plan = &r.starting_plan;
                sqlx::query(
                    "INSERT INTO licenses (id, tenant_id, tier, max_seats, features, status,
                                           expires_at, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
                )
                .bind(Uuid::now_v7())
                .bind(tenant_id)
                .bind(plan.tier.as_str())
                .bind(plan.max_seats)
                .bind(Json(&plan.features))
                .bind(plan.status.as_str())
                .bind(plan.expires_at)
                .bind(r.now)
                .execute(&mut *tx)
                .await?;
                (tenant_id, Role::Owner, RegistrationOutcome::CreatedTenant)
            }
        };
        let user: User = sqlx::query_as(
            "INSERT INTO users (id, tenant_id, firebase_uid, email, display_name, role, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
        )
        .bind(Uuid::now_v7())
        .bind(tenant_id)
        .bind(&r.firebase_uid)
        .bind(&email)
        .bind(&r.display_name)
        .bind(role.as_str())
        .bind(r.now)
        .fetch_one(&mut *tx)
        .await?;
        let tenant: Tenant =
            sqlx::query_as("SELECT id, name, created_at FROM tenants WHERE id = $1")
                .bind(tenant_id)
                .fetch_one(&mut *tx)
                .await?;
        let license: License = sqlx::query_as("SELECT * FROM licenses WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Registered {
            tenant,
            user,
            license,
            outcome,
        })
    }
}

/// Why one attempt at [`SqlRecords::register_new`] did not finish.
enum Attempt {
    /// Another sign-in of the same person, or another redemption of the same invitation, got
    /// there first; the next attempt sees what it did.
    Raced,
    /// Anything else: the caller gets it.
    Failed(StoreError),
}

impl From<sqlx::Error> for Attempt {
    /// A duplicate key is the driver telling us another sign-in won (the unique `firebase_uid`):
    /// the driver's error kind says so, read here while the error is still a `sqlx::Error`.
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Raced,
            other => Self::Failed(other.into()),
        }
    }
}

impl From<StoreError> for Attempt {
    fn from(err: StoreError) -> Self {
        Self::Failed(err)
    }
}
