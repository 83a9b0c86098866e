//! The seat store conformance suite: one set of specifications, run against `EmbeddedSeats` and
//! `RedisSeats`, so the embedded default and production can never drift apart.
//!
//! Each body is written once as `async fn name(seats: Arc<dyn SeatStore>)`; `conformance!` turns it
//! into `embedded::name` and `redis::name`. The Redis tests run under a fresh key prefix and delete
//! it afterwards (also when they fail); without `REDIS_URL` they are skipped, never in CI.
//! `redis_specific` covers what only Redis can do wrong: an unreachable server, a flushed script
//! cache.
//!
//! Times are compared in ms on the wall clock: the embedded store reads it, and the Redis under
//! test runs on the same host, so its `TIME` is the same clock; `SKEW_MS` absorbs rounding.
//!
//! Run: `REDIS_URL=redis://127.0.0.1:6379 cargo nextest run -p integration-tests
//! --test seat_conformance`

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use integration_tests::backends::{backend_url, redis_seats, sqlite_store};
use serde_json::json;
use shared::domain::NewAuditEvent;
use shared::seats::{
    Acquired, RedisSeats, SeatError, SeatEventKind, SeatRequest, SeatStore, SessionData, cleanup,
    new_session_id,
};
use shared::store::{LicensePlan, Registered, Registration, SqliteStore, Store};
use tokio::sync::Barrier;
use tokio::task::JoinSet;
use uuid::Uuid;

/// Generates `embedded::<body>` and `redis::<body>` tests from bodies written once.
macro_rules! conformance {
    ($($body:ident),+ $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $body() {
                    super::$body(integration_tests::backends::embedded_seats()).await;
                }
            )+
        }

        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $body() {
                    let Some(seats) = integration_tests::backends::redis_seats() else {
                        return;
                    };
                    super::on_redis(seats, super::$body).await;
                }
            )+
        }
    };
}

conformance! {
    a_contended_pool_never_holds_more_live_sessions_than_its_seats,
    the_same_machine_gets_its_own_session_back_even_when_the_pool_is_full,
    another_machine_of_the_same_user_needs_its_own_seat,
    a_session_without_heartbeats_frees_its_seat_after_the_ttl,
    an_expired_session_cannot_heartbeat_back_over_the_cap,
    heartbeats_keep_a_session_alive_across_several_ttls,
    release_is_idempotent,
    a_session_id_from_another_license_releases_nothing,
    lowering_max_seats_evicts_nobody_and_refuses_newcomers_until_releases,
    a_full_answer_carries_the_count_and_the_next_expiry,
    every_seat_change_appends_one_event_with_its_session_data,
    ack_events_forgets_only_the_acknowledged_events,
    reap_records_the_expiries_of_an_idle_pool,
    pools_lists_licenses_with_seats_or_undrained_events,
    release_user_releases_every_session_of_that_user_only,
    cleanup_audits_every_seat_event_exactly_once_including_expiries,
    cleanup_after_a_crash_between_append_and_ack_writes_no_duplicates,
}

/// The seat lifetime of most tests: short enough to watch sessions expire.
const TTL: Duration = Duration::from_millis(400);

/// A lifetime no test outlives.
const LONG: Duration = Duration::from_secs(60);

/// Rounding between the store's clock and the test's, both whole ms of the same wall clock.
const SKEW_MS: i64 = 2;

/// Runs `body` on a Redis store and deletes its keys afterwards, whether the body passed or not.
async fn on_redis<F, Fut>(seats: Arc<RedisSeats>, body: F)
where
    F: FnOnce(Arc<dyn SeatStore>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let outcome = tokio::spawn(body(seats.clone())).await;
    seats
        .delete_all()
        .await
        .expect("the test's Redis keys are deleted");
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}

// ----------------------------------------------------------------------------------------------
// Helpers
// ----------------------------------------------------------------------------------------------

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as i64
}

/// A machine of `user`, with a fingerprint of its own.
fn machine_of(tenant: Uuid, user: Uuid) -> SessionData {
    let fingerprint = Uuid::new_v4().simple().to_string();
    let hostname = format!("host-{}", &fingerprint[..8]);
    SessionData::new(tenant, user, &fingerprint, &hostname, Some("1.4.2".into()))
}

