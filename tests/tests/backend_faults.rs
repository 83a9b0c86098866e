//! Backend faults under load, each on a Redis and a PostgreSQL of the test's own
//! ([`integration_tests::private_backends`]) with the real `local` binary in front of them:
//!
//! - Redis killed and restarted empty: 503 `unavailable` with `Retry-After` during the outage,
//!   within the request timeout; afterwards heartbeats answer `session_not_found` and the machines
//!   acquire again;
//! - Redis frozen (`SIGSTOP`) for 15 s: every request answered within the request timeout, and the
//!   same seats heartbeat again after `SIGCONT`, without restarting the service;
//! - PostgreSQL stopped: heartbeat and release unaffected, acquire 503 with `Retry-After`, and every
//!   grant, release and denial answered meanwhile reaches `audit_events` once it is back;
//! - the service killed with `SIGKILL` and started again: the seats in Redis are kept.
//!
//! Throughout each, a sampler reads the license's seat set in Redis every 20 ms: never more
//! members than seats, never an answer outside the contract (a 500, a 503 without `Retry-After`).
//!
//! Run: `cargo test -p integration-tests --test backend_faults` (about a minute).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use integration_tests::api::{acquire_request, machine, register};
use integration_tests::private_backends::{PrivatePostgres, PrivateRedis};
use integration_tests::process::{Service, built_binary, spawn_on_free_port, wait_for_health};
use integration_tests::server::TempDir;
use integration_tests::tokens::Person;
use reqwest::StatusCode;
use shared::api::{AcquireResponse, ProblemCode, ProblemDetails, RegisterResponse};
use shared::domain::{LicenseStatus, Tier};
use shared::store::{LicensePlan, PgStore, Store};
use tokio::sync::Mutex;
use uuid::Uuid;

/// The service's `REQUEST_TIMEOUT_SECONDS` here: every answer must come within it (plus the
/// margin of a loaded 2-core machine).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const ANSWER_BOUND: Duration = Duration::from_secs(7);

/// Seats of the test license in most tests.
const SEATS: u32 = 2;

/// The service, its backends and the license the machines share.
struct Stack {
    redis: PrivateRedis,
    postgres: PrivatePostgres,
    data_dir: TempDir,
    port: u16,
    service: Option<Service>,
    base: String,
    owner: Person,
    tenant: Uuid,
    license: Uuid,
}

impl Stack {
    /// Backends, the `local` binary on them, an owner whose license has [`SEATS`] seats.
    async fn start() -> Self {
        Self::with_seats(SEATS).await
    }

    /// Backends, the `local` binary on them, an owner whose license has `seats` seats.
    async fn with_seats(seats: u32) -> Self {
        let (redis, postgres) = (PrivateRedis::start(), PrivatePostgres::start());
        let mut stack = Self {
            redis,
            postgres,
            data_dir: TempDir::new(),
            port: 0,
            service: None,
            base: String::new(),
            owner: Person::at("faults.test"),
            tenant: Uuid::nil(),
            license: Uuid::nil(),
        };
        // As the deploy's `admin migrate` step does before the services start.
        stack.records().migrate().await.expect("migrations apply");
        // The first start picks the port (another process may take one before the bind); a
        // restart keeps it, as the machines keep their base URL.
        let (service, port) = spawn_on_free_port(|port| stack.command(port)).await;
        (stack.service, stack.port) = (Some(service), port);
        stack.base = format!("http://127.0.0.1:{port}");
        let registered = register(&stack.base, &stack.owner).await;
        assert_eq!(
            registered.status,
            StatusCode::CREATED,
            "{}",
            registered.text
        );
        let registered: RegisterResponse = registered.json();
        stack.tenant = registered.tenant.id;
        stack.license = registered.license.id;
        let plan = LicensePlan {
            tier: Tier::Team,
            max_seats: seats as i32,
            features: vec![],
            status: LicenseStatus::Active,
            expires_at: None,
        };
        stack
            .records()
            .update_license(stack.tenant, &plan, chrono::Utc::now())
            .await
            .expect("the plan is set");
        stack
    }

