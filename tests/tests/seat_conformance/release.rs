//! Release: idempotent, confined to the license it names, per user when a member is removed, and
//! only by the lease of the session's latest grant.

use std::sync::Arc;

use shared::seats::{ReleaseRequest, Released, SeatStore};
use uuid::Uuid;

use crate::{
    LONG, TTL, acquire, full_count, granted, heartbeat, live, machine_of, release, stranger,
};

conformance! {
    release_is_idempotent,
    a_session_id_from_another_license_releases_nothing,
    release_user_releases_every_session_of_that_user_only,
    only_the_latest_grant_of_a_renewed_seat_releases_it,
    concurrent_renewals_number_their_grants_without_gaps_or_repeats,
}

/// A release of `session` by a lease carrying `grant`.
async fn release_grant(
    seats: &dyn SeatStore,
    license: Uuid,
    session: &str,
    grant: u64,
) -> Released {
    let request = ReleaseRequest {
        license_id: license,
        session_id: session.to_owned(),
        machine: "user:machine".to_owned(),
        limit: None,
        grant,
        ends_borrow: false,
    };
    seats.release_from(&request).await.expect("release answers")
}

/// Two processes of one user on one machine share its session: the second one's acquire renews
/// it (grant 2). When the first exits, its lease (grant 1, expired or not) must not free the seat
/// the second runs on; the second's lease does, and a later grant starts again at 1.
async fn only_the_latest_grant_of_a_renewed_seat_releases_it(seats: Arc<dyn SeatStore>) {
    // Arrange: a 1-seat pool, first granted, then renewed by a second process.
    let license = Uuid::new_v4();
    let machine = stranger();
    let first = granted(acquire(&*seats, license, 1, LONG, &machine).await);
    let second = granted(acquire(&*seats, license, 1, LONG, &machine).await);
    assert_eq!((first.grant, first.renewed), (1, false));
    assert_eq!(
        (second.id.as_str(), second.grant, second.renewed),
        (first.id.as_str(), 2, true)
    );

    // Act / Assert: the older leases release nothing, and the seat stays held.
    assert_eq!(
        release_grant(&*seats, license, &first.id, 1).await,
        Released::Superseded
    );
    assert_eq!(
        release_grant(&*seats, license, &first.id, 0).await,
        Released::Superseded
    );
    assert_eq!(live(&*seats, license).await, vec![first.id.clone()]);
    assert!(heartbeat(&*seats, license, &first.id).await.is_some());
    assert_eq!(
        full_count(&acquire(&*seats, license, 1, LONG, &stranger()).await),
        1,
        "the seat is still held"
    );

    // The latest lease frees it; a release after that is a no-op.
    assert_eq!(
        release_grant(&*seats, license, &first.id, 2).await,
        Released::Freed
    );
    assert!(live(&*seats, license).await.is_empty());
    assert_eq!(
        release_grant(&*seats, license, &first.id, 2).await,
        Released::Gone
    );
    assert_eq!(
        release_grant(&*seats, license, &first.id, 1).await,
        Released::Gone
    );

    // A new session on the same machine numbers its grants afresh, and the old session's leases
    // name a session that is gone.
    let again = granted(acquire(&*seats, license, 1, LONG, &machine).await);
    assert_ne!(again.id, first.id);
    assert_eq!((again.grant, again.renewed), (1, false));
    assert_eq!(
        release_grant(&*seats, license, &first.id, 2).await,
        Released::Gone
    );
    assert_eq!(live(&*seats, license).await, vec![again.id]);
}

/// Grants are counted atomically: 40 processes of one machine renewing at once get 40 distinct
/// grant numbers, 2 to 41 after the first, and only the highest releases the seat.
async fn concurrent_renewals_number_their_grants_without_gaps_or_repeats(
    seats: Arc<dyn SeatStore>,
) {
    let license = Uuid::new_v4();
    let machine = stranger();
    let first = granted(acquire(&*seats, license, 1, LONG, &machine).await);
    let barrier = Arc::new(tokio::sync::Barrier::new(40));
    let mut renewals = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let (seats, machine, barrier) = (seats.clone(), machine.clone(), barrier.clone());
        renewals.spawn(async move {
            barrier.wait().await;
            granted(acquire(&*seats, license, 1, LONG, &machine).await)
        });
    }
    let mut grants: Vec<u64> = renewals
        .join_all()
        .await
        .into_iter()
        .map(|seat| {
            assert_eq!(seat.id, first.id);
            seat.grant
        })
        .collect();
    grants.sort_unstable();

    assert_eq!(grants, (2..=41).collect::<Vec<u64>>());
    assert_eq!(
        release_grant(&*seats, license, &first.id, 40).await,
        Released::Superseded
    );
    assert_eq!(
        release_grant(&*seats, license, &first.id, 41).await,
        Released::Freed
    );
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