/// A machine of a user of its own.
fn stranger() -> SessionData {
    machine_of(Uuid::new_v4(), Uuid::new_v4())
}

fn request(license: Uuid, max_seats: u32, ttl: Duration, who: &SessionData) -> SeatRequest {
    SeatRequest {
        license_id: license,
        max_seats,
        ttl,
        session: who.clone(),
    }
}

async fn acquire(
    seats: &dyn SeatStore,
    license: Uuid,
    max_seats: u32,
    ttl: Duration,
    who: &SessionData,
) -> Acquired {
    seats
        .acquire(&request(license, max_seats, ttl, who), &new_session_id())
        .await
        .expect("acquire answers")
}

/// A granted seat, unpacked.
#[derive(Debug)]
struct Seat {
    id: String,
    expires_at_ms: i64,
    in_use: u32,
    renewed: bool,
}

#[track_caller]
fn granted(answer: Acquired) -> Seat {
    match answer {
        Acquired::Granted {
            session_id,
            expires_at_ms,
            in_use,
            renewed,
        } => Seat {
            id: session_id,
            expires_at_ms,
            in_use,
            renewed,
        },
        full => panic!("expected a seat, the store answered {full:?}"),
    }
}

#[track_caller]
fn full_count(answer: &Acquired) -> u32 {
    match answer {
        Acquired::Full { in_use, .. } => *in_use,
        granted => panic!("expected a full pool, the store answered {granted:?}"),
    }
}

/// The ids of a license's live sessions, soonest-expiring first.
async fn live(seats: &dyn SeatStore, license: Uuid) -> Vec<String> {
    seats
        .holders(license)
        .await
        .expect("holders answers")
        .into_iter()
        .map(|holder| holder.session_id)
        .collect()
}

async fn heartbeat(seats: &dyn SeatStore, license: Uuid, session: &str) -> Option<i64> {
    seats
        .heartbeat(license, session, TTL)
        .await
        .expect("heartbeat answers")
}

async fn release(seats: &dyn SeatStore, license: Uuid, session: &str) -> bool {
    seats
        .release(license, session)
        .await
        .expect("release answers")
}

async fn drain(seats: &dyn SeatStore, license: Uuid) {
    let ids: Vec<String> = seats
        .events(license, 10_000)
        .await
        .expect("events answers")
        .into_iter()
        .map(|event| event.id)
        .collect();
    seats
        .ack_events(license, &ids)
        .await
        .expect("ack_events answers");
}

/// A tenant registered in `store`, for events whose tenant and user must be real.
async fn register(store: &SqliteStore) -> Registered {
    store
        .register(&Registration {
            firebase_uid: format!("uid-{}", Uuid::new_v4().simple()),
            email: Some("owner@acme.test".into()),
            email_verified: true,
            display_name: Some("Owner".into()),
            tenant_name: "Acme".into(),
            starting_plan: LicensePlan::free(None),
            now: Utc::now(),
        })
        .await
        .expect("registration succeeds")
}

/// The tenant's seat audit rows, oldest first.
async fn seat_audit(store: &SqliteStore, tenant: Uuid) -> Vec<shared::domain::AuditEvent> {
    let mut rows: Vec<_> = store
        .audit_events(tenant, 1000)
        .await
        .expect("audit_events answers")
        .into_iter()
        .filter(|row| row.action.starts_with("seat."))
        .collect();
    rows.reverse();
    rows
}

// ----------------------------------------------------------------------------------------------
// The invariant under contention
// ----------------------------------------------------------------------------------------------

/// Machines contending for each pool, every round.
const MACHINES: usize = 300;

/// Rounds of contention per pool.
const ROUNDS: usize = 15;

/// The seat lifetime under contention: a burst of 600 operations can take a few hundred ms on a
/// loaded machine, and a holder's next operation must usually find its seat still live.
const CONTENDED_TTL: Duration = Duration::from_millis(600);

