//! Seat policies: what an owner sets on the license, the audit row each change writes in the same
//! transaction, and what a plan change from billing leaves alone.

use std::sync::Arc;

use chrono::Duration;
use integration_tests::backends::DynStore;
use serde_json::{Value, json};
use shared::api::SeatPolicy;
use shared::domain::AuditEvent;
use shared::store::LicensePlan;
use uuid::Uuid;

use crate::{expect_conflict, expect_not_found, outcomes_of, register, sign_in, t0};

conformance! {
    sequential: [
        set_seat_policy_sets_both_and_audits_the_change,
        clearing_the_policy_turns_both_off,
        a_plan_change_keeps_the_policy,
        set_seat_policy_of_an_unknown_tenant_is_not_found,
        an_out_of_range_policy_is_refused_and_changes_nothing,
    ],
    concurrent: [
        racing_policy_changes_each_audit_the_policy_they_replaced,
    ],
    on_closed_pool: [],
}

/// The audit action of a policy change.
const POLICY_CHANGED: &str = "license.policy_changed";

/// Seven days of borrowing and two seats a person.
fn week_and_two() -> SeatPolicy {
    SeatPolicy {
        max_borrow_seconds: Some(7 * 86_400),
        max_seats_per_user: Some(2),
    }
}

/// The tenant's policy-change audit events, oldest first.
async fn policy_changes(store: &DynStore, tenant_id: Uuid) -> Vec<AuditEvent> {
    let mut events: Vec<AuditEvent> = store
        .audit_events(tenant_id, 1000)
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.action == POLICY_CHANGED)
        .collect();
    events.reverse();
    events
}

/// A policy as the audit detail writes it.
fn as_detail(policy: SeatPolicy) -> Value {
    serde_json::to_value(policy).expect("a policy serializes")
}

async fn set_seat_policy_sets_both_and_audits_the_change(store: DynStore) {
    // Arrange
    let owner = register(&store, sign_in("ada")).await;
    let changed_at = t0() + Duration::days(1);

    // Act
    let license = store
        .set_seat_policy(owner.tenant.id, &week_and_two(), owner.user.id, changed_at)
        .await
        .expect("set");

    // Assert
    assert_eq!(license.id, owner.license.id);
    assert_eq!(license.policy(), week_and_two());
    assert_eq!(license.updated_at, changed_at);
    assert_eq!(
        license.max_seats, owner.license.max_seats,
        "seats untouched"
    );
    assert_eq!(license.tier, owner.license.tier, "tier untouched");
    let stored = store
        .license_of_tenant(owner.tenant.id)
        .await
        .expect("read");
    assert_eq!(stored, Some(license.clone()));
    let changes = policy_changes(&store, owner.tenant.id).await;
    assert_eq!(changes.len(), 1, "one audit row: {changes:?}");
    let change = &changes[0];
    assert_eq!(change.user_id, Some(owner.user.id));
    assert_eq!(change.license_id, Some(license.id));
    assert_eq!(change.occurred_at, changed_at);
    assert_eq!(
        change.detail.0,
        json!({ "before": as_detail(SeatPolicy::default()), "after": as_detail(week_and_two()) })
    );
}

async fn clearing_the_policy_turns_both_off(store: DynStore) {
    // Arrange
    let owner = register(&store, sign_in("ada")).await;
    store
        .set_seat_policy(owner.tenant.id, &week_and_two(), owner.user.id, t0())
        .await
        .expect("set");

    // Act
    let license = store
        .set_seat_policy(
            owner.tenant.id,
            &SeatPolicy::default(),
            owner.user.id,
            t0() + Duration::hours(1),
        )
        .await
        .expect("clear");

    // Assert
    assert_eq!(license.policy(), SeatPolicy::default());
    let changes = policy_changes(&store, owner.tenant.id).await;
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(
        changes[1].detail.0,
        json!({ "before": as_detail(week_and_two()), "after": as_detail(SeatPolicy::default()) })
    );
}

