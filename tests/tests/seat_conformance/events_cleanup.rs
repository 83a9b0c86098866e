//! The seat event log and its consumer: every change appends one event, denials are counted per
//! machine until flushed, acknowledged events are forgotten, `reap` records idle expiries, `pools`
//! lists what needs a visit, and the cleanup job audits every event exactly once, even after a crash
//! between append and acknowledge.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use integration_tests::backends::sqlite_store;
use serde_json::json;
use shared::domain::{AuditEvent, NewAuditEvent};
use shared::seats::{SeatEventKind, SeatStore, cleanup};
use shared::store::{LicensePlan, Registration, SqliteStore, Store};
use uuid::Uuid;

use crate::{
    LONG, SKEW_MS, TTL, acquire, drain, full_count, granted, live, machine_of, now_ms, release,
    stranger,
};

conformance! {
    every_seat_change_appends_one_event_and_a_denial_waits_in_its_machines_count,
    repeated_denials_of_one_machine_become_one_event_with_their_count,
    ack_events_forgets_only_the_acknowledged_events,
    reap_records_the_expiries_of_an_idle_pool,
    pools_lists_licenses_with_seats_or_undrained_events,
    cleanup_audits_every_seat_event_exactly_once_including_expiries,
    cleanup_after_a_crash_between_append_and_ack_writes_no_duplicates,
}

async fn every_seat_change_appends_one_event_and_a_denial_waits_in_its_machines_count(
    seats: Arc<dyn SeatStore>,
) {
    // Arrange
    let license = Uuid::new_v4();
    let (leaving, refused, crashed) = (stranger(), stranger(), stranger());
    let started = now_ms();

    // Act: acquire, deny, release, then acquire a seat and let it expire.
    let first = granted(acquire(&*seats, license, 1, TTL, &leaving).await);
    full_count(&acquire(&*seats, license, 1, TTL, &refused).await);
    let denied_at = now_ms();
    assert!(release(&*seats, license, &first.id).await);
    let lost = granted(acquire(&*seats, license, 1, TTL, &crashed).await);
    tokio::time::sleep(TTL + Duration::from_millis(200)).await;
    let reaped = seats.reap(license).await.expect("reap answers");
    let before_flush = seats.events(license, 100).await.expect("events answers");
    let flushed = seats
        .flush_denials(license)
        .await
        .expect("flush_denials answers");
    let finished = now_ms();

    // Assert: seat changes are in the log at once; the denial only once its count is flushed.
    assert_eq!(reaped, 1);
    assert_eq!(flushed, 1);
    let events = seats.events(license, 100).await.expect("events answers");
    assert_eq!(events[..4], before_flush[..], "a flush only appends");
    let summary: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.kind,
                e.session_id.as_str(),
                e.data.as_ref(),
                e.in_use,
                e.count,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                SeatEventKind::Acquired,
                first.id.as_str(),
                Some(&leaving),
                Some(1),
                1
            ),
            (
                SeatEventKind::Released,
                first.id.as_str(),
                Some(&leaving),
                None,
                1
            ),
            (
                SeatEventKind::Acquired,
                lost.id.as_str(),
                Some(&crashed),
                Some(1),
                1
            ),
            (
                SeatEventKind::Expired,
                lost.id.as_str(),
                Some(&crashed),
                None,
                1
            ),
            (SeatEventKind::Denied, "", Some(&refused), Some(1), 1),
        ]
    );
    assert_eq!(
        events[3].at_ms, lost.expires_at_ms,
        "an expiry dates from its lapse"
    );
    let denial = &events[4];
    assert!((started - SKEW_MS..=denied_at + SKEW_MS).contains(&denial.at_ms));
    assert_eq!(denial.last_at_ms, denial.at_ms, "one denial: first is last");
    for event in &events {
        assert!((started - SKEW_MS..=finished + SKEW_MS).contains(&event.at_ms));
    }
    let ids: HashSet<_> = events.iter().map(|e| &e.id).collect();
    assert_eq!(ids.len(), events.len(), "event ids are unique");
    assert_eq!(
        seats.flush_denials(license).await.expect("flush answers"),
        0,
        "a flushed count is gone"
    );
}

