//! Release: idempotent, confined to the license it names, and per user when a member is removed.

use std::sync::Arc;

use shared::seats::SeatStore;
use uuid::Uuid;

use crate::{LONG, TTL, acquire, granted, heartbeat, live, machine_of, release, stranger};

conformance! {
    release_is_idempotent,
    a_session_id_from_another_license_releases_nothing,
    release_user_releases_every_session_of_that_user_only,
}

async fn release_is_idempotent(seats: Arc<dyn SeatStore>) {
    // Arrange
    let license = Uuid::new_v4();
    let (leaving, waiting) = (stranger(), stranger());
    let seat = granted(acquire(&*seats, license, 1, TTL, &leaving).await);

    // Act
    let first = release(&*seats, license, &seat.id).await;
    let second = release(&*seats, license, &seat.id).await;

    // Assert
    assert!(first);
    assert!(!second);
    assert!(live(&*seats, license).await.is_empty());
    assert_eq!(heartbeat(&*seats, license, &seat.id).await, None);
    assert!(!granted(acquire(&*seats, license, 1, TTL, &waiting).await).renewed);
}

async fn a_session_id_from_another_license_releases_nothing(seats: Arc<dyn SeatStore>) {
    // Arrange: two licenses, both with a live pool.
    let (license_a, license_b) = (Uuid::new_v4(), Uuid::new_v4());
    let on_a = granted(acquire(&*seats, license_a, 1, LONG, &stranger()).await);
    let on_b = granted(acquire(&*seats, license_b, 1, LONG, &stranger()).await);

    // Act
    let released = release(&*seats, license_b, &on_a.id).await;
    let heartbeat_elsewhere = heartbeat(&*seats, license_b, &on_a.id).await;

    // Assert
    assert!(!released);
    assert_eq!(heartbeat_elsewhere, None);
    assert_eq!(live(&*seats, license_a).await, vec![on_a.id.clone()]);
    assert_eq!(live(&*seats, license_b).await, vec![on_b.id]);
    assert!(heartbeat(&*seats, license_a, &on_a.id).await.is_some());
}

async fn release_user_releases_every_session_of_that_user_only(seats: Arc<dyn SeatStore>) {
    // Arrange
    let license = Uuid::new_v4();
    let tenant = Uuid::new_v4();
    let (removed, staying) = (Uuid::new_v4(), Uuid::new_v4());
    for who in [
        machine_of(tenant, removed),
        machine_of(tenant, removed),
        machine_of(tenant, staying),
    ] {
        granted(acquire(&*seats, license, 5, LONG, &who).await);
    }

    // Act
    let released = seats
        .release_user(license, removed)
        .await
        .expect("release_user answers");

    // Assert
    assert_eq!(released, 2);
    let holders = seats.holders(license).await.expect("holders answers");
    assert_eq!(holders.len(), 1);
    assert_eq!(holders[0].data.user, staying);
}
