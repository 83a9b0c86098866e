//! Refusals are obeyed at once: a full pool denies with the holders named, and a license
//! suspended while a seat is held takes the seat at the next lease refresh, with grace left. A 429
//! is not a refusal: the SDK waits the `Retry-After` it names and asks again, within its patience.

use std::time::{Duration, Instant};

use coditect_license::ProblemCode;
use coditect_license::seat::Seat;
use coditect_license::seat::{LostReason, SeatEvent};
use integration_tests::api::acquire;
use integration_tests::server::Backends;
use reqwest::StatusCode;
use shared::domain::LicenseStatus;

use super::{Machine, held, next_event, owner_on, set_plan};

integration_tests::on_both_backends!(
    a_second_machine_on_a_full_license_is_denied_with_who_holds_the_seats,
    a_license_suspended_while_a_seat_is_held_takes_the_seat_at_once,
    asked_to_slow_down_the_sdk_waits_the_retry_after_and_gives_up_only_past_its_patience,
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

async fn asked_to_slow_down_the_sdk_waits_the_retry_after_and_gives_up_only_past_its_patience(
    backends: Backends,
) {
    // Two acquires per machine every 20 s: one more every 10 s once both are spent. Waits that
    // long keep every margin below several seconds, above any stall of a busy machine.
    let limits = [
        ("ACQUIRE_RATE_PER_MACHINE", "2"),
        ("RATE_LIMIT_WINDOW_SECONDS", "20"),
    ];
    let Some((server, owner, _)) = owner_on(backends, &limits).await else {
        return;
    };
    let machine = Machine::of(&owner, 24);
    let hostname = format!("machine-{}", &machine.fingerprint[..4]);
    for _ in 0..2 {
        let renewed = acquire(&server.url, &owner, &machine.fingerprint, &hostname).await;
        assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.text);
    }
    let limited = acquire(&server.url, &owner, &machine.fingerprint, &hostname).await;
    assert_eq!(
        (limited.status, limited.code()),
        (
            StatusCode::TOO_MANY_REQUESTS,
            Some(ProblemCode::RateLimited)
        ),
        "{}",
        limited.text
    );
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!(
        (7..=10).contains(&retry_after),
        "Retry-After: {retry_after}"
    );

    // Less patience than the wait asked for: the service's answer at once. A client that retried
    // on its own backoff (100–500 ms steps here) would spend its whole patience being refused.
    let mut impatient = machine.options(&server.url);
    impatient.patience = Duration::from_secs(retry_after - 3);
    let asked = Instant::now();
    let refused = Seat::acquire(impatient).await.err().expect("limited");
    assert_eq!(refused.code(), Some(ProblemCode::RateLimited), "{refused}");
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "{:?}",
        asked.elapsed()
    );

    // Patience enough: it waits as asked (a limited call changes nothing, so the wait is still
    // about Retry-After) and then holds the seat.
    let mut patient = machine.options(&server.url);
    patient.patience = Duration::from_secs(30);
    let asked = Instant::now();
    let seat = Seat::acquire(patient)
        .await
        .expect("granted after the wait");
    let waited = asked.elapsed();
    assert!(
        waited >= Duration::from_secs(5),
        "the SDK asked again before the limit allowed it: {waited:?}"
    );
    assert!(waited < Duration::from_secs(25), "{waited:?}");
    seat.release().await;
}
