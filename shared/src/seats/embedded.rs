//! Live seats in process: the embedded default, with the same semantics as the Redis scripts.
//!
//! One mutex guards every pool; each operation holds it for its whole step, which is what makes the
//! step atomic, as a Lua script is in Redis. Seats live only as long as the process, exactly as they
//! do in a Redis that restarts: every client's next heartbeat answers `session_not_found` and it
//! re-acquires.
//!
//! Like the Redis stream, the event log is never trimmed, and denials are counted per machine until
//! [`SeatStore::flush_denials`] moves each count into the log as one event (see [`super`]).
//!
//! The queue is a list of tickets in each pool, first first, with the same rules as acquire.lua
//! (see [`super`]); what is known of the time between frees (the queue's estimate) lives in the pool
//! and keeps an otherwise idle pool for an hour, as the Redis `frees` hash outlives it.
//!
//! Rate limits keep their TATs in a map of their own ([`Buckets`]), locked after the pools' lock
//! inside the same step; they outlive an idle pool, as the Redis keys do.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::anyhow;
use async_trait::async_trait;
use uuid::Uuid;

use super::limits::gcra;
use super::{
    Acquired, Holder, LimitScope, Limited, MAX_QUEUE, QueueEvent, Rate, ReleaseRequest, Released,
    SeatError, SeatEvent, SeatEventKind, SeatRequest, SeatResult, SeatStore, SessionData, Ticket,
    Waiter,
};

/// The in-process seat store.
#[derive(Default)]
pub struct EmbeddedSeats {
    pools: Mutex<HashMap<Uuid, Pool>>,
    /// Shared by every pool, because an idle pool is dropped and may come back.
    event_ids: EventIds,
    /// The rate limits' state; always locked after `pools`.
    buckets: Mutex<Buckets>,
}

/// Each rate limit's TAT in µs, keyed as the Redis keys are (`<license>:acquire:<holder>`, …).
#[derive(Default)]
struct Buckets {
    tat_us: HashMap<String, i64>,
    /// Entries after the last sweep: the map is swept of full buckets (TAT past) when it doubles.
    swept_len: usize,
}

impl Buckets {
    /// The TAT `rate` would move `key` to, or the limited answer; nothing is written.
    fn check(
        &self,
        key: &str,
        rate: Option<Rate>,
        scope: LimitScope,
        now_us: i64,
    ) -> Result<Option<i64>, Limited> {
        let Some(rate) = rate else { return Ok(None) };
        gcra(self.tat_us.get(key).copied(), rate, now_us)
            .map(Some)
            .map_err(|wait| Limited::after_us(scope, wait))
    }

    /// Records a call [`Self::check`] let through.
    fn take(&mut self, key: String, tat: Option<i64>, now_us: i64) {
        let Some(tat) = tat else { return };
        self.tat_us.insert(key, tat);
        if self.tat_us.len() > 2 * self.swept_len + 1024 {
            self.tat_us.retain(|_, tat| *tat > now_us);
            self.swept_len = self.tat_us.len();
        }
    }
}

/// Event ids shaped like Redis stream ids, `<ms>-<sequence>`, increasing across the whole store.
///
/// The audit drain dedupes on `<license>:<event id>`, so an id must never repeat for a license: not
/// when its pool empties, is dropped and comes back, and not after a restart. A time-based id only
/// repeats if the clock goes back, as in Redis.
#[derive(Default)]
struct EventIds {
    /// The last id handed out: (ms, sequence within that ms).
    last: Mutex<(i64, u64)>,
}

impl EventIds {
    fn next(&self, now: i64) -> String {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        *last = if now > last.0 {
            (now, 0)
        } else {
            (last.0, last.1 + 1)
        };
        format!("{}-{}", last.0, last.1)
    }
}