async fn a_contended_pool_never_holds_more_live_sessions_than_its_seats(seats: Arc<dyn SeatStore>) {
    // Arrange
    let seed = Uuid::new_v4().as_u64_pair().0;
    eprintln!("contention seed {seed:#x}");
    let single = Contended::new(1, seed);
    let five = Contended::new(5, seed.rotate_left(17));

    // Act: both pools at once, so each also runs beside the other's traffic.
    let (single, five) = tokio::join!(single.run(&seats), five.run(&seats));

    // Assert: the runs checked every answer; together they must have seen every kind of event.
    let seen = single.plus(&five);
    assert!(seen.granted > 0, "{seen:?}");
    assert!(seen.renewed > 0, "{seen:?}");
    assert!(seen.full > 0, "{seen:?}");
    assert!(seen.heartbeats > 0, "{seen:?}");
    assert!(seen.released > 0, "{seen:?}");
    assert!(seen.found_expired > 0, "{seen:?}");
}

/// One pool under contention, with what the test knows about it.
struct Contended {
    license: Uuid,
    cap: u32,
    machines: Vec<SessionData>,
    /// The session each machine believes it holds.
    held: HashMap<usize, String>,
    /// Every session ever granted, with when it was certainly live.
    lives: HashMap<String, Life>,
    /// Every expiry an answer reported: a full pool's next expiry must be one of them.
    expiries_told: HashSet<i64>,
    rng: SplitMix,
    tally: Tally,
}

/// When a session was certainly live: from the first answer granting it until the latest expiry it
/// was given, or until its release was sent.
#[derive(Debug, Clone, Copy)]
struct Life {
    from: i64,
    until: i64,
}

/// What a run saw, so a run that exercised nothing cannot pass.
#[derive(Debug, Default)]
struct Tally {
    granted: u32,
    renewed: u32,
    full: u32,
    heartbeats: u32,
    released: u32,
    /// Sessions found gone through a refused heartbeat, release or re-acquire.
    found_expired: u32,
}

impl Tally {
    fn plus(&self, other: &Tally) -> Tally {
        Tally {
            granted: self.granted + other.granted,
            renewed: self.renewed + other.renewed,
            full: self.full + other.full,
            heartbeats: self.heartbeats + other.heartbeats,
            released: self.released + other.released,
            found_expired: self.found_expired + other.found_expired,
        }
    }
}

enum Op {
    Acquire,
    Heartbeat(String),
    Release(String),
}

enum Answer {
    Acquired(Acquired),
    Heartbeat(Option<i64>),
    Released(bool),
}

/// What one burst's answers said, checked once all of them are in.
#[derive(Default)]
struct BurstAnswers {
    /// Sessions granted new (not renewed).
    new_seats: HashSet<String>,
    /// Per machine, each session granted (new or renewed) and when that answer came.
    grants_to_machine: HashMap<usize, Vec<(String, i64)>>,
    /// The next expiry of every full answer.
    next_expiries: Vec<i64>,
}

/// One operation of a burst: who, what, when it was sent and answered, and the answer.
struct Observed {
    machine: usize,
    sent: i64,
    received: i64,
    answer: Answer,
}

impl Contended {
    fn new(cap: u32, seed: u64) -> Self {
        Self {
            license: Uuid::new_v4(),
            cap,
            machines: (0..MACHINES).map(|_| stranger()).collect(),
            held: HashMap::new(),
            lives: HashMap::new(),
            expiries_told: HashSet::new(),
            rng: SplitMix(seed),
            tally: Tally::default(),
        }
    }

    async fn run(mut self, seats: &Arc<dyn SeatStore>) -> Tally {
        for round in 0..ROUNDS {
            let fresh = self
                .lives
                .values()
                .all(|life| life.until + SKEW_MS < now_ms());
            let before: HashMap<usize, (String, i64)> = self
                .held
                .iter()
                .map(|(machine, session)| (*machine, (session.clone(), self.lives[session].until)))
                .collect();
            let observed = self.burst(seats).await;
            let mut answers = BurstAnswers::default();
            for seen in observed {
                self.check(seen, &before, &mut answers);
            }
            self.check_burst(round, &answers);
            self.check_round(seats.as_ref(), round, fresh, &answers.new_seats)
                .await;
            // Sleep a while, sometimes past every expiry, so sessions lapse between rounds.
            let pause = [0.15, 0.6, 1.3][round % 3];
            tokio::time::sleep(CONTENDED_TTL.mul_f64(pause)).await;
        }
        self.tally
    }

