//! Rate limits over HTTP: a storm from one machine is answered 429 `rate_limited` with
//! `Retry-After` after the limit while the license's other machines are served; a storm of
//! seatless machines is limited by the license while its holder keeps renewing, and the audit
//! counts only the real denials; gone-seat releases are limited; clients that behave as the CLI
//! does never see a 429 under the defaults; 0 turns a limit off.

use std::time::Duration;

use coditect_license::backoff::Backoff;
use integration_tests::api::{Reply, acquire, machine, release};
use integration_tests::server::Backends;
use reqwest::StatusCode;
use shared::api::{AcquireResponse, ProblemCode};
use shared::domain::LicenseStatus;

use crate::{FAST, lease, owner_on, set_plan};

integration_tests::on_both_backends!(
    a_storm_from_one_machine_gets_429_after_the_limit_and_other_machines_are_served,
    seatless_machines_are_limited_by_the_license_while_its_holder_keeps_renewing,
    releasing_a_gone_seat_over_and_over_is_limited_after_the_seat_was_freed,
    clients_that_behave_as_the_cli_does_never_see_429_under_the_defaults,
    a_limit_of_zero_is_no_limit,
);

/// `Retry-After` of a 429, checked to be problem+json `rate_limited` with a detail that says to
/// wait.
#[track_caller]
fn rate_limited(reply: &Reply) -> u64 {
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.text
    );
    assert_eq!(reply.content_type(), "application/problem+json");
    assert_eq!(reply.code(), Some(ProblemCode::RateLimited));
    let detail = reply.problem().detail;
    assert!(
        detail.contains("wait") && !detail.contains("  "),
        "{detail}"
    );
    reply.headers["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("whole seconds")
}

async fn a_storm_from_one_machine_gets_429_after_the_limit_and_other_machines_are_served(
    backends: Backends,
) {
    // Arrange: the defaults (10 acquires a minute per machine), a 5-seat license.
    let Some((server, owner, tenant)) = owner_on(backends, FAST).await else {
        return;
    };
    set_plan(&server, tenant, 5, LicenseStatus::Active, None).await;

    // Act: one machine asks 30 times in a row; then two other machines ask once.
    let mut storm = Vec::new();
    for _ in 0..30 {
        storm.push(acquire(&server.url, &owner, &machine(1), "storm").await);
    }
    let others = [
        acquire(&server.url, &owner, &machine(2), "calm-1").await,
        acquire(&server.url, &owner, &machine(3), "calm-2").await,
    ];

    // Assert: ten answered (one seat, nine renewals of it), twenty limited with a wait of one
    // refill (60 s / 10) at most; the others get seats of their own.
    for answer in &storm[..10] {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    }
    let seat = storm[0].json::<AcquireResponse>().session_id;
    assert!(
        storm[1..10]
            .iter()
            .all(|a| a.json::<AcquireResponse>().session_id == seat)
    );
    for answer in &storm[10..] {
        let wait = rate_limited(answer);
        assert!((1..=6).contains(&wait), "Retry-After {wait}");
    }
    for answer in &others {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert_ne!(answer.json::<AcquireResponse>().session_id, seat);
    }
    let held = server.local.seats.holders(license_of(&storm[0])).await;
    assert_eq!(
        held.expect("holders").len(),
        3,
        "a limited call takes no seat"
    );
}

async fn seatless_machines_are_limited_by_the_license_while_its_holder_keeps_renewing(
    backends: Backends,
) {
    // Arrange: 3 seatless acquires a minute per seat, a one-seat license held by `holder`.
    let vars = [FAST, &[("ACQUIRE_RATE_PER_SEAT", "3")]].concat();
    let Some((server, owner, tenant)) = owner_on(backends, &vars).await else {
        return;
    };
    let held = acquire(&server.url, &owner, &machine(100), "holder").await;
    assert_eq!(held.status, StatusCode::OK, "{}", held.text);

    // Act: ten other machines ask once each, then the holder renews.
    let mut others = Vec::new();
    for n in 1..=10 {
        others.push(acquire(&server.url, &owner, &machine(n), "seatless").await);
    }
    let renewed = acquire(&server.url, &owner, &machine(100), "holder").await;
    server.cleanup().await;

    // Assert: the license's two remaining calls were denials, the rest limited; the holder kept
    // its seat; the audit counts the two denials only.
    let statuses: Vec<StatusCode> = others.iter().map(|a| a.status).collect();
    assert_eq!(
        &statuses[..2],
        &[StatusCode::CONFLICT, StatusCode::CONFLICT]
    );
    for answer in &others[2..] {
        rate_limited(answer);
        assert!(answer.problem().detail.contains("Machines without a seat"));
    }
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.text);
    let renewed = renewed.json::<AcquireResponse>();
    assert!(renewed.renewed);
    assert_eq!(
        renewed.session_id,
        held.json::<AcquireResponse>().session_id
    );
    let denied: u64 = server
        .local
        .store
        .audit_events(tenant, 1_000)
        .await
        .expect("audit answers")
        .iter()
        .filter(|row| row.action == "seat.denied")
        .map(|row| row.detail.0["count"].as_u64().unwrap_or(1))
        .sum();
    assert_eq!(denied, 2, "limited calls are not denials");
}

