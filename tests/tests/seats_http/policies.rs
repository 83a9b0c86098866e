//! The license's seat policies over HTTP: an owner sets them; a borrowed seat outlives its
//! program and frees itself at its end or on return; the per-user cap refuses a user's next
//! machine with a sentence naming the ones holding their seats.

use integration_tests::api::{self, acquire, heartbeat, machine, release, send};
use integration_tests::server::{Backends, TestServer};
use integration_tests::tokens::Person;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::api::{AcquireResponse, LicenseResponse, ProblemCode, SeatPolicy};
use shared::domain::LicenseStatus;
use uuid::Uuid;

use crate::{FAST, audit_of, owner_on, server_claims, sessions_of, set_plan};

integration_tests::on_both_backends!(
    an_owner_sets_the_policies_and_they_are_checked_and_audited,
    a_borrowed_seat_outlives_its_program_and_a_return_frees_it,
    borrowing_is_refused_unless_the_license_allows_that_long,
    a_borrowed_seat_needs_no_heartbeat_and_frees_itself_at_its_end,
    the_per_user_cap_refuses_a_users_next_machine_naming_the_ones_they_hold,
);

async fn put_policy(server: &TestServer, who: &Person, tenant: Uuid, body: Value) -> api::Reply {
    send(
        Method::PUT,
        &format!("{}/api/v1/tenants/{tenant}/license/policy", server.url),
        Some(&who.token()),
        Some(body),
    )
    .await
}

/// Acquires for `person` on machine `n`, borrowing for `seconds`.
async fn borrow(server: &TestServer, person: &Person, n: u32, seconds: u64) -> api::Reply {
    send(
        Method::POST,
        &format!("{}/api/v1/licenses/acquire", server.url),
        Some(&person.token()),
        Some(json!({
            "fingerprint": machine(n), "hostname": format!("laptop-{n}"), "borrow_seconds": seconds,
        })),
    )
    .await
}

async fn give_back(server: &TestServer, lease: &str) -> api::Reply {
    send(
        Method::POST,
        &format!("{}/api/v1/licenses/return", server.url),
        Some(lease),
        None,
    )
    .await
}

