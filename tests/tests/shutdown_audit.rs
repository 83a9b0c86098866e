//! SIGTERM under load loses no audit event: the `local` binary on the embedded default (seats in
//! memory) is stopped while machines take, give back and are refused its one seat, and every
//! grant, release and denial it answered before the signal is in the SQLite file's `audit_events`
//! afterwards. The periodic cleanup never runs meanwhile (an hour apart), so only the last drain
//! on shutdown can have written them.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use integration_tests::api::{acquire, machine, register, release};
use integration_tests::process::{built_binary, spawn_on_free_port};
use integration_tests::server::TempDir;
use integration_tests::tokens::Person;
use reqwest::StatusCode;
use shared::api::{AcquireResponse, RegisterResponse};
use shared::store::{SqliteStore, Store};
use tokio::sync::Mutex;
use uuid::Uuid;

/// Machines contending for the one seat.
const MACHINES: u32 = 8;

/// What the clients were told before SIGTERM.
#[derive(Default)]
struct Acknowledged {
    granted: HashSet<String>,
    released: HashSet<String>,
    /// Fingerprint → denials answered.
    denied: HashMap<String, u64>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_leaves_every_acknowledged_seat_event_in_the_audit_table() {
    // Arrange: the local binary, an owner with a FREE (one-seat) license.
    let binary = built_binary("local");
    let data_dir = TempDir::new();
    let (service, port) = spawn_on_free_port(|port| {
        let mut command = std::process::Command::new(&binary);
        command
            .env_clear()
            .env("PORT", port.to_string())
            .env("DATA_DIR", &data_dir.0)
            .env("CLEANUP_INTERVAL_SECONDS", "3600")
            // The machines storm on purpose, to produce events; limits would answer most 429.
            .env("ACQUIRE_RATE_PER_MACHINE", "0")
            .env("ACQUIRE_RATE_PER_SEAT", "0")
            .env("RELEASE_RATE_PER_MACHINE", "0")
            .env("LOG_LEVEL", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        command
    })
    .await;
    let base = format!("http://127.0.0.1:{port}");
    let owner = Person::at("acme.test");
    let registered = register(&base, &owner).await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.text
    );
    let tenant: Uuid = registered.json::<RegisterResponse>().tenant.id;

    // Act: machines loop acquire (and release when granted) for 2 s; then SIGTERM mid-load.
    let signalled = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Acknowledged::default()));
    let mut load = tokio::task::JoinSet::new();
    for n in 0..MACHINES {
        let (base, owner) = (base.clone(), owner.clone());
        let (signalled, acknowledged) = (signalled.clone(), acknowledged.clone());
        load.spawn(async move {
            let fingerprint = machine(n);
            while !signalled.load(Ordering::SeqCst) {
                let Ok(answer) = tokio::spawn({
                    let (base, owner, fingerprint) =
                        (base.clone(), owner.clone(), fingerprint.clone());
                    async move { acquire(&base, &owner, &fingerprint, &format!("host-{n}")).await }
                })
                .await
                else {
                    return; // the server went away mid-request: not acknowledged
                };
                // An answer that arrives after the signal was sent is not counted.
                if signalled.load(Ordering::SeqCst) {
                    return;
                }
                match answer.status {
                    StatusCode::OK => {
                        let grant = answer.json::<AcquireResponse>();
                        let (session, lease) = (grant.session_id, grant.lease);
                        acknowledged.lock().await.granted.insert(session.clone());
                        let Ok(released) = tokio::spawn({
                            let base = base.clone();
                            async move { release(&base, &lease).await }
                        })
                        .await
                        else {
                            return;
                        };
                        if signalled.load(Ordering::SeqCst) {
                            return;
                        }
                        assert_eq!(released.status, StatusCode::NO_CONTENT);
                        acknowledged.lock().await.released.insert(session);
                    }
                    StatusCode::CONFLICT => {
                        *acknowledged
                            .lock()
                            .await
                            .denied
                            .entry(fingerprint.clone())
                            .or_default() += 1;
                    }
                    other => panic!("unexpected {other}: {}", answer.text),
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    signalled.store(true, Ordering::SeqCst);
    service.terminate();
    let status = service.exited_within(Duration::from_secs(15)).await;
    load.abort_all();
    // A machine cancelled here is fine; one that panicked failed an assertion on an answer it
    // was given before the signal, and that must fail the test.
    while let Some(ended) = load.join_next().await {
        if let Err(e) = ended
            && e.is_panic()
        {
            std::panic::resume_unwind(e.into_panic());
        }
    }

    // Assert: a clean exit, and every acknowledged event in the audit table.
    assert!(status.success(), "exits cleanly: {status:?}");
    let acknowledged = acknowledged.lock().await;
    assert!(!acknowledged.granted.is_empty() && !acknowledged.denied.is_empty());
    let store = SqliteStore::connect(&format!(
        "sqlite://{}",
        data_dir.0.join("coditect.db").display()
    ))
    .await
    .expect("the SQLite file opens");
    let rows = store
        .audit_events(tenant, 1_000_000)
        .await
        .expect("audit_events answers");
    let sessions = |action: &str| -> HashSet<String> {
        rows.iter()
            .filter(|row| row.action == action)
            .filter_map(|row| row.session_id.clone())
            .collect()
    };
    let (granted, released) = (sessions("seat.acquired"), sessions("seat.released"));
    assert!(
        acknowledged.granted.is_subset(&granted),
        "{} acknowledged grants missing from the audit table",
        acknowledged.granted.difference(&granted).count()
    );
    assert!(
        acknowledged.released.is_subset(&released),
        "{} acknowledged releases missing from the audit table",
        acknowledged.released.difference(&released).count()
    );
    let mut denied: HashMap<String, u64> = HashMap::new();
    for row in rows.iter().filter(|row| row.action == "seat.denied") {
        if let (Some(fingerprint), Some(count)) = (
            row.detail.0["fingerprint"].as_str(),
            row.detail.0["count"].as_u64(),
        ) {
            *denied.entry(fingerprint.to_owned()).or_default() += count;
        }
    }
    for (fingerprint, answered) in &acknowledged.denied {
        let audited = denied.get(fingerprint).copied().unwrap_or(0);
        assert!(
            audited >= *answered,
            "machine {fingerprint}: {answered} denials answered, {audited} audited"
        );
    }
}