/// One license's seats and undrained events.
#[derive(Default)]
struct Pool {
    /// Session id → (expiry ms, data).
    seats: HashMap<String, (i64, SessionData)>,
    /// `user:fingerprint` → session id.
    holders: HashMap<String, String>,
    /// Session id → its latest grant (1, then one more per renewal); only a lease of that grant
    /// releases it (see release.lua).
    grants: HashMap<String, u64>,
    /// Undrained events, oldest first.
    events: VecDeque<SeatEvent>,
    /// `user:fingerprint` → that machine's denials since the last flush.
    denials: HashMap<String, PendingDenials>,
    /// Session id → when its borrow ends (ms).
    borrowed: HashMap<String, i64>,
    /// The waiting tickets, first first (one per machine).
    queue: VecDeque<Waiting>,
    /// When a seat last freed and the running mean time between frees (the queue's estimate).
    frees: Frees,
}

/// One ticket in the queue.
struct Waiting {
    ticket: String,
    data: SessionData,
    joined_ms: i64,
    deadline_ms: i64,
}

/// As the Redis `frees` hash: the last free and the running mean gap, forgotten an hour after the
/// last free.
#[derive(Default, Clone, Copy)]
struct Frees {
    last_ms: i64,
    gap_ms: i64,
    /// When Redis would expire the hash: an hour after the last free was recorded.
    kept_until_ms: i64,
}

/// How long the time between frees is remembered after the last one.
const FREES_KEPT_MS: i64 = 3_600_000;

impl Frees {
    /// As `freed` in prune.lua.
    fn freed(&mut self, at: i64, now: i64) {
        self.forget_stale(now);
        if self.last_ms > 0 && at > self.last_ms {
            let gap = at - self.last_ms;
            self.gap_ms = if self.gap_ms > 0 {
                (self.gap_ms as f64 * 0.7 + gap as f64 * 0.3).floor() as i64
            } else {
                gap
            };
        }
        self.last_ms = self.last_ms.max(at);
        self.kept_until_ms = now + FREES_KEPT_MS;
    }

    /// An hour after the last free was recorded, the Redis hash has expired.
    fn forget_stale(&mut self, now: i64) {
        if !self.is_fresh(now) {
            *self = Self::default();
        }
    }

    fn is_fresh(&self, now: i64) -> bool {
        self.kept_until_ms > now
    }
}

/// The denials of one machine not yet moved into the event log (the Redis denials hash's value).
struct PendingDenials {
    count: u64,
    first_ms: i64,
    last_ms: i64,
    /// Live sessions at the last denial.
    in_use: u32,
    /// The first denial's session data.
    data: SessionData,
}

impl Pool {
    fn append(
        &mut self,
        id: String,
        kind: SeatEventKind,
        session_id: &str,
        data: Option<SessionData>,
        at_ms: i64,
        in_use: Option<u32>,
    ) {
        self.events.push_back(SeatEvent {
            id,
            kind,
            session_id: session_id.to_owned(),
            data,
            at_ms,
            in_use,
            count: 1,
            last_at_ms: at_ms,
            until_ms: None,
            queue: None,
        });
    }

    /// Logs a queue event of `ticket` (whose session is `session_id`).
    fn append_queue(
        &mut self,
        id: String,
        kind: SeatEventKind,
        session_id: &str,
        data: SessionData,
        at_ms: i64,
        queue: QueueEvent,
    ) {
        self.append(id, kind, session_id, Some(data), at_ms, None);
        if let Some(event) = self.events.back_mut() {
            event.queue = Some(queue);
        }
    }

    /// Takes `ticket` out of the queue, if it waits there.
    fn unqueue(&mut self, ticket: &str) -> Option<Waiting> {
        let at = self.queue.iter().position(|w| w.ticket == ticket)?;
        self.queue.remove(at)
    }

