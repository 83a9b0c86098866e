//! A few seconds of the load generator, in process, as part of the test suite: clients racing for
//! too few seats must never hold more than the cap, and nothing may fail except `seats_exhausted`
//! and, with the default rate limits on in `contention`, `rate_limited`.
//! The embedded default always runs; PostgreSQL + Redis (with the raw Redis baseline) when
//! `DATABASE_URL` and `REDIS_URL` are set, and always in CI; the `scale` preset, smoke-sized, on
//! PostgreSQL + a local three-master Redis Cluster (server and baseline) when `DATABASE_URL` is
//! set and `redis-server` is installed, and always in CI.
//!
//! The figures themselves are not checked: that is `BENCHMARKS.md`'s job, on a quiet machine.

use std::time::Duration;

use integration_tests::backends::backend_url;
use integration_tests::load::run::{BaselineRedis, RunOptions, RunReport, run};
use integration_tests::load::scenario::{Scenario, Workload};
use integration_tests::load::stats::Endpoint;
use integration_tests::load::target::Where;
use integration_tests::redis_cluster;
use integration_tests::server::Backends;
use shared::config::{RedisTarget, Secret};

/// 40 clients for 2 licenses of 3 seats: most acquires are denied, seats change hands constantly.
fn contention() -> Scenario {
    let ms = Duration::from_millis;
    let mut scenario = Scenario::named("contention").expect("preset");
    scenario.workload = Workload {
        clients: 40,
        licenses: 2,
        seats: 3,
        users_per_license: 3,
        duration: Duration::from_secs(3),
        heartbeat_interval: ms(50),
        heartbeats_per_session: Some(3),
        backoff: (ms(20), ms(60)),
        rate_limits: true,
        ramp: ms(100),
    };
    scenario
}

async fn run_clean(
    scenario: Scenario,
    place: Where,
    baseline_redis: Option<BaselineRedis>,
) -> RunReport {
    let report = run(&RunOptions {
        scenario,
        place,
        baseline_redis,
        audit_every: Some(Duration::from_millis(100)),
    })
    .await
    .expect("the load generator runs");
    println!(
        "{}",
        integration_tests::load::report::render(&report, "smoke")
    );
    report
}

#[track_caller]
fn assert_invariant_held_without_unexpected_errors(report: &RunReport) {
    for phase in &report.phases {
        for (side, figures) in [("http", Some(&phase.http)), ("raw", phase.raw.as_ref())] {
            let Some(figures) = figures else { continue };
            assert!(
                figures.verdict.held(),
                "{side}: the seat invariant broke: {:?}",
                figures.verdict.examples
            );
            for endpoint in Endpoint::ALL {
                let summary = figures.of(endpoint);
                assert_eq!(
                    summary.unexpected_errors(),
                    0,
                    "{side} {}: unexpected errors {}",
                    endpoint.name(),
                    summary.errors_text()
                );
            }
        }
    }
}

