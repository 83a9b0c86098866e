//! Storms: more seat changes than the old `MAXLEN ~ 100000` trim kept, all still in the log; and a
//! denial storm (one seat held, fifty machines of the tenant retrying thousands of times each)
//! audited with every denial counted, while cleanup is down and while it races the storm.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use shared::domain::AuditEvent;
use shared::seats::{SeatEventKind, SeatStore, SessionData, cleanup};
use shared::store::{SqliteStore, Store};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::events_cleanup::{Audited, audited_tenant};
use crate::{LONG, acquire, full_count, granted, machine_of, release, stranger};

conformance! {
    more_seat_changes_than_any_trim_kept_all_stay_in_the_log,
    a_denial_storm_is_audited_with_every_denial_counted,
}

/// More than the 100 000 events the stream used to keep.
const CHANGERS: usize = 32;
const CYCLES: usize = 1_600;

/// The storm: fifty machines retrying a full pool; the first phase alone passes 100 000.
const MACHINES: usize = 50;
const RETRIES_WHILE_CLEANUP_IS_DOWN: usize = 2_100;
const RETRIES_WHILE_CLEANUP_RUNS: usize = 200;

async fn more_seat_changes_than_any_trim_kept_all_stay_in_the_log(seats: Arc<dyn SeatStore>) {
    // Arrange: 32 machines, each taking and giving back a seat 1 600 times (102 400 events), and
    // nobody draining the log meanwhile.
    let license = Uuid::new_v4();

    // Act
    let mut changers = JoinSet::new();
    for _ in 0..CHANGERS {
        let seats = seats.clone();
        changers.spawn(async move {
            let machine = stranger();
            let mut sessions = Vec::with_capacity(CYCLES);
            for _ in 0..CYCLES {
                let seat =
                    granted(acquire(&*seats, license, CHANGERS as u32, LONG, &machine).await);
                assert!(release(&*seats, license, &seat.id).await);
                sessions.push(seat.id);
            }
            sessions
        });
    }
    let mut granted_sessions = HashSet::new();
    while let Some(sessions) = changers.join_next().await {
        granted_sessions.extend(sessions.expect("a changer finishes"));
    }

    // Assert: every grant and every release is in the log, once.
    let mut acquired = HashSet::new();
    let mut released = HashSet::new();
    for event in drain_all(&*seats, license).await {
        let seen = match event.kind {
            SeatEventKind::Acquired => &mut acquired,
            SeatEventKind::Released => &mut released,
            other => panic!("unexpected {other:?} event"),
        };
        assert!(seen.insert(event.session_id), "an event logged twice");
    }
    assert_eq!(granted_sessions.len(), CHANGERS * CYCLES);
    let missing = |logged: &HashSet<String>| granted_sessions.difference(logged).count();
    assert_eq!(missing(&acquired), 0, "grants missing from the log");
    assert_eq!(missing(&released), 0, "releases missing from the log");
    assert_eq!(
        (acquired.len(), released.len()),
        (CHANGERS * CYCLES, CHANGERS * CYCLES)
    );
}