    /// Every machine acts at once: a machine without a seat acquires (three of them three times,
    /// as a retrying client would); one with a seat releases, heartbeats, re-acquires or crashes.
    async fn burst(&mut self, seats: &Arc<dyn SeatStore>) -> Vec<Observed> {
        let mut plan = Vec::new();
        let mut retried = 0;
        for machine in 0..self.machines.len() {
            match self.held.get(&machine) {
                Some(session) => match self.rng.below(20) {
                    0..5 => plan.push((machine, Op::Release(session.clone()))),
                    5..12 => plan.push((machine, Op::Heartbeat(session.clone()))),
                    12..17 => plan.push((machine, Op::Acquire)),
                    _ => {}
                },
                None => {
                    let copies = if retried < 3 { 3 } else { 1 };
                    retried += 1;
                    plan.extend((0..copies).map(|_| (machine, Op::Acquire)));
                }
            }
        }
        let start = Arc::new(Barrier::new(plan.len()));
        let mut tasks = JoinSet::new();
        for (machine, op) in plan {
            let seats = seats.clone();
            let start = start.clone();
            let request = request(
                self.license,
                self.cap,
                CONTENDED_TTL,
                &self.machines[machine],
            );
            tasks.spawn(async move {
                start.wait().await;
                let sent = now_ms();
                let license = request.license_id;
                let answer = match op {
                    Op::Acquire => Answer::Acquired(
                        seats
                            .acquire(&request, &new_session_id())
                            .await
                            .expect("acquire answers"),
                    ),
                    Op::Heartbeat(session) => Answer::Heartbeat(
                        seats
                            .heartbeat(license, &session, CONTENDED_TTL)
                            .await
                            .expect("heartbeat answers"),
                    ),
                    Op::Release(session) => Answer::Released(
                        seats
                            .release(license, &session)
                            .await
                            .expect("release answers"),
                    ),
                };
                Observed {
                    machine,
                    sent,
                    received: now_ms(),
                    answer,
                }
            });
        }
        tasks.join_all().await
    }

    /// Checks one answer against what was known before the burst, then learns from it.
    fn check(
        &mut self,
        seen: Observed,
        before: &HashMap<usize, (String, i64)>,
        answers: &mut BurstAnswers,
    ) {
        let Observed {
            machine,
            sent,
            received,
            answer,
        } = seen;
        let cap = self.cap;
        let known = before.get(&machine);
        // Live during the whole operation, or expired before it began, by the answers so far.
        let live_throughout = known.is_some_and(|(_, until)| *until > received + SKEW_MS);
        let dead_before = known.is_some_and(|(_, until)| *until <= sent - SKEW_MS);
        match answer {
            Answer::Acquired(Acquired::Granted {
                session_id,
                expires_at_ms,
                in_use,
                renewed,
            }) => {
                assert!(
                    (1..=cap).contains(&in_use),
                    "granted with in_use {in_use}, cap {cap}"
                );
                answers
                    .grants_to_machine
                    .entry(machine)
                    .or_default()
                    .push((session_id.clone(), received));
                if renewed {
                    if let Some((session, _)) = known {
                        assert_eq!(session, &session_id, "renewed someone else's session");
                    }
                    assert!(!dead_before, "an expired session was renewed");
                    self.tally.renewed += 1;
                } else {
                    assert!(
                        !live_throughout,
                        "a machine with a live session got a second one"
                    );
                    answers.new_seats.insert(session_id.clone());
                    self.tally.granted += 1;
                }
                let life = self.lives.entry(session_id.clone()).or_insert(Life {
                    from: received,
                    until: expires_at_ms,
                });
                life.from = life.from.min(received);
                life.until = life.until.max(expires_at_ms);
                self.expiries_told.insert(expires_at_ms);
                self.held.insert(machine, session_id);
            }
            Answer::Acquired(Acquired::Full {
                in_use,
                next_expiry_ms,
            }) => {
                assert_eq!(in_use, cap, "a full answer must count exactly the cap");
                assert!(next_expiry_ms >= sent - SKEW_MS, "next expiry in the past");
                answers.next_expiries.push(next_expiry_ms);
                assert!(
                    !live_throughout,
                    "a machine with a live session was refused"
                );
                if known.is_some() {
                    self.held.remove(&machine);
                    self.tally.found_expired += 1;
                }
                self.tally.full += 1;
            }
            Answer::Heartbeat(Some(expires)) => {
                assert!(!dead_before, "a heartbeat revived an expired session");
                let (session, _) = known.expect("only holders heartbeat");
                let life = self.lives.get_mut(session).expect("a known session");
                life.until = life.until.max(expires);
                self.expiries_told.insert(expires);
                self.tally.heartbeats += 1;
            }
            Answer::Heartbeat(None) => {
                assert!(!live_throughout, "a live session's heartbeat was refused");
                self.held.remove(&machine);
                self.tally.found_expired += 1;
            }
            Answer::Released(true) => {
                assert!(!dead_before, "an expired session was released");
                let (session, _) = known.expect("only holders release");
                let life = self.lives.get_mut(session).expect("a known session");
                life.until = life.until.min(sent);
                self.held.remove(&machine);
                self.tally.released += 1;
            }
            Answer::Released(false) => {
                assert!(!live_throughout, "a live session could not be released");
                self.held.remove(&machine);
                self.tally.found_expired += 1;
            }
        }
    }

