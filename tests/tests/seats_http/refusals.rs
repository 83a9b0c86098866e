//! Refusals: a full pool, a lowered cap, and licenses that are suspended, expired or canceled.

use std::time::Duration;

use integration_tests::api::{acquire, heartbeat, machine, register, release, send};
use integration_tests::server::Backends;
use integration_tests::tokens::Person;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use shared::api::{AcquireResponse, ProblemCode, Role};
use shared::domain::LicenseStatus;

use crate::{FAST, lease, owner_on, set_plan};

integration_tests::on_both_backends!(
    the_same_machine_gets_its_seat_back_and_a_second_machine_is_refused,
    a_member_is_refused_without_seeing_who_holds_the_seats,
    a_refused_machine_that_waits_retry_after_gets_the_abandoned_seat,
    refused_licenses_answer_their_own_codes_and_are_audited,
    lowering_the_seats_evicts_nobody_and_refuses_until_under_the_cap,
    a_plan_change_reaches_acquire_once_the_license_cache_expires,
);

/// The license cache production runs with (`LICENSE_CACHE_SECONDS`, 5 by default), here 3 s: a
/// plan change is not seen while the entry lives, and is seen once it has expired. Every other
/// plan-changing test turns the cache off, so a cache that never expired would pass them all.
async fn a_plan_change_reaches_acquire_once_the_license_cache_expires(backends: Backends) {
    const CACHE: std::time::Duration = std::time::Duration::from_secs(3);
    let Some((server, owner, tenant)) = owner_on(backends, &[("LICENSE_CACHE_SECONDS", "3")]).await
    else {
        return;
    };
    // The FREE license's one seat, which caches the license.
    let first = acquire(&server.url, &owner, &machine(1), "laptop").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let cached_at = std::time::Instant::now();

    // Three seats now; the cached one-seat license still answers.
    set_plan(&server, tenant, 3, LicenseStatus::Active, None).await;
    let early = acquire(&server.url, &owner, &machine(2), "desktop").await;
    assert!(
        cached_at.elapsed() < CACHE,
        "the machine was too slow to see the cache; nothing was checked"
    );
    assert_eq!(
        early.code(),
        Some(ProblemCode::SeatsExhausted),
        "{}",
        early.text
    );
    assert_eq!(early.problem().max_seats, Some(1), "the cached plan");

    // Once the entry has expired, the new plan.
    tokio::time::sleep(CACHE.saturating_sub(cached_at.elapsed()) + CACHE / 4).await;
    let late = acquire(&server.url, &owner, &machine(2), "desktop").await;
    assert_eq!(late.status, StatusCode::OK, "{}", late.text);
    assert_eq!(late.json::<AcquireResponse>().license.max_seats, 3);
}

async fn the_same_machine_gets_its_seat_back_and_a_second_machine_is_refused(backends: Backends) {
    let Some((server, owner, _)) = owner_on(backends, &[]).await else {
        return;
    };
    let first = acquire(&server.url, &owner, &machine(1), "laptop").await;
    assert_eq!(first.status, StatusCode::OK);

    let again = acquire(&server.url, &owner, &machine(1), "laptop").await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "a retried acquire is not a second seat"
    );
    let (first, again): (AcquireResponse, AcquireResponse) = (first.json(), again.json());
    assert_eq!(again.session_id, first.session_id);
    assert!(again.renewed);

    let refused = acquire(&server.url, &owner, &machine(2), "desktop").await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(refused.code(), Some(ProblemCode::SeatsExhausted));
    assert_eq!(refused.content_type(), "application/problem+json");
    let problem = refused.problem();
    assert_eq!(problem.max_seats, Some(1));
    assert_eq!(problem.seats_in_use, Some(1));
    let retry_after: u64 = refused.headers["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((1..=360).contains(&retry_after), "{retry_after}");
    let holders = problem.holders.expect("an owner sees who holds the seats");
    assert_eq!(holders.len(), 1);
    assert_eq!(holders[0].hostname, "laptop");
    assert_eq!(holders[0].email, Some(owner.email.clone().expect("email")));
}

async fn a_member_is_refused_without_seeing_who_holds_the_seats(backends: Backends) {
    let Some((server, owner, tenant)) = owner_on(backends, &[]).await else {
        return;
    };
    let member = Person::at("acme.test");
    let invited = send(
        Method::POST,
        &format!("{}/api/v1/tenants/{tenant}/invitations", server.url),
        Some(&owner.token()),
        Some(serde_json::json!({"email": member.email, "role": Role::Member})),
    )
    .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.text);
    assert_eq!(
        register(&server.url, &member).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        acquire(&server.url, &owner, &machine(1), "owner-box")
            .await
            .status,
        StatusCode::OK
    );

    let refused = acquire(&server.url, &member, &machine(2), "member-box").await;
    assert_eq!(refused.code(), Some(ProblemCode::SeatsExhausted));
    assert!(refused.problem().holders.is_none(), "{}", refused.text);
}

