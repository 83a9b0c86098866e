//! Stripe events and the audit trail: a Stripe event is recorded once, deduplicated batches are
//! appended once, and the trail reads back newest first, per tenant, as it was written.

use chrono::Duration;
use integration_tests::backends::DynStore;
use shared::domain::NewAuditEvent;
use uuid::Uuid;

use crate::{audit_event, register, sign_in, t0};

conformance! {
    sequential: [
        a_stripe_event_is_recorded_once,
        appending_the_same_deduplicated_batch_twice_inserts_it_once,
        a_batch_repeating_a_dedupe_key_keeps_one_row,
        audit_events_come_newest_first_limited_and_for_one_tenant_only,
        an_audit_event_reads_back_as_it_was_written,
    ],
    concurrent: [],
    on_closed_pool: [],
}

async fn a_stripe_event_is_recorded_once(store: DynStore) {
    // Arrange
    let kind = "customer.subscription.updated";

    // Act
    let first = store
        .record_stripe_event("evt_1", kind, t0())
        .await
        .expect("record");
    let retried = store
        .record_stripe_event("evt_1", kind, t0())
        .await
        .expect("record");
    let other = store
        .record_stripe_event("evt_2", kind, t0())
        .await
        .expect("record");

    // Assert
    assert!(first, "a new event is recorded");
    assert!(!retried, "a retried delivery is recognised");
    assert!(other, "another event is new");
}

async fn appending_the_same_deduplicated_batch_twice_inserts_it_once(store: DynStore) {
    // Arrange
    let tenant = Uuid::now_v7();
    let batch = vec![
        audit_event(tenant, "seat.expired", t0(), Some("expired:s1")),
        audit_event(tenant, "seat.expired", t0(), Some("expired:s2")),
        audit_event(tenant, "seat.acquired", t0(), None),
    ];

    // Act
    let first = store.append_audit(&batch).await.expect("append");
    let second = store.append_audit(&batch).await.expect("append");

    // Assert
    assert_eq!(first, 3);
    assert_eq!(
        second, 1,
        "only the event without a dedupe key is new again"
    );
    let trail = store.audit_events(tenant, 100).await.expect("read");
    assert_eq!(trail.len(), 4);
}

async fn a_batch_repeating_a_dedupe_key_keeps_one_row(store: DynStore) {
    // Arrange
    let tenant = Uuid::now_v7();
    let batch = vec![
        audit_event(tenant, "seat.expired", t0(), Some("expired:s1")),
        audit_event(tenant, "seat.expired", t0(), Some("expired:s1")),
    ];

    // Act
    let inserted = store.append_audit(&batch).await.expect("append");

    // Assert
    assert_eq!(inserted, 1);
    assert_eq!(
        store.audit_events(tenant, 100).await.expect("read").len(),
        1
    );
}

async fn audit_events_come_newest_first_limited_and_for_one_tenant_only(store: DynStore) {
    // Arrange
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    for n in 1..=5 {
        let at = t0() + Duration::minutes(n);
        let events = [
            audit_event(a, &format!("a.{n}"), at, None),
            audit_event(b, &format!("b.{n}"), at, None),
        ];
        store.append_audit(&events).await.expect("append");
    }

    // Act
    let trail = store.audit_events(a, 3).await.expect("read");

    // Assert
    let actions: Vec<_> = trail.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["a.5", "a.4", "a.3"]);
    assert!(trail.iter().all(|e| e.tenant_id == a));
}

async fn an_audit_event_reads_back_as_it_was_written(store: DynStore) {
    // Arrange
    let owner = register(&store, sign_in("ada")).await;
    let event = NewAuditEvent {
        tenant_id: owner.tenant.id,
        license_id: Some(owner.license.id),
        user_id: Some(owner.user.id),
        action: "seat.denied".into(),
        session_id: Some("session-1".into()),
        detail: serde_json::json!({"reason": "seats_exhausted", "hostname": "build-7"}),
        request_id: Some("req-42".into()),
        occurred_at: t0() + Duration::seconds(30),
        dedupe_key: None,
    };
    store
        .append_audit(std::slice::from_ref(&event))
        .await
        .expect("append");

    // Act
    let trail = store.audit_events(owner.tenant.id, 10).await.expect("read");

    // Assert
    assert_eq!(trail.len(), 1);
    let read = &trail[0];
    assert_eq!(read.tenant_id, event.tenant_id);
    assert_eq!(read.license_id, event.license_id);
    assert_eq!(read.user_id, event.user_id);
    assert_eq!(read.action, event.action);
    assert_eq!(read.session_id, event.session_id);
    assert_eq!(read.detail.0, event.detail);
    assert_eq!(read.request_id, event.request_id);
    assert_eq!(read.occurred_at, event.occurred_at);
}
