//! The fair queue in the store: a refused caller that waits gets a ticket at the back, keeps it by
//! asking again before its deadline, and claims a seat when its ticket is among the first as many
//! as are free; a seat that frees is reserved for the head (a newcomer is refused while free seats
//! are the queue's), a ticket that lapses or leaves frees its place and its reservation at once.
//! Alone, and under a race of waiters with seats freeing at random and tickets abandoned.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use shared::seats::{
    AcquireLimits, Acquired, Rate, SeatEventKind, SeatRequest, SeatStore, SessionData, Ticket,
    new_session_id,
};
use uuid::Uuid;

use crate::{LONG, SKEW_MS, full_count, granted, live, machine_of, now_ms, release, request};

conformance! {
    a_caller_that_waits_gets_a_ticket_at_the_back_and_keeps_it_by_asking_again,
    a_freed_seat_is_reserved_for_the_head_and_a_newcomer_is_refused_until_it_claims,
    the_second_ticket_cannot_claim_before_the_first,
    a_ticket_not_polled_within_its_ttl_leaves_and_its_reservation_with_it,
    leaving_frees_the_place_at_once_and_only_the_tickets_machine_can_leave,
    seats_beyond_the_queue_stay_free_for_newcomers_and_the_cap_counts_reservations,
    the_estimate_follows_the_pace_seats_freed_at,
    a_waiting_machine_asking_again_is_not_charged_the_licenses_limit,
    a_poll_of_a_ticket_that_is_gone_changes_nothing,
    hundreds_of_waiters_with_seats_freeing_at_random_never_pass_the_cap_nor_starve,
}

/// `who` asking for a seat of a `max_seats` license, waiting in the queue with tickets that live
/// `ticket_ttl` (none: refused at once when full).
fn waiting(
    license: Uuid,
    max_seats: u32,
    who: &SessionData,
    ticket_ttl: Option<Duration>,
) -> SeatRequest {
    SeatRequest {
        wait: ticket_ttl,
        ..request(license, max_seats, LONG, who)
    }
}

async fn ask(seats: &dyn SeatStore, request: &SeatRequest) -> Acquired {
    seats
        .acquire(request, &new_session_id())
        .await
        .expect("acquire answers")
}

#[track_caller]
fn ticket(answer: Acquired) -> Ticket {
    match answer {
        Acquired::Queued(ticket) => ticket,
        other => panic!("expected a place in the queue, the store answered {other:?}"),
    }
}

/// The queue events in the license's log: (kind, ticket, position, waited, reason).
async fn queue_events(
    seats: &dyn SeatStore,
    license: Uuid,
) -> Vec<(
    SeatEventKind,
    String,
    Option<u32>,
    Option<i64>,
    Option<String>,
)> {
    seats
        .events(license, 10_000)
        .await
        .expect("events answers")
        .into_iter()
        .filter_map(|e| {
            let q = e.queue?;
            Some((e.kind, q.ticket, q.position, q.waited_ms, q.reason))
        })
        .collect()
}

/// A one-seat license held by a machine of its own; the license and that seat.
async fn full_license(seats: &dyn SeatStore, tenant: Uuid) -> (Uuid, String) {
    let license = Uuid::new_v4();
    let holder = machine_of(tenant, Uuid::new_v4());
    let seat = granted(ask(seats, &waiting(license, 1, &holder, None)).await);
    (license, seat.id)
}

