//! Rate limits: a machine past its limit is refused with how long to wait and nothing changes (no
//! seat, no denial counted); the license's limit never shuts out a machine renewing its own seat;
//! other machines are served; a refill lets exactly one more through; under concurrency no more
//! than the limit passes; releases are limited only when the seat is already gone.

use std::sync::Arc;
use std::time::Duration;

use shared::seats::{
    AcquireLimits, Acquired, LimitScope, Limited, Rate, ReleaseRequest, Released, SeatEventKind,
    SeatStore, SessionData, new_session_id,
};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::{LONG, full_count, granted, live, request, stranger};

conformance! {
    a_machine_past_its_limit_is_refused_with_the_wait_and_other_machines_are_served,
    a_limited_acquire_takes_no_seat_and_counts_no_denial,
    a_machine_renewing_its_seat_is_never_refused_by_the_license_limit,
    after_one_interval_exactly_one_more_call_passes,
    many_concurrent_callers_of_one_machine_get_exactly_the_limit_through,
    many_concurrent_machines_of_one_license_get_exactly_the_license_limit_through,
    releases_of_a_gone_seat_are_limited_per_machine_and_freeing_a_seat_never_is,
}

fn per_minute(calls: u32) -> Option<Rate> {
    Rate::new(calls, Duration::from_secs(60))
}

async fn acquire_with(
    seats: &dyn SeatStore,
    license: Uuid,
    max_seats: u32,
    who: &SessionData,
    limits: AcquireLimits,
) -> Acquired {
    let mut request = request(license, max_seats, LONG, who);
    request.limits = limits;
    seats
        .acquire(&request, &new_session_id())
        .await
        .expect("acquire answers")
}

#[track_caller]
fn limited(answer: &Acquired) -> Limited {
    match answer {
        Acquired::Limited(limited) => *limited,
        other => panic!("expected a limited call, the store answered {other:?}"),
    }
}

async fn release_with(
    seats: &dyn SeatStore,
    license: Uuid,
    session: &str,
    machine: &str,
    limit: Option<Rate>,
) -> Released {
    let request = ReleaseRequest {
        license_id: license,
        session_id: session.to_owned(),
        machine: machine.to_owned(),
        limit,
        grant: shared::seats::ANY_GRANT,
        ends_borrow: false,
    };
    seats.release_from(&request).await.expect("release answers")
}

async fn a_machine_past_its_limit_is_refused_with_the_wait_and_other_machines_are_served(
    seats: Arc<dyn SeatStore>,
) {
    // Arrange: three calls a minute per machine, a pool with room.
    let license = Uuid::new_v4();
    let limits = AcquireLimits {
        per_machine: per_minute(3),
        per_license: None,
    };
    let (storming, other) = (stranger(), stranger());

    // Act
    let mut answers = Vec::new();
    for _ in 0..5 {
        answers.push(acquire_with(&*seats, license, 10, &storming, limits).await);
    }
    let neighbour = acquire_with(&*seats, license, 10, &other, limits).await;

    // Assert: three pass (a grant, two renewals), the rest wait one interval (60 s / 3).
    let first = granted(answers[0].clone());
    assert!(!first.renewed);
    for answer in &answers[1..3] {
        let seat = granted(answer.clone());
        assert!(seat.renewed);
        assert_eq!(seat.id, first.id);
    }
    for answer in &answers[3..] {
        let refused = limited(answer);
        assert_eq!(refused.scope, LimitScope::Machine);
        assert!(
            refused.retry_after > Duration::from_secs(19)
                && refused.retry_after <= Duration::from_secs(20),
            "{refused:?}"
        );
        assert_eq!(refused.retry_after_seconds(), 20);
    }
    assert!(!granted(neighbour).renewed, "another machine is served");
}