/// Both checks ran (grants client-side, samples of the seat store, none failed) and the fullest
/// pool they saw reached its 3 seats: a run where nothing filled up would prove nothing.
#[track_caller]
fn assert_checked_and_full(side: &integration_tests::load::run::SideReport) {
    let verdict = &side.verdict;
    assert!(
        verdict.grants_checked > 0,
        "seats were granted: {verdict:?}"
    );
    assert!(
        verdict.audits > 0,
        "the seat store was sampled: {verdict:?}"
    );
    assert_eq!(
        verdict.audit_failures, 0,
        "every sample was read: {verdict:?}"
    );
    assert_eq!(verdict.fullest, (3, 3), "a pool was seen full: {verdict:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_clients_never_exceed_the_seats_on_the_embedded_default() {
    let report = run_clean(contention(), Where::InProcess(Backends::Embedded), None).await;

    assert_invariant_held_without_unexpected_errors(&report);
    let http = &report.phases[0].http;
    assert_checked_and_full(http);
    assert!(
        http.of(Endpoint::Acquire)
            .errors
            .contains_key("seats_exhausted"),
        "40 clients for 6 seats must meet a full pool"
    );
    assert!(
        http.of(Endpoint::Acquire)
            .errors
            .contains_key("rate_limited"),
        "40 clients retrying every 20-60 ms for 3 s exceed the default limits"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(real_postgres, real_redis)),
    ignore = "DATABASE_URL or REDIS_URL is not set"
)]
async fn racing_clients_never_exceed_the_seats_on_postgres_and_redis_nor_on_raw_redis() {
    let (Some(_), Some(redis)) = (backend_url("DATABASE_URL"), backend_url("REDIS_URL")) else {
        return;
    };

    let redis = BaselineRedis::At(RedisTarget::Instance(Secret::new(redis)));
    let report = run_clean(contention(), Where::InProcess(Backends::Real), Some(redis)).await;

    assert_invariant_held_without_unexpected_errors(&report);
    let raw = report.phases[0].raw.as_ref().expect("the raw baseline ran");
    let http = &report.phases[0].http;
    assert_checked_and_full(raw);
    assert_checked_and_full(http);
    assert!(
        http.of(Endpoint::Acquire)
            .errors
            .contains_key("seats_exhausted"),
        "40 clients for 6 seats must meet a full pool"
    );
    let redis_cpu = raw.cpu.and_then(|cpu| cpu.redis);
    assert!(redis_cpu.is_some(), "Redis's CPU time is read from INFO");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_saturation_phases_run_clean_on_the_embedded_default() {
    let mut scenario = Scenario::named("peak").expect("preset");
    scenario.workload.clients = 4;
    scenario.workload.licenses = 2;
    scenario.workload.duration = Duration::from_secs(1);

    let report = run_clean(scenario, Where::InProcess(Backends::Embedded), None).await;

    assert_invariant_held_without_unexpected_errors(&report);
    let [.., heartbeats, acquires] = &report.phases[..] else {
        panic!("the heartbeat and acquire phases come last");
    };
    assert!(heartbeats.http.of(Endpoint::Heartbeat).count > 4);
    assert!(acquires.http.of(Endpoint::Acquire).count > 4);
    // A second of requests back to back costs both sides measurable CPU, each counted apart.
    let cpu = heartbeats
        .http
        .cpu
        .expect("thread CPU times are read from /proc");
    assert!(
        cpu.server.expect("the server runs in process") > 0.0,
        "{cpu:?}"
    );
    assert!(cpu.generator > 0.0, "{cpu:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(real_postgres, redis_tools)),
    ignore = "DATABASE_URL is not set or redis-server is not installed"
)]
async fn the_scale_scenario_holds_on_a_redis_cluster_through_the_service_and_raw() {
    let (Some(_), Some(_)) = (backend_url("DATABASE_URL"), redis_cluster::shared()) else {
        return;
    };
    // The `scale` preset shrunk to a smoke: 24 licenses (pools on every master) of 3 seats, 96
    // clients holding or queueing for them, heartbeating every 200 ms.
    let mut scenario = Scenario::named("scale").expect("preset");
    let w = &mut scenario.workload;
    (w.clients, w.licenses, w.seats, w.users_per_license) = (96, 24, 3, 2);
    w.duration = Duration::from_secs(2);
    w.heartbeat_interval = Duration::from_millis(200);
    w.ramp = Duration::from_millis(200);
    w.backoff = (Duration::from_millis(50), Duration::from_millis(150));

    let report = run_clean(
        scenario,
        Where::InProcess(Backends::Cluster),
        Some(BaselineRedis::LocalCluster),
    )
    .await;

    assert_invariant_held_without_unexpected_errors(&report);
    assert!(report.target.contains("Redis Cluster"), "{}", report.target);
    let phase = &report.phases[0];
    let raw = phase
        .raw
        .as_ref()
        .expect("the raw baseline ran on the cluster");
    assert_checked_and_full(&phase.http);
    assert_checked_and_full(raw);
    for (side, figures) in [("http", &phase.http), ("raw", raw)] {
        assert!(
            figures.of(Endpoint::Heartbeat).count > 0,
            "{side}: no heartbeat"
        );
    }
    let redis_cpu = raw.cpu.and_then(|cpu| cpu.redis);
    assert!(redis_cpu.is_some(), "the nodes' CPU time is read from INFO");
}
