//! The license's seat policies in the store: borrowed seats (held without heartbeats until the
//! borrow ends or is returned, counting against the cap throughout) and the per-user cap (the most
//! seats one user holds at once on all their machines), alone and under a race.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use shared::seats::{
    Acquired, ReleaseRequest, Released, SeatEventKind, SeatRequest, SeatStore, new_session_id,
};
use uuid::Uuid;

use crate::{
    LONG, SKEW_MS, TTL, acquire, full_count, granted, heartbeat, live, machine_of, now_ms, release,
    request, stranger,
};

conformance! {
    a_borrowed_seat_lives_without_heartbeats_until_its_borrow_ends,
    an_ordinary_release_leaves_a_borrowed_seat_held_and_a_return_frees_it,
    heartbeats_and_renewals_never_shorten_a_borrow_and_a_new_borrow_sets_its_end,
    an_admin_release_ends_a_borrow,
    a_borrow_that_ended_while_heartbeats_kept_the_seat_leaves_an_ordinary_seat,
    the_per_user_cap_refuses_another_machine_until_one_of_the_users_seats_frees,
    a_refusal_by_the_per_user_cap_changes_nothing_and_counts_no_denial,
    racing_users_never_pass_the_per_user_cap_nor_the_seats_and_no_count_leaks,
}

/// A request of `who` for a seat of `license`, borrowed for `borrow` and capped per user.
fn borrowing(
    license: Uuid,
    max_seats: u32,
    who: &shared::seats::SessionData,
    borrow: Option<Duration>,
    per_user: Option<u32>,
) -> SeatRequest {
    SeatRequest {
        borrow,
        per_user,
        ..request(license, max_seats, TTL, who)
    }
}

async fn ask(seats: &dyn SeatStore, request: &SeatRequest) -> Acquired {
    seats
        .acquire(request, &new_session_id())
        .await
        .expect("acquire answers")
}

/// An ordinary release (a program exiting) or a return, by the session's latest grant.
async fn release_as(
    seats: &dyn SeatStore,
    license: Uuid,
    session: &str,
    returns: bool,
) -> Released {
    let request = ReleaseRequest {
        license_id: license,
        session_id: session.to_owned(),
        machine: "user:machine".to_owned(),
        limit: None,
        grant: shared::seats::ANY_GRANT - 1,
        ends_borrow: returns,
    };
    seats.release_from(&request).await.expect("release answers")
}

async fn a_borrowed_seat_lives_without_heartbeats_until_its_borrow_ends(seats: Arc<dyn SeatStore>) {
    // Arrange: a one-seat license; the laptop borrows its seat for twice the heartbeat TTL.
    let license = Uuid::new_v4();
    let laptop = stranger();
    let borrow = TTL * 2;
    let before = now_ms();
    let seat = granted(ask(&*seats, &borrowing(license, 1, &laptop, Some(borrow), None)).await);
    let until = seat.borrowed_until_ms.expect("the seat is borrowed");
    assert!(until >= before + borrow.as_millis() as i64 - SKEW_MS);
    assert_eq!(
        seat.expires_at_ms, until,
        "the seat lives to the borrow's end"
    );

    // Act / Assert: past the heartbeat TTL, with no heartbeat, the seat is still held.
    tokio::time::sleep(TTL + TTL / 2).await;
    assert_eq!(live(&*seats, license).await, vec![seat.id.clone()]);
    assert_eq!(
        full_count(&acquire(&*seats, license, 1, TTL, &stranger()).await),
        1
    );
    let holders = seats.holders(license).await.expect("holders answers");
    assert_eq!(holders[0].borrowed_until_ms, Some(until));

    // Past the borrow's end it frees itself, and is recorded as borrowed, then expired.
    let left = until - now_ms() + 200;
    tokio::time::sleep(Duration::from_millis(left.max(0) as u64)).await;
    assert!(live(&*seats, license).await.is_empty());
    granted(acquire(&*seats, license, 1, TTL, &stranger()).await);
    let events = seats.events(license, 100).await.expect("events answers");
    let of_seat: Vec<_> = events.iter().filter(|e| e.session_id == seat.id).collect();
    let kinds: Vec<SeatEventKind> = of_seat.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            SeatEventKind::Acquired,
            SeatEventKind::Borrowed,
            SeatEventKind::Expired
        ]
    );
    assert_eq!(of_seat[1].until_ms, Some(until));
    assert_eq!(of_seat[2].at_ms, until, "it lapsed at the borrow's end");
}

