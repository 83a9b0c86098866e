//! Expiry and heartbeats: a silent session frees its seat after the TTL and cannot heartbeat its
//! way back over the cap, while a heartbeating one lives on across several TTLs.

use std::sync::Arc;
use std::time::Duration;

use shared::seats::SeatStore;
use uuid::Uuid;

use crate::{LONG, SKEW_MS, TTL, acquire, full_count, granted, heartbeat, live, now_ms, stranger};

conformance! {
    a_session_without_heartbeats_frees_its_seat_after_the_ttl,
    an_expired_session_cannot_heartbeat_back_over_the_cap,
    heartbeats_keep_a_session_alive_across_several_ttls,
}

async fn a_session_without_heartbeats_frees_its_seat_after_the_ttl(seats: Arc<dyn SeatStore>) {
    // Arrange
    let license = Uuid::new_v4();
    let (crashed, waiting) = (stranger(), stranger());
    let lost = granted(acquire(&*seats, license, 1, TTL, &crashed).await);
    let refused = acquire(&*seats, license, 1, TTL, &waiting).await;

    // Act
    tokio::time::sleep(TTL + Duration::from_millis(100)).await;
    let holders_after_ttl = live(&*seats, license).await;
    let later = granted(acquire(&*seats, license, 1, TTL, &waiting).await);

    // Assert
    assert_eq!(full_count(&refused), 1);
    assert!(holders_after_ttl.is_empty());
    assert!(!later.renewed);
    assert_eq!(heartbeat(&*seats, license, &lost.id).await, None);
    assert_eq!(live(&*seats, license).await, vec![later.id]);
}

async fn an_expired_session_cannot_heartbeat_back_over_the_cap(seats: Arc<dyn SeatStore>) {
    // Arrange: a full pool whose first session stops heartbeating.
    let license = Uuid::new_v4();
    let (crashed, steady, newcomer) = (stranger(), stranger(), stranger());
    let lost = granted(acquire(&*seats, license, 2, TTL, &crashed).await);
    let kept = granted(acquire(&*seats, license, 2, LONG, &steady).await);
    tokio::time::sleep(TTL + Duration::from_millis(100)).await;

    // Act
    let before_anyone_took_it = heartbeat(&*seats, license, &lost.id).await;
    let taken = granted(acquire(&*seats, license, 2, LONG, &newcomer).await);
    let after_it_was_taken = heartbeat(&*seats, license, &lost.id).await;
    let crashed_comes_back = acquire(&*seats, license, 2, TTL, &crashed).await;

    // Assert
    assert_eq!(before_anyone_took_it, None);
    assert_eq!(after_it_was_taken, None);
    assert_eq!(full_count(&crashed_comes_back), 2);
    let mut holders = live(&*seats, license).await;
    holders.sort();
    let mut expected = vec![kept.id, taken.id];
    expected.sort();
    assert_eq!(holders, expected);
}

async fn heartbeats_keep_a_session_alive_across_several_ttls(seats: Arc<dyn SeatStore>) {
    // Arrange
    let license = Uuid::new_v4();
    let (steady, waiting) = (stranger(), stranger());
    let ttl = TTL;
    let seat = granted(acquire(&*seats, license, 1, ttl, &steady).await);

    // Act: heartbeat every quarter of the TTL for three TTLs (a heartbeat may come 1.5 s late).
    let mut extended = Vec::new();
    for _ in 0..12 {
        tokio::time::sleep(ttl / 4).await;
        let asked_at = now_ms();
        let expires = seats.heartbeat(license, &seat.id, ttl).await;
        extended.push((asked_at, expires.expect("heartbeat answers")));
    }

    // Assert
    for (asked_at, expires) in extended {
        let expires = expires.expect("a live session's heartbeat is accepted");
        assert!(expires >= asked_at + ttl.as_millis() as i64 - SKEW_MS);
    }
    assert_eq!(live(&*seats, license).await, vec![seat.id.clone()]);
    assert_eq!(
        full_count(&acquire(&*seats, license, 1, TTL, &waiting).await),
        1
    );
}
