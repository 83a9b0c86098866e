//! The one body of SQL behind both stores: [`SqlRecords`], generic over the sqlx driver.
//!
//! PostgreSQL and SQLite accept the same statements here (`$n` parameters, `RETURNING`,
//! `ON CONFLICT`), and every column decodes into the same Rust types on both, so each query is
//! written once, as an ordinary generic function, and the compiler builds it for each driver.
//! Times are computed in Rust and bound, never taken from the database clock, so both backends
//! agree. The queries are grouped as the [`super::Store`] trait groups them:
//!
//! - [`tenants`]: sign-in and registration, the tenant and its license;
//! - [`membership`]: members, roles and invitations;
//! - [`events`]: Stripe event ids and the audit trail;
//! - [`billing`]: Stripe webhook events applied to a license, once and in Stripe's order;
//! - [`usage`]: the usage report, computed from the audit trail (`usage_*.sql`).
//!
//! Membership changes first `UPDATE` the tenant row ([`SqlRecords::lock_membership`]): on
//! PostgreSQL that locks the row until commit, on SQLite it takes the write lock, so "never leave
//! a tenant without an owner" holds under concurrent changes on both.
//!
//! Every transaction here writes, so it opens with its driver's [`Driver::begin_write`]: a plain
//! `BEGIN` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite (each store's file says why).
//!
//! # Reading the `where` clauses
//!
//! Each `impl` block lists what sqlx must know about the driver `DB` to run its queries: that a
//! connection executes statements, then one line per Rust type that is bound as a parameter
//! ([`Param`]) or read from a row ([`Record`]). Rust does not carry a trait's `where` clauses to
//! the code that names the trait, so no single "trait alias" can hold them for every file; each
//! file writes the list of what it binds and reads. A missing line is a compile error naming the
//! type, at the query that needs it. Nullable text is bound as `Option<String>` (by reference),
//! because sqlx encodes an `Option<&str>` only for `'static` text.

mod billing;
mod events;
mod membership;
mod policy;
mod tenants;
mod usage;

use std::future::Future;

use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Pool, Transaction, Type};
use uuid::Uuid;

use super::{StoreError, StoreResult};

/// What differs between the drivers, implemented beside each store.
pub(super) trait Driver:
    Database<QueryResult: RowsAffected, Arguments: IntoArguments<Self>>
{
    /// Begins a transaction that will write (the drivers lock differently; see each store).
    fn begin_write(
        pool: &Pool<Self>,
    ) -> impl Future<Output = sqlx::Result<Transaction<'static, Self>>> + Send;
}

/// How many rows a statement changed: each driver's result type has the method, but no sqlx
/// trait names it.
pub(super) trait RowsAffected {
    /// Rows inserted, updated or deleted.
    fn rows_affected(&self) -> u64;
}

/// A Rust type the driver `DB` can bind as a query parameter.
pub(super) trait Param<DB: Database>: for<'q> Encode<'q, DB> + Type<DB> {}

impl<DB: Database, T: for<'q> Encode<'q, DB> + Type<DB>> Param<DB> for T {}

/// A Rust type the driver `DB` can read from a result row.
pub(super) trait Record<DB: Database>: for<'r> FromRow<'r, DB::Row> + Send + Unpin {}

impl<DB: Database, T: for<'r> FromRow<'r, DB::Row> + Send + Unpin> Record<DB> for T {}

/// The records on a pool of either driver: the body of every [`super::Store`] method.
#[derive(Debug)]
pub(super) struct SqlRecords<DB: Database> {
    /// The store's pool; a transaction holds one of its connections until it ends.
    pool: Pool<DB>,
}

// A derived `Clone` would ask for `DB: Clone`; only the pool (a handle) is cloned.
impl<DB: Database> Clone for SqlRecords<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
        }
    }
}

impl<DB: Database> SqlRecords<DB> {
    /// Runs the records on `pool`.
    pub(super) fn new(pool: Pool<DB>) -> Self {
        Self { pool }
    }

    /// The pool, for migrations and for tests that break or inspect it.
    pub(super) fn pool(&self) -> &Pool<DB> {
        &self.pool
    }
}

impl<DB> SqlRecords<DB>
where
    DB: Driver,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    Uuid: Param<DB>,
{
    /// See [`super::Store::ping`].
    pub(super) async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Serialises membership changes of one tenant until the transaction ends (see the module
    /// doc); `NotFound` when the tenant does not exist.
    async fn lock_membership(conn: &mut DB::Connection, tenant_id: Uuid) -> StoreResult<()> {
        let locked = sqlx::query(
            "UPDATE tenants SET membership_version = membership_version + 1 WHERE id = $1",
        )
        .bind(tenant_id)
        .execute(&mut *conn)
        .await?;
        if locked.rows_affected() != 1 {
            return Err(StoreError::NotFound("tenant"));
        }
        Ok(())
    }
}
