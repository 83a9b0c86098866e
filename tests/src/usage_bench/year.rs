//! A year of one 100-seat license's audit trail, simulated minute by minute: working days with
//! 30–80 seats in use at their height (now and then a crunch past 100), quiet nights and weekends,
//! sessions of half an hour to four hours ending in a release (or, one in ten, an expiry), a few
//! borrows, and at the peaks denials (one row per refused machine per minute, as cleanup writes
//! them), the fair queue's joins, claims and lapses, and per-user-cap refusals.

use std::collections::VecDeque;

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc, Weekday};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use uuid::Uuid;

/// The license's seats.
pub const MAX_SEATS: usize = 100;

/// Members, each with one machine.
const MEMBERS: usize = 160;

/// A queued machine that has not got its seat after this long leaves (its ticket lapses).
const TICKET_MS: i64 = 20 * 60_000;

/// One audit row to insert.
#[derive(Debug, Clone)]
pub struct Row {
    /// The member.
    pub user: Uuid,
    /// `seat.acquired`, `seat.denied`, `queue.claimed`, …
    pub action: &'static str,
    /// When.
    pub at: DateTime<Utc>,
    /// As the seat store's drain writes it.
    pub detail: Value,
}

/// A live seat.
struct Session {
    member: usize,
    ends_ms: i64,
}

/// The simulation's state.
struct Year {
    rng: StdRng,
    members: Vec<Uuid>,
    live: Vec<Session>,
    /// Machines waiting: member, joined at, ticket.
    queue: VecDeque<(usize, i64, u64)>,
    tickets: u64,
    rows: Vec<Row>,
}

/// The rows of the year starting at `start` (a UTC midnight), from `seed`.
pub fn generate(start: DateTime<Utc>, seed: u64) -> Vec<Row> {
    let mut rng = StdRng::seed_from_u64(seed);
    let members = (0..MEMBERS).map(|_| Uuid::from_u128(rng.r#gen())).collect();
    let mut year = Year {
        rng,
        members,
        live: Vec::new(),
        queue: VecDeque::new(),
        tickets: 0,
        rows: Vec::new(),
    };
    let mut height = 0.0;
    for minute in 0..365 * 24 * 60 {
        let now = start.timestamp_millis() + minute * 60_000;
        let at = Utc.timestamp_millis_opt(now).single().unwrap_or(start);
        if at.hour() == 0 && at.minute() == 0 {
            // Each working day's height; one in ten is a crunch past the license's seats.
            height = if year.rng.gen_bool(0.1) {
                year.rng.gen_range(95.0..120.0)
            } else {
                year.rng.gen_range(30.0..80.0)
            };
        }
        year.minute(now, demand(at, height));
    }
    year.rows
}

/// Seats wanted at `at` on a day of `height`: a ramp from 08:00, a lunch dip, home by 19:00.
fn demand(at: DateTime<Utc>, height: f64) -> usize {
    let hour = f64::from(at.hour()) + f64::from(at.minute()) / 60.0;
    let share = match hour {
        h if (8.0..10.0).contains(&h) => (h - 8.0) / 2.0,
        h if (12.0..13.0).contains(&h) => 0.8,
        h if (10.0..17.0).contains(&h) => 1.0,
        h if (17.0..19.0).contains(&h) => (19.0 - h) / 2.0,
        _ => 0.0,
    };
    let weekend = matches!(at.weekday(), Weekday::Sat | Weekday::Sun);
    let night = if weekend { 4.0 } else { 3.0 };
    let wanted = if weekend {
        night
    } else {
        (height * share).max(night)
    };
    wanted.round() as usize
}

impl Year {
    fn push(&mut self, member: usize, action: &'static str, at_ms: i64, detail: Value) {
        let at = Utc.timestamp_millis_opt(at_ms).single().unwrap_or_default();
        self.rows.push(Row {
            user: self.members[member],
            action,
            at,
            detail,
        });
    }

    /// One minute from `now`: seats end, the queue is served, new seats are taken or refused.
    fn minute(&mut self, now: i64, wanted: usize) {
        let mut ended: Vec<Session> = Vec::new();
        self.live.retain_mut(|s| {
            let over = s.ends_ms <= now;
            if over {
                ended.push(Session {
                    member: s.member,
                    ends_ms: s.ends_ms,
                });
            }
            !over
        });
        ended.sort_by_key(|s| s.ends_ms);
        for session in ended {
            let action = if self.rng.gen_bool(0.1) {
                "seat.expired"
            } else {
                "seat.released"
            };
            self.push(session.member, action, session.ends_ms, json!({}));
        }
        // Tickets that waited too long lapse; the head of the queue claims each free seat.
        while let Some(&(member, joined, ticket)) = self.queue.front() {
            if now - joined < TICKET_MS {
                break;
            }
            self.queue.pop_front();
            let waited = now - joined;
            self.push(
                member,
                "queue.left",
                now,
                json!({"ticket": ticket.to_string(), "reason": "expired", "waited_ms": waited}),
            );
        }
        while self.live.len() < MAX_SEATS {
            let Some((member, joined, ticket)) = self.queue.pop_front() else {
                break;
            };
            let at = now + self.rng.gen_range(0..60_000);
            self.grant(member, at);
            let waited = at - joined;
            self.push(
                member,
                "queue.claimed",
                at,
                json!({"ticket": ticket.to_string(), "waited_ms": waited}),
            );
        }
        let mut refused = 0;
        while self.live.len() + self.queue.len() + refused < wanted {
            let member = self.rng.gen_range(0..MEMBERS);
            let at = now + self.rng.gen_range(0..60_000);
            if self.live.len() < MAX_SEATS {
                self.grant(member, at);
                continue;
            }
            refused += 1;
            let count = self.rng.gen_range(1..6);
            let detail = json!({"reason": "seats_exhausted", "count": count, "in_use": MAX_SEATS,
                                "fingerprint": format!("m{member}"),
                                "hostname": format!("host-{member}")});
            self.push(member, "seat.denied", at, detail);
            if self.rng.gen_bool(0.3) {
                self.tickets += 1;
                self.queue.push_back((member, at, self.tickets));
                let position = self.queue.len();
                let ticket = self.tickets.to_string();
                self.push(
                    member,
                    "queue.joined",
                    at,
                    json!({"ticket": ticket, "position": position}),
                );
            }
        }
        if wanted > 20 && self.rng.gen_bool(0.002) {
            let member = self.rng.gen_range(0..MEMBERS);
            let detail = json!({"reason": "user_seat_limit", "hostname": format!("host-{member}")});
            self.push(member, "seat.denied", now, detail);
        }
    }

    /// A seat for `member` at `at`: half an hour to four hours (a borrow: a day or two).
    fn grant(&mut self, member: usize, at: i64) {
        let in_use = self.live.len() + 1;
        self.push(
            member,
            "seat.acquired",
            at,
            json!({"in_use": in_use, "fingerprint": format!("m{member}"),
                   "hostname": format!("host-{member}")}),
        );
        let ends_ms = if self.rng.gen_bool(0.01) {
            let until = at + self.rng.gen_range(86_400_000..2 * 86_400_000);
            let until_text = Utc
                .timestamp_millis_opt(until)
                .single()
                .unwrap_or_default()
                .to_rfc3339();
            self.push(member, "seat.borrowed", at, json!({"until": until_text}));
            until
        } else {
            at + self.rng.gen_range(30 * 60_000..240 * 60_000)
        };
        self.live.push(Session { member, ends_ms });
    }
}
