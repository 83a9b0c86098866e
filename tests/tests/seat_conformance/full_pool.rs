//! A full pool: lowering the cap evicts nobody but refuses newcomers until enough seats are
//! released, and a full answer carries the count and the next expiry.

use std::sync::Arc;

use shared::seats::{Acquired, SeatStore};
use uuid::Uuid;

use crate::{LONG, SKEW_MS, TTL, acquire, full_count, granted, live, now_ms, release, stranger};

conformance! {
    lowering_max_seats_evicts_nobody_and_refuses_newcomers_until_releases,
    a_full_answer_carries_the_count_and_the_next_expiry,
}

async fn lowering_max_seats_evicts_nobody_and_refuses_newcomers_until_releases(
    seats: Arc<dyn SeatStore>,
) {
    // Arrange: three seats held, then the plan drops to one.
    let license = Uuid::new_v4();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(granted(acquire(&*seats, license, 3, LONG, &stranger()).await).id);
    }
    let newcomer = stranger();

    // Act / Assert: nobody is evicted and nobody new gets in while two or more remain.
    assert_eq!(
        full_count(&acquire(&*seats, license, 1, LONG, &newcomer).await),
        3
    );
    assert_eq!(live(&*seats, license).await.len(), 3);
    assert!(release(&*seats, license, &held[0]).await);
    assert_eq!(
        full_count(&acquire(&*seats, license, 1, LONG, &newcomer).await),
        2
    );
    assert!(release(&*seats, license, &held[1]).await);
    assert_eq!(
        full_count(&acquire(&*seats, license, 1, LONG, &newcomer).await),
        1
    );
    assert!(release(&*seats, license, &held[2]).await);
    let seat = granted(acquire(&*seats, license, 1, LONG, &newcomer).await);
    assert_eq!(seat.in_use, 1);
    assert_eq!(live(&*seats, license).await, vec![seat.id]);
}

async fn a_full_answer_carries_the_count_and_the_next_expiry(seats: Arc<dyn SeatStore>) {
    // Arrange
    let license = Uuid::new_v4();
    let soonest = granted(acquire(&*seats, license, 2, TTL, &stranger()).await);
    granted(acquire(&*seats, license, 2, LONG, &stranger()).await);
    let asked_at = now_ms();

    // Act
    let answer = acquire(&*seats, license, 2, TTL, &stranger()).await;

    // Assert
    let Acquired::Full {
        in_use,
        next_expiry_ms,
        queued: 0,
    } = answer
    else {
        panic!("expected a full pool, the store answered {answer:?}");
    };
    assert_eq!(in_use, 2);
    assert!(next_expiry_ms >= asked_at - SKEW_MS);
    assert_eq!(next_expiry_ms, soonest.expires_at_ms);
}
