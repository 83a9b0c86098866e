//! The one body of SQL behind both stores.
//!
//! PostgreSQL and SQLite accept the same statements here (`$n` parameters, `RETURNING`,
//! `ON CONFLICT`), and every column decodes into the same Rust types on both, so the code is written
//! once and [`impl_store!`] expands it for each pool type. Times are computed in Rust and bound, never
//! taken from the database clock, so both backends agree.
//!
//! Membership changes first `UPDATE` the tenant row: on PostgreSQL that locks the row until commit,
//! on SQLite it takes the write lock, so "never leave a tenant without an owner" holds under
//! concurrent changes on both.
//!
//! Every transaction here writes, so each store opens them with its own `begin_write`: a plain
//! `BEGIN` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite (see [`super::SqliteStore`]).

/// Implements [`super::Store`] for `$store`, whose `pool` field is a `sqlx::Pool` of either driver.
macro_rules! impl_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            async fn ping(&self) -> $crate::store::StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn register(
                &self,
                r: &$crate::store::Registration,
            ) -> $crate::store::StoreResult<$crate::store::Registered> {
                use $crate::store::{Registered, RegistrationOutcome, StoreError};
                // Two first sign-ins of one person can race; the loser's insert hits the unique
                // firebase_uid, or (when invited) finds the invitation already redeemed, and the
                // retry finds the winner's membership. If someone else redeemed the invitation, the
                // retry no longer sees it and creates a tenant instead.
                for _ in 0..3 {
                    if let Some(user) = self.user_by_uid(&r.firebase_uid).await? {
                        let tenant = self.tenant(user.tenant_id).await?.ok_or(StoreError::NotFound("tenant"))?;
                        let license = self.license_of_tenant(user.tenant_id).await?.ok_or(StoreError::NotFound("license"))?;
                        return Ok(Registered { tenant, user, license, outcome: RegistrationOutcome::Existing });
                    }
                    match self.register_new(r).await {
                        Err(StoreError::Other(e))
                            if e.downcast_ref::<sqlx::Error>().is_some_and($crate::store::is_unique_violation) => continue,
                        // register_new's only conflict: the invitation was redeemed meanwhile.
                        Err(StoreError::Conflict(_)) => continue,
                        other => return other,
                    }
                }
                Err(StoreError::Conflict("registration raced too often; retry".into()))
            }

            async fn user_by_uid(&self, firebase_uid: &str) -> $crate::store::StoreResult<Option<$crate::domain::User>> {
                Ok(sqlx::query_as("SELECT * FROM users WHERE firebase_uid = $1")
                    .bind(firebase_uid)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn tenant(&self, tenant_id: uuid::Uuid) -> $crate::store::StoreResult<Option<$crate::domain::Tenant>> {
                Ok(sqlx::query_as("SELECT id, name, created_at FROM tenants WHERE id = $1")
                    .bind(tenant_id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn license_of_tenant(&self, tenant_id: uuid::Uuid) -> $crate::store::StoreResult<Option<$crate::domain::License>> {
                Ok(sqlx::query_as("SELECT * FROM licenses WHERE tenant_id = $1")
                    .bind(tenant_id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn update_license(
                &self,
                tenant_id: uuid::Uuid,
                plan: &$crate::store::LicensePlan,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<$crate::domain::License> {
                sqlx::query_as(
                    "UPDATE licenses SET tier = $2, max_seats = $3, features = $4, status = $5,
                            expires_at = $6, updated_at = $7
                     WHERE tenant_id = $1 RETURNING *",
                )
                .bind(tenant_id)
                .bind(plan.tier.as_str())
                .bind(plan.max_seats)
                .bind(sqlx::types::Json(&plan.features))
                .bind(plan.status.as_str())
                .bind(plan.expires_at)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?
                .ok_or($crate::store::StoreError::NotFound("license"))
            }

            async fn members(&self, tenant_id: uuid::Uuid) -> $crate::store::StoreResult<Vec<$crate::domain::User>> {
                Ok(sqlx::query_as("SELECT * FROM users WHERE tenant_id = $1 ORDER BY created_at, id")
                    .bind(tenant_id)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn member(&self, tenant_id: uuid::Uuid, user_id: uuid::Uuid) -> $crate::store::StoreResult<Option<$crate::domain::User>> {
                Ok(sqlx::query_as("SELECT * FROM users WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant_id)
                    .bind(user_id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn change_role(
                &self,
                tenant_id: uuid::Uuid,
                user_id: uuid::Uuid,
                role: $crate::domain::Role,
            ) -> $crate::store::StoreResult<$crate::domain::User> {
                let mut tx = self.begin_write().await?;
                lock_membership!(tx, tenant_id);
                let owners_left = owners_without!(tx, tenant_id, user_id);
                let current: Option<$crate::domain::User> = sqlx::query_as("SELECT * FROM users WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant_id).bind(user_id).fetch_optional(&mut *tx).await?;
                let current = current.ok_or($crate::store::StoreError::NotFound("member"))?;
                if current.role == $crate::domain::Role::Owner && role != $crate::domain::Role::Owner && owners_left == 0 {
                    return Err($crate::store::StoreError::Conflict("A tenant needs at least one owner; make someone else owner first.".into()));
                }
                let user = sqlx::query_as("UPDATE users SET role = $3 WHERE tenant_id = $1 AND id = $2 RETURNING *")
                    .bind(tenant_id).bind(user_id).bind(role.as_str())
                    .fetch_one(&mut *tx).await?;
                tx.commit().await?;
                Ok(user)
            }

            async fn remove_member(&self, tenant_id: uuid::Uuid, user_id: uuid::Uuid) -> $crate::store::StoreResult<$crate::domain::User> {
                let mut tx = self.begin_write().await?;
                lock_membership!(tx, tenant_id);
                let owners_left = owners_without!(tx, tenant_id, user_id);
                let removed: Option<$crate::domain::User> = sqlx::query_as("DELETE FROM users WHERE tenant_id = $1 AND id = $2 RETURNING *")
                    .bind(tenant_id).bind(user_id).fetch_optional(&mut *tx).await?;
                let removed = removed.ok_or($crate::store::StoreError::NotFound("member"))?;
                if removed.role == $crate::domain::Role::Owner && owners_left == 0 {
                    return Err($crate::store::StoreError::Conflict("The last owner cannot be removed; make someone else owner first.".into()));
                }
                tx.commit().await?;
                Ok(removed)
            }

            async fn create_invitation(&self, inv: &$crate::store::NewInvitation) -> $crate::store::StoreResult<$crate::domain::Invitation> {
                let email = inv.email.trim().to_lowercase();
                let mut tx = self.begin_write().await?;
                lock_membership!(tx, inv.tenant_id);
                let (members,): (i64,) = sqlx::query_as("SELECT count(*) FROM users WHERE tenant_id = $1 AND lower(email) = $2")
                    .bind(inv.tenant_id).bind(&email).fetch_one(&mut *tx).await?;
                if members > 0 {
                    return Err($crate::store::StoreError::Conflict(format!("{email} is already a member.")));
                }
                let existing: Vec<$crate::domain::Invitation> = sqlx::query_as("SELECT * FROM invitations WHERE tenant_id = $1 AND email = $2")
                    .bind(inv.tenant_id).bind(&email).fetch_all(&mut *tx).await?;
                if existing.iter().any(|i| i.is_pending(inv.now)) {
                    return Err($crate::store::StoreError::Conflict(format!("{email} already has a pending invitation; revoke it to invite again.")));
                }
                let invitation = sqlx::query_as(
                    "INSERT INTO invitations (id, tenant_id, email, role, invited_by, created_at, expires_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
                )
                .bind(uuid::Uuid::now_v7()).bind(inv.tenant_id).bind(&email).bind(inv.role.as_str())
                .bind(inv.invited_by).bind(inv.now).bind(inv.expires_at)
                .fetch_one(&mut *tx).await?;
                tx.commit().await?;
                Ok(invitation)
            }

            async fn invitations(&self, tenant_id: uuid::Uuid) -> $crate::store::StoreResult<Vec<$crate::domain::Invitation>> {
                Ok(sqlx::query_as("SELECT * FROM invitations WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC")
                    .bind(tenant_id)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn revoke_invitation(
                &self,
                tenant_id: uuid::Uuid,
                invitation_id: uuid::Uuid,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<$crate::domain::Invitation> {
                sqlx::query_as(
                    "UPDATE invitations SET revoked_at = $3
                     WHERE tenant_id = $1 AND id = $2 AND accepted_at IS NULL AND revoked_at IS NULL
                     RETURNING *",
                )
                .bind(tenant_id).bind(invitation_id).bind(now)
                .fetch_optional(&self.pool)
                .await?
                .ok_or($crate::store::StoreError::NotFound("pending invitation"))
            }

            async fn record_stripe_event(&self, event_id: &str, kind: &str, now: chrono::DateTime<chrono::Utc>) -> $crate::store::StoreResult<bool> {
                let inserted = sqlx::query("INSERT INTO stripe_events (id, type, received_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING")
                    .bind(event_id).bind(kind).bind(now)
                    .execute(&self.pool).await?;
                Ok(inserted.rows_affected() == 1)
            }

            async fn append_audit(&self, events: &[$crate::domain::NewAuditEvent]) -> $crate::store::StoreResult<u64> {
                let mut tx = self.begin_write().await?;
                let mut inserted = 0;
                for e in events {
                    inserted += sqlx::query(
                        "INSERT INTO audit_events (tenant_id, license_id, user_id, action, session_id, detail, request_id, occurred_at, dedupe_key)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (dedupe_key) DO NOTHING",
                    )
                    .bind(e.tenant_id).bind(e.license_id).bind(e.user_id).bind(&e.action).bind(&e.session_id)
                    .bind(sqlx::types::Json(&e.detail)).bind(&e.request_id).bind(e.occurred_at).bind(&e.dedupe_key)
                    .execute(&mut *tx).await?
                    .rows_affected();
                }
                tx.commit().await?;
                Ok(inserted)
            }

            async fn audit_events(&self, tenant_id: uuid::Uuid, limit: i64) -> $crate::store::StoreResult<Vec<$crate::domain::AuditEvent>> {
                Ok(sqlx::query_as(
                    "SELECT id, tenant_id, license_id, user_id, action, session_id, detail, request_id, occurred_at
                     FROM audit_events WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2",
                )
                .bind(tenant_id).bind(limit)
                .fetch_all(&self.pool).await?)
            }
        }

        impl $store {
            /// The insert half of [`Store::register`]: joins an invitation or creates a tenant.
            async fn register_new(
                &self,
                r: &$crate::store::Registration,
            ) -> $crate::store::StoreResult<$crate::store::Registered> {
                use $crate::domain::{Invitation, License, Role, Tenant, User};
                use $crate::store::{Registered, RegistrationOutcome, StoreError};
                let email = r.email.as_deref().map(|e| e.trim().to_lowercase());
                let mut tx = self.begin_write().await?;
                // Only a verified email may redeem an invitation, or anyone could claim any address.
                let invitation: Option<Invitation> = match (&email, r.email_verified) {
                    (Some(email), true) => {
                        let found: Vec<Invitation> = sqlx::query_as("SELECT * FROM invitations WHERE email = $1 ORDER BY created_at DESC")
                            .bind(email).fetch_all(&mut *tx).await?;
                        found.into_iter().find(|i| i.is_pending(r.now))
                    }
                    _ => None,
                };
                let (tenant_id, role, outcome) = match &invitation {
                    Some(inv) => {
                        let accepted = sqlx::query("UPDATE invitations SET accepted_at = $2 WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL")
                            .bind(inv.id).bind(r.now).execute(&mut *tx).await?;
                        if accepted.rows_affected() != 1 {
                            // `register` retries on this conflict; keep it the only one raised here.
                            return Err(StoreError::Conflict("The invitation was used or revoked meanwhile; retry.".into()));
                        }
                        lock_membership!(tx, inv.tenant_id);
                        (inv.tenant_id, inv.role, RegistrationOutcome::JoinedByInvitation)
                    }
                    None => {
                        let tenant_id = uuid::Uuid::now_v7();
                        sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
                            .bind(tenant_id).bind(&r.tenant_name).bind(r.now).execute(&mut *tx).await?;
                        let plan = &r.starting_plan;
                        sqlx::query(
                            "INSERT INTO licenses (id, tenant_id, tier, max_seats, features, status, expires_at, created_at, updated_at)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
                        )
                        .bind(uuid::Uuid::now_v7()).bind(tenant_id).bind(plan.tier.as_str()).bind(plan.max_seats)
                        .bind(sqlx::types::Json(&plan.features)).bind(plan.status.as_str()).bind(plan.expires_at).bind(r.now)
                        .execute(&mut *tx).await?;
                        (tenant_id, Role::Owner, RegistrationOutcome::CreatedTenant)
                    }
                };
                let user: User = sqlx::query_as(
                    "INSERT INTO users (id, tenant_id, firebase_uid, email, display_name, role, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
                )
                .bind(uuid::Uuid::now_v7()).bind(tenant_id).bind(&r.firebase_uid).bind(&email)
                .bind(&r.display_name).bind(role.as_str()).bind(r.now)
                .fetch_one(&mut *tx).await?;
                let tenant: Tenant = sqlx::query_as("SELECT id, name, created_at FROM tenants WHERE id = $1")
                    .bind(tenant_id).fetch_one(&mut *tx).await?;
                let license: License = sqlx::query_as("SELECT * FROM licenses WHERE tenant_id = $1")
                    .bind(tenant_id).fetch_one(&mut *tx).await?;
                tx.commit().await?;
                Ok(Registered { tenant, user, license, outcome })
            }
        }
    };
}

/// Serialises membership changes of one tenant until the transaction ends (see the module doc).
macro_rules! lock_membership {
    ($tx:ident, $tenant_id:expr) => {{
        let locked = sqlx::query(
            "UPDATE tenants SET membership_version = membership_version + 1 WHERE id = $1",
        )
        .bind($tenant_id)
        .execute(&mut *$tx)
        .await?;
        if locked.rows_affected() != 1 {
            return Err($crate::store::StoreError::NotFound("tenant"));
        }
    }};
}

/// How many owners the tenant has besides `user_id`.
macro_rules! owners_without {
    ($tx:ident, $tenant_id:expr, $user_id:expr) => {{
        let (count,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM users WHERE tenant_id = $1 AND role = 'OWNER' AND id <> $2",
        )
        .bind($tenant_id)
        .bind($user_id)
        .fetch_one(&mut *$tx)
        .await?;
        count
    }};
}

pub(super) use {impl_store, lock_membership, owners_without};
