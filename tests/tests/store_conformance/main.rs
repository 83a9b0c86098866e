//! The store conformance suite: one specification of the records, run against both backends.
//!
//! Each body is written once as `async fn name(store: DynStore)`; [`conformance!`] turns it into
//! `<concern>::sqlite::name` (a fresh in-memory SQLite store) and `<concern>::postgres::name` (a
//! fresh schema on `DATABASE_URL`, dropped afterwards even when the body panics; skipped when the
//! variable is unset outside CI). The bodies that race calls also run as
//! `<concern>::sqlite_file::name` on a SQLite file, where, as in the embedded default, several
//! connections really do race. A behaviour that differs between the backends shows as one side
//! failing.
//!
//! Layout: this file holds the macro, the backend runners and the fixtures every concern uses; then
//! one module per concern: `registration`, `invitations`, `membership` (members and roles),
//! `licenses`, `policies` (seat policies and their audit), `isolation` (between tenants),
//! `audit_and_stripe`, `billing` (Stripe events applied to licenses) and `availability`.
//!
//! Run: `DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo nextest run -p integration-tests
//! --test store_conformance`.
//!
//! Times are fixed whole seconds, not `Utc::now()`: PostgreSQL keeps microseconds and SQLite keeps
//! nanoseconds, so only such instants read back equal on both.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use integration_tests::backends::{DynStore, PgSchema, sqlite_store};
use shared::domain::{Invitation, NewAuditEvent, Role};
use shared::store::{
    LicensePlan, NewInvitation, Registered, Registration, RegistrationOutcome, SqliteStore,
    StoreError, StoreResult,
};
use tokio::task::JoinHandle;
use uuid::Uuid;

/// Generates `mod sqlite` and `mod postgres` in the calling module, one `#[tokio::test]` per body
/// in each, and `mod sqlite_file` for the `concurrent` bodies.
///
/// `sequential` bodies run on a current-thread runtime; `concurrent` ones race calls against each
/// other and get worker threads; `on_closed_pool` ones get a store whose pool was closed first.
macro_rules! conformance {
    (
        sequential: [$($seq:ident),* $(,)?],
        concurrent: [$($con:ident),* $(,)?],
        on_closed_pool: [$($closed:ident),* $(,)?] $(,)?
    ) => {
        conformance!(@backend sqlite, run_on_sqlite, needs all(), "",
            [$($seq),*], [$($con),*], [$($closed),*]);
        conformance!(@backend postgres, run_on_postgres, needs real_postgres, "DATABASE_URL is not set",
            [$($seq),*], [$($con),*], [$($closed),*]);
        // In memory, SQLite has one connection, so nothing races there; the embedded default is a
        // file with several connections, where the races are real.
        conformance!(@backend sqlite_file, run_on_sqlite_file, needs all(), "", [], [$($con),*], []);
    };
    // `needs`: the cfg of `tests/build.rs` without which the backend's tests are ignored.
    (@backend $backend:ident, $runner:ident, needs $need:meta, $why:literal,
        [$($seq:ident),*], [$($con:ident),*], [$($closed:ident),*]) => {
        mod $backend {
            $(
                #[tokio::test]
                #[cfg_attr(not($need), ignore = $why)]
                async fn $seq() {
                    crate::$runner(super::$seq, crate::Pool::Open).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                #[cfg_attr(not($need), ignore = $why)]
                async fn $con() {
                    crate::$runner(super::$con, crate::Pool::Open).await;
                }
            )*
            $(
                #[tokio::test]
                #[cfg_attr(not($need), ignore = $why)]
                async fn $closed() {
                    crate::$runner(super::$closed, crate::Pool::Closed).await;
                }
            )*
        }
    };
}

mod audit_and_stripe;
mod availability;
mod billing;
mod invitations;
mod isolation;
mod licenses;
mod membership;
mod policies;
mod registration;

// ---------------------------------------------------------------------------------------------
// Running a body on each backend
// ---------------------------------------------------------------------------------------------

/// The state the pool is handed to a body in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pool {
    /// Working.
    Open,
    /// Closed before the body runs, as a database that went away looks to the store.
    Closed,
}

/// Runs `body` on a fresh in-memory SQLite store.
async fn run_on_sqlite<F, Fut>(body: F, pool: Pool)
where
    F: FnOnce(DynStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let store = sqlite_store().await;
    if pool == Pool::Closed {
        store.pool().close().await;
    }
    body(Arc::new(store)).await;
}

