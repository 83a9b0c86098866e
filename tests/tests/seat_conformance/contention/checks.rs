//! Judging a contended pool: each answer against what earlier answers proved, each burst as a
//! whole, and the pool itself after every round.

use std::collections::{HashMap, HashSet};

use shared::seats::{Acquired, SeatStore};

use super::{Answer, BurstAnswers, Contended, Life, Observed};
use crate::{SKEW_MS, now_ms};

impl Contended {
    /// Checks one answer against what was known before the burst, then learns from it.
    pub(super) fn check(
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
                ..
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
                queued: 0,
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
            Answer::Acquired(limited @ (Acquired::Limited(_) | Acquired::UserFull { .. })) => {
                panic!(
                    "no limit or per-user cap is set under contention, the store answered {limited:?}"
                )
            }
            Answer::Acquired(
                queued @ (Acquired::Queued(_) | Acquired::TicketGone | Acquired::Full { .. }),
            ) => {
                panic!("nobody waits in this race, yet the store answered {queued:?}")
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
    pub(super) fn check_burst(&self, round: usize, answers: &BurstAnswers) {
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
    pub(super) async fn check_round(
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