async fn a_refused_machine_that_waits_retry_after_gets_the_abandoned_seat(backends: Backends) {
    let Some((server, owner, _)) = owner_on(backends, FAST).await else {
        return;
    };
    assert_eq!(
        acquire(&server.url, &owner, &machine(1), "crashed")
            .await
            .status,
        StatusCode::OK
    );
    let refused = acquire(&server.url, &owner, &machine(2), "waiting").await;
    assert_eq!(refused.code(), Some(ProblemCode::SeatsExhausted));
    let wait: u64 = refused.headers["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!(
        wait <= 2,
        "the seat frees within the TTL, not later: {wait}"
    );

    tokio::time::sleep(Duration::from_millis(wait * 1000 + 300)).await;

    let granted = acquire(&server.url, &owner, &machine(2), "waiting").await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.text);
}

async fn refused_licenses_answer_their_own_codes_and_are_audited(backends: Backends) {
    let Some((server, owner, tenant)) = owner_on(backends, FAST).await else {
        return;
    };

    let stranger = Person::at("nowhere.test");
    let unregistered = acquire(&server.url, &stranger, &machine(1), "box").await;
    assert_eq!(
        (unregistered.status, unregistered.code()),
        (StatusCode::FORBIDDEN, Some(ProblemCode::NoLicense))
    );

    set_plan(&server, tenant, 5, LicenseStatus::Suspended, None).await;
    let suspended = acquire(&server.url, &owner, &machine(1), "box").await;
    assert_eq!(
        (suspended.status, suspended.code()),
        (StatusCode::FORBIDDEN, Some(ProblemCode::LicenseSuspended))
    );

    set_plan(&server, tenant, 5, LicenseStatus::Active, Some(-1)).await;
    let expired = acquire(&server.url, &owner, &machine(1), "box").await;
    assert_eq!(
        (expired.status, expired.code()),
        (StatusCode::FORBIDDEN, Some(ProblemCode::LicenseExpired))
    );

    set_plan(&server, tenant, 5, LicenseStatus::Canceled, None).await;
    assert_eq!(
        acquire(&server.url, &owner, &machine(1), "box")
            .await
            .code(),
        Some(ProblemCode::LicenseCanceled)
    );

    let audit = server
        .local
        .store
        .audit_events(tenant, 10)
        .await
        .expect("audit");
    let reasons: Vec<&Value> = audit.iter().map(|e| &e.detail.0["reason"]).collect();
    for reason in [
        ProblemCode::LicenseSuspended,
        ProblemCode::LicenseExpired,
        ProblemCode::LicenseCanceled,
    ] {
        assert!(
            reasons.iter().any(|r| *r == reason.as_str()),
            "{reason} missing from {reasons:?}"
        );
    }
}

async fn lowering_the_seats_evicts_nobody_and_refuses_until_under_the_cap(backends: Backends) {
    let Some((server, owner, tenant)) = owner_on(backends, &[("LICENSE_CACHE_SECONDS", "0")]).await
    else {
        return;
    };
    set_plan(&server, tenant, 3, LicenseStatus::Active, None).await;
    let mut leases = Vec::new();
    for n in 1..=3 {
        let granted = acquire(&server.url, &owner, &machine(n), "box").await;
        assert_eq!(granted.status, StatusCode::OK);
        leases.push(lease(&granted));
    }

    set_plan(&server, tenant, 1, LicenseStatus::Active, None).await;
    for lease in &leases {
        assert_eq!(
            heartbeat(&server.url, lease).await.status,
            StatusCode::OK,
            "nobody is evicted"
        );
    }
    assert_eq!(
        acquire(&server.url, &owner, &machine(9), "new")
            .await
            .code(),
        Some(ProblemCode::SeatsExhausted)
    );
    for lease in &leases[..2] {
        assert_eq!(
            release(&server.url, lease).await.status,
            StatusCode::NO_CONTENT
        );
    }
    assert_eq!(
        acquire(&server.url, &owner, &machine(9), "new")
            .await
            .code(),
        Some(ProblemCode::SeatsExhausted),
        "1 live = 1 seat: still full"
    );
    assert_eq!(
        release(&server.url, &leases[2]).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        acquire(&server.url, &owner, &machine(9), "new")
            .await
            .status,
        StatusCode::OK
    );
}