async fn an_ordinary_release_leaves_a_borrowed_seat_held_and_a_return_frees_it(
    seats: Arc<dyn SeatStore>,
) {
    // Arrange: a borrowed seat, and a seat that is not borrowed.
    let license = Uuid::new_v4();
    let borrowed = granted(
        ask(
            &*seats,
            &borrowing(license, 2, &stranger(), Some(LONG), None),
        )
        .await,
    );
    let plain = granted(acquire(&*seats, license, 2, TTL, &stranger()).await);

    // Act / Assert: the program on the borrowing machine exits; the seat stays held.
    assert_eq!(
        release_as(&*seats, license, &borrowed.id, false).await,
        Released::Borrowed
    );
    assert!(live(&*seats, license).await.contains(&borrowed.id));
    // A return frees it at once; a return of a seat that is not borrowed releases it.
    assert_eq!(
        release_as(&*seats, license, &borrowed.id, true).await,
        Released::Freed
    );
    assert_eq!(
        release_as(&*seats, license, &plain.id, true).await,
        Released::Freed
    );
    assert!(live(&*seats, license).await.is_empty());
    assert_eq!(
        release_as(&*seats, license, &borrowed.id, true).await,
        Released::Gone
    );
}

async fn heartbeats_and_renewals_never_shorten_a_borrow_and_a_new_borrow_sets_its_end(
    seats: Arc<dyn SeatStore>,
) {
    // Arrange: a seat borrowed for a long time.
    let license = Uuid::new_v4();
    let laptop = stranger();
    let seat = granted(ask(&*seats, &borrowing(license, 1, &laptop, Some(LONG), None)).await);
    let until = seat.borrowed_until_ms.expect("borrowed");

    // Act / Assert: a heartbeat (TTL much shorter than the borrow) keeps the borrow's end.
    assert_eq!(heartbeat(&*seats, license, &seat.id).await, Some(until));
    // A program starting on the machine renews the seat without borrowing: still borrowed.
    let renewed = granted(acquire(&*seats, license, 1, TTL, &laptop).await);
    assert!(renewed.renewed);
    assert_eq!(
        (renewed.id.as_str(), renewed.expires_at_ms),
        (seat.id.as_str(), until)
    );
    assert_eq!(renewed.borrowed_until_ms, Some(until));
    // Borrowing again for less sets the end afresh, as the user asked.
    let shorter = TTL * 3;
    let again = granted(
        ask(
            &*seats,
            &borrowing(license, 1, &laptop, Some(shorter), None),
        )
        .await,
    );
    let new_until = again.borrowed_until_ms.expect("still borrowed");
    assert!(new_until < until, "{new_until} is not before {until}");
    assert_eq!(again.expires_at_ms, new_until);
    assert_eq!(heartbeat(&*seats, license, &seat.id).await, Some(new_until));
}

async fn a_borrow_that_ended_while_heartbeats_kept_the_seat_leaves_an_ordinary_seat(
    seats: Arc<dyn SeatStore>,
) {
    // Arrange: a borrow shorter than the heartbeat TTL; its program keeps heartbeating past it.
    let license = Uuid::new_v4();
    let laptop = stranger();
    let seat = granted(
        ask(
            &*seats,
            &borrowing(license, 1, &laptop, Some(TTL / 4), None),
        )
        .await,
    );
    tokio::time::sleep(TTL / 2).await;
    assert!(heartbeat(&*seats, license, &seat.id).await.is_some());

    // Act / Assert: no longer shown as borrowed, renewed as an ordinary seat, and an ordinary
    // release frees it.
    let holders = seats.holders(license).await.expect("holders answers");
    assert_eq!(holders[0].borrowed_until_ms, None);
    assert_eq!(
        granted(acquire(&*seats, license, 1, TTL, &laptop).await).borrowed_until_ms,
        None
    );
    assert_eq!(
        release_as(&*seats, license, &seat.id, false).await,
        Released::Freed
    );
}