async fn a_limited_acquire_takes_no_seat_and_counts_no_denial(seats: Arc<dyn SeatStore>) {
    // Arrange: a 2-seat pool, one seat held; the license answers two seatless calls a minute, a
    // machine two calls.
    let license = Uuid::new_v4();
    let holder = stranger();
    let held = granted(acquire_with(&*seats, license, 2, &holder, AcquireLimits::default()).await);
    let limits = AcquireLimits {
        per_machine: per_minute(2),
        per_license: per_minute(2),
    };
    let (first, second, third) = (stranger(), stranger(), stranger());

    // Act: `first` takes the free seat and is then denied; a second denial of `first` would be
    // its third call; `second` finds the license's two calls used up.
    let took = acquire_with(&*seats, license, 2, &first, limits).await;
    let full_pool = acquire_with(&*seats, license, 2, &third, limits).await;
    let by_license = acquire_with(&*seats, license, 2, &second, limits).await;
    let by_machine = {
        let mut answers = Vec::new();
        for _ in 0..3 {
            answers.push(acquire_with(&*seats, license, 2, &first, limits).await);
        }
        answers
    };

    // Assert
    let took = granted(took);
    assert_eq!(full_count(&full_pool), 2);
    assert_eq!(limited(&by_license).scope, LimitScope::License);
    assert!(granted(by_machine[0].clone()).renewed);
    assert_eq!(limited(&by_machine[1]).scope, LimitScope::Machine);
    assert_eq!(limited(&by_machine[2]).scope, LimitScope::Machine);
    let mut holders = live(&*seats, license).await;
    holders.sort();
    let mut expected = vec![took.id, held.id];
    expected.sort();
    assert_eq!(holders, expected, "only the two granted seats are held");
    seats.flush_denials(license).await.expect("flush answers");
    let denials: Vec<(String, u64)> = seats
        .events(license, 100)
        .await
        .expect("events answers")
        .into_iter()
        .filter(|e| e.kind == SeatEventKind::Denied)
        .map(|e| (e.data.expect("denial data").holder, e.count))
        .collect();
    assert_eq!(
        denials,
        vec![(third.holder, 1)],
        "limited calls are no denials"
    );
}

async fn a_machine_renewing_its_seat_is_never_refused_by_the_license_limit(
    seats: Arc<dyn SeatStore>,
) {
    // Arrange: the license answers two seatless calls a minute; a holder takes one of them.
    let license = Uuid::new_v4();
    let limits = AcquireLimits {
        per_machine: per_minute(10),
        per_license: per_minute(2),
    };
    let holder = stranger();
    let seat = granted(acquire_with(&*seats, license, 1, &holder, limits).await);

    // Act: a newcomer uses the second call and is denied; a storm of newcomers is limited; the
    // holder renews meanwhile.
    let newcomer = acquire_with(&*seats, license, 1, &stranger(), limits).await;
    let mut storm = Vec::new();
    for _ in 0..5 {
        storm.push(acquire_with(&*seats, license, 1, &stranger(), limits).await);
    }
    let mut renewals = Vec::new();
    for _ in 0..5 {
        renewals.push(acquire_with(&*seats, license, 1, &holder, limits).await);
    }

    // Assert
    assert_eq!(full_count(&newcomer), 1);
    for answer in &storm {
        assert_eq!(limited(answer).scope, LimitScope::License);
    }
    for answer in renewals {
        let renewed = granted(answer);
        assert!(renewed.renewed);
        assert_eq!(renewed.id, seat.id);
    }
}

async fn after_one_interval_exactly_one_more_call_passes(seats: Arc<dyn SeatStore>) {
    // Arrange: two calls per 600 ms, so one more every 300 ms.
    let license = Uuid::new_v4();
    let limits = AcquireLimits {
        per_machine: Rate::new(2, Duration::from_millis(600)),
        per_license: None,
    };
    let machine = stranger();
    for _ in 0..2 {
        granted(acquire_with(&*seats, license, 1, &machine, limits).await);
    }
    let refused = limited(&acquire_with(&*seats, license, 1, &machine, limits).await);
    assert!(
        refused.retry_after <= Duration::from_millis(300),
        "{refused:?}"
    );

    // Act: wait what the store said, and a little more for the two clocks.
    tokio::time::sleep(refused.retry_after + Duration::from_millis(5)).await;
    let again = acquire_with(&*seats, license, 1, &machine, limits).await;
    let once_more = acquire_with(&*seats, license, 1, &machine, limits).await;

    // Assert
    assert!(granted(again).renewed);
    let second = limited(&once_more);
    assert!(
        second.retry_after > Duration::from_millis(150),
        "a whole interval again: {second:?}"
    );
}

/// Callers in each concurrency test: far more than any limit, all at once.
const CALLERS: usize = 200;

