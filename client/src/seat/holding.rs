//! The background task of a held seat: heartbeat, lease refresh, re-acquire, offline grace,
//! release. The rules for a failed call are [`crate::grace`]'s.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use shared::api::LicenseSummary;
use tokio::sync::{broadcast, oneshot, watch};

use super::{First, LostReason, ReleaseOutcome, SeatEvent, SeatOptions, SeatStatus, grant, unix};
use crate::backoff::Backoff;
use crate::clock::TrustedTime;
use crate::grace::{Change, Grace, Next, next_after};
use crate::http::ClientError;
use crate::keys::PinnedKeys;
use crate::state::{Holder, SeatState, StoredSeat};

/// Everything the task keeps.
pub(super) struct Holding {
    options: SeatOptions,
    keys: PinnedKeys,
    state: SeatState,
    /// This process's claim on the machine's seat.
    holder: Holder,
    trusted: TrustedTime,
    session_id: String,
    lease: String,
    /// The current lease's grant (see [`StoredSeat::grant`]).
    grant: u64,
    /// When the current lease was issued (its `iat`): refresh once half its grace has passed.
    lease_issued_at: DateTime<Utc>,
    /// When the seat's borrow ends, if the current lease says it is borrowed (its `bor`).
    borrowed_until: Option<DateTime<Utc>>,
    interval: Duration,
    seat_expires_at: DateTime<Utc>,
    grace: Grace,
    /// The license, as the latest grant described it.
    license: LicenseSummary,
    /// When this process acquired the seat.
    acquired_at: DateTime<Utc>,
    backoff: Backoff,
    /// The last answer's `Retry-After`.
    retry_after: Option<Duration>,
    status: watch::Sender<SeatStatus>,
    events: broadcast::Sender<SeatEvent>,
}

/// Whether the task goes on.
enum Flow {
    Continue,
    Lost(LostReason),
}

impl Holding {
    /// The task's state after `first`, and the status receiver for the guard.
    pub(super) fn start(
        options: SeatOptions,
        keys: PinnedKeys,
        state: SeatState,
        holder: Holder,
        trusted: TrustedTime,
        first: &First,
    ) -> (Self, watch::Receiver<SeatStatus>) {
        let backoff = Backoff::new(options.retry_base, options.retry_cap);
        let trusted_now = trusted.now(&*options.clock);
        let (status, receiver) = watch::channel(SeatStatus::Released);
        let (events, _) = broadcast::channel(64);
        let holding = Self {
            options,
            keys,
            state,
            holder,
            trusted,
            session_id: first.grant.session_id.clone(),
            lease: first.lease.clone(),
            grant: first.grant.claims.grant,
            lease_issued_at: unix(first.grant.claims.iat),
            borrowed_until: first.grant.claims.bor.map(unix),
            interval: first.interval,
            seat_expires_at: first.seat_expires_at,
            grace: first.grace,
            license: first.grant.license.clone(),
            acquired_at: trusted_now,
            backoff,
            retry_after: None,
            status,
            events,
        };
        holding.publish_status();
        let _ = holding.save();
        (holding, receiver)
    }

    /// A sender the guard subscribes to.
    pub(super) fn events(&self) -> broadcast::Sender<SeatEvent> {
        self.events.clone()
    }

    /// Keeps the seat until told to stop (then releases) or until it is lost.
    pub(super) async fn run(mut self, mut stop: oneshot::Receiver<()>) -> ReleaseOutcome {
        loop {
            let wait = self.next_wait();
            tokio::select! {
                _ = &mut stop => return self.release().await,
                () = tokio::time::sleep(wait) => {}
            }
            let flow = if self.grace.expired(self.now()) {
                Flow::Lost(LostReason::GraceOver {
                    at: self.grace.ends_at(),
                })
            } else if self.lease_half_spent() {
                self.refresh().await
            } else {
                self.heartbeat().await
            };
            if let Flow::Lost(reason) = flow {
                return self.lose(reason).await;
            }
        }
    }

    /// The trusted now.
    fn now(&self) -> DateTime<Utc> {
        self.trusted.now(&*self.options.clock)
    }