    /// As `leave` in prune.lua: `ticket` leaves without a seat, and it is logged.
    fn leave(&mut self, id: &EventIds, ticket: &str, reason: &str, at: i64, now: i64) -> bool {
        let Some(left) = self.unqueue(ticket) else {
            return false;
        };
        let event = QueueEvent {
            ticket: left.ticket.clone(),
            waited_ms: Some((at - left.joined_ms).max(0)),
            reason: Some(reason.to_owned()),
            ..QueueEvent::default()
        };
        self.append_queue(
            id.next(now),
            SeatEventKind::Left,
            ticket,
            left.data,
            at,
            event,
        );
        true
    }

    /// The machine `holder`'s ticket and its place (0 = the head), if it waits.
    fn ticket_of(&self, holder: &str) -> Option<(usize, String)> {
        self.queue
            .iter()
            .position(|w| w.data.holder == holder)
            .map(|at| (at, self.queue[at].ticket.clone()))
    }

    /// As `estimate` in acquire.lua: the mean gap between frees times the frees `position` needs.
    fn estimate(&self, position: u32, free: i64, now: i64) -> Option<i64> {
        (self.frees.is_fresh(now) && self.frees.gap_ms > 0)
            .then(|| (i64::from(position) - free).max(1) * self.frees.gap_ms)
    }

    /// Borrows `session_id` until `until_ms`, and logs it.
    fn borrow(&mut self, id: String, session_id: &str, now: i64, until_ms: i64) {
        self.borrowed.insert(session_id.to_owned(), until_ms);
        let data = self.seats.get(session_id).map(|(_, data)| data.clone());
        self.append(id, SeatEventKind::Borrowed, session_id, data, now, None);
        if let Some(event) = self.events.back_mut() {
            event.until_ms = Some(until_ms);
        }
    }

    /// Live seats `user` holds (a pruned pool holds only live ones).
    fn held_by(&self, user: Uuid) -> u32 {
        self.seats.values().filter(|(_, d)| d.user == user).count() as u32
    }

    /// Adds one to the pending denials of the requesting machine.
    fn deny(&mut self, now: i64, in_use: u32, data: &SessionData) {
        match self.denials.get_mut(&data.holder) {
            Some(pending) => {
                pending.count += 1;
                pending.last_ms = now;
                pending.in_use = in_use;
            }
            None => {
                self.denials.insert(
                    data.holder.clone(),
                    PendingDenials {
                        count: 1,
                        first_ms: now,
                        last_ms: now,
                        in_use,
                        data: data.clone(),
                    },
                );
            }
        }
    }

    /// Moves every pending denial count into the event log, oldest first; how many.
    fn flush_denials(&mut self, now: i64, ids: &EventIds) -> u64 {
        let mut pending: Vec<PendingDenials> = self.denials.drain().map(|(_, p)| p).collect();
        pending.sort_by(|a, b| (a.first_ms, &a.data.holder).cmp(&(b.first_ms, &b.data.holder)));
        let moved = pending.len() as u64;
        for denials in pending {
            self.events.push_back(SeatEvent {
                id: ids.next(now),
                kind: SeatEventKind::Denied,
                session_id: String::new(),
                data: Some(denials.data),
                at_ms: denials.first_ms,
                in_use: Some(denials.in_use),
                count: denials.count,
                last_at_ms: denials.last_ms,
                until_ms: None,
                queue: None,
            });
        }
        moved
    }

    fn forget(&mut self, session_id: &str) -> Option<(i64, SessionData)> {
        self.grants.remove(session_id);
        self.borrowed.remove(session_id);
        let (expires, data) = self.seats.remove(session_id)?;
        if self
            .holders
            .get(&data.holder)
            .is_some_and(|s| s == session_id)
        {
            self.holders.remove(&data.holder);
        }
        Some((expires, data))
    }

