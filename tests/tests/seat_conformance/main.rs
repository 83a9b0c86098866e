//! The seat store conformance suite: one set of specifications, run against `EmbeddedSeats`,
//! `RedisSeats` on one Redis and `RedisSeats` on a Redis Cluster, so the embedded default and
//! production (either topology) can never drift apart.
//!
//! Each body is written once as `async fn name(seats: Arc<dyn SeatStore>)`; `conformance!` turns it
//! into `<concern>::embedded::name`, `<concern>::redis::name` and `<concern>::cluster::name`. The
//! Redis tests run under a fresh key prefix and delete it afterwards (also when they fail); without
//! `REDIS_URL` they are skipped, never in CI. The cluster tests share one local three-master
//! cluster this binary starts on free ports (`integration_tests::redis_cluster`); without
//! `redis-server` they are skipped, never in CI. `redis_specific` covers what only Redis can do
//! wrong: an unreachable server, a flushed script cache; `cluster_specific` what only a cluster
//! can: keys spread over the masters, a cluster that goes down.
//!
//! Times are compared in ms on the wall clock: the embedded store reads it, and the Redis under
//! test runs on the same host, so its `TIME` is the same clock; `SKEW_MS` absorbs rounding.
//!
//! Layout: this file holds the macro and the helpers every concern uses; then one module per
//! concern: `contention` (the cap under hundreds of racing machines), `reacquire` (one seat per
//! machine), `expiry` (TTL and heartbeats), `release`, `full_pool` (a lowered cap, full answers),
//! `events_cleanup` (the event log and the cleanup job's audit), `storms` (more events than any
//! trim would keep, and a denial storm counted exactly), `limits` (rate limits on acquire and
//! release), `redis_specific` and `cluster_specific`.
//!
//! Run: `REDIS_URL=redis://127.0.0.1:6379 cargo test -p integration-tests --test seat_conformance`
//! (one cluster for the whole binary; `cargo nextest`, one process per test, starts one per
//! cluster test instead, ~1 s each); only the cluster: `… --test seat_conformance cluster`.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use shared::seats::{Acquired, RedisSeats, SeatRequest, SeatStore, SessionData, new_session_id};
use uuid::Uuid;

/// Generates `embedded::<body>` and `redis::<body>` tests, in the calling module, from bodies
/// written once there.
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
                #[cfg_attr(not(real_redis), ignore = "REDIS_URL is not set")]
                async fn $body() {
                    let Some(seats) = integration_tests::backends::redis_seats() else {
                        return;
                    };
                    crate::on_redis(seats, super::$body).await;
                }
            )+
        }

        mod cluster {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                #[cfg_attr(not(redis_tools), ignore = "redis-server is not installed")]
                async fn $body() {
                    let Some(seats) = integration_tests::redis_cluster::cluster_seats() else {
                        return;
                    };
                    crate::on_redis(seats, super::$body).await;
                }
            )+
        }
    };
}

mod cluster_specific;
mod contention;
mod events_cleanup;
mod expiry;
mod full_pool;
mod limits;
mod policies;
mod queue;
mod reacquire;
mod redis_specific;
mod release;
mod storms;

/// The seat lifetime of most tests: short enough to watch sessions expire, and an order of
/// magnitude above a scheduler stall on a loaded 2-core machine (this binary also runs 600-task
/// bursts), so a seat that must still be live a few calls later is.
const TTL: Duration = Duration::from_secs(2);

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
        limits: Default::default(),
        per_user: None,
        borrow: None,
        wait: None,
        ticket: None,
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
    grant: u64,
    borrowed_until_ms: Option<i64>,
}

#[track_caller]
fn granted(answer: Acquired) -> Seat {
    match answer {
        Acquired::Granted {
            session_id,
            expires_at_ms,
            in_use,
            renewed,
            grant,
            borrowed_until_ms,
            ..
        } => Seat {
            id: session_id,
            expires_at_ms,
            in_use,
            renewed,
            grant,
            borrowed_until_ms,
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

/// Moves pending denial counts into the log, then forgets every event in it, as cleanup would
/// after writing them.
async fn drain(seats: &dyn SeatStore, license: Uuid) {
    seats
        .flush_denials(license)
        .await
        .expect("flush_denials answers");
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