    /// Until the next call: a jittered heartbeat interval online (never later than halfway to
    /// the seat's expiry), the backoff offline or when asked to slow down (never past the end of
    /// grace, so its end is noticed on time).
    fn next_wait(&mut self) -> Duration {
        let now = self.now();
        let retrying = self.grace.offline_since().is_some() || self.retry_after.is_some();
        if retrying {
            let wait = self.backoff.next_delay(self.retry_after.take());
            let to_end = (self.grace.ends_at() - now).to_std().unwrap_or_default();
            return wait.min(to_end + Duration::from_millis(50));
        }
        let jitter = rand::thread_rng().gen_range(0.85..=1.0);
        let beat = self.interval.mul_f64(jitter);
        let half_to_expiry = (self.seat_expires_at - now).to_std().unwrap_or_default() / 2;
        let to_refresh = (self.refresh_at() - now).to_std().unwrap_or_default();
        beat.min(half_to_expiry.max(Duration::from_millis(200)))
            .min(to_refresh.max(Duration::from_millis(200)))
    }

    /// When the lease has spent half of its offline grace.
    fn refresh_at(&self) -> DateTime<Utc> {
        self.lease_issued_at + (self.grace.ends_at() - self.lease_issued_at) / 2
    }

    fn lease_half_spent(&self) -> bool {
        self.now() >= self.refresh_at()
    }

    async fn heartbeat(&mut self) -> Flow {
        match self.options.client.heartbeat(&self.lease).await {
            Ok(answer) => {
                self.observe_server_date();
                self.seat_expires_at = answer.expires_at;
                self.reached(None);
                self.emit(SeatEvent::Renewed {
                    seat_expires_at: answer.expires_at,
                });
                Flow::Continue
            }
            Err(error) => self.failed(error).await,
        }
    }

    /// A fresh lease through acquire (the same session comes back), or a new seat when the
    /// service lost the old one.
    async fn refresh(&mut self) -> Flow {
        match grant(&self.options, &self.keys, &mut self.trusted, None).await {
            Ok(first) => {
                let reacquired = first.grant.session_id != self.session_id;
                self.session_id.clone_from(&first.grant.session_id);
                self.lease = first.lease;
                self.grant = first.grant.claims.grant;
                self.lease_issued_at = unix(first.grant.claims.iat);
                self.borrowed_until = first.grant.claims.bor.map(unix);
                self.interval = first.interval;
                self.seat_expires_at = first.seat_expires_at;
                self.license = first.grant.license;
                self.reached(Some(first.grace.ends_at()));
                if reacquired {
                    self.emit(SeatEvent::Reacquired {
                        session_id: self.session_id.clone(),
                    });
                }
                self.emit(SeatEvent::LeaseRefreshed {
                    grace_ends_at: self.grace.ends_at(),
                });
                Flow::Continue
            }
            // Acquire's own refusals all mean "no seat for you": an ID token refused included.
            Err(error) => match next_after(&error) {
                Next::Reacquire => Flow::Lost(lost_by(error)),
                _ => self.failed(error).await,
            },
        }
    }

    /// Applies the rule for a failed call.
    async fn failed(&mut self, error: ClientError) -> Flow {
        self.observe_server_date();
        match next_after(&error) {
            Next::Lose => Flow::Lost(lost_by(error)),
            Next::Reacquire => Box::pin(self.refresh()).await,
            Next::SlowDown => {
                self.retry_after = Some(error.retry_after().unwrap_or(self.options.retry_base));
                Flow::Continue
            }
            Next::RideOut => {
                self.retry_after = error.retry_after();
                match self.grace.unreachable(self.now()) {
                    Change::Over { at } => Flow::Lost(LostReason::GraceOver { at }),
                    Change::WentOffline { until } => {
                        self.publish_status();
                        let _ = self.save();
                        self.emit(SeatEvent::Offline {
                            until,
                            reason: error.to_string(),
                        });
                        Flow::Continue
                    }
                    Change::Same | Change::BackOnline => Flow::Continue,
                }
            }
        }
    }

    /// A call succeeded.
    fn reached(&mut self, lease_ends_at: Option<DateTime<Utc>>) {
        self.backoff.reset();
        self.retry_after = None;
        let change = self.grace.reached(lease_ends_at);
        self.publish_status();
        let _ = self.save();
        if change == Change::BackOnline {
            self.emit(SeatEvent::Online);
        }
    }

    async fn lose(self, reason: LostReason) -> ReleaseOutcome {
        // A refused seat may still be held on the service (a suspended license): give it back
        // so it does not wait out its TTL. Grace over means the service is out of reach anyway.
        if matches!(reason, LostReason::Refused(_)) {
            let _ = tokio::time::timeout(
                self.options.release_bound,
                self.options.client.release(&self.lease),
            )
            .await;
        }
        let _ = self.forget_seat();
        let _ = self.status.send(SeatStatus::Lost(reason.clone()));
        self.emit(SeatEvent::Lost(reason));
        drop(self.holder);
        ReleaseOutcome::AlreadyLost
    }