async fn repeated_denials_of_one_machine_become_one_event_with_their_count(
    seats: Arc<dyn SeatStore>,
) {
    // Arrange: a full one-seat pool and two machines knocking.
    let license = Uuid::new_v4();
    let (laptop, desktop) = (stranger(), stranger());
    granted(acquire(&*seats, license, 1, LONG, &stranger()).await);
    drain(&*seats, license).await;
    let started = now_ms();

    // Act
    for _ in 0..5 {
        full_count(&acquire(&*seats, license, 1, LONG, &laptop).await);
    }
    full_count(&acquire(&*seats, license, 1, LONG, &desktop).await);
    tokio::time::sleep(Duration::from_millis(5)).await;
    full_count(&acquire(&*seats, license, 1, LONG, &laptop).await);
    let last = now_ms();
    let flushed = seats.flush_denials(license).await.expect("flush answers");
    full_count(&acquire(&*seats, license, 1, LONG, &laptop).await);
    seats.flush_denials(license).await.expect("flush answers");

    // Assert: one event per machine and flush, counts exact, first and last times kept.
    assert_eq!(flushed, 2);
    let events = seats.events(license, 100).await.expect("events answers");
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e.kind == SeatEventKind::Denied));
    // The order of the machines within one flush is unspecified.
    let mut first_flush: Vec<_> = events[..2]
        .iter()
        .map(|e| (e.data.as_ref(), e.count))
        .collect();
    first_flush.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
    assert_eq!(first_flush, vec![(Some(&laptop), 6), (Some(&desktop), 1)]);
    assert_eq!(
        (events[2].data.as_ref(), events[2].count),
        (Some(&laptop), 1)
    );
    let laptop_count = events[..2]
        .iter()
        .find(|e| e.count == 6)
        .expect("the laptop's count");
    assert!((started - SKEW_MS..=last + SKEW_MS).contains(&laptop_count.at_ms));
    assert!(laptop_count.last_at_ms >= laptop_count.at_ms + 5);
    assert!(laptop_count.last_at_ms <= last + SKEW_MS);
    assert!(
        events[2].at_ms >= laptop_count.last_at_ms,
        "a new count after the flush"
    );
}

async fn ack_events_forgets_only_the_acknowledged_events(seats: Arc<dyn SeatStore>) {
    // Arrange: four events.
    let license = Uuid::new_v4();
    for _ in 0..2 {
        let seat = granted(acquire(&*seats, license, 5, LONG, &stranger()).await);
        assert!(release(&*seats, license, &seat.id).await);
    }
    let events = seats.events(license, 100).await.expect("events answers");
    let acked: Vec<String> = events[..2].iter().map(|e| e.id.clone()).collect();

    // Act
    seats
        .ack_events(license, &acked)
        .await
        .expect("ack_events answers");

    // Assert
    let left = seats.events(license, 100).await.expect("events answers");
    assert_eq!(left, events[2..].to_vec());
}

async fn reap_records_the_expiries_of_an_idle_pool(seats: Arc<dyn SeatStore>) {
    // Arrange: three seats nobody heartbeats, in a pool nobody acquires from.
    let license = Uuid::new_v4();
    let mut lost = HashSet::new();
    for _ in 0..3 {
        let seat = acquire(&*seats, license, 5, TTL, &stranger()).await;
        lost.insert(granted(seat).id);
    }
    drain(&*seats, license).await;
    tokio::time::sleep(TTL + Duration::from_millis(200)).await;

    // Act
    let reaped = seats.reap(license).await.expect("reap answers");
    let reaped_again = seats.reap(license).await.expect("reap answers");

    // Assert
    assert_eq!(reaped, 3);
    assert_eq!(reaped_again, 0);
    assert!(live(&*seats, license).await.is_empty());
    let events = seats.events(license, 100).await.expect("events answers");
    assert!(events.iter().all(|e| e.kind == SeatEventKind::Expired));
    let expired: HashSet<String> = events.into_iter().map(|e| e.session_id).collect();
    assert_eq!(expired, lost);
}

async fn pools_lists_licenses_with_seats_or_undrained_events(seats: Arc<dyn SeatStore>) {
    // Arrange: one pool with a seat, one with only a denial, one never touched.
    let (seated, denied, untouched) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let seat = granted(acquire(&*seats, seated, 1, LONG, &stranger()).await);
    full_count(&acquire(&*seats, denied, 0, LONG, &stranger()).await);
    let pools = || async { seats.pools().await.expect("pools answers") };

    // Act / Assert
    let listed = pools().await;
    assert!(listed.contains(&seated) && listed.contains(&denied));
    assert!(!listed.contains(&untouched));

    drain(&*seats, denied).await;
    drain(&*seats, seated).await;
    let listed = pools().await;
    assert!(!listed.contains(&denied), "a drained pool without seats");
    assert!(listed.contains(&seated), "a pool with a live seat");

    assert!(release(&*seats, seated, &seat.id).await);
    assert!(
        pools().await.contains(&seated),
        "a pool with an undrained release"
    );
    drain(&*seats, seated).await;
    assert!(!pools().await.contains(&seated), "a drained, empty pool");
}