async fn an_admin_release_ends_a_borrow(seats: Arc<dyn SeatStore>) {
    let license = Uuid::new_v4();
    let seat = granted(
        ask(
            &*seats,
            &borrowing(license, 1, &stranger(), Some(LONG), None),
        )
        .await,
    );
    assert!(
        release(&*seats, license, &seat.id).await,
        "an admin ends it"
    );
    assert!(live(&*seats, license).await.is_empty());
    granted(acquire(&*seats, license, 1, TTL, &stranger()).await);
}

async fn the_per_user_cap_refuses_another_machine_until_one_of_the_users_seats_frees(
    seats: Arc<dyn SeatStore>,
) {
    // Arrange: ten seats, at most two per user; one user with four machines, one borrowed.
    let (license, tenant, user) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let laptops: Vec<_> = (0..4).map(|_| machine_of(tenant, user)).collect();
    let cap = Some(2);
    let first = granted(
        ask(
            &*seats,
            &borrowing(license, 10, &laptops[0], Some(LONG), cap),
        )
        .await,
    );
    let second = granted(ask(&*seats, &borrowing(license, 10, &laptops[1], None, cap)).await);

    // Act / Assert: a third machine is refused; the user's own machines still renew.
    let third = borrowing(license, 10, &laptops[2], None, cap);
    assert_eq!(ask(&*seats, &third).await, Acquired::UserFull { held: 2 });
    assert!(granted(ask(&*seats, &borrowing(license, 10, &laptops[1], None, cap)).await).renewed);
    // Someone else is not affected by this user's cap.
    granted(ask(&*seats, &borrowing(license, 10, &stranger(), None, cap)).await);
    // A released seat counts no longer...
    assert!(release(&*seats, license, &second.id).await);
    let got = granted(ask(&*seats, &third).await);
    assert_eq!(
        ask(&*seats, &borrowing(license, 10, &laptops[3], None, cap)).await,
        Acquired::UserFull { held: 2 }
    );
    // ...nor does an expired one (the third machine stops heartbeating), nor a returned borrow.
    let short = SeatRequest {
        ttl: TTL,
        ..borrowing(license, 10, &laptops[3], None, cap)
    };
    tokio::time::sleep(Duration::from_millis(
        (got.expires_at_ms - now_ms() + 200).max(0) as u64,
    ))
    .await;
    granted(ask(&*seats, &short).await);
    assert_eq!(
        release_as(&*seats, license, &first.id, true).await,
        Released::Freed
    );
    granted(ask(&*seats, &third).await);
}

async fn a_refusal_by_the_per_user_cap_changes_nothing_and_counts_no_denial(
    seats: Arc<dyn SeatStore>,
) {
    // Arrange: a user holding the one seat they may hold; pending counts drained.
    let (license, tenant, user) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let held = granted(
        ask(
            &*seats,
            &borrowing(license, 5, &machine_of(tenant, user), None, Some(1)),
        )
        .await,
    );
    crate::drain(&*seats, license).await;

    // Act: their second machine asks ten times.
    let other = borrowing(license, 5, &machine_of(tenant, user), None, Some(1));
    for _ in 0..10 {
        assert_eq!(ask(&*seats, &other).await, Acquired::UserFull { held: 1 });
    }

    // Assert: one seat, no denial: more seats would not have helped.
    assert_eq!(live(&*seats, license).await, vec![held.id]);
    assert_eq!(
        seats.flush_denials(license).await.expect("flush answers"),
        0
    );
    assert!(
        seats
            .events(license, 10)
            .await
            .expect("events answers")
            .is_empty()
    );
}

