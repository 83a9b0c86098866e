//! A clock set back extends nothing: not during a run (the monotonic clock carries the trusted
//! time on), and not between runs (the seat file keeps the latest trusted time).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use coditect_license::clock::Clock;
use coditect_license::seat::{LostReason, Seat, SeatEvent};
use coditect_license::state::SeatState;
use coditect_license::{ClientError, Home};
use integration_tests::server::Backends;

use super::{Machine, next_event, owner_on};

integration_tests::on_both_backends!(
    a_clock_set_back_during_a_run_does_not_extend_grace,
    a_clock_set_back_between_runs_does_not_revive_an_expired_lease,
);

/// The system's clocks with a wall clock a test sets back.
#[derive(Debug)]
struct SetBackClock {
    start: Instant,
    /// Seconds added to the real wall clock.
    offset: AtomicI64,
}

impl SetBackClock {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            offset: AtomicI64::new(0),
        })
    }

    fn set_back(&self, by: chrono::Duration) {
        self.offset.store(-by.num_seconds(), Ordering::SeqCst);
    }
}

impl Clock for SetBackClock {
    fn wall(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::seconds(self.offset.load(Ordering::SeqCst))
    }

    fn monotonic(&self) -> Duration {
        self.start.elapsed()
    }
}

async fn a_clock_set_back_during_a_run_does_not_extend_grace(backends: Backends) {
    let Some((server, owner, _)) = owner_on(backends, &[]).await else {
        return;
    };
    let clock = SetBackClock::new();
    let machine = Machine::of(&owner, 31);
    let seat = Seat::acquire(machine.options_with_clock(&server.url, clock.clone()))
        .await
        .expect("granted");
    let mut events = seat.events();

    let stopped = server.stop().await;
    let offline = next_event(&mut events, "going offline", |e| {
        matches!(e, SeatEvent::Offline { .. })
    })
    .await;
    // The person sets the clock a day back to keep working offline.
    clock.set_back(chrono::Duration::days(1));

    let lost = next_event(&mut events, "the end of grace, by the trusted clock", |e| {
        matches!(e, SeatEvent::Lost(_))
    })
    .await;
    let SeatEvent::Offline { until, .. } = offline else {
        unreachable!()
    };
    assert_eq!(lost, SeatEvent::Lost(LostReason::GraceOver { at: until }));
    drop(stopped);
}

async fn a_clock_set_back_between_runs_does_not_revive_an_expired_lease(backends: Backends) {
    let Some((server, owner, _)) = owner_on(backends, &[]).await else {
        return;
    };
    let machine = Machine::of(&owner, 32);
    let url = server.url.clone();
    let seat = machine.acquire(&url).await;
    let exp = DateTime::from_timestamp(seat.grant().claims.exp, 0).expect("exp");
    let iat = DateTime::from_timestamp(seat.grant().claims.iat, 0).expect("iat");
    let state = SeatState::new(Home::at(&machine.home.0).server(&url));
    let left_behind = state
        .read()
        .expect("seat file")
        .seat
        .expect("the seat is recorded");
    let stopped = server.stop().await;
    drop(seat);

    // A run crashed and left its seat in the file; a later run saw the service's time pass the
    // lease's end. Then the clock is set back to when the lease was young, the service is down.
    let clock = SetBackClock::new();
    clock.set_back(Utc::now() - iat);
    let restore = |trusted: DateTime<Utc>| {
        let seat = left_behind.clone();
        state
            .update(move |file| {
                file.seat = Some(seat);
                file.trusted_time = Some(trusted);
            })
            .expect("seat file written");
    };

    restore(exp + chrono::Duration::seconds(10));
    let refused = Seat::acquire(machine.same().options_with_clock(&url, clock.clone()))
        .await
        .err()
        .expect("an expired lease starts nothing, whatever the wall clock says");
    assert!(
        matches!(refused, ClientError::Unreachable(_)),
        "{refused:?}"
    );

    // The same file with a trusted time inside the grace does start offline: the trusted time
    // is what decided.
    restore(iat);
    let started = Seat::acquire(machine.same().options_with_clock(&url, clock))
        .await
        .expect("within grace by every clock");
    assert!(started.grant().started_offline);
    drop(stopped);
}