    /// Moves every seat expired at `now` into the event log, soonest first.
    fn prune(&mut self, now: i64, ids: &EventIds) -> u32 {
        let mut expired: Vec<(i64, String)> = self
            .seats
            .iter()
            .filter(|(_, (expires, _))| *expires <= now)
            .map(|(id, (expires, _))| (*expires, id.clone()))
            .collect();
        expired.sort();
        for (expires, id) in &expired {
            let data = self.forget(id).map(|(_, d)| d);
            self.append(
                ids.next(now),
                SeatEventKind::Expired,
                id,
                data,
                *expires,
                None,
            );
            self.frees.freed(*expires, now);
        }
        let mut lapsed: Vec<(i64, String)> = self
            .queue
            .iter()
            .filter(|w| w.deadline_ms <= now)
            .map(|w| (w.deadline_ms, w.ticket.clone()))
            .collect();
        lapsed.sort();
        for (deadline, ticket) in lapsed {
            self.leave(ids, &ticket, "expired", deadline, now);
        }
        expired.len() as u32
    }

    /// Nothing to keep: no seat, ticket, denial or event; what is known of frees is stale.
    fn is_idle(&self, now: i64) -> bool {
        !self.has_work() && !self.frees.is_fresh(now)
    }

    /// Whether cleanup has something to do here (as [`SeatStore::pools`] in Redis).
    fn has_work(&self) -> bool {
        !(self.seats.is_empty()
            && self.queue.is_empty()
            && self.events.is_empty()
            && self.denials.is_empty())
    }
}

impl EmbeddedSeats {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> SeatResult<MutexGuard<'_, HashMap<Uuid, Pool>>> {
        self.pools
            .lock()
            .map_err(|_| SeatError::Other(anyhow!("seat store lock poisoned")))
    }

    /// The rate limits' state; take it only while holding [`Self::lock`]'s guard.
    fn lock_buckets(&self) -> SeatResult<MutexGuard<'_, Buckets>> {
        self.buckets
            .lock()
            .map_err(|_| SeatError::Other(anyhow!("rate limit lock poisoned")))
    }
}

fn now_ms() -> i64 {
    now_us() / 1000
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or_default()
}

#[async_trait]
impl SeatStore for EmbeddedSeats {
    async fn ping(&self) -> SeatResult<()> {
        self.lock().map(drop)
    }