async fn an_owner_sets_the_policies_and_they_are_checked_and_audited(backends: Backends) {
    let Some((server, owner, tenant)) = owner_on(backends, FAST).await else {
        return;
    };
    // Off by default.
    let shown = send(
        Method::GET,
        &format!("{}/api/v1/tenants/{tenant}/license", server.url),
        Some(&owner.token()),
        None,
    )
    .await;
    assert_eq!(
        shown.json::<LicenseResponse>().license.policy,
        SeatPolicy::default()
    );

    // Set, and shown as set; a whole number may come as a float (JSON Schema's integer does).
    let set = put_policy(
        &server,
        &owner,
        tenant,
        json!({"max_borrow_seconds": 604800.0, "max_seats_per_user": 2}),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    let policy = SeatPolicy {
        max_borrow_seconds: Some(604_800),
        max_seats_per_user: Some(2),
    };
    assert_eq!(set.json::<LicenseResponse>().license.policy, policy);

    // Out of range, unknown fields and other tenants are refused, changing nothing.
    for (body, code) in [
        (
            json!({"max_borrow_seconds": 0}),
            ProblemCode::ValidationFailed,
        ),
        (
            json!({"max_borrow_seconds": 2_592_001}),
            ProblemCode::ValidationFailed,
        ),
        (
            json!({"max_seats_per_user": 0}),
            ProblemCode::ValidationFailed,
        ),
        (
            json!({"max_seats_per_user": -1}),
            ProblemCode::ValidationFailed,
        ),
        (
            json!({"max_seats_per_user": 1.5}),
            ProblemCode::ValidationFailed,
        ),
        (json!({"max_seats": 100}), ProblemCode::ValidationFailed),
    ] {
        let refused = put_policy(&server, &owner, tenant, body.clone()).await;
        assert_eq!(refused.code(), Some(code), "{body}: {}", refused.text);
    }
    let stranger = Person::at("other.test");
    assert_eq!(
        api::register(&server.url, &stranger).await.status,
        StatusCode::CREATED
    );
    let elsewhere = put_policy(&server, &stranger, tenant, json!({})).await;
    assert_eq!(
        elsewhere.code(),
        Some(ProblemCode::NotFound),
        "{}",
        elsewhere.text
    );
    let shown = send(
        Method::GET,
        &format!("{}/api/v1/tenants/{tenant}/license", server.url),
        Some(&owner.token()),
        None,
    )
    .await;
    assert_eq!(shown.json::<LicenseResponse>().license.policy, policy);

    // Turned off with nulls; each change is in the audit trail with its before and after.
    let off = put_policy(&server, &owner, tenant, json!({"max_borrow_seconds": null})).await;
    assert_eq!(
        off.json::<LicenseResponse>().license.policy,
        SeatPolicy::default()
    );
    let audit = audit_of(&server, &owner, tenant).await;
    let changes: Vec<_> = audit
        .events
        .iter()
        .filter(|e| e.action == "license.policy_changed")
        .collect();
    assert_eq!(changes.len(), 2, "{:?}", audit.events);
    assert_eq!(changes[0].detail["before"]["max_seats_per_user"], 2);
    assert_eq!(
        changes[0].detail["after"]["max_seats_per_user"],
        Value::Null
    );
}

async fn a_borrowed_seat_outlives_its_program_and_a_return_frees_it(backends: Backends) {
    // Arrange: one seat, borrowing allowed for a day.
    let Some((server, owner, tenant)) = owner_on(backends, FAST).await else {
        return;
    };
    set_plan(&server, tenant, 1, LicenseStatus::Active, None).await;
    put_policy(
        &server,
        &owner,
        tenant,
        json!({"max_borrow_seconds": 86400}),
    )
    .await;

    // Act: the laptop borrows its seat for an hour, then its program exits (a release).
    let before = chrono::Utc::now();
    let borrowed = borrow(&server, &owner, 1, 3600).await;
    assert_eq!(borrowed.status, StatusCode::OK, "{}", borrowed.text);
    let borrowed = borrowed.json::<AcquireResponse>();
    let until = borrowed.borrowed_until.expect("the seat is borrowed");
    assert!(
        (until - before).num_seconds() >= 3599,
        "{until} is not an hour on"
    );
    let claims = server_claims(&borrowed.lease, &server);
    assert_eq!(claims.bor, Some(until.timestamp()));
    assert!(
        claims.exp >= until.timestamp(),
        "the lease lasts the borrow"
    );
    let exited = release(&server.url, &borrowed.lease).await;
    assert_eq!(exited.status, StatusCode::NO_CONTENT);

    // Assert: still held and shown as borrowed; another machine is refused.
    let other = acquire(&server.url, &owner, &machine(2), "desktop").await;
    assert_eq!(
        other.code(),
        Some(ProblemCode::SeatsExhausted),
        "{}",
        other.text
    );
    let sessions = sessions_of(&server, &owner, tenant).await;
    assert_eq!(sessions.sessions.len(), 1);
    assert_eq!(
        sessions.sessions[0].borrowed_until.map(|t| t.timestamp()),
        Some(until.timestamp())
    );
    // A return frees it at once.
    let returned = give_back(&server, &borrowed.lease).await;
    assert_eq!(returned.status, StatusCode::NO_CONTENT, "{}", returned.text);
    let other = acquire(&server.url, &owner, &machine(2), "desktop").await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.text);
    // A return needs a genuine lease.
    let forged = give_back(&server, "not-a-lease").await;
    assert_eq!(forged.code(), Some(ProblemCode::InvalidToken));
}