async fn a_caller_that_waits_gets_a_ticket_at_the_back_and_keeps_it_by_asking_again(
    seats: Arc<dyn SeatStore>,
) {
    // Arrange: one seat, held.
    let tenant = Uuid::new_v4();
    let (license, _) = full_license(&*seats, tenant).await;
    let (b, c) = (
        machine_of(tenant, Uuid::new_v4()),
        machine_of(tenant, Uuid::new_v4()),
    );

    // Act
    let before = now_ms();
    let first = ticket(ask(&*seats, &waiting(license, 1, &b, Some(LONG))).await);
    let second = ticket(ask(&*seats, &waiting(license, 1, &c, Some(LONG))).await);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let again = ticket(ask(&*seats, &waiting(license, 1, &b, Some(LONG))).await);

    // Assert: FIFO places, one ticket per machine, a deadline moved on by asking again.
    assert_eq!((first.position, first.queued, first.in_use), (1, 1, 1));
    assert_eq!((second.position, second.queued), (2, 2));
    assert_ne!(first.ticket, second.ticket);
    assert_eq!(
        (again.ticket.as_str(), again.position, again.queued),
        (first.ticket.as_str(), 1, 2)
    );
    assert!(first.deadline_ms >= before + LONG.as_millis() as i64 - SKEW_MS);
    assert!(
        again.deadline_ms >= first.deadline_ms + 20 - SKEW_MS,
        "{again:?} vs {first:?}"
    );
    let queue = seats.queue(license).await.expect("queue answers");
    assert_eq!(
        queue
            .iter()
            .map(|w| (w.ticket.clone(), w.position, w.data.holder.clone()))
            .collect::<Vec<_>>(),
        vec![
            (first.ticket.clone(), 1, b.holder.clone()),
            (second.ticket.clone(), 2, c.holder.clone()),
        ]
    );
    assert_eq!(
        queue_events(&*seats, license).await,
        vec![
            (SeatEventKind::Queued, first.ticket, Some(1), None, None),
            (SeatEventKind::Queued, second.ticket, Some(2), None, None),
        ],
        "a join is an event, asking again is not"
    );
}

async fn a_freed_seat_is_reserved_for_the_head_and_a_newcomer_is_refused_until_it_claims(
    seats: Arc<dyn SeatStore>,
) {
    // Arrange: one seat held, one machine waiting.
    let tenant = Uuid::new_v4();
    let (license, held) = full_license(&*seats, tenant).await;
    let (head, newcomer) = (
        machine_of(tenant, Uuid::new_v4()),
        machine_of(tenant, Uuid::new_v4()),
    );
    let waits = ticket(ask(&*seats, &waiting(license, 1, &head, Some(LONG))).await);

    // Act: the seat frees; a newcomer asks first, then the head.
    assert!(release(&*seats, license, &held).await);
    let refused = ask(&*seats, &waiting(license, 1, &newcomer, None)).await;
    let behind = ticket(ask(&*seats, &waiting(license, 1, &newcomer, Some(LONG))).await);
    let claimed = ask(&*seats, &waiting(license, 1, &head, Some(LONG))).await;

    // Assert: the free seat was the head's: the newcomer was refused with the pool below the cap
    // and the queue named, then queued behind it; the head's claim says how long it waited.
    let Acquired::Full { in_use, queued, .. } = refused else {
        panic!("a newcomer must be refused while the head waits: {refused:?}");
    };
    assert_eq!((in_use, queued), (0, 1));
    assert_eq!((behind.position, behind.in_use), (2, 0));
    let Acquired::Granted {
        session_id,
        in_use,
        waited_ms,
        ..
    } = claimed
    else {
        panic!("the head claims the seat: {claimed:?}");
    };
    assert_eq!(in_use, 1);
    assert!(waited_ms.is_some_and(|ms| ms >= 0), "{waited_ms:?}");
    assert_eq!(live(&*seats, license).await, vec![session_id.clone()]);
    let next = ticket(ask(&*seats, &waiting(license, 1, &newcomer, Some(LONG))).await);
    assert_eq!(
        (next.position, next.queued),
        (1, 1),
        "the newcomer moved up"
    );
    let events = queue_events(&*seats, license).await;
    assert_eq!(
        events
            .iter()
            .map(|(kind, ticket, ..)| (*kind, ticket.clone()))
            .collect::<Vec<_>>(),
        vec![
            (SeatEventKind::Queued, waits.ticket.clone()),
            (SeatEventKind::Queued, behind.ticket.clone()),
            (SeatEventKind::Claimed, waits.ticket.clone()),
        ]
    );
    assert_eq!(events[2].3, waited_ms, "the claim event carries the wait");
}

