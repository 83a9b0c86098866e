//! Keeping a seat: background heartbeats, re-acquire after the service lost it, release, and one
//! seat for all the programs of one machine.

use coditect_license::seat::{ReleaseOutcome, SeatEvent, SeatStatus};
use integration_tests::server::Backends;

use super::{Machine, held, next_event, owner_on};

integration_tests::on_both_backends!(
    a_held_seat_heartbeats_in_the_background_and_release_frees_it,
    a_seat_the_service_lost_is_acquired_again_without_the_program_noticing,
    two_programs_on_one_machine_share_one_seat_and_the_last_one_releases_it,
    the_first_program_releases_the_seat_with_the_later_programs_lease_when_it_stops_last,
);

async fn a_held_seat_heartbeats_in_the_background_and_release_frees_it(backends: Backends) {
    let Some((server, owner, _)) = owner_on(backends, &[]).await else {
        return;
    };
    let machine = Machine::of(&owner, 1);
    let seat = machine.acquire(&server.url).await;
    let license = seat.grant().license.id;
    let mut events = seat.events();

    for beat in 0..2 {
        next_event(&mut events, &format!("heartbeat {beat}"), |e| {
            matches!(e, SeatEvent::Renewed { .. })
        })
        .await;
    }
    assert_eq!(
        held(&server, license).await,
        vec![seat.grant().session_id.clone()]
    );
    assert!(
        matches!(seat.status(), SeatStatus::Held { .. }),
        "{:?}",
        seat.status()
    );

    assert_eq!(seat.release().await, ReleaseOutcome::Released);
    assert!(
        held(&server, license).await.is_empty(),
        "the seat is free at once"
    );
}

async fn a_seat_the_service_lost_is_acquired_again_without_the_program_noticing(
    backends: Backends,
) {
    let Some((server, owner, _)) = owner_on(backends, &[]).await else {
        return;
    };
    let machine = Machine::of(&owner, 2);
    let seat = machine.acquire(&server.url).await;
    let license = seat.grant().license.id;
    let first = seat.grant().session_id.clone();
    let mut events = seat.events();

    // Redis restarted, or the laptop slept past the TTL: the service no longer has the seat.
    server
        .local
        .seats
        .release(license, &first)
        .await
        .expect("the seat store forgets the seat");

    let again = next_event(&mut events, "a re-acquire", |e| {
        matches!(e, SeatEvent::Reacquired { .. })
    })
    .await;
    let SeatEvent::Reacquired { session_id } = again else {
        unreachable!()
    };
    assert_ne!(session_id, first, "a new session");
    assert_eq!(held(&server, license).await, vec![session_id.clone()]);
    let SeatStatus::Held {
        session_id: now_held,
        ..
    } = seat.status()
    else {
        panic!("still held: {:?}", seat.status());
    };
    assert_eq!(now_held, session_id);
    assert_eq!(seat.release().await, ReleaseOutcome::Released);
    assert!(held(&server, license).await.is_empty());
}

async fn two_programs_on_one_machine_share_one_seat_and_the_last_one_releases_it(
    backends: Backends,
) {
    let Some((server, owner, tenant)) = owner_on(backends, &[]).await else {
        return;
    };
    super::set_plan(&server, tenant, 2, shared::domain::LicenseStatus::Active).await;
    let cli = Machine::of(&owner, 3);
    let python = cli.same();
    let first = cli.acquire(&server.url).await;
    let second = python.acquire(&server.url).await;
    let license = first.grant().license.id;

    assert_eq!(first.grant().session_id, second.grant().session_id);
    assert!(
        second.grant().renewed,
        "the machine's seat, not a second one"
    );
    assert_eq!(held(&server, license).await.len(), 1);

    assert_eq!(first.release().await, ReleaseOutcome::LeftToOthers(1));
    assert_eq!(
        held(&server, license).await.len(),
        1,
        "the other program keeps the seat"
    );
    assert!(matches!(second.status(), SeatStatus::Held { .. }));
    assert_eq!(second.release().await, ReleaseOutcome::Released);
    assert!(held(&server, license).await.is_empty());
}

/// The second program's acquire renewed the seat (grant 2), and the service frees a seat only for
/// its latest grant's lease. When the second stops first and the first stops last, the first
/// releases with the second's lease from the seat file: its own would free nothing.
async fn the_first_program_releases_the_seat_with_the_later_programs_lease_when_it_stops_last(
    backends: Backends,
) {
    let Some((server, owner, tenant)) = owner_on(backends, &[]).await else {
        return;
    };
    super::set_plan(&server, tenant, 2, shared::domain::LicenseStatus::Active).await;
    let cli = Machine::of(&owner, 4);
    let python = cli.same();
    let first = cli.acquire(&server.url).await;
    let second = python.acquire(&server.url).await;
    let license = first.grant().license.id;
    assert_eq!(
        (first.grant().claims.grant, second.grant().claims.grant),
        (1, 2)
    );

    assert_eq!(second.release().await, ReleaseOutcome::LeftToOthers(1));
    assert_eq!(held(&server, license).await.len(), 1);
    assert_eq!(first.release().await, ReleaseOutcome::Released);

    assert!(
        held(&server, license).await.is_empty(),
        "the seat leaked: the first program's older lease freed nothing"
    );
}