    /// A machine that retried within a burst was granted one session, or a second one only after
    /// the first had lapsed; a full pool's next expiry is that of a seat someone was granted (a
    /// store that counted expired seats as held would answer full with no live seat behind it).
    fn check_burst(&self, round: usize, answers: &BurstAnswers) {
        for next_expiry in &answers.next_expiries {
            assert!(
                self.expiries_told.contains(next_expiry),
                "round {round}: full, with a next expiry ({next_expiry}) no live seat has"
            );
        }
        for grants in answers.grants_to_machine.values() {
            for (first, first_received) in grants {
                for (second, second_received) in grants {
                    let lapsed_between = self.lives[first].until <= second_received + SKEW_MS
                        || self.lives[second].until <= first_received + SKEW_MS;
                    assert!(
                        first == second || lapsed_between,
                        "round {round}: one machine held two live seats: {grants:?}"
                    );
                }
            }
        }
    }

    /// After a burst: the pool is within its cap, holds only sessions the test was granted with the
    /// expiry it was told, and no two answers' lifetimes ever overlapped beyond the cap.
    async fn check_round(
        &self,
        seats: &dyn SeatStore,
        round: usize,
        fresh: bool,
        new_seats: &HashSet<String>,
    ) {
        let cap = self.cap as usize;
        let holders = seats.holders(self.license).await.expect("holders answers");
        let answered_at = now_ms();
        assert!(
            holders.len() <= cap,
            "round {round}: {} live holders, cap {cap}",
            holders.len()
        );
        for holder in &holders {
            let life = self.lives.get(&holder.session_id).unwrap_or_else(|| {
                panic!("round {round}: a holder nobody was granted: {holder:?}")
            });
            assert_eq!(
                holder.expires_at_ms, life.until,
                "round {round}: the store's expiry differs from the last one answered"
            );
        }
        let listed: HashSet<&String> = holders.iter().map(|h| &h.session_id).collect();
        for session in self.held.values() {
            if self.lives[session].until > answered_at + SKEW_MS {
                assert!(
                    listed.contains(session),
                    "round {round}: a live session is missing from the holders"
                );
            }
        }
        let new_and_live = listed.iter().filter(|s| new_seats.contains(**s)).count();
        assert!(
            new_and_live <= cap,
            "round {round}: {new_and_live} new grants still live, cap {cap}"
        );
        if fresh {
            // Every earlier session had expired: stale members must not keep anyone out.
            assert!(
                new_seats.len() >= cap,
                "round {round}: only {} grants in a pool of expired seats, cap {cap}",
                new_seats.len()
            );
        }
        let most = most_alive_at_once(self.lives.values());
        assert!(
            most <= cap,
            "round {round}: {most} granted sessions were live at once, cap {cap}"
        );
    }
}

/// The most lives that overlap at any instant (each shrunk by the clock skew, ends before starts).
fn most_alive_at_once<'a>(lives: impl Iterator<Item = &'a Life>) -> usize {
    let mut edges: Vec<(i64, i32)> = lives
        .map(|life| (life.from + SKEW_MS, life.until - SKEW_MS))
        .filter(|(from, until)| from < until)
        .flat_map(|(from, until)| [(from, 1), (until, -1)])
        .collect();
    edges.sort_unstable();
    let (mut now, mut most) = (0i32, 0i32);
    for (_, step) in edges {
        now += step;
        most = most.max(now);
    }
    most as usize
}