async fn the_second_ticket_cannot_claim_before_the_first(seats: Arc<dyn SeatStore>) {
    // Arrange: one seat held, two machines waiting.
    let tenant = Uuid::new_v4();
    let (license, held) = full_license(&*seats, tenant).await;
    let (first, second) = (
        machine_of(tenant, Uuid::new_v4()),
        machine_of(tenant, Uuid::new_v4()),
    );
    ticket(ask(&*seats, &waiting(license, 1, &first, Some(LONG))).await);
    ticket(ask(&*seats, &waiting(license, 1, &second, Some(LONG))).await);

    // Act: the seat frees and the second asks first, over and over.
    assert!(release(&*seats, license, &held).await);
    let mut places = Vec::new();
    for _ in 0..3 {
        places.push(ticket(ask(&*seats, &waiting(license, 1, &second, Some(LONG))).await).position);
    }
    let head = ask(&*seats, &waiting(license, 1, &first, Some(LONG))).await;

    // Assert
    assert_eq!(places, vec![2, 2, 2]);
    assert!(
        matches!(
            head,
            Acquired::Granted {
                waited_ms: Some(_),
                ..
            }
        ),
        "{head:?}"
    );
}

async fn a_ticket_not_polled_within_its_ttl_leaves_and_its_reservation_with_it(
    seats: Arc<dyn SeatStore>,
) {
    // Arrange: one seat held; a machine joins with a 1 s ticket and never asks again.
    let tenant = Uuid::new_v4();
    let (license, held) = full_license(&*seats, tenant).await;
    let (gone, newcomer) = (
        machine_of(tenant, Uuid::new_v4()),
        machine_of(tenant, Uuid::new_v4()),
    );
    let lapsing = ticket(
        ask(
            &*seats,
            &waiting(license, 1, &gone, Some(Duration::from_secs(1))),
        )
        .await,
    );
    assert!(release(&*seats, license, &held).await);
    let reserved = ask(&*seats, &waiting(license, 1, &newcomer, None)).await;
    assert_eq!(
        full_count(&reserved),
        0,
        "reserved for the ticket while it lives"
    );

    // Act: past its deadline (with a margin an order of magnitude above a stall).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let taken = ask(&*seats, &waiting(license, 1, &newcomer, None)).await;

    // Assert: the lapsed ticket left (an event at its deadline), and the seat went to the newcomer.
    assert_eq!(granted(taken).in_use, 1);
    assert!(
        seats
            .queue(license)
            .await
            .expect("queue answers")
            .is_empty()
    );
    let left: Vec<_> = queue_events(&*seats, license)
        .await
        .into_iter()
        .filter(|(kind, ..)| *kind == SeatEventKind::Left)
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
    let (_, ticket_id, _, waited, reason) = &left[0];
    assert_eq!(
        (ticket_id, reason.as_deref()),
        (&lapsing.ticket, Some("expired"))
    );
    assert!(
        waited.is_some_and(|ms| (1000 - SKEW_MS..1500).contains(&ms)),
        "waited until its deadline: {waited:?}"
    );
}

async fn leaving_frees_the_place_at_once_and_only_the_tickets_machine_can_leave(
    seats: Arc<dyn SeatStore>,
) {
    // Arrange: one seat held, two machines waiting.
    let tenant = Uuid::new_v4();
    let (license, _) = full_license(&*seats, tenant).await;
    let (first, second) = (
        machine_of(tenant, Uuid::new_v4()),
        machine_of(tenant, Uuid::new_v4()),
    );
    let head = ticket(ask(&*seats, &waiting(license, 1, &first, Some(LONG))).await);
    ticket(ask(&*seats, &waiting(license, 1, &second, Some(LONG))).await);

    // Act
    let by_another = seats
        .leave(license, &head.ticket, &second.holder)
        .await
        .expect("leave answers");
    let by_owner = seats
        .leave(license, &head.ticket, &first.holder)
        .await
        .expect("leave answers");
    let twice = seats
        .leave(license, &head.ticket, &first.holder)
        .await
        .expect("leave answers");
    let unknown = seats
        .leave(Uuid::new_v4(), &head.ticket, &first.holder)
        .await
        .expect("leave answers");

    // Assert
    assert_eq!(
        (by_another, by_owner, twice, unknown),
        (false, true, false, false)
    );
    let moved_up = ticket(ask(&*seats, &waiting(license, 1, &second, Some(LONG))).await);
    assert_eq!((moved_up.position, moved_up.queued), (1, 1));
    let left: Vec<_> = queue_events(&*seats, license)
        .await
        .into_iter()
        .filter(|(kind, ..)| *kind == SeatEventKind::Left)
        .map(|(_, ticket, _, _, reason)| (ticket, reason))
        .collect();
    assert_eq!(left, vec![(head.ticket.clone(), Some("left".to_owned()))]);
    // Asking again after leaving joins afresh, at the back.
    let rejoined = ticket(ask(&*seats, &waiting(license, 1, &first, Some(LONG))).await);
    assert_ne!(rejoined.ticket, head.ticket);
    assert_eq!(rejoined.position, 2);
}