    async fn acquire(&self, request: &SeatRequest, new_session_id: &str) -> SeatResult<Acquired> {
        let now_us = now_us();
        let now = now_us / 1000;
        let ttl = request.ttl.as_millis() as i64;
        let mut pools = self.lock()?;
        let mut buckets = self.lock_buckets()?;
        let pool = pools.entry(request.license_id).or_default();
        pool.prune(now, &self.event_ids);
        let holder = &request.session.holder;
        // As acquire.lua: a repeated poll of a ticket that no longer waits changes nothing.
        if let Some(expected) = &request.ticket
            && pool.ticket_of(holder).is_none_or(|(_, t)| &t != expected)
        {
            return Ok(Acquired::TicketGone);
        }
        let license = request.license_id;
        // As acquire.lua: the machine's limit for every call, the license's for callers without
        // a seat; a limited call changes nothing.
        let machine_key = format!("{license}:acquire:{holder}");
        let machine_tat = match buckets.check(
            &machine_key,
            request.limits.per_machine,
            LimitScope::Machine,
            now_us,
        ) {
            Ok(tat) => tat,
            Err(limited) => return Ok(Acquired::Limited(limited)),
        };
        // As acquire.lua: a borrow on the held seat sets the borrow's end afresh.
        let borrow_until = request.borrow.map(|b| now + b.as_millis() as i64);
        if let Some(existing) = pool.holders.get(holder).cloned()
            && pool.seats.contains_key(&existing)
        {
            // As acquire.lua: a borrow that ended leaves an ordinary seat.
            if pool
                .borrowed
                .get(&existing)
                .is_some_and(|&until| until <= now)
            {
                pool.borrowed.remove(&existing);
            }
            if let Some(until) = borrow_until {
                pool.borrow(self.event_ids.next(now), &existing, now, until);
            }
            let borrowed_until_ms = pool.borrowed.get(&existing).copied();
            let expires_at_ms = (now + ttl).max(borrowed_until_ms.unwrap_or(0));
            if let Some((expires, _)) = pool.seats.get_mut(&existing) {
                *expires = expires_at_ms;
            }
            buckets.take(machine_key, machine_tat, now_us);
            let grant = pool.grants.entry(existing.clone()).or_default();
            *grant += 1;
            let grant = *grant;
            return Ok(Acquired::Granted {
                session_id: existing,
                expires_at_ms,
                in_use: pool.seats.len() as u32,
                renewed: true,
                grant,
                borrowed_until_ms,
                waited_ms: None,
            });
        }
        // As acquire.lua: a waiting machine polling its ticket is not charged the license's
        // limit.
        let ticket = pool.ticket_of(holder);
        let polls = ticket.is_some() && request.wait.is_some();
        let license_key = format!("{license}:acquire");
        let license_tat = if polls {
            None
        } else {
            match buckets.check(
                &license_key,
                request.limits.per_license,
                LimitScope::License,
                now_us,
            ) {
                Ok(tat) => tat,
                Err(limited) => return Ok(Acquired::Limited(limited)),
            }
        };
        buckets.take(machine_key, machine_tat, now_us);
        buckets.take(license_key, license_tat, now_us);
        if let Some(cap) = request.per_user {
            let held = pool.held_by(request.session.user);
            if held >= cap {
                return Ok(Acquired::UserFull { held });
            }
        }
        let in_use = pool.seats.len() as u32;
        let queued = pool.queue.len() as u32;
        // As acquire.lua: the free seats are the waiting tickets' first.
        let free = i64::from(request.max_seats) - i64::from(in_use);
        let may_take = match &ticket {
            Some((rank, _)) => (*rank as i64) < free,
            None => free > i64::from(queued),
        };
        if may_take {
            let claimed = ticket.as_ref().and_then(|(_, t)| pool.unqueue(t));
            let expires_at_ms = (now + ttl).max(borrow_until.unwrap_or(0));
            pool.seats.insert(
                new_session_id.to_owned(),
                (expires_at_ms, request.session.clone()),
            );
            pool.holders
                .insert(holder.clone(), new_session_id.to_owned());
            pool.grants.insert(new_session_id.to_owned(), 1);
            pool.append(
                self.event_ids.next(now),
                SeatEventKind::Acquired,
                new_session_id,
                Some(request.session.clone()),
                now,
                Some(in_use + 1),
            );
            let waited_ms = claimed.map(|claimed| {
                let waited = (now - claimed.joined_ms).max(0);
                let event = QueueEvent {
                    ticket: claimed.ticket,
                    waited_ms: Some(waited),
                    ..QueueEvent::default()
                };
                pool.append_queue(
                    self.event_ids.next(now),
                    SeatEventKind::Claimed,
                    new_session_id,
                    request.session.clone(),
                    now,
                    event,
                );
                waited
            });
            if let Some(until) = borrow_until {
                pool.borrow(self.event_ids.next(now), new_session_id, now, until);
            }
            return Ok(Acquired::Granted {
                session_id: new_session_id.to_owned(),
                expires_at_ms,
                in_use: in_use + 1,
                renewed: false,
                grant: 1,
                borrowed_until_ms: borrow_until,
                waited_ms,
            });
        }
        // As acquire.lua: a waiting caller polls its ticket or joins at the back.
        if let (Some(ticket_ttl), Some((rank, ticket))) = (request.wait, &ticket) {
            let deadline_ms = now + ticket_ttl.as_millis().max(1) as i64;
            pool.queue[*rank].deadline_ms = deadline_ms;
            let position = *rank as u32 + 1;
            return Ok(Acquired::Queued(Ticket {
                ticket: ticket.clone(),
                position,
                queued,
                estimated_wait_ms: pool.estimate(position, free, now),
                in_use,
                deadline_ms,
            }));
        }
        let mut joined = None;
        if let (Some(ticket_ttl), None) = (request.wait, &ticket)
            && queued < MAX_QUEUE
        {
            let deadline_ms = now + ticket_ttl.as_millis().max(1) as i64;
            pool.queue.push_back(Waiting {
                ticket: new_session_id.to_owned(),
                data: request.session.clone(),
                joined_ms: now,
                deadline_ms,
            });
            let event = QueueEvent {
                ticket: new_session_id.to_owned(),
                position: Some(queued + 1),
                ..QueueEvent::default()
            };
            pool.append_queue(
                self.event_ids.next(now),
                SeatEventKind::Queued,
                new_session_id,
                request.session.clone(),
                now,
                event,
            );
            joined = Some(Ticket {
                ticket: new_session_id.to_owned(),
                position: queued + 1,
                queued: queued + 1,
                estimated_wait_ms: pool.estimate(queued + 1, free, now),
                in_use,
                deadline_ms,
            });
        }
        let next_expiry_ms = pool.seats.values().map(|(e, _)| *e).min().unwrap_or(now);
        pool.deny(now, in_use, &request.session);
        if let Some(joined) = joined {
            return Ok(Acquired::Queued(joined));
        }
        Ok(Acquired::Full {
            in_use,
            next_expiry_ms,
            queued,
        })
    }