async fn a_denial_storm_is_audited_with_every_denial_counted(seats: Arc<dyn SeatStore>) {
    // Arrange: the tenant's one seat held; fifty other machines of the tenant.
    let Audited {
        store,
        tenant,
        user,
        license,
    } = audited_tenant().await;
    granted(acquire(&*seats, license, 1, LONG, &machine_of(tenant, user)).await);
    let machines: Arc<Vec<SessionData>> =
        Arc::new((0..MACHINES).map(|_| machine_of(tenant, user)).collect());

    // Act 1: 105 000 denials while cleanup is down.
    storm(&seats, license, &machines, RETRIES_WHILE_CLEANUP_IS_DOWN).await;
    let logged_during_outage = seats.events(license, 10).await.expect("events").len();
    let pending = seats.flush_denials(license).await.expect("flush answers");

    // Act 2: 10 000 more while cleanup runs back to back beside them, then a last run.
    let storming = Arc::new(AtomicBool::new(true));
    let racing = {
        let (seats, store, storming) = (seats.clone(), store.clone(), storming.clone());
        tokio::spawn(async move {
            let mut runs = 0;
            while storming.load(Ordering::Relaxed) {
                cleanup::run(&*seats, &store).await.expect("cleanup runs");
                runs += 1;
                tokio::task::yield_now().await;
            }
            runs
        })
    };
    storm(&seats, license, &machines, RETRIES_WHILE_CLEANUP_RUNS).await;
    storming.store(false, Ordering::Relaxed);
    let racing_runs: usize = racing.await.expect("the racing cleanup finishes");
    cleanup::run(&*seats, &store).await.expect("cleanup runs");

    // Assert: the outage left one pending count per machine and nothing else in the log.
    assert_eq!(logged_during_outage, 1, "only the grant is logged");
    assert_eq!(pending, MACHINES as u64, "one pending count per machine");
    // Every denial of every machine is counted, in few rows.
    let denied = denial_rows(&store, tenant).await;
    let mut per_machine: HashMap<String, u64> = HashMap::new();
    for row in &denied {
        let count = row.detail.0["count"]
            .as_u64()
            .expect("a denial row has a count");
        assert!(count >= 1);
        let fingerprint = row.detail.0["fingerprint"].as_str().expect("a fingerprint");
        *per_machine.entry(fingerprint.to_owned()).or_default() += count;
        let last = row.detail.0["last_at"].as_str().expect("a last_at");
        let last = chrono::DateTime::parse_from_rfc3339(last).expect("last_at is a time");
        assert!(
            last >= row.occurred_at,
            "the last denial is not before the first"
        );
        assert_eq!(row.detail.0["reason"], "seats_exhausted");
    }
    let expected = (RETRIES_WHILE_CLEANUP_IS_DOWN + RETRIES_WHILE_CLEANUP_RUNS) as u64;
    assert_eq!(per_machine.len(), MACHINES);
    for machine in machines.iter() {
        assert_eq!(per_machine.get(&machine.fingerprint), Some(&expected));
    }
    let bound = MACHINES * (1 + racing_runs + 1);
    assert!(
        denied.len() <= bound,
        "{} denial rows for {MACHINES} machines over {racing_runs} racing runs",
        denied.len()
    );
    assert!(seats.events(license, 10).await.expect("events").is_empty());
}

/// Every machine retries acquire `retries` times against the full one-seat pool, all at once.
async fn storm(
    seats: &Arc<dyn SeatStore>,
    license: Uuid,
    machines: &Arc<Vec<SessionData>>,
    retries: usize,
) {
    let mut retrying = JoinSet::new();
    for index in 0..machines.len() {
        let (seats, machines) = (seats.clone(), machines.clone());
        retrying.spawn(async move {
            for _ in 0..retries {
                full_count(&acquire(&*seats, license, 1, LONG, &machines[index]).await);
            }
        });
    }
    while let Some(done) = retrying.join_next().await {
        done.expect("a machine finishes retrying");
    }
}

/// Reads and forgets every event of the log, page by page, as cleanup would.
async fn drain_all(seats: &dyn SeatStore, license: Uuid) -> Vec<shared::seats::SeatEvent> {
    let mut all = Vec::new();
    loop {
        let page = seats.events(license, 2_000).await.expect("events answers");
        if page.is_empty() {
            return all;
        }
        let ids: Vec<String> = page.iter().map(|e| e.id.clone()).collect();
        seats.ack_events(license, &ids).await.expect("ack answers");
        all.extend(page);
    }
}

/// The tenant's `seat.denied` audit rows.
async fn denial_rows(store: &SqliteStore, tenant: Uuid) -> Vec<AuditEvent> {
    store
        .audit_events(tenant, 1_000_000)
        .await
        .expect("audit_events answers")
        .into_iter()
        .filter(|row| row.action == "seat.denied")
        .collect()
}
