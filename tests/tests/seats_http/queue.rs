//! The fair queue over HTTP: an acquire with `wait_seconds` answers 202 with its place, holds the
//! request while it waits (past `REQUEST_TIMEOUT_SECONDS` when asked to), answers 200 the moment
//! a seat is its; `leave` frees the place; owners see the queue; every join, claim and leave
//! reaches the audit trail.

use std::time::{Duration, Instant};

use integration_tests::api::{self, acquire, machine, release, send};
use integration_tests::server::Backends;
use integration_tests::server::TestServer;
use integration_tests::tokens::Person;
use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::api::{AcquireResponse, ProblemCode, QueuedResponse};
use uuid::Uuid;

use crate::{audit_of, lease, owner_on, sessions_of};

/// Seats that outlive each test (a held seat frees only when released), no license cache.
const HELD: &[(&str, &str)] = &[
    ("SEAT_TTL_SECONDS", "60"),
    ("HEARTBEAT_INTERVAL_SECONDS", "1"),
    ("LICENSE_CACHE_SECONDS", "0"),
];

integration_tests::on_both_backends!(
    a_waiting_acquire_answers_its_place_then_the_seat_the_moment_it_frees,
    a_wait_longer_than_the_request_timeout_is_waited_in_full,
    leave_frees_the_place_and_only_the_tickets_machine_leaves,
    bad_waits_and_leaves_are_refused_and_owners_see_the_queue,
    joins_claims_and_leaves_reach_the_audit_trail,
);

/// Acquires for `person` on machine `n`, waiting up to `seconds`.
async fn wait_for_seat(server: &TestServer, person: &Person, n: u32, seconds: u64) -> api::Reply {
    send(
        Method::POST,
        &format!("{}/api/v1/licenses/acquire", server.url),
        Some(&person.token()),
        Some(json!({
            "fingerprint": machine(n), "hostname": format!("desk-{n}"), "wait_seconds": seconds,
        })),
    )
    .await
}

async fn leave(server: &TestServer, person: &Person, n: u32, ticket: &str) -> api::Reply {
    send(
        Method::POST,
        &format!("{}/api/v1/licenses/leave", server.url),
        Some(&person.token()),
        Some(json!({"fingerprint": machine(n), "ticket": ticket})),
    )
    .await
}

#[track_caller]
fn queued(reply: &api::Reply) -> QueuedResponse {
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    reply.json()
}

/// A one-seat organisation whose seat machine 1 holds: the server, its owner, the tenant and
/// the holder's lease.
async fn full(
    backends: Backends,
    vars: &[(&str, &str)],
) -> Option<(TestServer, Person, Uuid, String)> {
    let (server, owner, tenant) = owner_on(backends, vars).await?;
    let held = acquire(&server.url, &owner, &machine(1), "desk-1").await;
    assert_eq!(held.status, StatusCode::OK, "{}", held.text);
    let lease = lease(&held);
    Some((server, owner, tenant, lease))
}