    async fn heartbeat(
        &self,
        license_id: Uuid,
        session_id: &str,
        ttl: Duration,
    ) -> SeatResult<Option<i64>> {
        let now = now_ms();
        let mut pools = self.lock()?;
        let Some((expires, _)) = pools
            .get_mut(&license_id)
            .and_then(|pool| pool.seats.get_mut(session_id))
        else {
            return Ok(None);
        };
        if *expires <= now {
            return Ok(None);
        }
        // As heartbeat.lua: never shorter (a borrowed seat keeps its borrow's end).
        *expires = (*expires).max(now + ttl.as_millis() as i64);
        Ok(Some(*expires))
    }

    async fn release_from(&self, request: &ReleaseRequest) -> SeatResult<Released> {
        let now_us = now_us();
        let now = now_us / 1000;
        let (license_id, session_id) = (request.license_id, request.session_id.as_str());
        let mut pools = self.lock()?;
        let mut buckets = self.lock_buckets()?;
        let mut superseded = false;
        let mut borrowed = false;
        let freed = pools.get_mut(&license_id).and_then(|pool| {
            pool.prune(now, &self.event_ids);
            superseded = pool.grants.get(session_id).copied().unwrap_or(0) > request.grant;
            // As release.lua: an ordinary release leaves a borrowed seat held.
            borrowed = !superseded
                && !request.ends_borrow
                && pool
                    .borrowed
                    .get(session_id)
                    .is_some_and(|&until| until > now)
                && pool.seats.contains_key(session_id);
            if superseded || borrowed {
                return None;
            }
            let (_, data) = pool.forget(session_id)?;
            pool.frees.freed(now, now);
            let id = self.event_ids.next(now);
            pool.append(
                id,
                SeatEventKind::Released,
                session_id,
                Some(data),
                now,
                None,
            );
            Some(())
        });
        if pools.get(&license_id).is_some_and(|pool| pool.is_idle(now)) {
            pools.remove(&license_id);
        }
        if freed.is_some() {
            return Ok(Released::Freed);
        }
        if borrowed {
            return Ok(Released::Borrowed);
        }
        // As release.lua: only a release of a seat that is already gone is limited.
        let key = format!("{license_id}:release:{}", request.machine);
        match buckets.check(&key, request.limit, LimitScope::Machine, now_us) {
            Ok(tat) => {
                buckets.take(key, tat, now_us);
                Ok(if superseded {
                    Released::Superseded
                } else {
                    Released::Gone
                })
            }
            Err(limited) => Ok(Released::Limited(limited)),
        }
    }