/// A small deterministic generator, seeded per run (the seed is printed).
struct SplitMix(u64);

impl SplitMix {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % bound
    }
}

// ----------------------------------------------------------------------------------------------
// One seat per machine
// ----------------------------------------------------------------------------------------------

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

// ----------------------------------------------------------------------------------------------
// Expiry and heartbeats
// ----------------------------------------------------------------------------------------------

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
    let ttl = Duration::from_millis(600);
    let seat = granted(acquire(&*seats, license, 1, ttl, &steady).await);

    // Act: heartbeat every third of the TTL for four TTLs.
    let mut extended = Vec::new();
    for _ in 0..12 {
        tokio::time::sleep(ttl / 3).await;
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

// ----------------------------------------------------------------------------------------------
// Release
// ----------------------------------------------------------------------------------------------

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

// ----------------------------------------------------------------------------------------------
// Changing the cap; full answers
// ----------------------------------------------------------------------------------------------

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
    } = answer
    else {
        panic!("expected a full pool, the store answered {answer:?}");
    };
    assert_eq!(in_use, 2);
    assert!(next_expiry_ms >= asked_at - SKEW_MS);
    assert_eq!(next_expiry_ms, soonest.expires_at_ms);
}

// ----------------------------------------------------------------------------------------------
// Events and cleanup
// ----------------------------------------------------------------------------------------------

async fn every_seat_change_appends_one_event_with_its_session_data(seats: Arc<dyn SeatStore>) {
    // Arrange
    let license = Uuid::new_v4();
    let (leaving, refused, crashed) = (stranger(), stranger(), stranger());
    let started = now_ms();

    // Act: acquire, deny, release, then acquire a seat and let it expire.
    let first = granted(acquire(&*seats, license, 1, TTL, &leaving).await);
    full_count(&acquire(&*seats, license, 1, TTL, &refused).await);
    assert!(release(&*seats, license, &first.id).await);
    let lost = granted(acquire(&*seats, license, 1, Duration::from_millis(100), &crashed).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let reaped = seats.reap(license).await.expect("reap answers");
    let finished = now_ms();

    // Assert
    assert_eq!(reaped, 1);
    let events = seats.events(license, 100).await.expect("events answers");
    let summary: Vec<_> = events
        .iter()
        .map(|e| (e.kind, e.session_id.as_str(), e.data.as_ref(), e.in_use))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                SeatEventKind::Acquired,
                first.id.as_str(),
                Some(&leaving),
                Some(1)
            ),
            (SeatEventKind::Denied, "", Some(&refused), Some(1)),
            (
                SeatEventKind::Released,
                first.id.as_str(),
                Some(&leaving),
                None
            ),
            (
                SeatEventKind::Acquired,
                lost.id.as_str(),
                Some(&crashed),
                Some(1)
            ),
            (
                SeatEventKind::Expired,
                lost.id.as_str(),
                Some(&crashed),
                None
            ),
        ]
    );
    assert_eq!(
        events[4].at_ms, lost.expires_at_ms,
        "an expiry dates from its lapse"
    );
    for event in &events {
        assert!((started - SKEW_MS..=finished + SKEW_MS).contains(&event.at_ms));
    }
    let ids: HashSet<_> = events.iter().map(|e| &e.id).collect();
    assert_eq!(ids.len(), events.len(), "event ids are unique");
}

async fn ack_events_forgets_only_the_acknowledged_events(seats: Arc<dyn SeatStore>) {
    // Arrange: four events.
    let license = Uuid::new_v4();
    for _ in 0..2 {
        let seat = granted(acquire(&*seats, license, 5, LONG, &stranger()).await);
        assert!(release(&*seats, license, &seat.id).await);
    }
    let events = seats.events(license, 100).await.expect("events answers");
    let acked: Vec<String> = events[..2].iter().map(|e| e.id.clone()).collect();

    // Act
    seats
        .ack_events(license, &acked)
        .await
        .expect("ack_events answers");

    // Assert
    let left = seats.events(license, 100).await.expect("events answers");
    assert_eq!(left, events[2..].to_vec());
}