/// Seats of the race's license, users and machines per user, and the per-user cap.
const RACE_SEATS: u32 = 12;
const RACE_USERS: usize = 8;
const RACE_MACHINES: usize = 6;
const RACE_CAP: u32 = 2;

async fn racing_users_never_pass_the_per_user_cap_nor_the_seats_and_no_count_leaks(
    seats: Arc<dyn SeatStore>,
) {
    // Arrange: 8 users x 6 machines (48) on 12 seats, at most 2 per user; a sampler reading the
    // holders throughout.
    let (license, tenant) = (Uuid::new_v4(), Uuid::new_v4());
    let users: Vec<Uuid> = (0..RACE_USERS).map(|_| Uuid::new_v4()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (seats, stop) = (seats.clone(), stop.clone());
        tokio::spawn(async move {
            let mut samples = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let holders = seats.holders(license).await.expect("holders answers");
                assert!(
                    holders.len() as u32 <= RACE_SEATS,
                    "{} seats held",
                    holders.len()
                );
                let mut per_user: HashMap<Uuid, u32> = HashMap::new();
                for holder in &holders {
                    *per_user.entry(holder.data.user).or_default() += 1;
                }
                if let Some((user, n)) = per_user.iter().find(|(_, n)| **n > RACE_CAP) {
                    panic!("user {user} held {n} seats at once, over the cap of {RACE_CAP}");
                }
                samples += 1;
                tokio::task::yield_now().await;
            }
            samples
        })
    };

    // Act: every machine acquires (a third of them borrowing), holds briefly and releases or
    // returns, ten rounds, all at once.
    let mut machines = tokio::task::JoinSet::new();
    for (u, user) in users.iter().enumerate() {
        for m in 0..RACE_MACHINES {
            let (seats, who) = (seats.clone(), machine_of(tenant, *user));
            let borrow = ((u + m) % 3 == 0).then_some(LONG);
            machines.spawn(async move {
                let mut grants = 0u32;
                for round in 0..10u64 {
                    let ask_for = borrowing(license, RACE_SEATS, &who, borrow, Some(RACE_CAP));
                    match ask(&*seats, &ask_for).await {
                        Acquired::Granted { session_id, .. } => {
                            grants += 1;
                            tokio::time::sleep(Duration::from_millis(1 + round % 3)).await;
                            let freed = release_as(&*seats, license, &session_id, true).await;
                            assert_eq!(freed, Released::Freed, "only this machine frees its seat");
                        }
                        Acquired::Full { .. } | Acquired::UserFull { .. } => {
                            tokio::task::yield_now().await;
                        }
                        limited @ Acquired::Limited(_) => panic!("no limits are set: {limited:?}"),
                        queued @ (Acquired::Queued(_) | Acquired::TicketGone) => {
                            panic!("nobody asked to wait: {queued:?}")
                        }
                    }
                }
                grants
            });
        }
    }
    let mut grants = 0;
    while let Some(done) = machines.join_next().await {
        grants += done.expect("a machine ran to the end");
    }
    stop.store(true, Ordering::Relaxed);
    let samples = sampler.await.expect("the sampler held the invariant");

    // Assert: seats were contended and sampled; every seat was given back; and no per-user count
    // leaked: each user can hold exactly the cap again.
    assert!(grants >= RACE_SEATS, "only {grants} grants");
    assert!(
        samples > 10,
        "the sampler read the holders only {samples} times"
    );
    assert!(live(&*seats, license).await.is_empty(), "a seat leaked");
    for user in users.iter().take(RACE_SEATS as usize / RACE_CAP as usize) {
        let mine: Vec<_> = (0..=RACE_CAP).map(|_| machine_of(tenant, *user)).collect();
        for (n, who) in mine.iter().enumerate() {
            let answer = ask(
                &*seats,
                &borrowing(license, RACE_SEATS, who, None, Some(RACE_CAP)),
            )
            .await;
            if n < RACE_CAP as usize {
                granted(answer);
            } else {
                assert_eq!(answer, Acquired::UserFull { held: RACE_CAP });
            }
        }
    }
}
