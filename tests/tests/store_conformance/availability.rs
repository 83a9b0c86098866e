//! Availability: a fresh store answers a ping, and a store whose database went away answers
//! unavailable to every call.

use integration_tests::backends::DynStore;
use shared::store::{StoreError, StoreResult};
use uuid::Uuid;

use crate::{audit_event, sign_in, t0};

conformance! {
    sequential: [
        ping_answers_when_the_database_is_up,
    ],
    concurrent: [],
    on_closed_pool: [
        a_closed_pool_answers_unavailable,
    ],
}

async fn ping_answers_when_the_database_is_up(store: DynStore) {
    // Act
    let result = store.ping().await;

    // Assert
    result.expect("a fresh store answers");
}

async fn a_closed_pool_answers_unavailable(store: DynStore) {
    // Act
    let ping = store.ping().await;
    let registration = store.register(&sign_in("ada")).await;
    let members = store.members(Uuid::now_v7()).await;
    let audit = store
        .append_audit(&[audit_event(Uuid::now_v7(), "seat.acquired", t0(), None)])
        .await;

    // Assert
    expect_unavailable(ping);
    expect_unavailable(registration);
    expect_unavailable(members);
    expect_unavailable(audit);
}

/// Asserts that the database was reported unavailable.
#[track_caller]
fn expect_unavailable<T: std::fmt::Debug>(result: StoreResult<T>) {
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "expected unavailable, got {result:?}"
    );
}