async fn cleanup_audits_every_seat_event_exactly_once_including_expiries(
    seats: Arc<dyn SeatStore>,
) {
    // Arrange: one session released, one left to expire.
    let Audited {
        store,
        tenant,
        user,
        license,
    } = audited_tenant().await;
    let (laptop, desktop) = (machine_of(tenant, user), machine_of(tenant, user));
    let kept = granted(acquire(&*seats, license, 2, LONG, &laptop).await);
    // Released before the other seat is taken: a release runs the expiry prune first, so a slow
    // one could otherwise record the expiry itself and leave cleanup nothing to find.
    assert!(release(&*seats, license, &kept.id).await);
    let lost = granted(acquire(&*seats, license, 2, TTL, &desktop).await);
    tokio::time::sleep(TTL + Duration::from_millis(200)).await;

    // Act
    let first = cleanup::run(&*seats, &store).await.expect("cleanup runs");
    let second = cleanup::run(&*seats, &store).await.expect("cleanup runs");

    // Assert
    assert_eq!((first.reaped, first.audited), (1, 4));
    assert_eq!((second.reaped, second.audited), (0, 0));
    let rows = seat_audit(&store, tenant).await;
    let actions: Vec<&str> = rows.iter().map(|row| row.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "seat.acquired",
            "seat.released",
            "seat.acquired",
            "seat.expired"
        ]
    );
    let expired = &rows[3];
    assert_eq!(expired.session_id.as_deref(), Some(lost.id.as_str()));
    assert_eq!(expired.license_id, Some(license));
    assert_eq!(expired.user_id, Some(user));
    assert_eq!(expired.occurred_at.timestamp_millis(), lost.expires_at_ms);
    assert_eq!(expired.detail.0["fingerprint"], json!(desktop.fingerprint));
    assert!(seats.events(license, 10).await.expect("events").is_empty());

    // And events after a drained pool are audited too, not mistaken for ones already written.
    let later = granted(acquire(&*seats, license, 2, LONG, &laptop).await);
    assert!(release(&*seats, license, &later.id).await);
    let third = cleanup::run(&*seats, &store).await.expect("cleanup runs");
    assert_eq!(third.audited, 2);
    assert_eq!(seat_audit(&store, tenant).await.len(), 6);
}

async fn cleanup_after_a_crash_between_append_and_ack_writes_no_duplicates(
    seats: Arc<dyn SeatStore>,
) {
    // Arrange: a run that appended the events to the audit table and died before acknowledging.
    let Audited {
        store,
        tenant,
        user,
        license,
    } = audited_tenant().await;
    let seat = granted(acquire(&*seats, license, 2, LONG, &machine_of(tenant, user)).await);
    assert!(release(&*seats, license, &seat.id).await);
    granted(acquire(&*seats, license, 2, TTL, &machine_of(tenant, user)).await);
    tokio::time::sleep(TTL + Duration::from_millis(200)).await;
    seats.reap(license).await.expect("reap answers");
    let pending = seats.events(license, 500).await.expect("events answers");
    let rows: Vec<NewAuditEvent> = pending
        .iter()
        .map(|event| NewAuditEvent {
            tenant_id: tenant,
            license_id: Some(license),
            user_id: Some(user),
            action: event.kind.action().to_owned(),
            session_id: Some(event.session_id.clone()),
            detail: json!({}),
            request_id: None,
            occurred_at: DateTime::from_timestamp_millis(event.at_ms).expect("a valid time"),
            dedupe_key: Some(format!("{license}:{}", event.id)),
        })
        .collect();
    let appended = store.append_audit(&rows).await.expect("append_audit");

    // Act
    let report = cleanup::run(&*seats, &store).await.expect("cleanup runs");

    // Assert
    assert_eq!(appended, 4);
    assert_eq!(report.audited, 0);
    assert_eq!(seat_audit(&store, tenant).await.len(), 4);
    assert!(seats.events(license, 10).await.expect("events").is_empty());
}

/// A records store with one registered tenant, for events whose tenant and user must be real.
pub(crate) struct Audited {
    pub(crate) store: SqliteStore,
    pub(crate) tenant: Uuid,
    pub(crate) user: Uuid,
    pub(crate) license: Uuid,
}

/// A fresh records store, and the tenant, owner and license of its one registration.
pub(crate) async fn audited_tenant() -> Audited {
    let store = sqlite_store().await;
    let registered = store
        .register(&Registration {
            firebase_uid: format!("uid-{}", Uuid::new_v4().simple()),
            email: Some("owner@acme.test".into()),
            email_verified: true,
            display_name: Some("Owner".into()),
            tenant_name: "Acme".into(),
            starting_plan: LicensePlan::free(None),
            now: Utc::now(),
        })
        .await
        .expect("registration succeeds");
    Audited {
        store,
        tenant: registered.tenant.id,
        user: registered.user.id,
        license: registered.license.id,
    }
}

/// The tenant's seat audit rows, oldest first.
async fn seat_audit(store: &SqliteStore, tenant: Uuid) -> Vec<AuditEvent> {
    let mut rows: Vec<_> = store
        .audit_events(tenant, 1000)
        .await
        .expect("audit_events answers")
        .into_iter()
        .filter(|row| row.action.starts_with("seat."))
        .collect();
    rows.reverse();
    rows
}