async fn a_waiting_acquire_answers_its_place_then_the_seat_the_moment_it_frees(backends: Backends) {
    let Some((server, owner, _, held)) = full(backends, HELD).await else {
        return;
    };

    // A wait of 0 answers at once with the place.
    let place = queued(&wait_for_seat(&server, &owner, 2, 0).await);
    assert_eq!(
        (
            place.position,
            place.queue_length,
            place.max_seats,
            place.seats_in_use
        ),
        (1, 1, 1, 1)
    );
    assert!(place.poll_before > chrono::Utc::now(), "{place:?}");
    let again = queued(&wait_for_seat(&server, &owner, 2, 0).await);
    assert_eq!(again.ticket, place.ticket, "one ticket per machine");

    // A long wait is answered the moment the seat frees.
    let waiting = {
        let (url, token) = (server.url.clone(), owner.token());
        tokio::spawn(async move {
            let reply = send(
                Method::POST,
                &format!("{url}/api/v1/licenses/acquire"),
                Some(&token),
                Some(json!({"fingerprint": machine(2), "hostname": "desk-2", "wait_seconds": 20})),
            )
            .await;
            (reply, Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let freed_at = Instant::now();
    assert_eq!(
        release(&server.url, &held).await.status,
        StatusCode::NO_CONTENT
    );
    let (reply, answered_at) = waiting.await.expect("the waiting request ends");
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let grant: AcquireResponse = reply.json();
    assert!(grant.waited_seconds.is_some_and(|s| s >= 1), "{grant:?}");
    assert_eq!(grant.license.seats_in_use, 1);
    assert!(
        answered_at.duration_since(freed_at) < Duration::from_secs(1),
        "answered {:?} after the seat freed",
        answered_at.duration_since(freed_at)
    );
}

async fn a_wait_longer_than_the_request_timeout_is_waited_in_full(backends: Backends) {
    let vars = [HELD, &[("REQUEST_TIMEOUT_SECONDS", "1")]].concat();
    let Some((server, owner, _, _)) = full(backends, &vars).await else {
        return;
    };
    let started = Instant::now();

    let reply = wait_for_seat(&server, &owner, 2, 3).await;

    let place = queued(&reply);
    assert_eq!(place.position, 1);
    assert!(
        started.elapsed() >= Duration::from_millis(2500),
        "the request waited: {:?}",
        started.elapsed()
    );
}

async fn leave_frees_the_place_and_only_the_tickets_machine_leaves(backends: Backends) {
    let Some((server, owner, _, _)) = full(backends, HELD).await else {
        return;
    };
    let first = queued(&wait_for_seat(&server, &owner, 2, 0).await);
    let second = queued(&wait_for_seat(&server, &owner, 3, 0).await);
    assert_eq!(second.position, 2);

    let by_other_machine = leave(&server, &owner, 3, &first.ticket).await;
    let by_its_machine = leave(&server, &owner, 2, &first.ticket).await;
    let again = leave(&server, &owner, 2, &first.ticket).await;

    assert_eq!(by_other_machine.json::<serde_json::Value>()["left"], false);
    assert_eq!(by_its_machine.json::<serde_json::Value>()["left"], true);
    assert_eq!(again.json::<serde_json::Value>()["left"], false);
    let moved_up = queued(&wait_for_seat(&server, &owner, 3, 0).await);
    assert_eq!((moved_up.position, moved_up.queue_length), (1, 1));
    // Another organisation's member cannot reach this queue: the ticket is looked up in their own.
    let stranger = Person::at("elsewhere.test");
    assert_eq!(
        api::register(&server.url, &stranger).await.status,
        StatusCode::CREATED
    );
    let foreign = leave(&server, &stranger, 3, &moved_up.ticket).await;
    assert_eq!(foreign.json::<serde_json::Value>()["left"], false);
    assert_eq!(
        queued(&wait_for_seat(&server, &owner, 3, 0).await).position,
        1
    );
}

async fn bad_waits_and_leaves_are_refused_and_owners_see_the_queue(backends: Backends) {
    let Some((server, owner, tenant, _)) = full(backends, HELD).await else {
        return;
    };

    let too_long = wait_for_seat(&server, &owner, 2, 26).await;
    let bad_ticket = leave(&server, &owner, 2, "not-a-ticket").await;
    let unsigned = send(
        Method::POST,
        &format!("{}/api/v1/licenses/leave", server.url),
        None,
        Some(json!({"fingerprint": machine(2), "ticket": "ab"})),
    )
    .await;
    let unknown_field = send(
        Method::POST,
        &format!("{}/api/v1/licenses/leave", server.url),
        Some(&owner.token()),
        Some(json!({"fingerprint": machine(2), "ticket": "ab", "all": true})),
    )
    .await;

    for (reply, status) in [
        (&too_long, StatusCode::UNPROCESSABLE_ENTITY),
        (&bad_ticket, StatusCode::UNPROCESSABLE_ENTITY),
        (&unsigned, StatusCode::UNAUTHORIZED),
        (&unknown_field, StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        assert_eq!(reply.status, status, "{}", reply.text);
        assert_eq!(reply.content_type(), "application/problem+json");
    }
    assert_eq!(too_long.code(), Some(ProblemCode::ValidationFailed));

    // A full pool refused without waiting names the queue once someone waits.
    let place = queued(&wait_for_seat(&server, &owner, 2, 0).await);
    let refused = acquire(&server.url, &owner, &machine(3), "desk-3").await;
    assert_eq!(
        refused.code(),
        Some(ProblemCode::SeatsExhausted),
        "{}",
        refused.text
    );
    assert_eq!(refused.problem().queue_length, Some(1));
    assert!(
        refused.problem().detail.contains("waiting in the queue"),
        "{}",
        refused.text
    );

    let sessions = sessions_of(&server, &owner, tenant).await;
    assert_eq!(
        sessions
            .queue
            .iter()
            .map(|w| (w.ticket.clone(), w.position, w.hostname.clone()))
            .collect::<Vec<_>>(),
        vec![(place.ticket, 1, "desk-2".to_owned())]
    );
}

async fn joins_claims_and_leaves_reach_the_audit_trail(backends: Backends) {
    let Some((server, owner, tenant, held)) = full(backends, HELD).await else {
        return;
    };
    let first = queued(&wait_for_seat(&server, &owner, 2, 0).await);
    let second = queued(&wait_for_seat(&server, &owner, 3, 0).await);
    assert_eq!(
        release(&server.url, &held).await.status,
        StatusCode::NO_CONTENT
    );
    let claimed = wait_for_seat(&server, &owner, 2, 0).await;
    assert_eq!(claimed.status, StatusCode::OK, "{}", claimed.text);
    assert_eq!(
        leave(&server, &owner, 3, &second.ticket)
            .await
            .json::<serde_json::Value>()["left"],
        true
    );

    server.cleanup().await;

    let audit = audit_of(&server, &owner, tenant).await;
    let mut queue: Vec<(String, String)> = audit
        .events
        .iter()
        .filter(|e| e.action.starts_with("queue."))
        .map(|e| {
            (
                e.action.clone(),
                e.detail["ticket"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    queue.reverse();
    assert_eq!(
        queue,
        vec![
            ("queue.joined".to_owned(), first.ticket.clone()),
            ("queue.joined".to_owned(), second.ticket.clone()),
            ("queue.claimed".to_owned(), first.ticket.clone()),
            ("queue.left".to_owned(), second.ticket.clone()),
        ],
        "{:?}",
        audit.events
    );
    let left = audit
        .events
        .iter()
        .find(|e| e.action == "queue.left")
        .expect("a leave");
    assert_eq!(left.detail["reason"], "left");
    assert_eq!(left.detail["hostname"], "desk-3");
    let claim = audit
        .events
        .iter()
        .find(|e| e.action == "queue.claimed")
        .expect("a claim");
    assert!(
        claim.detail["waited_ms"].as_i64().is_some_and(|ms| ms >= 0),
        "{claim:?}"
    );
}