    /// The `local` binary on the private backends, serving on `port`.
    fn command(&self, port: u16) -> std::process::Command {
        let mut command = std::process::Command::new(built_binary("local"));
        command
            .env_clear()
            .env("PORT", port.to_string())
            .env("DATA_DIR", &self.data_dir.0)
            .env("DATABASE_URL", self.postgres.url())
            .env("REDIS_URL", self.redis.url())
            .env(
                "REQUEST_TIMEOUT_SECONDS",
                REQUEST_TIMEOUT.as_secs().to_string(),
            )
            .env("CLEANUP_INTERVAL_SECONDS", "1")
            .env("LICENSE_CACHE_SECONDS", "0")
            // Machines retry on purpose; the limits have tests of their own.
            .env("ACQUIRE_RATE_PER_MACHINE", "0")
            .env("ACQUIRE_RATE_PER_SEAT", "0")
            .env("RELEASE_RATE_PER_MACHINE", "0")
            .env("LOG_LEVEL", "error")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        command
    }

    /// Starts the service again on its port, after it was killed.
    async fn start_service(&mut self) {
        let service = self.command(self.port).spawn().expect("local spawns");
        self.service = Some(Service(service));
        wait_for_health(self.port).await;
    }

    /// The records the service keeps, read directly.
    fn records(&self) -> PgStore {
        PgStore::connect_lazy(&self.postgres.url(), 2).expect("the private PostgreSQL")
    }
}

/// One answer a machine got.
#[derive(Debug, Clone)]
struct Answer {
    call: &'static str,
    status: StatusCode,
    code: Option<ProblemCode>,
    retry_after: bool,
    took: Duration,
    /// The session the answer is about, if any.
    session: Option<String>,
}

/// What the machines were told, and whether the seat set stayed within the cap.
#[derive(Default)]
struct Log {
    answers: Vec<Answer>,
}

impl Log {
    fn of(&self, call: &str, status: StatusCode) -> usize {
        self.answers
            .iter()
            .filter(|a| a.call == call && a.status == status)
            .count()
    }

    /// Every answer is one the contract allows, and none took longer than the bound.
    #[track_caller]
    fn assert_within_contract(&self) {
        for answer in &self.answers {
            assert!(
                answer.took < ANSWER_BOUND,
                "{} took {:?} (bound {ANSWER_BOUND:?}): {answer:?}",
                answer.call,
                answer.took
            );
            if answer.status.is_server_error() {
                assert_eq!(
                    (answer.status, answer.code),
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        Some(ProblemCode::Unavailable)
                    ),
                    "{answer:?}"
                );
                assert!(answer.retry_after, "a 503 without Retry-After: {answer:?}");
            }
        }
    }
}

/// A machine's calls, timed, never panicking on a refused connection (the service may be down).
#[derive(Clone)]
struct Caller {
    http: reqwest::Client,
    base: String,
    log: Arc<Mutex<Log>>,
}

impl Caller {
    fn new(base: &str) -> Self {
        Self {
            // Far above the bound, so that a hang shows as a slow answer rather than an error.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
            base: base.to_owned(),
            log: Arc::default(),
        }
    }

    /// The answer to `request` about `session` (if known), logged; `None` when the service could
    /// not be reached.
    async fn call(
        &self,
        call: &'static str,
        session: Option<&str>,
        request: reqwest::RequestBuilder,
    ) -> Option<(Answer, String)> {
        let started = Instant::now();
        let response = request.send().await.ok()?;
        let status = response.status();
        let retry_after = response
            .headers()
            .contains_key(reqwest::header::RETRY_AFTER);
        let text = response.text().await.ok()?;
        let mut answer = Answer {
            call,
            status,
            code: serde_json::from_str::<ProblemDetails>(&text)
                .ok()
                .map(|p| p.code),
            retry_after,
            took: started.elapsed(),
            session: session.map(str::to_owned),
        };
        if call == "acquire" && status == StatusCode::OK {
            answer.session = serde_json::from_str::<AcquireResponse>(&text)
                .ok()
                .map(|grant| grant.session_id);
        }
        self.log.lock().await.answers.push(answer.clone());
        Some((answer, text))
    }

    async fn acquire(&self, owner: &Person, fingerprint: &str) -> Option<(Answer, String)> {
        let body = acquire_request(fingerprint, "host", "faults");
        let request = self
            .http
            .post(format!("{}/api/v1/licenses/acquire", self.base))
            .bearer_auth(owner.token())
            .json(&body);
        self.call("acquire", None, request).await
    }