/// Runs `body` on a fresh SQLite file (the embedded default's set-up) and deletes it afterwards,
/// also when `body` panics.
async fn run_on_sqlite_file<F, Fut>(body: F, pool: Pool)
where
    F: FnOnce(DynStore) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = std::env::temp_dir().join(format!("store-conformance-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    let url = format!("sqlite://{}", dir.join("records.sqlite").display());
    let store = SqliteStore::connect(&url).await.expect("SQLite file opens");
    store.migrate().await.expect("migrations apply");
    if pool == Pool::Closed {
        store.pool().close().await;
    }
    let outcome = tokio::spawn(body(Arc::new(store.clone()))).await;
    store.pool().close().await;
    std::fs::remove_dir_all(&dir).expect("remove the temporary directory");
    resume_panic(outcome);
}

/// Runs `body` on a fresh PostgreSQL schema and drops the schema afterwards, also when `body`
/// panics; does nothing when `DATABASE_URL` is unset outside CI.
async fn run_on_postgres<F, Fut>(body: F, pool: Pool)
where
    F: FnOnce(DynStore) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let store = schema.store.clone();
    if pool == Pool::Closed {
        store.pool().close().await;
    }
    // A spawned task catches the body's panic, so the schema is dropped before it propagates.
    let outcome = tokio::spawn(body(Arc::new(store))).await;
    schema.drop().await;
    resume_panic(outcome);
}

/// Re-raises the panic of a spawned test body, once its backend is cleaned up.
fn resume_panic(outcome: Result<(), tokio::task::JoinError>) {
    if let Err(err) = outcome {
        match err.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(err) => panic!("the test body did not finish: {err}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// The instant every test starts at: whole seconds, so it reads back equal on both backends.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 7, 9, 0, 0)
        .single()
        .expect("a valid, unambiguous instant")
}

/// A first sign-in of `uid` with a verified `<uid>@example.com`, at [`t0`].
fn sign_in(uid: &str) -> Registration {
    Registration {
        firebase_uid: uid.into(),
        email: Some(format!("{uid}@example.com")),
        email_verified: true,
        display_name: Some(uid.into()),
        tenant_name: format!("{uid}'s team"),
        starting_plan: LicensePlan::free(None),
        now: t0(),
    }
}

/// Registers, failing the test when the store refuses.
async fn register(store: &DynStore, registration: Registration) -> Registered {
    store.register(&registration).await.expect("register")
}

/// Signs `uid` in with a verified `email` an hour after [`t0`], expecting to join by invitation.
async fn join_as(store: &DynStore, uid: &str, email: &str) -> Registered {
    let registration = Registration {
        email: Some(email.into()),
        now: t0() + Duration::hours(1),
        ..sign_in(uid)
    };
    let joined = register(store, registration).await;
    assert_eq!(joined.outcome, RegistrationOutcome::JoinedByInvitation);
    joined
}

/// An invitation from `by`'s tenant, made at [`t0`] and valid for a week.
fn invitation(by: &Registered, email: &str, role: Role) -> NewInvitation {
    NewInvitation {
        tenant_id: by.tenant.id,
        email: email.into(),
        role,
        invited_by: by.user.id,
        now: t0(),
        expires_at: t0() + Duration::days(7),
    }
}

/// Creates [`invitation`], failing the test when the store refuses.
async fn invite(store: &DynStore, by: &Registered, email: &str, role: Role) -> Invitation {
    store
        .create_invitation(&invitation(by, email, role))
        .await
        .expect("invite")
}

/// An audit event for `tenant_id` with no license, user, session or request.
fn audit_event(
    tenant_id: Uuid,
    action: &str,
    occurred_at: DateTime<Utc>,
    dedupe_key: Option<&str>,
) -> NewAuditEvent {
    NewAuditEvent {
        tenant_id,
        license_id: None,
        user_id: None,
        action: action.into(),
        session_id: None,
        detail: serde_json::json!({}),
        request_id: None,
        occurred_at,
        dedupe_key: dedupe_key.map(Into::into),
    }
}

/// Asserts that the tenant's invitation `invitation_id` is still pending.
async fn assert_pending(store: &DynStore, tenant_id: Uuid, invitation_id: Uuid) {
    let invitations = store.invitations(tenant_id).await.expect("list");
    let invitation = invitations.iter().find(|i| i.id == invitation_id);
    assert!(
        invitation.is_some_and(|i| i.is_pending(t0())),
        "{invitation_id} is not pending in {invitations:?}"
    );
}

/// The outcomes of calls spawned to race each other, in the order they were spawned.
async fn outcomes_of<T>(handles: Vec<JoinHandle<T>>) -> Vec<T> {
    let mut outcomes = Vec::new();
    for handle in handles {
        outcomes.push(handle.await.expect("task"));
    }
    outcomes
}

/// How many of `outcomes` the store refused as a conflict.
fn conflicts<T>(outcomes: &[StoreResult<T>]) -> usize {
    outcomes
        .iter()
        .filter(|o| matches!(o, Err(StoreError::Conflict(_))))
        .count()
}

/// Asserts a conflict and returns its message.
#[track_caller]
fn expect_conflict<T: std::fmt::Debug>(result: StoreResult<T>) -> String {
    match result {
        Err(StoreError::Conflict(why)) => why,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// Asserts a not-found.
#[track_caller]
fn expect_not_found<T: std::fmt::Debug>(result: StoreResult<T>) {
    assert!(
        matches!(result, Err(StoreError::NotFound(_))),
        "expected not found, got {result:?}"
    );
}