async fn a_plan_change_keeps_the_policy(store: DynStore) {
    // Arrange: the owner's policy, then a Stripe-driven plan change.
    let owner = register(&store, sign_in("ada")).await;
    store
        .set_seat_policy(owner.tenant.id, &week_and_two(), owner.user.id, t0())
        .await
        .expect("set");
    let mut plan = LicensePlan::free(None);
    plan.max_seats = 25;

    // Act
    let license = store
        .update_license(owner.tenant.id, &plan, t0() + Duration::days(2))
        .await
        .expect("update");

    // Assert
    assert_eq!(license.max_seats, 25);
    assert_eq!(
        license.policy(),
        week_and_two(),
        "billing leaves policies alone"
    );
}

async fn set_seat_policy_of_an_unknown_tenant_is_not_found(store: DynStore) {
    // Arrange
    let stranger = Uuid::now_v7();

    // Act
    let result = store
        .set_seat_policy(stranger, &week_and_two(), Uuid::now_v7(), t0())
        .await;

    // Assert
    expect_not_found(result);
    assert!(policy_changes(&store, stranger).await.is_empty());
}

async fn an_out_of_range_policy_is_refused_and_changes_nothing(store: DynStore) {
    // Arrange: values no column holds (the HTTP layer refuses them sooner; the store must too).
    let owner = register(&store, sign_in("ada")).await;
    let too_long = SeatPolicy {
        max_borrow_seconds: Some(u64::MAX),
        max_seats_per_user: None,
    };
    let too_many = SeatPolicy {
        max_borrow_seconds: None,
        max_seats_per_user: Some(u32::MAX),
    };

    // Act
    let long = store
        .set_seat_policy(owner.tenant.id, &too_long, owner.user.id, t0())
        .await;
    let many = store
        .set_seat_policy(owner.tenant.id, &too_many, owner.user.id, t0())
        .await;

    // Assert
    expect_conflict(long);
    expect_conflict(many);
    let stored = store
        .license_of_tenant(owner.tenant.id)
        .await
        .expect("read");
    assert_eq!(stored, Some(owner.license));
    assert!(policy_changes(&store, owner.tenant.id).await.is_empty());
}

async fn racing_policy_changes_each_audit_the_policy_they_replaced(store: DynStore) {
    // Arrange: twenty owners' clicks at once, each a different policy.
    let owner = register(&store, sign_in("ada")).await;
    let policies: Vec<SeatPolicy> = (1..=20)
        .map(|n| SeatPolicy {
            max_borrow_seconds: Some(3600 * n),
            max_seats_per_user: Some(u32::try_from(n).expect("small")),
        })
        .collect();

    // Act
    let handles = policies
        .iter()
        .map(|&policy| {
            let store = Arc::clone(&store);
            let (tenant, actor) = (owner.tenant.id, owner.user.id);
            tokio::spawn(async move { store.set_seat_policy(tenant, &policy, actor, t0()).await })
        })
        .collect();
    let outcomes = outcomes_of(handles).await;

    // Assert: every change applied, and the trail is a chain: each row's "before" is the policy
    // the row before it set, so no change was written against a policy it did not replace.
    for outcome in &outcomes {
        outcome.as_ref().expect("every change applies");
    }
    let changes = policy_changes(&store, owner.tenant.id).await;
    assert_eq!(changes.len(), policies.len(), "one audit row per change");
    let mut current = as_detail(SeatPolicy::default());
    for change in &changes {
        assert_eq!(
            change.detail.0["before"], current,
            "a change audited a policy it did not replace: {changes:#?}"
        );
        current = change.detail.0["after"].clone();
    }
    let stored = store
        .license_of_tenant(owner.tenant.id)
        .await
        .expect("read")
        .expect("license");
    assert_eq!(
        as_detail(stored.policy()),
        current,
        "the last audited policy is the license's"
    );
}
