//! The seat lifecycle: [`Seat::acquire`] returns a guard that holds the machine's seat until
//! [`Seat::release`] (or drop).
//!
//! While it lives, a background task:
//! - heartbeats at the interval the service gives, a little early and jittered so a fleet started
//!   together does not beat in step;
//! - refreshes the lease (an acquire, which returns the same session) once half of its offline
//!   grace has passed, so an outage at any moment leaves at least half the grace to ride out;
//! - acquires again when the service lost the seat (`session_not_found`);
//! - rides out an unreachable service (network error, 5xx) until the last verified lease's `exp`
//!   by the trusted clock, retrying with backoff that honours `Retry-After`;
//! - obeys a refusal at once.
//!
//! What happens reaches the host program as [`SeatEvent`]s ([`Seat::events`]) and as the current
//! [`SeatStatus`] ([`Seat::status`], [`Seat::changed`]). Acquire itself retries transient failures
//! for [`SeatOptions::patience`]; if the service stays out of reach and this machine holds an
//! unexpired verified lease from an earlier run, the seat starts offline on it.
//!
//! With [`SeatOptions::wait`], acquire waits in the license's fair queue when no seat is free: it
//! long-polls the service (one request per [`MAX_WAIT_SECONDS`]), reports each place in the queue
//! to [`WaitOptions::on_queued`], and claims the seat the moment its ticket reaches one. Given up
//! (the future dropped, as on Ctrl-C) it leaves the queue at once; [`finish_leaving`] waits for
//! that before a process exits.
//!
//! Several processes of one user on one machine share the seat (the service answers them the same
//! session); only the last one to stop releases it ([`crate::state`]).

mod borrowing;
mod holding;
mod queue;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use shared::api::{
    AcquireRequest, LicenseSummary, MAX_WAIT_SECONDS, ProblemDetails, QueuedResponse,
};
use shared::leases::{LeaseClaims, fingerprint_hash};
use tokio::sync::{broadcast, oneshot, watch};
use tokio::task::JoinHandle;

use crate::backoff::Backoff;
use crate::clock::{Clock, SystemClock, TrustedTime};
use crate::grace::Grace;
use crate::home::ServerDir;
use crate::http::{AcquireAnswer, ClientError, LicenseClient};
use crate::keys::PinnedKeys;
use crate::state::{SeatState, StoredSeat};
use crate::token::IdTokens;

pub use borrowing::{Borrowed, borrow, give_back};
use holding::Holding;
use queue::QueuePlace;
pub use queue::finish_leaving;

/// How a seat is acquired and kept.
#[derive(Clone)]
pub struct SeatOptions {
    /// The service.
    pub client: LicenseClient,
    /// This deployment's files (seat file, pinned keys).
    pub files: ServerDir,
    /// Where acquire's ID token comes from.
    pub tokens: Arc<dyn IdTokens>,
    /// This machine's fingerprint.
    pub fingerprint: String,
    /// This machine's name, for the holders list.
    pub hostname: String,
    /// Sent as `client_version`.
    pub client_version: String,
    /// The clocks (injected by tests).
    pub clock: Arc<dyn Clock>,
    /// How long acquire retries a service that is out of reach before it gives up, or starts
    /// offline on a stored lease.
    pub patience: Duration,
    /// The first retry's wait.
    pub retry_base: Duration,
    /// The longest wait between retries.
    pub retry_cap: Duration,
    /// The longest release may take on shutdown.
    pub release_bound: Duration,
    /// Wait in the queue when every seat is held (`None`: a full pool is refused at once).
    pub wait: Option<WaitOptions>,
}

/// How acquire waits in the queue.
#[derive(Clone)]
pub struct WaitOptions {
    /// Give up (and leave the queue) after waiting this long; `None`: as long as it takes.
    pub timeout: Option<Duration>,
    /// Told each place in the queue the service answers (from the acquiring task).
    pub on_queued: Arc<dyn Fn(&QueuedResponse) + Send + Sync>,
}

impl WaitOptions {
    /// Waits up to `timeout`, telling `on_queued` each place.
    pub fn new(
        timeout: Option<Duration>,
        on_queued: impl Fn(&QueuedResponse) + Send + Sync + 'static,
    ) -> Self {
        Self {
            timeout,
            on_queued: Arc::new(on_queued),
        }
    }
}

impl std::fmt::Debug for SeatOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeatOptions")
            .field("server", &self.client.base_url())
            .field("fingerprint", &self.fingerprint)
            .field("hostname", &self.hostname)
            .field("patience", &self.patience)
            .finish_non_exhaustive()
    }
}