async fn seats_beyond_the_queue_stay_free_for_newcomers_and_the_cap_counts_reservations(
    seats: Arc<dyn SeatStore>,
) {
    // Arrange: three seats held, one machine waiting.
    let tenant = Uuid::new_v4();
    let license = Uuid::new_v4();
    let mut held = Vec::new();
    for _ in 0..3 {
        let who = machine_of(tenant, Uuid::new_v4());
        held.push(granted(ask(&*seats, &waiting(license, 3, &who, None)).await).id);
    }
    let waiter = machine_of(tenant, Uuid::new_v4());
    ticket(ask(&*seats, &waiting(license, 3, &waiter, Some(LONG))).await);

    // Act: two seats free; two newcomers ask, then the waiter.
    assert!(release(&*seats, license, &held[0]).await);
    assert!(release(&*seats, license, &held[1]).await);
    let one = ask(
        &*seats,
        &waiting(license, 3, &machine_of(tenant, Uuid::new_v4()), None),
    )
    .await;
    let two = ask(
        &*seats,
        &waiting(license, 3, &machine_of(tenant, Uuid::new_v4()), None),
    )
    .await;
    let claimed = ask(&*seats, &waiting(license, 3, &waiter, Some(LONG))).await;

    // Assert: one seat beyond the queue went to the first newcomer; the other was the waiter's.
    assert_eq!(granted(one).in_use, 2);
    let Acquired::Full { in_use, queued, .. } = two else {
        panic!("the last free seat is reserved: {two:?}");
    };
    assert_eq!((in_use, queued), (2, 1), "held + reserved = the cap");
    assert_eq!(granted(claimed).in_use, 3);
    assert_eq!(live(&*seats, license).await.len(), 3);
}

async fn the_estimate_follows_the_pace_seats_freed_at(seats: Arc<dyn SeatStore>) {
    // Arrange: a one-seat license whose seat was taken and given back twice, 400 ms apart, then
    // held.
    let tenant = Uuid::new_v4();
    let license = Uuid::new_v4();
    let user = machine_of(tenant, Uuid::new_v4());
    let waiter = machine_of(tenant, Uuid::new_v4());
    let fresh = machine_of(tenant, Uuid::new_v4());
    let seat = granted(ask(&*seats, &waiting(license, 1, &user, None)).await);
    let no_pace = ticket(ask(&*seats, &waiting(license, 1, &fresh, Some(LONG))).await);
    assert!(
        seats
            .leave(license, &no_pace.ticket, &fresh.holder)
            .await
            .expect("leave")
    );
    // The store stamps each free somewhere inside its `release` call, so the gap between the
    // stamps lies between the 400 ms slept between the calls and the time from the first call's
    // start to the second's end (however slow a loaded machine makes either call).
    let started = now_ms();
    assert!(release(&*seats, license, &seat.id).await);
    let seat = granted(ask(&*seats, &waiting(license, 1, &user, None)).await);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(release(&*seats, license, &seat.id).await);
    let gap = now_ms() - started;
    granted(ask(&*seats, &waiting(license, 1, &user, None)).await);

    // Act
    let first = ticket(ask(&*seats, &waiting(license, 1, &waiter, Some(LONG))).await);
    let second = ticket(ask(&*seats, &waiting(license, 1, &fresh, Some(LONG))).await);

    // Assert: no estimate before two frees; then one gap per seat a ticket needs.
    assert_eq!(no_pace.estimated_wait_ms, None);
    let one = first
        .estimated_wait_ms
        .expect("an estimate after two frees");
    assert!(
        (400..=gap + SKEW_MS).contains(&one),
        "{one} ms for a gap of {gap} ms"
    );
    assert_eq!(second.estimated_wait_ms, Some(2 * one));
}

