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
    Acquired, Holder, LimitScope, Limited, Rate, ReleaseRequest, Released, SeatError, SeatEvent,
    SeatEventKind, SeatRequest, SeatResult, SeatStore, SessionData,
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
        });
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
            });
        }
        moved
    }

    fn forget(&mut self, session_id: &str) -> Option<(i64, SessionData)> {
        self.grants.remove(session_id);
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
        }
        expired.len() as u32
    }

    fn is_idle(&self) -> bool {
        self.seats.is_empty() && self.events.is_empty() && self.denials.is_empty()
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
        if let Some(existing) = pool.holders.get(holder).cloned()
            && let Some((expires, _)) = pool.seats.get_mut(&existing)
        {
            *expires = now + ttl;
            buckets.take(machine_key, machine_tat, now_us);
            let grant = pool.grants.entry(existing.clone()).or_default();
            *grant += 1;
            let grant = *grant;
            return Ok(Acquired::Granted {
                session_id: existing,
                expires_at_ms: now + ttl,
                in_use: pool.seats.len() as u32,
                renewed: true,
                grant,
            });
        }
        let license_key = format!("{license}:acquire");
        let license_tat = match buckets.check(
            &license_key,
            request.limits.per_license,
            LimitScope::License,
            now_us,
        ) {
            Ok(tat) => tat,
            Err(limited) => return Ok(Acquired::Limited(limited)),
        };
        buckets.take(machine_key, machine_tat, now_us);
        buckets.take(license_key, license_tat, now_us);
        let in_use = pool.seats.len() as u32;
        if in_use < request.max_seats {
            pool.seats.insert(
                new_session_id.to_owned(),
                (now + ttl, request.session.clone()),
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
            return Ok(Acquired::Granted {
                session_id: new_session_id.to_owned(),
                expires_at_ms: now + ttl,
                in_use: in_use + 1,
                renewed: false,
                grant: 1,
            });
        }
        let next_expiry_ms = pool.seats.values().map(|(e, _)| *e).min().unwrap_or(now);
        pool.deny(now, in_use, &request.session);
        Ok(Acquired::Full {
            in_use,
            next_expiry_ms,
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
        *expires = now + ttl.as_millis() as i64;
        Ok(Some(*expires))
    }

    async fn release_from(&self, request: &ReleaseRequest) -> SeatResult<Released> {
        let now_us = now_us();
        let now = now_us / 1000;
        let (license_id, session_id) = (request.license_id, request.session_id.as_str());
        let mut pools = self.lock()?;
        let mut buckets = self.lock_buckets()?;
        let mut superseded = false;
        let freed = pools.get_mut(&license_id).and_then(|pool| {
            pool.prune(now, &self.event_ids);
            superseded = pool.grants.get(session_id).copied().unwrap_or(0) > request.grant;
            if superseded {
                return None;
            }
            let (_, data) = pool.forget(session_id)?;
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
        if pools.get(&license_id).is_some_and(Pool::is_idle) {
            pools.remove(&license_id);
        }
        if freed.is_some() {
            return Ok(Released::Freed);
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
                    })
                    .collect()
            })
            .unwrap_or_default();
        holders.sort_by_key(|h| (h.expires_at_ms, h.session_id.clone()));
        Ok(holders)
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
        let pools = self.lock()?;
        let ids: std::collections::BTreeSet<Uuid> = pools.keys().copied().collect();
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
            if pool.is_idle() {
                pools.remove(&license_id);
            }
        }
        Ok(())
    }
}