    async fn release(self) -> ReleaseOutcome {
        let others = self.state.other_holders(Some(&self.holder)).unwrap_or(0);
        // A borrowed seat stays held when its programs exit (the service would keep it anyway):
        // the seat file keeps its lease, which the next program runs on, offline if need be.
        let borrowed = self
            .state
            .read()
            .ok()
            .and_then(|file| file.seat)
            .filter(|seat| seat.session_id == self.session_id)
            .and_then(|seat| seat.borrowed_until)
            .or(self.borrowed_until)
            .filter(|&until| until > self.now());
        let outcome = if let Some(until) = borrowed {
            ReleaseOutcome::Borrowed { until }
        } else if others > 0 {
            ReleaseOutcome::LeftToOthers(others)
        } else {
            // Another process of this machine may have re-acquired since this one did (and left
            // first): its lease is the session's latest grant, which alone releases the seat.
            let latest = self
                .state
                .read()
                .ok()
                .and_then(|file| file.seat)
                .filter(|seat| seat.session_id == self.session_id && seat.grant > self.grant);
            let lease = latest.map_or_else(|| self.lease.clone(), |seat| seat.lease);
            let call = self.options.client.release(&lease);
            match tokio::time::timeout(self.options.release_bound, call).await {
                Ok(Ok(())) => {
                    let _ = self.forget_seat();
                    ReleaseOutcome::Released
                }
                Ok(Err(_)) | Err(_) => ReleaseOutcome::Unconfirmed,
            }
        };
        let _ = self.status.send(SeatStatus::Released);
        self.emit(SeatEvent::Released);
        drop(self.holder);
        outcome
    }

    fn observe_server_date(&mut self) {
        if let Some(date) = self.options.client.last_server_date() {
            self.trusted.observe(date, &*self.options.clock);
        }
    }

    fn publish_status(&self) {
        let status = match self.grace.offline_since() {
            Some(since) => SeatStatus::Offline {
                since,
                until: self.grace.ends_at(),
            },
            None => SeatStatus::Held {
                session_id: self.session_id.clone(),
                seat_expires_at: self.seat_expires_at,
                grace_ends_at: self.grace.ends_at(),
            },
        };
        let _ = self.status.send(status);
    }

    fn emit(&self, event: SeatEvent) {
        let _ = self.events.send(event);
    }

    /// Writes the trusted time and this seat into the seat file (keeping when the machine first
    /// acquired it, if another holder wrote it first).
    fn save(&self) -> Result<(), ClientError> {
        let trusted = self.trusted.trusted_now(&*self.options.clock);
        let mine = StoredSeat {
            session_id: self.session_id.clone(),
            lease: self.lease.clone(),
            grant: self.grant,
            fingerprint: self.options.fingerprint.clone(),
            grace_ends_at: self.grace.ends_at(),
            seat_expires_at: self.seat_expires_at,
            license: self.license.clone(),
            acquired_at: self.acquired_at,
            offline_since: self.grace.offline_since(),
            borrowed_until: self.borrowed_until,
        };
        self.state.update(|file| {
            if trusted > file.trusted_time {
                file.trusted_time = trusted;
            }
            file.seat = Some(match file.seat.take() {
                // The same seat: keep when the machine first acquired it, and a later grant's
                // lease (another holder's) over this holder's older one.
                Some(seat) if seat.session_id == mine.session_id && seat.grant > mine.grant => {
                    StoredSeat {
                        lease: seat.lease,
                        grant: seat.grant,
                        grace_ends_at: seat.grace_ends_at,
                        acquired_at: seat.acquired_at,
                        borrowed_until: seat.borrowed_until,
                        ..mine
                    }
                }
                Some(seat) if seat.session_id == mine.session_id => StoredSeat {
                    acquired_at: seat.acquired_at,
                    ..mine
                },
                _ => mine,
            });
        })
    }

    /// Removes this seat from the seat file (keeping the trusted time).
    fn forget_seat(&self) -> Result<(), ClientError> {
        let trusted = self.trusted.trusted_now(&*self.options.clock);
        let session = self.session_id.clone();
        self.state.update(|file| {
            if trusted > file.trusted_time {
                file.trusted_time = trusted;
            }
            if file.seat.as_ref().is_some_and(|s| s.session_id == session) {
                file.seat = None;
            }
        })
    }
}

fn lost_by(error: ClientError) -> LostReason {
    match error {
        ClientError::Refused {
            problem: Some(problem),
            ..
        } => LostReason::Refused(problem),
        other => LostReason::Failed(other.to_string()),
    }
}