    async fn holders(&self, license_id: Uuid) -> SeatResult<Vec<Holder>> {
        let now = now_ms();
        let pools = self.lock()?;
        let mut holders: Vec<Holder> = pools
            .get(&license_id)
            .map(|pool| {
                pool.seats
                    .iter()
                    .filter(|(_, (expires, _))| *expires > now)
                    .map(|(id, (expires, data))| Holder {
                        session_id: id.clone(),
                        data: data.clone(),
                        expires_at_ms: *expires,
                        borrowed_until_ms: pool.borrowed.get(id).copied().filter(|&u| u > now),
                    })
                    .collect()
            })
            .unwrap_or_default();
        holders.sort_by_key(|h| (h.expires_at_ms, h.session_id.clone()));
        Ok(holders)
    }

    async fn leave(&self, license_id: Uuid, ticket: &str, holder: &str) -> SeatResult<bool> {
        let now = now_ms();
        let mut pools = self.lock()?;
        let Some(pool) = pools.get_mut(&license_id) else {
            return Ok(false);
        };
        pool.prune(now, &self.event_ids);
        // As leave.lua: only the machine whose ticket it is takes it out.
        let mine = pool.ticket_of(holder).is_some_and(|(_, t)| t == ticket);
        Ok(mine && pool.leave(&self.event_ids, ticket, "left", now, now))
    }

    async fn queue(&self, license_id: Uuid) -> SeatResult<Vec<Waiter>> {
        let now = now_ms();
        let pools = self.lock()?;
        Ok(pools
            .get(&license_id)
            .map(|pool| {
                pool.queue
                    .iter()
                    .filter(|w| w.deadline_ms > now)
                    .zip(1..)
                    .map(|(w, position)| Waiter {
                        ticket: w.ticket.clone(),
                        position,
                        data: w.data.clone(),
                        joined_ms: w.joined_ms,
                        deadline_ms: w.deadline_ms,
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn reap(&self, license_id: Uuid) -> SeatResult<u32> {
        let mut pools = self.lock()?;
        Ok(pools
            .get_mut(&license_id)
            .map_or(0, |pool| pool.prune(now_ms(), &self.event_ids)))
    }

    async fn flush_denials(&self, license_id: Uuid) -> SeatResult<u64> {
        let mut pools = self.lock()?;
        Ok(pools
            .get_mut(&license_id)
            .map_or(0, |pool| pool.flush_denials(now_ms(), &self.event_ids)))
    }

    async fn pools(&self) -> SeatResult<Vec<Uuid>> {
        let now = now_ms();
        let mut pools = self.lock()?;
        // A pool kept only for what it knows of frees is dropped once that is stale.
        pools.retain(|_, pool| !pool.is_idle(now));
        let ids: std::collections::BTreeSet<Uuid> = pools
            .iter()
            .filter(|(_, pool)| pool.has_work())
            .map(|(id, _)| *id)
            .collect();
        Ok(ids.into_iter().collect())
    }

    async fn events(&self, license_id: Uuid, max: usize) -> SeatResult<Vec<SeatEvent>> {
        let pools = self.lock()?;
        Ok(pools
            .get(&license_id)
            .map(|pool| pool.events.iter().take(max).cloned().collect())
            .unwrap_or_default())
    }

    async fn ack_events(&self, license_id: Uuid, ids: &[String]) -> SeatResult<()> {
        let mut pools = self.lock()?;
        if let Some(pool) = pools.get_mut(&license_id) {
            let drained: std::collections::HashSet<&String> = ids.iter().collect();
            pool.events.retain(|e| !drained.contains(&e.id));
            if pool.is_idle(now_ms()) {
                pools.remove(&license_id);
            }
        }
        Ok(())
    }
}