impl SeatOptions {
    /// Options for this machine (its fingerprint and hostname), the system clocks and the
    /// default bounds: 20 s of patience, retries from 1 s up to 60 s, 5 s to release.
    pub fn new(
        client: LicenseClient,
        files: ServerDir,
        tokens: Arc<dyn IdTokens>,
    ) -> Result<Self, ClientError> {
        Ok(Self {
            client,
            files,
            tokens,
            fingerprint: crate::fingerprint::fingerprint()?,
            hostname: crate::fingerprint::hostname(),
            client_version: env!("CARGO_PKG_VERSION").to_owned(),
            clock: Arc::new(SystemClock::new()),
            patience: Duration::from_secs(20),
            retry_base: Duration::from_secs(1),
            retry_cap: Duration::from_secs(60),
            release_bound: Duration::from_secs(5),
            wait: None,
        })
    }
}

/// Where the seat stands.
#[derive(Debug, Clone, PartialEq)]
pub enum SeatStatus {
    /// Held, and the service answers.
    Held {
        /// The session.
        session_id: String,
        /// When the seat frees unless a heartbeat comes first.
        seat_expires_at: DateTime<Utc>,
        /// When offline grace would end if the service became unreachable now.
        grace_ends_at: DateTime<Utc>,
    },
    /// Held on offline grace: the service cannot be reached.
    Offline {
        /// Since when.
        since: DateTime<Utc>,
        /// When grace ends and the seat is lost, unless the service answers first.
        until: DateTime<Utc>,
    },
    /// No longer held, and why: the host program should stop what needs the seat.
    Lost(LostReason),
    /// Given back.
    Released,
}

/// Something that happened to the seat.
#[derive(Debug, Clone, PartialEq)]
pub enum SeatEvent {
    /// A heartbeat kept the seat.
    Renewed {
        /// The seat's new expiry.
        seat_expires_at: DateTime<Utc>,
    },
    /// A fresh lease arrived: offline grace now lasts until then.
    LeaseRefreshed {
        /// The new lease's `exp`.
        grace_ends_at: DateTime<Utc>,
    },
    /// The service had lost the seat; a new one was acquired.
    Reacquired {
        /// The new session.
        session_id: String,
    },
    /// The service cannot be reached: the seat is kept until `until`.
    Offline {
        /// When grace ends.
        until: DateTime<Utc>,
        /// What failed, for a log line.
        reason: String,
    },
    /// The service answers again.
    Online,
    /// The seat is gone.
    Lost(LostReason),
    /// The seat was given back (or left to the other processes of this machine that share it).
    Released,
}

/// Why a seat was lost.
#[derive(Debug, Clone, PartialEq)]
pub enum LostReason {
    /// The service refused (license suspended, expired, canceled, no seat free on re-acquire…).
    Refused(Box<ProblemDetails>),
    /// The service stayed out of reach until the last lease's offline grace ended.
    GraceOver {
        /// When grace ended.
        at: DateTime<Utc>,
    },
    /// Something no retry fixes: a lease that does not verify, the sign-in gone, a file that
    /// cannot be written.
    Failed(String),
}

impl std::fmt::Display for LostReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused(problem) => f.write_str(&problem.detail),
            Self::GraceOver { at } => write!(
                f,
                "the licensing service could not be reached and the offline grace ended at {}",
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            Self::Failed(why) => f.write_str(why),
        }
    }
}

/// How a release ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseOutcome {
    /// The service freed the seat.
    Released,
    /// Other processes of this machine still hold the seat: it stays theirs.
    LeftToOthers(usize),
    /// The seat was already lost (or never reached the service); nothing to give back.
    AlreadyLost,
    /// The service could not be reached within the bound: the seat frees by its TTL.
    Unconfirmed,
    /// The seat is borrowed for offline use: it stays held until `until` (or a return).
    Borrowed {
        /// When the borrow ends.
        until: DateTime<Utc>,
    },
}

/// A held seat. Dropping it releases it in the background; [`Seat::release`] waits (bounded).
pub struct Seat {
    grant: Grant,
    status: watch::Receiver<SeatStatus>,
    events: broadcast::Sender<SeatEvent>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<ReleaseOutcome>>,
    release_bound: Duration,
}

/// What the grant said.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    /// The session.
    pub session_id: String,
    /// The license, as the grant described it (from the stored seat when starting offline).
    pub license: LicenseSummary,
    /// The verified lease's claims.
    pub claims: LeaseClaims,
    /// Whether this machine already held the seat (another process, or a retried acquire).
    pub renewed: bool,
    /// Whether the seat started on offline grace, the service out of reach.
    pub started_offline: bool,
    /// How long this machine waited in the queue for the seat, when the queue gave it.
    pub waited: Option<Duration>,
}