    async fn heartbeat(&self, lease: &str) -> Option<(Answer, String)> {
        let request = self
            .http
            .put(format!("{}/api/v1/licenses/heartbeat", self.base))
            .bearer_auth(lease);
        self.call("heartbeat", None, request).await
    }

    async fn release(&self, lease: &str, session: &str) -> Option<(Answer, String)> {
        let request = self
            .http
            .delete(format!("{}/api/v1/licenses/release", self.base))
            .bearer_auth(lease);
        self.call("release", Some(session), request).await
    }
}

/// What a machine does with its seat.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Habit {
    /// Acquires, then heartbeats; acquires again when its seat is gone.
    Keep,
    /// Acquires, and releases at once when granted; again and again.
    Cycle,
}

/// Starts machines `first..first + count` in `machines`, running `habit` until `stop`; each keeps
/// its current seat in `holding` (fingerprint → (session, lease)).
#[allow(clippy::too_many_arguments)]
fn run_machines(
    machines: &mut tokio::task::JoinSet<()>,
    caller: &Caller,
    owner: &Person,
    first: u32,
    count: u32,
    habit: Habit,
    stop: &Arc<AtomicBool>,
    holding: &Arc<Mutex<HashMap<String, (String, String)>>>,
) {
    for n in first..first + count {
        let (caller, owner, stop, holding) =
            (caller.clone(), owner.clone(), stop.clone(), holding.clone());
        machines.spawn(async move {
            let fingerprint = machine(n);
            let mut seat: Option<(String, String)> = None;
            while !stop.load(Ordering::SeqCst) {
                match seat.clone() {
                    None => {
                        if let Some((answer, text)) = caller.acquire(&owner, &fingerprint).await
                            && answer.status == StatusCode::OK
                        {
                            let grant: AcquireResponse =
                                serde_json::from_str(&text).expect("a grant");
                            seat = Some((grant.session_id, grant.lease));
                        }
                    }
                    Some((session, lease)) if habit == Habit::Cycle => {
                        if let Some((answer, _)) = caller.release(&lease, &session).await
                            && answer.status == StatusCode::NO_CONTENT
                        {
                            seat = None;
                        }
                    }
                    Some((_, lease)) => {
                        if let Some((answer, _)) = caller.heartbeat(&lease).await
                            && answer.code == Some(ProblemCode::SessionNotFound)
                        {
                            seat = None;
                        }
                    }
                }
                match &seat {
                    Some(held) => holding
                        .lock()
                        .await
                        .insert(fingerprint.clone(), held.clone()),
                    None => holding.lock().await.remove(&fingerprint),
                };
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }
}

/// Reads the license's seat set every 20 ms until `stop`: the most members seen, and how many
/// reads succeeded (none while Redis is down or frozen).
fn sample_seats(
    redis_url: String,
    license: Uuid,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(u64, u64)> {
    let most = Arc::new(AtomicU64::new(0));
    tokio::spawn(async move {
        let client = redis::Client::open(redis_url).expect("url");
        let key = format!("{{lic:{license}}}:seats");
        let mut reads = 0;
        let mut connection = None;
        while !stop.load(Ordering::SeqCst) {
            if connection.is_none() {
                connection = tokio::time::timeout(
                    Duration::from_millis(500),
                    client.get_multiplexed_async_connection(),
                )
                .await
                .ok()
                .and_then(Result::ok);
            }
            if let Some(conn) = connection.as_mut() {
                let read = tokio::time::timeout(
                    Duration::from_millis(500),
                    redis::cmd("ZCARD").arg(&key).query_async::<u64>(conn),
                )
                .await;
                match read {
                    Ok(Ok(members)) => {
                        reads += 1;
                        most.fetch_max(members, Ordering::SeqCst);
                    }
                    _ => connection = None,
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (most.load(Ordering::SeqCst), reads)
    })
}

/// Load on `stack`: machines keeping seats (more than there are) and the seat sampler.
struct Load {
    caller: Caller,
    /// The fingerprints of the machines that keep their seats.
    keepers: HashSet<String>,
    stop: Arc<AtomicBool>,
    holding: Arc<Mutex<HashMap<String, (String, String)>>>,
    machines: tokio::task::JoinSet<()>,
    sampler: tokio::task::JoinHandle<(u64, u64)>,
}

impl Load {
    fn start(stack: &Stack, keepers: u32, cyclers: u32) -> Self {
        let caller = Caller::new(&stack.base);
        let stop = Arc::new(AtomicBool::new(false));
        let holding = Arc::new(Mutex::new(HashMap::new()));
        let mut machines = tokio::task::JoinSet::new();
        let (owner, habits) = (
            &stack.owner,
            [(0, keepers, Habit::Keep), (100, cyclers, Habit::Cycle)],
        );
        for (first, count, habit) in habits {
            run_machines(
                &mut machines,
                &caller,
                owner,
                first,
                count,
                habit,
                &stop,
                &holding,
            );
        }
        let sampler = sample_seats(stack.redis.url(), stack.license, stop.clone());
        Self {
            caller,
            keepers: (0..keepers).map(machine).collect(),
            stop,
            holding,
            machines,
            sampler,
        }
    }

    /// Sessions held right now by machines `0..keepers`.
    async fn kept(&self) -> HashMap<String, String> {
        self.holding
            .lock()
            .await
            .iter()
            .filter(|(fingerprint, _)| self.keepers.contains(*fingerprint))
            .map(|(fingerprint, (session, _))| (fingerprint.clone(), session.clone()))
            .collect()
    }

    /// Waits up to `bound` until the keepers hold `seats` seats.
    async fn until_kept(&self, seats: usize, bound: Duration) -> HashMap<String, String> {
        self.until(bound, |kept| kept.len() == seats).await
    }

    /// Waits up to `bound` until the keepers' seats (fingerprint → session) satisfy `done`.
    async fn until(
        &self,
        bound: Duration,
        done: impl Fn(&HashMap<String, String>) -> bool,
    ) -> HashMap<String, String> {
        let started = Instant::now();
        loop {
            let kept = self.kept().await;
            if done(&kept) || started.elapsed() > bound {
                return kept;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Answers logged from now on are the ones after this mark.
    async fn mark(&self) -> usize {
        self.caller.log.lock().await.answers.len()
    }

    async fn answers_since(&self, mark: usize) -> Log {
        Log {
            answers: self.caller.log.lock().await.answers[mark..].to_vec(),
        }
    }

    /// Stops the machines and the sampler: the whole log and the most seats ever seen.
    async fn stop(mut self) -> (Log, u64, u64) {
        self.stop.store(true, Ordering::SeqCst);
        // A machine that panicked (a grant it could not read) fails the test, not just itself.
        while let Some(ended) = self.machines.join_next().await {
            if let Err(e) = ended
                && e.is_panic()
            {
                std::panic::resume_unwind(e.into_panic());
            }
        }
        let (most, reads) = self.sampler.await.expect("the sampler ends");
        let log = std::mem::take(&mut *self.caller.log.lock().await);
        (log, most, reads)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_empty_answers_503_then_machines_acquire_again() {
    // Arrange: four machines keeping the two seats.
    let mut stack = Stack::start().await;
    let load = Load::start(&stack, 4, 0);
    let before = load.until_kept(2, Duration::from_secs(10)).await;
    assert_eq!(before.len(), 2, "two machines hold the seats");

    // Act: Redis dies; 3 s later it is back, empty.
    let outage = load.mark().await;
    stack.redis.kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let restarted = load.mark().await;
    stack.redis.restart();
    let after = load
        .until(Duration::from_secs(10), |kept| {
            kept.len() == 2 && kept.values().all(|s| !before.values().any(|old| old == s))
        })
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Assert
    let during = load.answers_since(outage).await;
    let since_restart = load.answers_since(restarted).await;
    let (log, most, reads) = load.stop().await;
    log.assert_within_contract();
    assert!(
        during.of("heartbeat", StatusCode::SERVICE_UNAVAILABLE) > 0,
        "heartbeats answered 503 while Redis was down"
    );
    assert!(
        since_restart
            .answers
            .iter()
            .any(|a| a.code == Some(ProblemCode::SessionNotFound)),
        "after the restart heartbeats answer session_not_found"
    );
    assert_eq!(after.len(), 2, "the machines acquired the seats again");
    assert!(
        after
            .values()
            .all(|session| !before.values().any(|old| old == session)),
        "new sessions: the old ones went with Redis"
    );
    // Seconds of Redis up at one read per 20 ms are a hundred reads or more; on a loaded 2-core
    // machine a read and its sleep can take ten times that, so ten is the bound that still shows
    // the sampler ran (and `most` below could only come from a read).
    assert!(reads >= 10, "the sampler read the seat set ({reads} reads)");
    // The keepers held both new seats for the last second, with Redis up: the sampler saw the
    // pool full, and never fuller.
    assert_eq!(most, u64::from(SEATS), "the most seats held at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_frozen_for_15_s_bounds_every_request_and_the_same_seats_live_on() {
    // Arrange
    let mut stack = Stack::start().await;
    let load = Load::start(&stack, 4, 0);
    let before = load.until_kept(2, Duration::from_secs(10)).await;
    assert_eq!(before.len(), 2, "two machines hold the seats");

    // Act: Redis stops answering for 15 s, connections open.
    let frozen = load.mark().await;
    stack.redis.freeze();
    tokio::time::sleep(Duration::from_secs(15)).await;
    let thawed = load.mark().await;
    stack.redis.thaw();
    tokio::time::sleep(Duration::from_secs(4)).await;

    // Assert: bounded answers while frozen; afterwards the very same sessions heartbeat 200.
    let during = Log {
        answers: load.answers_since(frozen).await.answers[..thawed - frozen].to_vec(),
    };
    let after_thaw = load.answers_since(thawed).await;
    let kept = load.kept().await;
    let ready = reqwest::get(format!("{}/readyz", stack.base))
        .await
        .expect("readyz answers");
    let (log, most, reads) = load.stop().await;
    log.assert_within_contract();
    assert!(
        during.of("heartbeat", StatusCode::SERVICE_UNAVAILABLE) > 0,
        "heartbeats answered 503 while Redis was frozen"
    );
    let late_beats: Vec<&Answer> = after_thaw
        .answers
        .iter()
        .filter(|a| a.call == "heartbeat")
        .skip(4)
        .collect();
    assert!(!late_beats.is_empty());
    assert!(
        late_beats.iter().all(|a| a.status == StatusCode::OK),
        "heartbeats succeed again after SIGCONT: {late_beats:?}"
    );
    assert_eq!(kept, before, "the same machines hold the same sessions");
    assert_eq!(
        ready.status(),
        StatusCode::OK,
        "ready again without a restart"
    );
    // Seconds of Redis up at one read per 20 ms are a hundred reads or more; on a loaded 2-core
    // machine a read and its sleep can take ten times that, so ten is the bound that still shows
    // the sampler ran (and `most` below could only come from a read).
    assert!(reads >= 10, "the sampler read the seat set ({reads} reads)");
    // The same two seats were held for the 4 s after the thaw: the sampler saw the pool full,
    // and never fuller.
    assert_eq!(most, u64::from(SEATS), "the most seats held at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_stopped_leaves_heartbeat_and_release_working_and_loses_no_audit_event() {
    // Arrange: three seats; one machine keeps one, another holds one to give back while
    // PostgreSQL is down, three cycle through the third (grants, releases and denials, all
    // audited).
    let mut stack = Stack::with_seats(3).await;
    let load = Load::start(&stack, 1, 3);
    assert_eq!(load.until_kept(1, Duration::from_secs(10)).await.len(), 1);
    let leaving = loop {
        let (answer, text) = load
            .caller
            .acquire(&stack.owner, &machine(50))
            .await
            .expect("the service answers");
        if answer.status == StatusCode::OK {
            break serde_json::from_str::<AcquireResponse>(&text).expect("a grant");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Act: PostgreSQL stops for 4 s; the second machine gives its seat back meanwhile.
    let stopped = load.mark().await;
    stack.postgres.stop();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (given_back, _) = load
        .caller
        .release(&leaving.lease, &leaving.session_id)
        .await
        .expect("the service answers");
    assert_eq!(given_back.status, StatusCode::NO_CONTENT, "{given_back:?}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let started = load.mark().await;
    stack.postgres.start_again();
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Assert: while it was down, heartbeats and releases worked and acquires answered 503.
    let all = load.answers_since(0).await;
    let during = Log {
        answers: all.answers[stopped..started].to_vec(),
    };
    let after = load.answers_since(started).await;
    let (log, most, reads) = load.stop().await;
    log.assert_within_contract();
    for answer in during.answers.iter().filter(|a| a.call != "acquire") {
        assert!(
            answer.status.is_success(),
            "{} without PostgreSQL: {answer:?}",
            answer.call
        );
    }
    assert!(during.of("heartbeat", StatusCode::OK) > 0);
    assert!(during.of("acquire", StatusCode::SERVICE_UNAVAILABLE) > 0);
    let recovered = after
        .answers
        .iter()
        .filter(|a| a.call == "acquire")
        .skip(6)
        .collect::<Vec<_>>();
    assert!(
        !recovered.is_empty()
            && recovered
                .iter()
                .all(|a| matches!(a.status, StatusCode::OK | StatusCode::CONFLICT)),
        "acquire works again without a restart: {recovered:?}"
    );
    // Seconds of Redis up at one read per 20 ms are a hundred reads or more; on a loaded 2-core
    // machine a read and its sleep can take ten times that, so ten is the bound that still shows
    // the sampler ran (and `most` below could only come from a read).
    assert!(reads >= 10, "the sampler read the seat set ({reads} reads)");
    // The keeper's seat and the leaving machine's were held together for 2 s, and three cyclers
    // took turns on the third (each holding it 100 ms, every 100 ms) for seconds before and
    // after the outage, sampled every 20 ms: the pool was seen full, and never fuller.
    assert_eq!(most, 3, "the most seats held at once");

    // Every grant and release answered (during the outage too) reaches the audit table.
    let granted: HashSet<String> = log
        .answers
        .iter()
        .filter(|a| a.call == "acquire" && a.status == StatusCode::OK)
        .filter_map(|a| a.session.clone())
        .collect();
    let released: HashSet<String> = log
        .answers
        .iter()
        .filter(|a| a.call == "release" && a.status == StatusCode::NO_CONTENT)
        .filter_map(|a| a.session.clone())
        .collect();
    let denied = log.of("acquire", StatusCode::CONFLICT) as u64;
    assert!(
        during.of("release", StatusCode::NO_CONTENT) > 0,
        "releases answered during the outage"
    );
    let records = stack.records();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rows = records
            .audit_events(stack.tenant, 1_000_000)
            .await
            .expect("audit_events answers");
        let sessions = |action: &str| -> HashSet<String> {
            rows.iter()
                .filter(|row| row.action == action)
                .filter_map(|row| row.session_id.clone())
                .collect()
        };
        let audited_denials: u64 = rows
            .iter()
            .filter(|row| row.action == "seat.denied")
            .filter_map(|row| row.detail.0["count"].as_u64())
            .sum();
        let missing_grants = granted.difference(&sessions("seat.acquired")).count();
        let missing_releases = released.difference(&sessions("seat.released")).count();
        if missing_grants == 0 && missing_releases == 0 && audited_denials >= denied {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "20 s after PostgreSQL came back: {missing_grants} of {} grants, {missing_releases} \
             of {} releases missing; {audited_denials} of {denied} denials audited",
            granted.len(),
            released.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_killed_and_started_again_keeps_the_seats_in_redis() {
    // Arrange
    let mut stack = Stack::start().await;
    let load = Load::start(&stack, 4, 0);
    let before = load.until_kept(2, Duration::from_secs(10)).await;
    assert_eq!(before.len(), 2, "two machines hold the seats");

    // Act: SIGKILL mid-load (no drain, no goodbye), then the same binary on the same port.
    let service = stack.service.take().expect("running");
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &service.0.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    service.exited_within(Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let restarted = load.mark().await;
    stack.start_service().await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Assert: the machines' leases heartbeat the same sessions; nobody got a third seat.
    let after = load.answers_since(restarted).await;
    let kept = load.kept().await;
    let (log, most, reads) = load.stop().await;
    log.assert_within_contract();
    assert!(after.of("heartbeat", StatusCode::OK) > 0);
    assert!(
        !after
            .answers
            .iter()
            .any(|a| a.code == Some(ProblemCode::SessionNotFound)),
        "no seat was lost"
    );
    assert_eq!(kept, before, "the same machines hold the same sessions");
    // Seconds of Redis up at one read per 20 ms are a hundred reads or more; on a loaded 2-core
    // machine a read and its sleep can take ten times that, so ten is the bound that still shows
    // the sampler ran (and `most` below could only come from a read).
    assert!(reads >= 10, "the sampler read the seat set ({reads} reads)");
    // Redis never went down and the two seats were held throughout: the sampler saw the pool
    // full, and never fuller.
    assert_eq!(most, u64::from(SEATS), "the most seats held at once");
}