async fn a_waiting_machine_asking_again_is_not_charged_the_licenses_limit(
    seats: Arc<dyn SeatStore>,
) {
    // Arrange: one seat; the license's seatless machines may ask twice a minute. The holder's
    // acquire and the waiter's join take both calls.
    let tenant = Uuid::new_v4();
    let license = Uuid::new_v4();
    let limits = AcquireLimits {
        per_machine: None,
        per_license: Rate::new(2, Duration::from_secs(60)),
    };
    let limited = |who: &SessionData, wait| SeatRequest {
        limits,
        ..waiting(license, 1, who, wait)
    };
    let (holder, waiter, newcomer) = (
        machine_of(tenant, Uuid::new_v4()),
        machine_of(tenant, Uuid::new_v4()),
        machine_of(tenant, Uuid::new_v4()),
    );
    granted(ask(&*seats, &limited(&holder, None)).await);
    ticket(ask(&*seats, &limited(&waiter, Some(LONG))).await);

    // Act
    let mut polls = Vec::new();
    for _ in 0..5 {
        polls.push(ask(&*seats, &limited(&waiter, Some(LONG))).await);
    }
    let stranger = ask(&*seats, &limited(&newcomer, Some(LONG))).await;

    // Assert
    assert!(
        polls
            .iter()
            .all(|p| matches!(p, Acquired::Queued(t) if t.position == 1)),
        "{polls:?}"
    );
    assert!(matches!(stranger, Acquired::Limited(_)), "{stranger:?}");
}

async fn a_poll_of_a_ticket_that_is_gone_changes_nothing(seats: Arc<dyn SeatStore>) {
    // Arrange: one seat held; a machine joins, then leaves; the seat frees.
    let tenant = Uuid::new_v4();
    let (license, held) = full_license(&*seats, tenant).await;
    let waiter = machine_of(tenant, Uuid::new_v4());
    let place = ticket(ask(&*seats, &waiting(license, 1, &waiter, Some(LONG))).await);
    assert!(
        seats
            .leave(license, &place.ticket, &waiter.holder)
            .await
            .expect("leave")
    );
    assert!(release(&*seats, license, &held).await);
    let zombie = SeatRequest {
        ticket: Some(place.ticket.clone()),
        ..waiting(license, 1, &waiter, Some(LONG))
    };

    // Act: the long poll that was in flight asks again for its ticket.
    let answer = ask(&*seats, &zombie).await;

    // Assert: no seat taken, no place taken; the machine itself may still ask afresh.
    assert_eq!(answer, Acquired::TicketGone);
    assert!(live(&*seats, license).await.is_empty());
    assert!(
        seats
            .queue(license)
            .await
            .expect("queue answers")
            .is_empty()
    );
    granted(ask(&*seats, &waiting(license, 1, &waiter, Some(LONG))).await);
}

/// Waiters in the race.
const WAITERS: usize = 150;
/// Seats in the race.
const RACE_SEATS: u32 = 6;

