//! Refusals are obeyed at once: a full pool denies with the holders named, and a license
//! suspended while a seat is held takes the seat at the next lease refresh, with grace left.

use coditect_license::ProblemCode;
use coditect_license::seat::Seat;
use coditect_license::seat::{LostReason, SeatEvent};
use integration_tests::server::Backends;
use shared::domain::LicenseStatus;

use super::{Machine, held, next_event, owner_on, set_plan};

integration_tests::on_both_backends!(
    a_second_machine_on_a_full_license_is_denied_with_who_holds_the_seats,
    a_license_suspended_while_a_seat_is_held_takes_the_seat_at_once,
);

async fn a_second_machine_on_a_full_license_is_denied_with_who_holds_the_seats(backends: Backends) {
    let Some((server, owner, tenant)) = owner_on(backends, &[]).await else {
        return;
    };
    set_plan(&server, tenant, 1, LicenseStatus::Active).await;
    let laptop = Machine::of(&owner, 21);
    let seat = laptop.acquire(&server.url).await;

    let desktop = Machine::of(&owner, 22);
    let denied = Seat::acquire(desktop.options(&server.url))
        .await
        .err()
        .expect("one seat, held");
    assert_eq!(denied.code(), Some(ProblemCode::SeatsExhausted));
    let problem = denied.problem().expect("a problem body");
    let holders = problem.holders.as_deref().expect("owners see the holders");
    assert_eq!(holders.len(), 1);
    assert_eq!(
        holders[0].hostname,
        format!("machine-{}", &laptop.fingerprint[..4])
    );
    assert!(problem.next_seat_frees_at.is_some());
    seat.release().await;
}

async fn a_license_suspended_while_a_seat_is_held_takes_the_seat_at_once(backends: Backends) {
    let Some((server, owner, tenant)) = owner_on(backends, &[]).await else {
        return;
    };
    let machine = Machine::of(&owner, 23);
    let seat = machine.acquire(&server.url).await;
    let license = seat.grant().license.id;
    let mut events = seat.events();
    let grace_ends_at = chrono::DateTime::from_timestamp(seat.grant().claims.exp, 0).expect("exp");

    set_plan(&server, tenant, 1, LicenseStatus::Suspended).await;
    let lost = next_event(&mut events, "the seat lost", |e| {
        matches!(e, SeatEvent::Lost(_))
    })
    .await;
    let SeatEvent::Lost(LostReason::Refused(problem)) = lost else {
        panic!("lost by the refusal: {lost:?}");
    };
    assert_eq!(problem.code, ProblemCode::LicenseSuspended);
    assert!(
        chrono::Utc::now() < grace_ends_at,
        "obeyed with grace left, not ridden out"
    );
    assert!(
        held(&server, license).await.is_empty(),
        "the refused seat is given back, not left to its TTL"
    );
}