async fn borrowing_is_refused_unless_the_license_allows_that_long(backends: Backends) {
    let Some((server, owner, tenant)) = owner_on(backends, FAST).await else {
        return;
    };
    let off = borrow(&server, &owner, 1, 60).await;
    assert_eq!(
        off.code(),
        Some(ProblemCode::BorrowNotAllowed),
        "{}",
        off.text
    );
    assert!(off.problem().detail.contains("does not allow borrowing"));
    put_policy(
        &server,
        &owner,
        tenant,
        json!({"max_borrow_seconds": 7 * 86400}),
    )
    .await;
    let long = borrow(&server, &owner, 1, 8 * 86400).await;
    assert_eq!(
        long.code(),
        Some(ProblemCode::BorrowNotAllowed),
        "{}",
        long.text
    );
    assert!(
        long.problem().detail.contains("up to 7 days"),
        "{}",
        long.text
    );
    for seconds in [0, 2_592_001] {
        let bad = borrow(&server, &owner, 1, seconds).await;
        assert_eq!(
            bad.code(),
            Some(ProblemCode::ValidationFailed),
            "{seconds}: {}",
            bad.text
        );
    }
    // None of these took a seat.
    let sessions = sessions_of(&server, &owner, tenant).await;
    assert!(sessions.sessions.is_empty());
}

async fn a_borrowed_seat_needs_no_heartbeat_and_frees_itself_at_its_end(backends: Backends) {
    // Arrange: one seat with a 2 s heartbeat TTL; the laptop borrows it for 6 s.
    let Some((server, owner, tenant)) = owner_on(backends, FAST).await else {
        return;
    };
    set_plan(&server, tenant, 1, LicenseStatus::Active, None).await;
    put_policy(&server, &owner, tenant, json!({"max_borrow_seconds": 60})).await;
    let borrowed = borrow(&server, &owner, 1, 6)
        .await
        .json::<AcquireResponse>();
    let until = borrowed.borrowed_until.expect("borrowed");

    // Act / Assert: well past the TTL, without a heartbeat, the seat is held.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let other = acquire(&server.url, &owner, &machine(2), "desktop").await;
    assert_eq!(
        other.code(),
        Some(ProblemCode::SeatsExhausted),
        "{}",
        other.text
    );
    // A heartbeat keeps the borrow's end.
    let beat = heartbeat(&server.url, &borrowed.lease).await;
    assert_eq!(beat.status, StatusCode::OK, "{}", beat.text);
    let kept = beat.json::<shared::api::HeartbeatResponse>().expires_at;
    assert!(
        (kept - until).num_milliseconds().abs() < 1000,
        "the heartbeat moved the seat's end from {until} to {kept}"
    );
    // Past its end it is free for anyone.
    let left = (until - chrono::Utc::now()).num_milliseconds().max(0) as u64 + 500;
    tokio::time::sleep(std::time::Duration::from_millis(left)).await;
    let other = acquire(&server.url, &owner, &machine(2), "desktop").await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.text);
}

async fn the_per_user_cap_refuses_a_users_next_machine_naming_the_ones_they_hold(
    backends: Backends,
) {
    // Arrange: ten seats, two per person.
    let Some((server, owner, tenant)) = owner_on(backends, FAST).await else {
        return;
    };
    set_plan(&server, tenant, 10, LicenseStatus::Active, None).await;
    put_policy(&server, &owner, tenant, json!({"max_seats_per_user": 2})).await;
    for n in 1..=2 {
        let held = acquire(&server.url, &owner, &machine(n), &format!("laptop-{n}")).await;
        assert_eq!(held.status, StatusCode::OK, "{}", held.text);
    }

    // Act: a third machine.
    let third = acquire(&server.url, &owner, &machine(3), "laptop-3").await;

    // Assert: refused with its own code and a sentence naming the two machines; the first
    // machine still renews its seat.
    assert_eq!(third.status, StatusCode::CONFLICT);
    assert_eq!(
        third.code(),
        Some(ProblemCode::UserSeatLimit),
        "{}",
        third.text
    );
    let problem = third.problem();
    assert!(
        problem.detail.contains("You already hold 2"),
        "{}",
        problem.detail
    );
    assert!(
        problem.detail.contains("laptop-1") && problem.detail.contains("laptop-2"),
        "{}",
        problem.detail
    );
    let mut named: Vec<String> = problem
        .holders
        .expect("the user's seats")
        .into_iter()
        .map(|h| h.hostname)
        .collect();
    named.sort();
    assert_eq!(named, ["laptop-1", "laptop-2"]);
    let again = acquire(&server.url, &owner, &machine(1), "laptop-1").await;
    assert!(again.json::<AcquireResponse>().renewed);
}