async fn hundreds_of_waiters_with_seats_freeing_at_random_never_pass_the_cap_nor_starve(
    seats: Arc<dyn SeatStore>,
) {
    // Arrange: six seats, all held at first; 150 machines ask at once, waiting. Every seventh
    // leaves after a few polls, every eleventh stops polling (its 300 ms ticket lapses); the rest
    // poll until a seat is theirs, hold it a few ms and give it back. A sampler checks the cap
    // throughout.
    let tenant = Uuid::new_v4();
    let license = Uuid::new_v4();
    let mut first_holders = Vec::new();
    for _ in 0..RACE_SEATS {
        let who = machine_of(tenant, Uuid::new_v4());
        first_holders
            .push(granted(ask(&*seats, &waiting(license, RACE_SEATS, &who, None)).await).id);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let most = Arc::new(AtomicU32::new(0));
    let sampler = {
        let (seats, stop, most) = (seats.clone(), stop.clone(), most.clone());
        tokio::spawn(async move {
            let mut reads = 0u32;
            while !stop.load(Ordering::SeqCst) {
                let held = seats.holders(license).await.expect("holders answers").len() as u32;
                most.fetch_max(held, Ordering::SeqCst);
                reads += 1;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            reads
        })
    };
    let mut machines = tokio::task::JoinSet::new();
    for n in 0..WAITERS {
        let (seats, who) = (seats.clone(), machine_of(tenant, Uuid::new_v4()));
        machines.spawn(async move {
            let (leaves, lapses) = (n % 7 == 3 && n % 11 != 5, n % 11 == 5);
            let ttl = if lapses {
                Duration::from_millis(300)
            } else {
                LONG
            };
            let ask_for = waiting(license, RACE_SEATS, &who, Some(ttl));
            let mut polls = 0u32;
            loop {
                match ask(&*seats, &ask_for).await {
                    Acquired::Granted {
                        session_id,
                        in_use,
                        renewed,
                        waited_ms,
                        ..
                    } => {
                        assert!(in_use <= RACE_SEATS, "granted at {in_use} of {RACE_SEATS}");
                        assert!(!renewed, "a waiter holds no seat before its grant");
                        tokio::time::sleep(Duration::from_millis(1 + (n % 4) as u64)).await;
                        assert!(release(&*seats, license, &session_id).await);
                        // Claimed with its ticket, or taken on its first ask (a seat beyond
                        // the queue was free).
                        return (
                            n,
                            if waited_ms.is_some() {
                                "claimed"
                            } else {
                                "seated"
                            },
                        );
                    }
                    Acquired::Queued(ticket) => {
                        assert!(ticket.position >= 1 && ticket.position <= ticket.queued);
                        polls += 1;
                        if leaves && polls == 3 {
                            assert!(
                                seats
                                    .leave(license, &ticket.ticket, &who.holder)
                                    .await
                                    .expect("leave"),
                                "a waiting ticket leaves"
                            );
                            return (n, "left");
                        }
                        if lapses && polls == 2 {
                            return (n, "lapsed");
                        }
                        tokio::time::sleep(Duration::from_millis(1 + (n % 3) as u64)).await;
                    }
                    other => panic!("a waiter got {other:?}"),
                }
            }
        });
    }
    // The first holders free their seats at random moments while the queue forms.
    for (i, held) in first_holders.iter().enumerate() {
        tokio::time::sleep(Duration::from_millis(5 + (i as u64 * 7) % 13)).await;
        assert!(release(&*seats, license, held).await);
    }

    // Act: every waiter ends, within a bound that only starvation could exceed.
    let mut ended = Vec::new();
    let all = async {
        while let Some(done) = machines.join_next().await {
            ended.push(done.expect("a waiter panicked"));
        }
    };
    tokio::time::timeout(Duration::from_secs(120), all)
        .await
        .expect("every waiter that kept polling got a seat: none starved");
    stop.store(true, Ordering::SeqCst);
    let reads = sampler.await.expect("the sampler ends");

    // Assert: the cap held throughout; each ending as planned; nothing left reserved or queued.
    assert!(reads >= 10, "the sampler ran ({reads} reads)");
    assert!(
        most.load(Ordering::SeqCst) <= RACE_SEATS,
        "{} seats at once",
        most.load(Ordering::SeqCst)
    );
    for (n, how) in &ended {
        let planned = if n % 11 == 5 {
            "lapsed"
        } else if n % 7 == 3 {
            "left"
        } else {
            "seated"
        };
        // A leaver or a lapser whose turn came before its exit simply got its seat.
        let seated = *how == "seated" || *how == "claimed";
        assert!(
            *how == planned || seated,
            "waiter {n} {how}, planned {planned}"
        );
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut newcomers = HashSet::new();
    for _ in 0..RACE_SEATS {
        let who = machine_of(tenant, Uuid::new_v4());
        newcomers.insert(granted(ask(&*seats, &waiting(license, RACE_SEATS, &who, None)).await).id);
    }
    assert_eq!(
        newcomers.len(),
        RACE_SEATS as usize,
        "no seat left reserved for a gone ticket"
    );
    assert!(
        seats
            .queue(license)
            .await
            .expect("queue answers")
            .is_empty()
    );
    let events = queue_events(&*seats, license).await;
    let count = |kind| events.iter().filter(|e| e.0 == kind).count();
    let claimed = ended.iter().filter(|(_, how)| *how == "claimed").count();
    assert!(
        claimed > WAITERS / 2,
        "most waiters claimed through the queue ({claimed})"
    );
    assert_eq!(
        count(SeatEventKind::Claimed),
        claimed,
        "one claim event per claim"
    );
    assert_eq!(
        count(SeatEventKind::Queued),
        count(SeatEventKind::Claimed) + count(SeatEventKind::Left),
        "every ticket that joined claimed a seat or left"
    );
}
