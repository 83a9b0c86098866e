//! The invariant under contention: hundreds of machines race for a one-seat and a five-seat pool,
//! round after round, and no answer, holder list or overlap of lifetimes ever exceeds the cap.
//!
//! This file plans and runs the bursts; `checks` judges every answer against what was known.

mod checks;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use shared::seats::{Acquired, SeatStore, SessionData, new_session_id};
use tokio::sync::Barrier;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::{SKEW_MS, now_ms, request, stranger};

conformance! {
    a_contended_pool_never_holds_more_live_sessions_than_its_seats,
}

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
