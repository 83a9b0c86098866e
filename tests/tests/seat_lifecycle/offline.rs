//! Offline grace: an unreachable service is ridden out until the last verified lease's `exp`, the
//! seat comes back when the service does, and a program starting while the service is out of reach
//! runs on the machine's unexpired lease.

use chrono::Utc;
use coditect_license::ClientError;
use coditect_license::seat::{LostReason, Seat, SeatEvent, SeatStatus};
use integration_tests::server::Backends;

use super::{Machine, next_event, owner_on};

integration_tests::on_both_backends!(
    an_unreachable_service_is_ridden_out_until_the_leases_grace_ends,
    the_service_coming_back_within_grace_renews_the_seat,
    a_program_starting_while_the_service_is_down_runs_on_the_machines_unexpired_lease,
);

async fn an_unreachable_service_is_ridden_out_until_the_leases_grace_ends(backends: Backends) {
    let Some((server, owner, _)) = owner_on(backends, &[]).await else {
        return;
    };
    let machine = Machine::of(&owner, 11);
    let seat = machine.acquire(&server.url).await;
    let mut events = seat.events();

    let stopped = server.stop().await;
    let offline = next_event(&mut events, "going offline", |e| {
        matches!(e, SeatEvent::Offline { .. })
    })
    .await;
    let SeatEvent::Offline { until, .. } = offline else {
        unreachable!()
    };
    let now = Utc::now();
    assert!(
        until > now,
        "grace is still running: until {until}, now {now}"
    );
    assert!(
        until <= now + chrono::Duration::seconds(7),
        "grace ends with the lease (6 s): {until}"
    );
    assert!(
        matches!(seat.status(), SeatStatus::Offline { until: u, .. } if u == until),
        "{:?}",
        seat.status()
    );

    let lost = next_event(&mut events, "the end of grace", |e| {
        matches!(e, SeatEvent::Lost(_))
    })
    .await;
    assert_eq!(lost, SeatEvent::Lost(LostReason::GraceOver { at: until }));
    assert!(
        Utc::now() >= until,
        "not lost before the grace ended ({until})"
    );
    assert!(matches!(seat.status(), SeatStatus::Lost(_)));
    drop(stopped);
}

async fn the_service_coming_back_within_grace_renews_the_seat(backends: Backends) {
    let Some((server, owner, _)) = owner_on(backends, &[]).await else {
        return;
    };
    let machine = Machine::of(&owner, 12);
    let seat = machine.acquire(&server.url).await;
    let license = seat.grant().license.id;
    let mut events = seat.events();

    let stopped = server.stop().await;
    next_event(&mut events, "going offline", |e| {
        matches!(e, SeatEvent::Offline { .. })
    })
    .await;
    let server = stopped.start_again().await;
    next_event(&mut events, "coming back online", |e| {
        matches!(e, SeatEvent::Online)
    })
    .await;
    let SeatStatus::Held { session_id, .. } = seat.status() else {
        panic!("held again: {:?}", seat.status());
    };
    // The embedded store lost its seats with the restart: the seat was acquired again.
    assert_eq!(super::held(&server, license).await, vec![session_id]);
    seat.release().await;
    assert!(super::held(&server, license).await.is_empty());
}

async fn a_program_starting_while_the_service_is_down_runs_on_the_machines_unexpired_lease(
    backends: Backends,
) {
    let Some((server, owner, _)) = owner_on(backends, &[]).await else {
        return;
    };
    let machine = Machine::of(&owner, 13);
    let running = machine.acquire(&server.url).await;
    let url = server.url.clone();
    let stopped = server.stop().await;

    let started = Seat::acquire(machine.same().options(&url))
        .await
        .expect("the machine's unexpired lease carries it");
    assert!(started.grant().started_offline);
    assert_eq!(started.grant().session_id, running.grant().session_id);
    assert!(
        matches!(started.status(), SeatStatus::Offline { .. }),
        "{:?}",
        started.status()
    );

    let stranger = Machine::of(&owner, 14);
    let refused = Seat::acquire(stranger.options(&url))
        .await
        .err()
        .expect("a machine without a lease gets no seat offline");
    assert!(
        matches!(refused, ClientError::Unreachable(_)),
        "{refused:?}"
    );
    drop(stopped);
}