impl Seat {
    /// Acquires this machine's seat and starts keeping it.
    pub async fn acquire(options: SeatOptions) -> Result<Self, ClientError> {
        let state = SeatState::new(options.files.clone());
        let keys = PinnedKeys::new(options.files.clone(), options.client.clone());
        let stored = state.read()?;
        let clock = options.clock.clone();
        let mut trusted = TrustedTime::resume(stored.trusted_time, &*clock);
        let holder = state.join()?;
        let mut backoff = Backoff::new(options.retry_base, options.retry_cap);
        let started = clock.monotonic();
        // A borrowed seat is for working offline: with the service out of reach, run on its
        // lease at once rather than after the patience.
        let borrowed = stored
            .seat
            .as_ref()
            .is_some_and(|seat| seat.borrowed_at(trusted.now(&*clock)));
        // Patience counts from the last answer: a machine waiting in the queue for an hour still
        // gets the whole patience when the service then stops answering.
        let mut started = started;
        let queued_since = clock.monotonic();
        let mut place = QueuePlace::new(&options);
        let first = loop {
            let wait_seconds = match (&options.wait, place.ticket.is_some()) {
                (None, _) => None,
                // The first ask joins and answers at once: from then on the ticket is known,
                // so giving up (Ctrl-C) can leave the queue even in the middle of a long poll.
                (Some(_), false) => Some(0),
                (Some(wait), true) => {
                    let left = wait.timeout.map(|timeout| {
                        timeout.saturating_sub(clock.monotonic().saturating_sub(queued_since))
                    });
                    Some(left.map_or(MAX_WAIT_SECONDS, |left| {
                        left.as_secs().min(MAX_WAIT_SECONDS)
                    }))
                }
            };
            let asked = clock.monotonic();
            match ask(&options, &keys, &mut trusted, None, wait_seconds).await {
                Ok(Answer::Granted(first)) => {
                    place.claimed();
                    break *first;
                }
                Ok(Answer::Queued(queued)) => {
                    started = clock.monotonic();
                    backoff = Backoff::new(options.retry_base, options.retry_cap);
                    place.ticket = Some(queued.ticket.clone());
                    if let Some(wait) = &options.wait {
                        (wait.on_queued)(&queued);
                        if wait.timeout.is_some_and(|timeout| {
                            clock.monotonic().saturating_sub(queued_since) >= timeout
                        }) {
                            place.leave_now().await;
                            return Err(ClientError::WaitedOut {
                                waited: clock.monotonic().saturating_sub(queued_since),
                                last: queued,
                            });
                        }
                    }
                    // The service holds each poll up to `wait_seconds`; one that came back at
                    // once (a short timeout left) is not repeated in a tight loop.
                    if wait_seconds.is_some_and(|s| s > 0)
                        && clock.monotonic().saturating_sub(asked) < Duration::from_secs(1)
                    {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    continue;
                }
                Err(error) if error.is_transient() => {
                    let waited = clock.monotonic().saturating_sub(started);
                    let wait = backoff.next_delay(error.retry_after());
                    if !(borrowed && error.allows_offline_grace())
                        && waited + wait <= options.patience
                    {
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    if error.allows_offline_grace()
                        && let Some(offline) =
                            stored_lease(&options, &keys, &trusted, stored.seat.as_ref()).await
                    {
                        break offline;
                    }
                    return Err(error);
                }
                Err(error) => return Err(error),
            }
        };
        let (holding, status) =
            Holding::start(options.clone(), keys, state, holder, trusted, &first);
        let events = holding.events();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(holding.run(stopped));
        Ok(Self {
            grant: first.grant,
            status,
            events,
            stop: Some(stop),
            task: Some(task),
            release_bound: options.release_bound,
        })
    }

    /// What the grant said.
    pub fn grant(&self) -> &Grant {
        &self.grant
    }

    /// Where the seat stands now.
    pub fn status(&self) -> SeatStatus {
        self.status.borrow().clone()
    }

    /// Waits until the status changes; `None` once the seat's task has ended.
    pub async fn changed(&mut self) -> Option<SeatStatus> {
        self.status.changed().await.ok()?;
        Some(self.status.borrow_and_update().clone())
    }

    /// Everything that happens from now on.
    pub fn events(&self) -> broadcast::Receiver<SeatEvent> {
        self.events.subscribe()
    }

    /// Gives the seat back, waiting at most [`SeatOptions::release_bound`] for the service.
    pub async fn release(mut self) -> ReleaseOutcome {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(task) = self.task.take() else {
            return ReleaseOutcome::AlreadyLost;
        };
        // The task bounds the release call itself; this bound covers a task stuck elsewhere.
        match tokio::time::timeout(self.release_bound + Duration::from_secs(1), task).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) | Err(_) => ReleaseOutcome::Unconfirmed,
        }
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        // The task releases on its own (if the runtime still runs); nobody waits for it.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A lease just obtained (or resumed), verified.
struct First {
    grant: Grant,
    lease: String,
    interval: Duration,
    seat_expires_at: DateTime<Utc>,
    grace: Grace,
}

/// What one acquire answered.
enum Answer {
    Granted(Box<First>),
    Queued(Box<QueuedResponse>),
}

/// One acquire: a token, the call, the lease verified against the pinned keys and checked to be
/// this session's and this machine's. Never queued.
async fn grant(
    options: &SeatOptions,
    keys: &PinnedKeys,
    trusted: &mut TrustedTime,
    borrow: Option<Duration>,
) -> Result<First, ClientError> {
    match ask(options, keys, trusted, borrow, None).await? {
        Answer::Granted(first) => Ok(*first),
        Answer::Queued(_) => Err(ClientError::Protocol(
            "the service queued an acquire that did not ask to wait".into(),
        )),
    }
}

/// One acquire that may wait in the queue up to `wait_seconds`.
async fn ask(
    options: &SeatOptions,
    keys: &PinnedKeys,
    trusted: &mut TrustedTime,
    borrow: Option<Duration>,
    wait_seconds: Option<u64>,
) -> Result<Answer, ClientError> {
    let token = options.tokens.id_token().await?;
    let request = AcquireRequest {
        fingerprint: options.fingerprint.clone(),
        hostname: options.hostname.clone(),
        client_version: Some(options.client_version.clone()),
        borrow_seconds: borrow.map(|period| period.as_secs().max(1)),
        wait_seconds,
    };
    let answer = match options.client.acquire_or_wait(&token, &request).await? {
        AcquireAnswer::Granted(answer) => answer,
        AcquireAnswer::Queued(queued) => return Ok(Answer::Queued(queued)),
    };
    let claims = checked_claims(options, keys, &answer.lease, Some(&answer.session_id)).await?;
    if let Some(date) = options.client.last_server_date() {
        trusted.observe(date, &*options.clock);
    }
    trusted.observe(unix(claims.iat), &*options.clock);
    let grace_ends_at = unix(claims.exp);
    let answer = *answer;
    Ok(Answer::Granted(Box::new(First {
        grant: Grant {
            session_id: answer.session_id,
            license: answer.license,
            claims,
            renewed: answer.renewed,
            started_offline: false,
            waited: answer.waited_seconds.map(Duration::from_secs),
        },
        lease: answer.lease,
        interval: Duration::from_secs(answer.heartbeat_interval_seconds.max(1)),
        seat_expires_at: answer.expires_at,
        grace: Grace::online(grace_ends_at),
    })))
}

/// The claims of `lease` once it verifies and belongs to this machine (and `session_id`).
async fn checked_claims(
    options: &SeatOptions,
    keys: &PinnedKeys,
    lease: &str,
    session_id: Option<&str>,
) -> Result<LeaseClaims, ClientError> {
    let claims = keys.verify(lease).await?;
    if claims.fph != fingerprint_hash(&options.fingerprint.to_ascii_lowercase()) {
        return Err(ClientError::Protocol(
            "the lease was issued for another machine".into(),
        ));
    }
    if session_id.is_some_and(|sid| sid != claims.sid) {
        return Err(ClientError::Protocol(
            "the lease names another session than the grant".into(),
        ));
    }
    Ok(claims)
}

/// The seat of an earlier run, when its lease verifies, is this machine's and is within grace.
async fn stored_lease(
    options: &SeatOptions,
    keys: &PinnedKeys,
    trusted: &TrustedTime,
    stored: Option<&StoredSeat>,
) -> Option<First> {
    let stored = stored?;
    if stored.fingerprint != options.fingerprint {
        return None;
    }
    let claims = checked_claims(options, keys, &stored.lease, Some(&stored.session_id))
        .await
        .ok()?;
    let now = trusted.now(&*options.clock);
    let grace_ends_at = unix(claims.exp);
    if now >= grace_ends_at {
        return None;
    }
    Some(First {
        grant: Grant {
            session_id: stored.session_id.clone(),
            license: stored.license.clone(),
            claims: claims.clone(),
            renewed: true,
            started_offline: true,
            waited: None,
        },
        lease: stored.lease.clone(),
        interval: Duration::from_secs(claims.hbi.max(1)),
        seat_expires_at: stored.seat_expires_at,
        grace: Grace::offline(grace_ends_at, stored.offline_since.unwrap_or(now)),
    })
}

/// Seconds since the epoch as a time (the epoch itself for a value out of range).
fn unix(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0).single().unwrap_or_default()
}
