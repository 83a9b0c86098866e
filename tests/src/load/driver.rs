//! The clients' loops: one task per simulated CLI, for one phase.
//!
//! Every call is timed around the await, so a latency includes the client's own queueing on this
//! shared machine, as a user would see it. Every grant, heartbeat answer and release goes through
//! the [`Ledger`] in the order a client learns of it.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};

use super::ledger::Ledger;
use super::scenario::{Phase, Workload};
use super::stats::{EndpointStats, SEATS_EXHAUSTED, Stats};
use super::transport::{Api, Client, Granted};

/// What one side (HTTP or raw) did during a phase.
#[derive(Debug)]
pub struct PhaseRun {
    /// Every client's calls, merged.
    pub stats: Stats,
    /// From the first client's start to the last client's end.
    pub elapsed: Duration,
}

/// Runs `phase` of `workload` with `clients` against `api` until its duration is over and every
/// client has released what it held.
pub async fn run_phase(
    api: Arc<Api>,
    clients: &[Client],
    workload: &Workload,
    phase: Phase,
    ledger: Arc<Ledger>,
) -> anyhow::Result<PhaseRun> {
    let started = Instant::now();
    // Clients stop in the order they started, over the same ramp, so neither end of the phase is
    // a thundering herd (a fleet of CLIs does not exit at one instant either).
    let last_start = started + workload.duration.saturating_sub(workload.ramp);
    let mut tasks = JoinSet::new();
    for client in clients {
        let offset = workload
            .ramp
            .mul_f64(client.index as f64 / clients.len().max(1) as f64);
        let run = ClientRun {
            api: api.clone(),
            client: client.clone(),
            workload: workload.clone(),
            ledger: ledger.clone(),
            deadline: last_start + offset,
            stats: Stats::default(),
        };
        tasks.spawn(async move {
            sleep_until(started + offset).await;
            run.run(phase).await
        });
    }
    let mut stats = Stats::default();
    while let Some(done) = tasks.join_next().await {
        stats.merge(done?);
    }
    Ok(PhaseRun {
        stats,
        elapsed: started.elapsed(),
    })
}

/// One client for one phase.
struct ClientRun {
    api: Arc<Api>,
    client: Client,
    workload: Workload,
    ledger: Arc<Ledger>,
    deadline: Instant,
    stats: Stats,
}

/// A seat this client holds.
struct Held {
    session_id: String,
    lease: String,
}

impl ClientRun {
    async fn run(mut self, phase: Phase) -> Stats {
        match phase {
            Phase::Lifecycle => self.lifecycle().await,
            Phase::HeartbeatOnly => self.heartbeat_only().await,
            Phase::AcquireOnly => self.acquire_only().await,
            Phase::Floor => self.floor().await,
        }
        self.stats
    }

    fn over(&self) -> bool {
        Instant::now() >= self.deadline
    }

    async fn lifecycle(&mut self) {
        while !self.over() {
            let fingerprint = self.client.fingerprint.clone();
            let Some(held) = self.acquire(&fingerprint).await else {
                self.back_off().await;
                continue;
            };
            if self.heartbeats(&held).await {
                self.release(held).await;
            }
        }
    }

    async fn heartbeat_only(&mut self) {
        let fingerprint = self.client.fingerprint.clone();
        let mut held = None;
        while held.is_none() && !self.over() {
            held = self.acquire(&fingerprint).await;
            if held.is_none() {
                self.back_off().await;
            }
        }
        let Some(held) = held else { return };
        if self.heartbeats(&held).await {
            self.release(held).await;
        }
    }

    async fn acquire_only(&mut self) {
        // The heartbeat interval paces acquires too, for latency at a set load rather than at
        // saturation.
        let pace = self.workload.heartbeat_interval;
        let mut next = Instant::now();
        let mut machine: u64 = 0;
        while !self.over() {
            machine += 1;
            let fingerprint = format!("{:08x}{machine:024x}", self.client.index);
            if self.acquire(&fingerprint).await.is_none() {
                self.back_off().await;
            }
            if !pace.is_zero() {
                next = (next + pace).max(Instant::now());
                sleep_until(next.min(self.deadline)).await;
            }
        }
    }

    async fn floor(&mut self) {
        while !self.over() {
            let sent = Instant::now();
            let answer = self.api.floor().await;
            self.stats
                .floor
                .record(sent.elapsed(), answer.err().as_deref());
        }
    }

    /// One acquire, timed and entered in the ledger; the seat when granted.
    async fn acquire(&mut self, fingerprint: &str) -> Option<Held> {
        let sent = Instant::now();
        let answer = self.api.acquire(&self.client, fingerprint).await;
        let error = match &answer {
            Ok(Granted::Seat { .. }) => None,
            Ok(Granted::Full) => Some(SEATS_EXHAUSTED),
            Err(code) => Some(code.as_str()),
        };
        self.stats.acquire.record(sent.elapsed(), error);
        match answer {
            Ok(Granted::Seat {
                session_id,
                lease,
                expires_at_ms,
            }) => {
                self.ledger
                    .granted(self.client.license, &session_id, expires_at_ms);
                Some(Held { session_id, lease })
            }
            _ => None,
        }
    }

    /// Heartbeats `held` at the workload's pace until its count is done or the phase ends; whether
    /// the seat is still held (`false` after `session_not_found`).
    async fn heartbeats(&mut self, held: &Held) -> bool {
        let interval = self.workload.heartbeat_interval;
        let mut next = Instant::now() + interval;
        let mut beats = 0;
        loop {
            if self
                .workload
                .heartbeats_per_session
                .is_some_and(|n| beats >= n)
            {
                return true;
            }
            if !interval.is_zero() {
                sleep_until(next.min(self.deadline)).await;
            }
            if self.over() {
                return true;
            }
            let sent = Instant::now();
            let answer = self.api.heartbeat(&self.client, &held.lease).await;
            let stats: &mut EndpointStats = &mut self.stats.heartbeat;
            match answer {
                Ok(Some(expires_at_ms)) => {
                    stats.record(sent.elapsed(), None);
                    self.ledger
                        .extended(self.client.license, &held.session_id, expires_at_ms);
                }
                Ok(None) => {
                    stats.record(sent.elapsed(), Some("session_not_found"));
                    self.ledger.gone(self.client.license, &held.session_id);
                    return false;
                }
                Err(code) => stats.record(sent.elapsed(), Some(&code)),
            }
            beats += 1;
            // A late heartbeat delays the next one rather than bunching them (as a CLI's timer).
            next = (next + interval).max(Instant::now());
        }
    }

    async fn release(&mut self, held: Held) {
        // Out of the ledger before the server can free it, or a fast re-grant elsewhere would be
        // counted next to a seat that is already free.
        self.ledger.gone(self.client.license, &held.session_id);
        let sent = Instant::now();
        let answer = self.api.release(&self.client, &held.lease).await;
        self.stats
            .release
            .record(sent.elapsed(), answer.err().as_deref());
    }

    async fn back_off(&self) {
        let (low, high) = self.workload.backoff;
        let wait = if high > low {
            rand::thread_rng().gen_range(low..high)
        } else {
            low
        };
        sleep_until((Instant::now() + wait).min(self.deadline)).await;
    }
}
