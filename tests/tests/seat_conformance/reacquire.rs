//! One seat per machine: the same machine gets its own session back even from a full pool, while
//! another machine of the same user needs a seat of its own.

use std::sync::Arc;

use shared::seats::SeatStore;
use uuid::Uuid;

use crate::{TTL, acquire, full_count, granted, live, machine_of, stranger};

conformance! {
    the_same_machine_gets_its_own_session_back_even_when_the_pool_is_full,
    another_machine_of_the_same_user_needs_its_own_seat,
}

async fn the_same_machine_gets_its_own_session_back_even_when_the_pool_is_full(
    seats: Arc<dyn SeatStore>,
) {
    // Arrange
    let license = Uuid::new_v4();
    let laptop = stranger();
    let first = granted(acquire(&*seats, license, 1, TTL, &laptop).await);

    // Act
    let again = granted(acquire(&*seats, license, 1, TTL, &laptop).await);

    // Assert
    assert!(!first.renewed);
    assert_eq!(again.id, first.id);
    assert!(again.renewed);
    assert_eq!(again.in_use, 1);
    assert!(again.expires_at_ms >= first.expires_at_ms);
    assert_eq!(live(&*seats, license).await, vec![first.id]);
}

async fn another_machine_of_the_same_user_needs_its_own_seat(seats: Arc<dyn SeatStore>) {
    // Arrange
    let license = Uuid::new_v4();
    let (tenant, user) = (Uuid::new_v4(), Uuid::new_v4());
    let (laptop, desktop) = (machine_of(tenant, user), machine_of(tenant, user));
    let on_laptop = granted(acquire(&*seats, license, 1, TTL, &laptop).await);

    // Act
    let with_one_seat = acquire(&*seats, license, 1, TTL, &desktop).await;
    let with_two_seats = granted(acquire(&*seats, license, 2, TTL, &desktop).await);

    // Assert
    assert_eq!(full_count(&with_one_seat), 1);
    assert_ne!(with_two_seats.id, on_laptop.id);
    assert!(!with_two_seats.renewed);
    assert_eq!(with_two_seats.in_use, 2);
}