async fn many_concurrent_callers_of_one_machine_get_exactly_the_limit_through(
    seats: Arc<dyn SeatStore>,
) {
    // Arrange: five calls a minute for one machine.
    let license = Uuid::new_v4();
    let limits = AcquireLimits {
        per_machine: per_minute(5),
        per_license: per_minute(1_000),
    };
    let machine = Arc::new(stranger());

    // Act
    let answers = all_at_once(&seats, license, limits, |_| machine.as_ref().clone()).await;

    // Assert: well within one interval (12 s), so exactly five pass: one grant, four renewals.
    let through: Vec<&Acquired> = answers
        .iter()
        .filter(|a| !matches!(a, Acquired::Limited(_)))
        .collect();
    assert_eq!(through.len(), 5, "{through:?}");
    let new_seats = through
        .iter()
        .filter(|a| matches!(a, Acquired::Granted { renewed: false, .. }))
        .count();
    assert_eq!(new_seats, 1);
    assert_eq!(live(&*seats, license).await.len(), 1);
}

async fn many_concurrent_machines_of_one_license_get_exactly_the_license_limit_through(
    seats: Arc<dyn SeatStore>,
) {
    // Arrange: a one-seat license answering seven seatless calls a minute.
    let license = Uuid::new_v4();
    let limits = AcquireLimits {
        per_machine: per_minute(5),
        per_license: per_minute(7),
    };

    // Act: 200 machines at once.
    let answers = all_at_once(&seats, license, limits, |_| stranger()).await;

    // Assert: seven answered (one grant, six denials), every other call limited by the license,
    // and the denial counts hold exactly the six.
    let granted_count = answers
        .iter()
        .filter(|a| matches!(a, Acquired::Granted { .. }))
        .count();
    let full = answers
        .iter()
        .filter(|a| matches!(a, Acquired::Full { .. }))
        .count();
    let by_license = answers
        .iter()
        .filter(|a| matches!(a, Acquired::Limited(l) if l.scope == LimitScope::License))
        .count();
    assert_eq!((granted_count, full, by_license), (1, 6, CALLERS - 7));
    seats.flush_denials(license).await.expect("flush answers");
    let denied: u64 = seats
        .events(license, 1_000)
        .await
        .expect("events answers")
        .iter()
        .filter(|e| e.kind == SeatEventKind::Denied)
        .map(|e| e.count)
        .sum();
    assert_eq!(denied, 6);
}

/// Sends `CALLERS` acquires at once, caller `i` as machine `who(i)`, on a one-seat pool.
async fn all_at_once(
    seats: &Arc<dyn SeatStore>,
    license: Uuid,
    limits: AcquireLimits,
    who: impl Fn(usize) -> SessionData,
) -> Vec<Acquired> {
    let barrier = Arc::new(tokio::sync::Barrier::new(CALLERS));
    let mut callers = JoinSet::new();
    for index in 0..CALLERS {
        let (seats, barrier, machine) = (seats.clone(), barrier.clone(), who(index));
        callers.spawn(async move {
            barrier.wait().await;
            acquire_with(&*seats, license, 1, &machine, limits).await
        });
    }
    let mut answers = Vec::with_capacity(CALLERS);
    while let Some(answer) = callers.join_next().await {
        answers.push(answer.expect("a caller finishes"));
    }
    answers
}

async fn releases_of_a_gone_seat_are_limited_per_machine_and_freeing_a_seat_never_is(
    seats: Arc<dyn SeatStore>,
) {
    // Arrange: two releases of gone seats a minute per machine.
    let license = Uuid::new_v4();
    let limit = per_minute(2);
    let machine = stranger();
    let key = format!("{}:{}", machine.user, "fph-of-this-machine");
    let first =
        granted(acquire_with(&*seats, license, 1, &machine, AcquireLimits::default()).await);

    // Act
    let freed = release_with(&*seats, license, &first.id, &key, limit).await;
    let mut again = Vec::new();
    for _ in 0..4 {
        again.push(release_with(&*seats, license, &first.id, &key, limit).await);
    }
    let second =
        granted(acquire_with(&*seats, license, 1, &machine, AcquireLimits::default()).await);
    let freed_while_limited = release_with(&*seats, license, &second.id, &key, limit).await;
    let other_machine = release_with(&*seats, license, &first.id, "other:machine", limit).await;

    // Assert
    assert_eq!(freed, Released::Freed);
    assert_eq!(&again[..2], &[Released::Gone, Released::Gone]);
    for answer in &again[2..] {
        let Released::Limited(refused) = answer else {
            panic!("expected a limited release, got {answer:?}");
        };
        assert_eq!(refused.scope, LimitScope::Machine);
        assert_eq!(refused.retry_after_seconds(), 30);
    }
    assert_eq!(freed_while_limited, Released::Freed);
    assert_eq!(other_machine, Released::Gone);
    assert!(live(&*seats, license).await.is_empty());
}