async fn reap_records_the_expiries_of_an_idle_pool(seats: Arc<dyn SeatStore>) {
    // Arrange: three seats nobody heartbeats, in a pool nobody acquires from.
    let license = Uuid::new_v4();
    let mut lost = HashSet::new();
    for _ in 0..3 {
        let seat = acquire(&*seats, license, 5, Duration::from_millis(100), &stranger()).await;
        lost.insert(granted(seat).id);
    }
    drain(&*seats, license).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Act
    let reaped = seats.reap(license).await.expect("reap answers");
    let reaped_again = seats.reap(license).await.expect("reap answers");

    // Assert
    assert_eq!(reaped, 3);
    assert_eq!(reaped_again, 0);
    assert!(live(&*seats, license).await.is_empty());
    let events = seats.events(license, 100).await.expect("events answers");
    assert!(events.iter().all(|e| e.kind == SeatEventKind::Expired));
    let expired: HashSet<String> = events.into_iter().map(|e| e.session_id).collect();
    assert_eq!(expired, lost);
}

async fn pools_lists_licenses_with_seats_or_undrained_events(seats: Arc<dyn SeatStore>) {
    // Arrange: one pool with a seat, one with only a denial, one never touched.
    let (seated, denied, untouched) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let seat = granted(acquire(&*seats, seated, 1, LONG, &stranger()).await);
    full_count(&acquire(&*seats, denied, 0, LONG, &stranger()).await);
    let pools = || async { seats.pools().await.expect("pools answers") };

    // Act / Assert
    let listed = pools().await;
    assert!(listed.contains(&seated) && listed.contains(&denied));
    assert!(!listed.contains(&untouched));

    drain(&*seats, denied).await;
    drain(&*seats, seated).await;
    let listed = pools().await;
    assert!(!listed.contains(&denied), "a drained pool without seats");
    assert!(listed.contains(&seated), "a pool with a live seat");

    assert!(release(&*seats, seated, &seat.id).await);
    assert!(
        pools().await.contains(&seated),
        "a pool with an undrained release"
    );
    drain(&*seats, seated).await;
    assert!(!pools().await.contains(&seated), "a drained, empty pool");
}

async fn cleanup_audits_every_seat_event_exactly_once_including_expiries(
    seats: Arc<dyn SeatStore>,
) {
    // Arrange: one session released, one left to expire.
    let store = sqlite_store().await;
    let registered = register(&store).await;
    let (tenant, user, license) = (
        registered.tenant.id,
        registered.user.id,
        registered.license.id,
    );
    let (laptop, desktop) = (machine_of(tenant, user), machine_of(tenant, user));
    let kept = granted(acquire(&*seats, license, 2, LONG, &laptop).await);
    let lost = granted(acquire(&*seats, license, 2, Duration::from_millis(100), &desktop).await);
    assert!(release(&*seats, license, &kept.id).await);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Act
    let first = cleanup::run(&*seats, &store).await.expect("cleanup runs");
    let second = cleanup::run(&*seats, &store).await.expect("cleanup runs");

    // Assert
    assert_eq!((first.reaped, first.audited), (1, 4));
    assert_eq!((second.reaped, second.audited), (0, 0));
    let rows = seat_audit(&store, tenant).await;
    let actions: Vec<&str> = rows.iter().map(|row| row.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "seat.acquired",
            "seat.acquired",
            "seat.released",
            "seat.expired"
        ]
    );
    let expired = &rows[3];
    assert_eq!(expired.session_id.as_deref(), Some(lost.id.as_str()));
    assert_eq!(expired.license_id, Some(license));
    assert_eq!(expired.user_id, Some(user));
    assert_eq!(expired.occurred_at.timestamp_millis(), lost.expires_at_ms);
    assert_eq!(expired.detail.0["fingerprint"], json!(desktop.fingerprint));
    assert!(seats.events(license, 10).await.expect("events").is_empty());

    // And events after a drained pool are audited too, not mistaken for ones already written.
    let later = granted(acquire(&*seats, license, 2, LONG, &laptop).await);
    assert!(release(&*seats, license, &later.id).await);
    let third = cleanup::run(&*seats, &store).await.expect("cleanup runs");
    assert_eq!(third.audited, 2);
    assert_eq!(seat_audit(&store, tenant).await.len(), 6);
}