async fn releasing_a_gone_seat_over_and_over_is_limited_after_the_seat_was_freed(
    backends: Backends,
) {
    // Arrange: the defaults (10 releases of gone seats a minute per machine).
    let Some((server, owner, _)) = owner_on(backends, FAST).await else {
        return;
    };
    let granted = acquire(&server.url, &owner, &machine(1), "laptop").await;
    let lease = lease(&granted);

    // Act
    let freed = release(&server.url, &lease).await;
    let mut again = Vec::new();
    for _ in 0..15 {
        again.push(release(&server.url, &lease).await);
    }
    let next = acquire(&server.url, &owner, &machine(1), "laptop").await;
    let freed_while_limited = release(&server.url, &crate::lease(&next)).await;

    // Assert
    assert_eq!(freed.status, StatusCode::NO_CONTENT);
    for answer in &again[..10] {
        assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    }
    for answer in &again[10..] {
        let wait = rate_limited(answer);
        assert!((1..=6).contains(&wait), "Retry-After {wait}");
    }
    assert_eq!(
        freed_while_limited.status,
        StatusCode::NO_CONTENT,
        "a release that frees a seat is never limited"
    );
    let held = server.local.seats.holders(license_of(&next)).await;
    assert!(held.expect("holders").is_empty());
}

async fn clients_that_behave_as_the_cli_does_never_see_429_under_the_defaults(backends: Backends) {
    // Arrange: the defaults; a 5-seat license and eight machines, all starting at once.
    let Some((server, owner, tenant)) = owner_on(backends, FAST).await else {
        return;
    };
    set_plan(&server, tenant, 5, LicenseStatus::Active, None).await;
    let mut answers = Vec::new();

    // Act: each machine acquires once; the denied ones retry as the SDK does (1 s doubling);
    // the holders refresh their leases (an acquire each); one machine then runs five short
    // commands in a row (acquire, release).
    let mut waiting: Vec<u32> = Vec::new();
    for n in 1..=8 {
        let answer = acquire(&server.url, &owner, &machine(n), "team").await;
        if answer.status == StatusCode::CONFLICT {
            waiting.push(n);
        }
        answers.push(answer);
    }
    let mut backoff = Backoff::new(Duration::from_millis(1_000), Duration::from_secs(60));
    for _ in 0..2 {
        let wait = backoff.next_delay(None);
        tokio::time::sleep(wait).await;
        for &n in &waiting {
            answers.push(acquire(&server.url, &owner, &machine(n), "team").await);
        }
    }
    for n in 1..=5 {
        answers.push(acquire(&server.url, &owner, &machine(n), "team").await);
    }
    for _ in 0..5 {
        let run = acquire(&server.url, &owner, &machine(1), "team").await;
        answers.push(release(&server.url, &lease(&run)).await);
        answers.push(run);
    }

    // Assert: seats and denials as the pool allows, never a 429: every answer a grant (200) or a
    // release (204), or a denial of a full pool, only to the three waiting machines (a first try
    // and two retries each).
    assert_eq!(waiting, vec![6, 7, 8]);
    let mut denials = 0;
    for answer in &answers {
        match answer.status {
            StatusCode::OK | StatusCode::NO_CONTENT => {}
            StatusCode::CONFLICT => {
                let denial = answer.problem();
                assert_eq!(
                    (denial.code, denial.max_seats, denial.seats_in_use),
                    (ProblemCode::SeatsExhausted, Some(5), Some(5)),
                    "a denial only while the pool is full: {}",
                    answer.text
                );
                denials += 1;
            }
            other => panic!(
                "{other}, which a client behaving as the CLI does never expects: {}",
                answer.text
            ),
        }
    }
    assert_eq!(denials, 3 * 3, "{answers:?}");
}

async fn a_limit_of_zero_is_no_limit(backends: Backends) {
    // Arrange
    let vars = [
        FAST,
        &[
            ("ACQUIRE_RATE_PER_MACHINE", "0"),
            ("RELEASE_RATE_PER_MACHINE", "0"),
        ],
    ]
    .concat();
    let Some((server, owner, _)) = owner_on(backends, &vars).await else {
        return;
    };

    // Act: thirty acquires and thirty releases of a gone seat from one machine.
    let mut answers = Vec::new();
    for _ in 0..30 {
        answers.push(acquire(&server.url, &owner, &machine(1), "busy").await);
    }
    let lease = lease(&answers[0]);
    let mut releases = Vec::new();
    for _ in 0..30 {
        releases.push(release(&server.url, &lease).await);
    }

    // Assert
    assert!(answers.iter().all(|a| a.status == StatusCode::OK));
    assert!(releases.iter().all(|a| a.status == StatusCode::NO_CONTENT));
}

/// The license of a grant.
#[track_caller]
fn license_of(grant: &Reply) -> uuid::Uuid {
    grant.json::<AcquireResponse>().license.id
}
