//! Expiry and the audit trail: abandoned seats expire, and every grant, release and denial is recorded.

use std::time::Duration;

use integration_tests::api::{acquire, heartbeat, machine, release};
use integration_tests::server::Backends;
use shared::api::{AcquireResponse, ProblemCode};

use crate::{FAST, audit_of, lease, owner_on};

integration_tests::on_both_backends!(
    an_abandoned_session_expires_and_its_expiry_reaches_the_audit_trail,
    releases_and_denials_reach_the_audit_trail,
);

async fn an_abandoned_session_expires_and_its_expiry_reaches_the_audit_trail(backends: Backends) {
    let Some((server, owner, tenant)) = owner_on(backends, FAST).await else {
        return;
    };
    let granted = acquire(&server.url, &owner, &machine(1), "laptop").await;
    let session = granted.json::<AcquireResponse>().session_id;

    tokio::time::sleep(Duration::from_millis(2300)).await;
    let late = heartbeat(&server.url, &lease(&granted)).await;
    assert_eq!(
        late.code(),
        Some(ProblemCode::SessionNotFound),
        "an expired seat is not revived"
    );
    let report = server.cleanup().await;
    assert_eq!(report.reaped, 1);

    let events = audit_of(&server, &owner, tenant).await.events;
    let actions: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e.action.as_str(),
                e.session_id.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        actions.contains(&("seat.acquired", session.as_str())),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("seat.expired", session.as_str())),
        "{actions:?}"
    );
    assert_eq!(
        server.cleanup().await.audited,
        0,
        "a second cleanup adds nothing"
    );
}

async fn releases_and_denials_reach_the_audit_trail(backends: Backends) {
    let Some((server, owner, tenant)) = owner_on(backends, &[]).await else {
        return;
    };
    let granted = acquire(&server.url, &owner, &machine(1), "laptop").await;
    acquire(&server.url, &owner, &machine(2), "desktop").await;
    release(&server.url, &lease(&granted)).await;
    server.cleanup().await;

    let events = audit_of(&server, &owner, tenant).await.events;
    let action = |name: &str| events.iter().filter(|e| e.action == name).count();
    assert_eq!(action("seat.acquired"), 1);
    assert_eq!(action("seat.denied"), 1);
    assert_eq!(action("seat.released"), 1);
    let denied = events
        .iter()
        .find(|e| e.action == "seat.denied")
        .expect("denial");
    // The detail is free-form in the contract (`AuditEventView::detail` is a JSON object).
    assert_eq!(
        denied.detail["reason"],
        ProblemCode::SeatsExhausted.as_str()
    );
    assert_eq!(denied.detail["hostname"], "desktop");
}
