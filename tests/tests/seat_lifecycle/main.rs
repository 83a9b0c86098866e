//! The SDK's seat lifecycle (`coditect_license::Seat`) against the local server over real HTTP,
//! on the embedded default and on PostgreSQL + Redis: background heartbeats, re-acquire after the
//! service lost the seat, offline grace when it cannot be reached (and its end), refusals obeyed
//! at once, a clock set back extending nothing, and one seat shared by the programs of a machine.
//!
//! Layout: this file holds the helpers (`Machine`, `owner_on`, `next_event`); then one module per
//! concern: `keeping` (heartbeat, re-acquire, release, sharing), `offline` (grace, its end, the
//! service coming back, starting offline), `refusals` (a denial, a suspension), `clock` (a clock set
//! back during and between runs), `keys` (pinned lease keys).
//!
//! Run: `REDIS_URL=redis://127.0.0.1:6379 DATABASE_URL=postgres://postgres@127.0.0.1:5432/test
//! cargo nextest run -p integration-tests --test seat_lifecycle`

use std::sync::Arc;
use std::time::Duration;

use coditect_license::clock::Clock;
use coditect_license::seat::{Seat, SeatEvent, SeatOptions};
use coditect_license::{FixedIdToken, Home, LicenseClient};
use integration_tests::api::register;
use integration_tests::server::{Backends, TempDir, TestServer};
use integration_tests::tokens::Person;
use reqwest::StatusCode;
use shared::api::RegisterResponse;
use shared::domain::{LicenseStatus, Tier};
use shared::store::LicensePlan;
use tokio::sync::broadcast;
use uuid::Uuid;

mod clock;
mod keeping;
mod keys;
mod offline;
mod refusals;

/// Seats that beat every second and a lease whose grace is six seconds, so that every phase of
/// the lifecycle shows within a test; no license cache, so plan changes show at once.
const FAST: &[(&str, &str)] = &[
    ("SEAT_TTL_SECONDS", "4"),
    ("HEARTBEAT_INTERVAL_SECONDS", "1"),
    ("OFFLINE_GRACE_SECONDS", "6"),
    ("LICENSE_CACHE_SECONDS", "0"),
    // A six-second grace refreshes the lease every three seconds, twenty acquires a minute: far
    // above the per-machine limit a real grace (an hour) never comes near.
    ("ACQUIRE_RATE_PER_MACHINE", "0"),
];

/// The longest any expected event may take: several heartbeat intervals and a whole grace, with
/// a margin for a busy two-core machine.
const EVENT_BOUND: Duration = Duration::from_secs(20);

/// A machine of a person: its client home and fingerprint.
struct Machine {
    /// Shared by the programs of one machine; removed with the last.
    home: Arc<TempDir>,
    fingerprint: String,
    person: Person,
}

impl Machine {
    /// Machine `n` of `person`.
    fn of(person: &Person, n: u32) -> Self {
        Self {
            home: Arc::new(TempDir::new()),
            fingerprint: integration_tests::api::machine(n),
            person: person.clone(),
        }
    }

    /// Another program on this same machine (same home, same fingerprint).
    fn same(&self) -> Self {
        Self {
            home: self.home.clone(),
            fingerprint: self.fingerprint.clone(),
            person: self.person.clone(),
        }
    }

    /// Seat options for the server at `url`, with short retry bounds.
    fn options(&self, url: &str) -> SeatOptions {
        let client = LicenseClient::new(url).expect("client");
        let files = Home::at(&self.home.0).server(url);
        let tokens = Arc::new(FixedIdToken(self.person.token()));
        let mut options = SeatOptions::new(client, files, tokens).expect("options");
        options.fingerprint.clone_from(&self.fingerprint);
        options.hostname = format!("machine-{}", &self.fingerprint[..4]);
        options.patience = Duration::from_secs(2);
        options.retry_base = Duration::from_millis(100);
        options.retry_cap = Duration::from_millis(500);
        options.release_bound = Duration::from_secs(3);
        options
    }

    /// Seat options with the clocks `clock`.
    fn options_with_clock(&self, url: &str, clock: Arc<dyn Clock>) -> SeatOptions {
        let mut options = self.options(url);
        options.clock = clock;
        options
    }

    /// Acquires a seat on the server at `url`.
    async fn acquire(&self, url: &str) -> Seat {
        Seat::acquire(self.options(url))
            .await
            .expect("a seat is granted")
    }
}

/// An owner registered on a fresh server with `vars` on top of [`FAST`], and their tenant.
async fn owner_on(backends: Backends, vars: &[(&str, &str)]) -> Option<(TestServer, Person, Uuid)> {
    let mut all: Vec<(&str, &str)> = FAST.to_vec();
    all.extend_from_slice(vars);
    let server = TestServer::start(backends, &all).await?;
    let owner = Person::at("acme.test");
    let registered = register(&server.url, &owner).await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.text
    );
    let tenant = registered.json::<RegisterResponse>().tenant.id;
    Some((server, owner, tenant))
}

/// Sets the license of `tenant` to `max_seats` seats with `status`.
async fn set_plan(server: &TestServer, tenant: Uuid, max_seats: i32, status: LicenseStatus) {
    let plan = LicensePlan {
        tier: Tier::Team,
        max_seats,
        features: vec!["cloud-sync".into()],
        status,
        expires_at: None,
    };
    server
        .local
        .store
        .update_license(tenant, &plan, chrono::Utc::now())
        .await
        .expect("plan updates");
}

/// The live sessions of `license` on the server's seat store.
async fn held(server: &TestServer, license: Uuid) -> Vec<String> {
    server
        .local
        .seats
        .holders(license)
        .await
        .expect("holders read")
        .into_iter()
        .map(|h| h.session_id)
        .collect()
}

/// The first event matching `wanted` within [`EVENT_BOUND`].
async fn next_event(
    events: &mut broadcast::Receiver<SeatEvent>,
    what: &str,
    wanted: impl Fn(&SeatEvent) -> bool,
) -> SeatEvent {
    let waited = tokio::time::timeout(EVENT_BOUND, async {
        loop {
            match events.recv().await {
                Ok(event) if wanted(&event) => return event,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("events ended before {what}"),
            }
        }
    })
    .await;
    waited.unwrap_or_else(|_| panic!("no {what} within {EVENT_BOUND:?}"))
}