async fn cleanup_after_a_crash_between_append_and_ack_writes_no_duplicates(
    seats: Arc<dyn SeatStore>,
) {
    // Arrange: a run that appended the events to the audit table and died before acknowledging.
    let store = sqlite_store().await;
    let registered = register(&store).await;
    let (tenant, user, license) = (
        registered.tenant.id,
        registered.user.id,
        registered.license.id,
    );
    let seat = granted(acquire(&*seats, license, 2, LONG, &machine_of(tenant, user)).await);
    assert!(release(&*seats, license, &seat.id).await);
    granted(
        acquire(
            &*seats,
            license,
            2,
            Duration::from_millis(100),
            &machine_of(tenant, user),
        )
        .await,
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    seats.reap(license).await.expect("reap answers");
    let pending = seats.events(license, 500).await.expect("events answers");
    let rows: Vec<NewAuditEvent> = pending
        .iter()
        .map(|event| NewAuditEvent {
            tenant_id: tenant,
            license_id: Some(license),
            user_id: Some(user),
            action: event.kind.action().to_owned(),
            session_id: Some(event.session_id.clone()),
            detail: json!({}),
            request_id: None,
            occurred_at: DateTime::from_timestamp_millis(event.at_ms).expect("a valid time"),
            dedupe_key: Some(format!("{license}:{}", event.id)),
        })
        .collect();
    let appended = store.append_audit(&rows).await.expect("append_audit");

    // Act
    let report = cleanup::run(&*seats, &store).await.expect("cleanup runs");

    // Assert
    assert_eq!(appended, 4);
    assert_eq!(report.audited, 0);
    assert_eq!(seat_audit(&store, tenant).await.len(), 4);
    assert!(seats.events(license, 10).await.expect("events").is_empty());
}

// ----------------------------------------------------------------------------------------------
// Redis only
// ----------------------------------------------------------------------------------------------

mod redis_specific {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn an_unreachable_redis_answers_unavailable_quickly() {
        // Arrange: nothing listens on port 1.
        let seats = RedisSeats::new("redis://127.0.0.1:1", "test:").expect("the URL parses");
        let license = Uuid::new_v4();

        // Act / Assert
        let started = Instant::now();
        let acquired = seats
            .acquire(&request(license, 1, TTL, &stranger()), &new_session_id())
            .await;
        assert!(
            matches!(acquired, Err(SeatError::Unavailable(_))),
            "{acquired:?}"
        );
        let heartbeat = seats.heartbeat(license, "gone", TTL).await;
        assert!(
            matches!(heartbeat, Err(SeatError::Unavailable(_))),
            "{heartbeat:?}"
        );
        let ping = seats.ping().await;
        assert!(matches!(ping, Err(SeatError::Unavailable(_))), "{ping:?}");
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "three calls took {:?}",
            started.elapsed()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_scripts_survive_a_script_flush() {
        let (Some(url), Some(seats)) = (backend_url("REDIS_URL"), redis_seats()) else {
            return;
        };
        on_redis(seats, move |seats| async move {
            // Arrange: the scripts are loaded, then Redis forgets them (as after a restart). One
            // flush only: the Redis is shared, and others' scripts reload once, not twice.
            let license = Uuid::new_v4();
            let laptop = stranger();
            let seat = granted(acquire(&*seats, license, 1, LONG, &laptop).await);
            assert_eq!(live(&*seats, license).await, vec![seat.id.clone()]);
            assert_eq!(seats.reap(license).await.expect("reap answers"), 0);
            let client = ::redis::Client::open(url).expect("REDIS_URL parses");
            let mut admin = client
                .get_multiplexed_async_connection()
                .await
                .expect("a second connection");
            let () = ::redis::cmd("SCRIPT")
                .arg("FLUSH")
                .query_async(&mut admin)
                .await
                .expect("SCRIPT FLUSH");

            // Act / Assert: every script runs again.
            assert!(heartbeat(&*seats, license, &seat.id).await.is_some());
            assert!(granted(acquire(&*seats, license, 1, LONG, &laptop).await).renewed);
            assert_eq!(live(&*seats, license).await, vec![seat.id.clone()]);
            assert_eq!(seats.reap(license).await.expect("reap answers"), 0);
            assert!(release(&*seats, license, &seat.id).await);
        })
        .await;
    }
}
