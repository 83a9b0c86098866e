//! The usage report (`GET /api/v1/tenants/{id}/usage`): figures from real grants, releases and
//! denials drained into the audit trail; exact peaks, time-weighted averages, percentiles and
//! the seats that would have avoided the denials from synthetic rows across bucket edges; and
//! who may read it, and how a bad period is refused.

use chrono::{DateTime, TimeZone, Timelike, Utc};
use integration_tests::api::{Reply, acquire, machine, release, send};
use integration_tests::server::{Backends, TestServer};
use integration_tests::tokens::Person;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::api::{
    AcquireResponse, DenialCover, ProblemCode, Role, UsageBucket, UsageFigures, UsageResponse,
};
use shared::domain::{LicenseStatus, NewAuditEvent, Tier};
use shared::store::LicensePlan;
use uuid::Uuid;

use crate::{Org, call, join, org};

integration_tests::on_both_backends!(
    real_grants_releases_and_denials_are_reported_as_the_audit_trail_recorded_them,
    synthetic_events_give_exact_figures_per_hour_across_bucket_edges,
    a_day_report_carries_seats_over_midnight_and_ignores_a_release_without_a_grant,
    only_owners_and_admins_of_the_tenant_read_the_report,
    bad_periods_are_refused_with_stable_codes_and_never_a_500,
);

/// `GET …/usage?<query>` as `who`.
async fn usage(server: &TestServer, org: &Org, who: &Person, query: &str) -> Reply {
    let path = format!("/api/v1/tenants/{}/usage?{query}", org.tenant);
    call(server, Method::GET, &path, who, None).await
}

/// The report of a request that must succeed.
#[track_caller]
fn report(reply: &Reply) -> UsageResponse {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json()
}

/// Sets the organisation's license to `seats` seats.
async fn seats(server: &TestServer, org: &Org, seats: i32) {
    let plan = LicensePlan {
        tier: Tier::Team,
        max_seats: seats,
        features: Vec::new(),
        status: LicenseStatus::Active,
        expires_at: None,
    };
    server
        .local
        .store
        .update_license(org.tenant, &plan, Utc::now())
        .await
        .expect("the plan is set");
}

/// Waits, at most 16 s, until at least 15 s remain in the current UTC minute, so a few requests
/// that follow share one minute (and one hour) of the report.
async fn early_in_a_minute() {
    let second = Utc::now().second();
    if second > 45 {
        let wait = u64::from(61 - second);
        tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    }
}

/// A UTC time of 2025-06-02 (or the day after, with `day` 3).
fn june(day: u32, hour: u32, minute: u32, second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, day, hour, minute, second)
        .single()
        .expect("a valid time")
}

/// An audit row of `tenant` as the seat store's drain or acquire would write it.
fn row(
    tenant: Uuid,
    user: Option<Uuid>,
    action: &str,
    at: DateTime<Utc>,
    detail: Value,
) -> NewAuditEvent {
    NewAuditEvent {
        tenant_id: tenant,
        license_id: None,
        user_id: user,
        action: action.to_owned(),
        session_id: None,
        detail,
        request_id: None,
        occurred_at: at,
        dedupe_key: None,
    }
}

/// A full pool's denial row of one machine: `count` refusals at `in_use` seats.
fn denied(tenant: Uuid, user: Uuid, machine: &str, at: DateTime<Utc>, count: u64) -> NewAuditEvent {
    row(
        tenant,
        Some(user),
        "seat.denied",
        at,
        json!({"reason": "seats_exhausted", "count": count, "in_use": 3, "fingerprint": machine,
               "hostname": machine, "last_at": at.to_rfc3339()}),
    )
}

async fn real_grants_releases_and_denials_are_reported_as_the_audit_trail_recorded_them(
    backends: Backends,
) {
    let Some(server) = TestServer::start(backends, &[("LICENSE_CACHE_SECONDS", "0")]).await else {
        return;
    };
    let acme = org(&server, "acme.test").await;
    seats(&server, &acme, 2).await;
    let (admin, ana, bob) = (
        Person::at("acme.test"),
        Person::at("acme.test"),
        Person::at("acme.test"),
    );
    join(&server, &acme, &admin, Role::Admin).await;
    join(&server, &acme, &ana, Role::Member).await;
    join(&server, &acme, &bob, Role::Member).await;
    early_in_a_minute().await;

    // Two seats taken, three refusals of ana's machine and one of bob's, then one seat back.
    let owner_seat = acquire(&server.url, &acme.owner, &machine(1), "owner-box").await;
    let owner_lease = owner_seat.json::<AcquireResponse>().lease;
    acquire(&server.url, &admin, &machine(2), "admin-box")
        .await
        .json::<AcquireResponse>();
    for _ in 0..3 {
        let refused = acquire(&server.url, &ana, &machine(3), "ana-box").await;
        assert_eq!(
            refused.code(),
            Some(ProblemCode::SeatsExhausted),
            "{}",
            refused.text
        );
    }
    let refused = acquire(&server.url, &bob, &machine(4), "bob-box").await;
    assert_eq!(
        refused.code(),
        Some(ProblemCode::SeatsExhausted),
        "{}",
        refused.text
    );
    // The per-user cap refuses the owner's second machine: a denial more seats would not help.
    let policy = call(
        &server,
        Method::PUT,
        &format!("/api/v1/tenants/{}/license/policy", acme.tenant),
        &acme.owner,
        Some(json!({"max_borrow_seconds": null, "max_seats_per_user": 1})),
    )
    .await;
    assert_eq!(policy.status, StatusCode::OK, "{}", policy.text);
    let capped = acquire(&server.url, &acme.owner, &machine(5), "owner-laptop").await;
    assert_eq!(
        capped.code(),
        Some(ProblemCode::UserSeatLimit),
        "{}",
        capped.text
    );
    assert_eq!(
        release(&server.url, &owner_lease).await.status,
        StatusCode::NO_CONTENT
    );
    server.cleanup().await;

    let hourly = report(&usage(&server, &acme, &acme.owner, "bucket=hour").await);
    let daily = report(&usage(&server, &acme, &admin, "").await);

    // The default period: today and the six days before, by day, up to now.
    assert_eq!(daily.buckets.len(), 7);
    assert_eq!(daily.max_seats, 2);
    let today = daily.buckets.last().expect("today's bucket");
    let this_hour = hourly.buckets.last().expect("this hour's bucket");
    for figures in [
        &today.figures,
        &this_hour.figures,
        &daily.totals,
        &hourly.totals,
    ] {
        assert_eq!(figures.peak_in_use, 2);
        assert_eq!(
            figures.denials, 4,
            "three refusals of ana's machine, one of bob's"
        );
        assert_eq!(figures.user_cap_denials, 1);
        assert_eq!(
            (
                figures.borrowed,
                figures.queue_joined,
                figures.queue_claimed
            ),
            (0, 0, 0)
        );
    }
    assert!(
        daily.buckets[..6]
            .iter()
            .all(|b| b.figures == UsageFigures::default()),
        "nothing happened before today: {:?}",
        &daily.buckets[..6]
    );
    // Two seats in use and two machines refused in that minute: four seats avoid every denial.
    let cover = |percent, seats, more_seats| DenialCover {
        percent,
        seats,
        more_seats,
    };
    assert_eq!(
        daily.denial_cover,
        [cover(50, 4, 2), cover(90, 4, 2), cover(100, 4, 2)]
    );

    // The average weighs each count by how long it held, at the times the trail recorded.
    let events = server
        .local
        .store
        .audit_events(acme.tenant, 100)
        .await
        .expect("the trail reads");
    let at = |action: &str, nth: usize| {
        events
            .iter()
            .rev()
            .filter(|e| e.action == action)
            .nth(nth)
            .unwrap_or_else(|| panic!("a {action} event"))
            .occurred_at
            .timestamp_millis()
    };
    let (first, second, freed) = (
        at("seat.acquired", 0),
        at("seat.acquired", 1),
        at("seat.released", 0),
    );
    let end = daily.to.timestamp_millis();
    let seat_ms = (second - first) + 2 * (freed - second) + (end - freed);
    let expected = seat_ms as f64 / (end - today.start.timestamp_millis()) as f64;
    assert!(
        (today.figures.average_in_use - expected).abs() < 1e-9,
        "{} != {expected}",
        today.figures.average_in_use
    );
}

async fn synthetic_events_give_exact_figures_per_hour_across_bucket_edges(backends: Backends) {
    let Some(server) = TestServer::start(backends, &[]).await else {
        return;
    };
    let acme = org(&server, "acme.test").await;
    seats(&server, &acme, 3).await;
    let other = org(&server, "other.test").await;
    let (t, u) = (acme.tenant, acme.user);
    let (ana, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let rows = vec![
        // Before the period: the grant that says one seat is in use at 08:30, a claim not counted.
        row(
            t,
            Some(u),
            "seat.acquired",
            june(2, 7, 50, 0),
            json!({"in_use": 1}),
        ),
        row(
            t,
            Some(u),
            "queue.claimed",
            june(2, 8, 10, 0),
            json!({"ticket": "t0", "waited_ms": 99_999}),
        ),
        row(
            t,
            Some(u),
            "seat.acquired",
            june(2, 8, 45, 0),
            json!({"in_use": 2}),
        ),
        row(
            t,
            Some(u),
            "queue.joined",
            june(2, 8, 50, 0),
            json!({"ticket": "t1", "position": 1}),
        ),
        row(
            t,
            Some(u),
            "seat.acquired",
            june(2, 9, 15, 0),
            json!({"in_use": 3}),
        ),
        row(
            t,
            Some(u),
            "seat.borrowed",
            june(2, 9, 15, 0),
            json!({"until": "2025-06-05T09:15:00Z"}),
        ),
        row(
            t,
            Some(u),
            "queue.joined",
            june(2, 9, 20, 0),
            json!({"ticket": "t2", "position": 1}),
        ),
        row(
            t,
            Some(u),
            "queue.joined",
            june(2, 9, 21, 0),
            json!({"ticket": "t3", "position": 2}),
        ),
        // 09:20: two machines refused (demand 3 + 2), 09:30 one (3 + 1), 09:40 three (3 + 3).
        denied(t, ana, "a", june(2, 9, 20, 10), 5),
        denied(t, bob, "b", june(2, 9, 20, 40), 3),
        denied(t, ana, "a", june(2, 9, 30, 5), 2),
        denied(t, ana, "a", june(2, 9, 40, 0), 1),
        denied(t, bob, "b", june(2, 9, 40, 1), 1),
        denied(t, u, "c", june(2, 9, 40, 2), 1),
        row(
            t,
            Some(u),
            "seat.denied",
            june(2, 9, 25, 0),
            json!({"reason": "user_seat_limit", "hostname": "c"}),
        ),
        row(
            t,
            Some(u),
            "queue.claimed",
            june(2, 9, 31, 0),
            json!({"ticket": "t1", "waited_ms": 1_000}),
        ),
        row(
            t,
            Some(u),
            "queue.claimed",
            june(2, 9, 32, 0),
            json!({"ticket": "t2", "waited_ms": 4_000}),
        ),
        row(
            t,
            Some(u),
            "queue.claimed",
            june(2, 9, 33, 0),
            json!({"ticket": "t3", "waited_ms": 2_000}),
        ),
        row(
            t,
            Some(u),
            "queue.claimed",
            june(2, 9, 34, 0),
            json!({"ticket": "t4", "waited_ms": 3_000}),
        ),
        row(t, Some(u), "seat.released", june(2, 9, 45, 0), json!({})),
        // Exactly on the edge of 10:00: the count there is 1 for the whole of that hour.
        row(t, None, "seat.expired", june(2, 10, 0, 0), json!({})),
        row(
            t,
            Some(u),
            "queue.left",
            june(2, 10, 5, 0),
            json!({"ticket": "t5", "reason": "expired", "waited_ms": 600_000}),
        ),
        row(
            t,
            Some(u),
            "queue.left",
            june(2, 10, 6, 0),
            json!({"ticket": "t6", "reason": "left", "waited_ms": 60_000}),
        ),
        // A refusal of the license itself is no want of seats.
        row(
            t,
            Some(u),
            "seat.denied",
            june(2, 10, 30, 0),
            json!({"reason": "license_suspended"}),
        ),
        row(
            t,
            Some(u),
            "queue.claimed",
            june(2, 11, 10, 0),
            json!({"ticket": "t7", "waited_ms": 7_000}),
        ),
        row(
            t,
            Some(u),
            "queue.claimed",
            june(2, 11, 11, 0),
            json!({"ticket": "t8", "waited_ms": 6_000}),
        ),
        row(t, Some(u), "seat.released", june(2, 11, 30, 0), json!({})),
        // Another organisation's trail is not this one's.
        row(
            other.tenant,
            Some(other.user),
            "seat.acquired",
            june(2, 9, 0, 0),
            json!({"in_use": 50}),
        ),
        denied(other.tenant, other.user, "x", june(2, 9, 0, 0), 1_000),
    ];
    let written = server
        .local
        .store
        .append_audit(&rows)
        .await
        .expect("rows written");
    assert_eq!(written, rows.len() as u64);

    let got = report(
        &usage(
            &server,
            &acme,
            &acme.owner,
            "from=2025-06-02T08:30:00Z&to=2025-06-02T12:00:00Z&bucket=hour",
        )
        .await,
    );

    let figures =
        |peak, average, denials, user_cap, borrowed, queue: [u64; 3], waits: Option<(u64, u64)>| {
            UsageFigures {
                peak_in_use: peak,
                average_in_use: average,
                denials,
                user_cap_denials: user_cap,
                borrowed,
                queue_joined: queue[0],
                queue_claimed: queue[1],
                queue_abandoned: queue[2],
                queue_wait_median_ms: waits.map(|w| w.0),
                queue_wait_p95_ms: waits.map(|w| w.1),
            }
        };
    let bucket = |hour, figures| UsageBucket {
        start: june(2, hour, 0, 0),
        end: june(2, hour + 1, 0, 0),
        figures,
    };
    assert_eq!(
        got.buckets,
        [
            // 08:30–09:00: 1 seat for 15 min, 2 for 15 min.
            bucket(8, figures(2, 1.5, 0, 0, 0, [1, 0, 0], None)),
            // 2 for 15 min, 3 for 30, 2 for 15; waits 1, 2, 3, 4 s: median the 2nd, p95 the 4th.
            bucket(
                9,
                figures(3, 2.5, 13, 1, 1, [2, 4, 0], Some((2_000, 4_000)))
            ),
            bucket(10, figures(1, 1.0, 0, 0, 0, [0, 0, 2], None)),
            // 1 for 30 min, none for 30; waits 6 and 7 s.
            bucket(
                11,
                figures(1, 0.5, 0, 0, 0, [0, 2, 0], Some((6_000, 7_000)))
            ),
        ]
    );
    // 285 seat-minutes in 210 minutes; waits 1, 2, 3, 4, 6, 7 s: the 3rd and the 6th.
    assert_eq!(
        got.totals,
        figures(3, 285.0 / 210.0, 13, 1, 1, [3, 6, 2], Some((3_000, 7_000)))
    );
    // Demands 4 (2 denials), 5 (8) and 6 (3) of 13: 5 seats avoid 10, 6 avoid all.
    let cover = |percent, seats, more_seats| DenialCover {
        percent,
        seats,
        more_seats,
    };
    assert_eq!(
        got.denial_cover,
        [cover(50, 5, 2), cover(90, 6, 3), cover(100, 6, 3)]
    );
    assert_eq!(got.max_seats, 3);
    assert_eq!((got.from, got.to), (june(2, 8, 30, 0), june(2, 12, 0, 0)));
}

async fn a_day_report_carries_seats_over_midnight_and_ignores_a_release_without_a_grant(
    backends: Backends,
) {
    let Some(server) = TestServer::start(backends, &[]).await else {
        return;
    };
    let acme = org(&server, "acme.test").await;
    let (t, u) = (acme.tenant, Some(acme.user));
    let rows = vec![
        // No grant before it: the count is 0 at the period's start, never below.
        row(t, u, "seat.released", june(2, 7, 0, 0), json!({})),
        row(
            t,
            u,
            "seat.acquired",
            june(2, 7, 50, 0),
            json!({"in_use": 1}),
        ),
        row(
            t,
            u,
            "seat.acquired",
            june(2, 8, 45, 0),
            json!({"in_use": 2}),
        ),
        // The seat store counted a seat the trail does not show: its count is taken.
        row(
            t,
            u,
            "seat.acquired",
            june(2, 9, 15, 0),
            json!({"in_use": 4}),
        ),
        row(t, u, "seat.released", june(2, 9, 45, 0), json!({})),
        row(t, u, "seat.expired", june(2, 10, 0, 0), json!({})),
        row(t, u, "seat.expired", june(2, 11, 30, 0), json!({})),
        row(t, u, "seat.released", june(2, 11, 40, 0), json!({})),
        row(
            t,
            u,
            "seat.acquired",
            june(2, 23, 0, 0),
            json!({"in_use": 1}),
        ),
        row(t, u, "seat.released", june(3, 1, 0, 0), json!({})),
    ];
    server
        .local
        .store
        .append_audit(&rows)
        .await
        .expect("rows written");

    let got = report(&usage(&server, &acme, &acme.owner, "from=2025-06-02&to=2025-06-03").await);

    // 06-02: 1×55 + 2×30 + 4×30 + 3×15 + 2×90 + 1×10 + 1×60 (from 23:00) seat-minutes.
    let day = 1440.0;
    let averages: Vec<(u32, f64)> = got
        .buckets
        .iter()
        .map(|b| (b.figures.peak_in_use, b.figures.average_in_use))
        .collect();
    assert_eq!(averages, [(4, 530.0 / day), (1, 60.0 / day)]);
    assert_eq!(got.buckets[1].start, june(3, 0, 0, 0));
    assert_eq!(got.totals.average_in_use, 590.0 / (2.0 * day));
    assert!(
        got.denial_cover.is_empty(),
        "no denials: {:?}",
        got.denial_cover
    );
}

async fn only_owners_and_admins_of_the_tenant_read_the_report(backends: Backends) {
    let Some(server) = TestServer::start(backends, &[]).await else {
        return;
    };
    let acme = org(&server, "acme.test").await;
    let (admin, member) = (Person::at("acme.test"), Person::at("acme.test"));
    join(&server, &acme, &admin, Role::Admin).await;
    join(&server, &acme, &member, Role::Member).await;
    let rival = org(&server, "rival.test").await;
    let url = format!("{}/api/v1/tenants/{}/usage", server.url, acme.tenant);

    // No credentials: 401 before the query's rules.
    for query in ["", "?bucket=week"] {
        let anonymous = send(Method::GET, &format!("{url}{query}"), None, None).await;
        assert_eq!(
            anonymous.status,
            StatusCode::UNAUTHORIZED,
            "{}",
            anonymous.text
        );
        assert_eq!(anonymous.problem().code, ProblemCode::InvalidToken);
        assert!(anonymous.headers.contains_key("www-authenticate"));
    }
    let refused = usage(&server, &acme, &member, "").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert_eq!(refused.problem().code, ProblemCode::Forbidden);
    let foreign = usage(&server, &acme, &rival.owner, "").await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{}", foreign.text);
    assert_eq!(foreign.problem().code, ProblemCode::NotFound);
    assert_eq!(
        report(&usage(&server, &acme, &admin, "").await)
            .buckets
            .len(),
        7
    );
    assert_eq!(
        report(&usage(&server, &acme, &acme.owner, "").await).max_seats,
        1
    );
}

async fn bad_periods_are_refused_with_stable_codes_and_never_a_500(backends: Backends) {
    let Some(server) = TestServer::start(backends, &[]).await else {
        return;
    };
    let acme = org(&server, "acme.test").await;
    let cases = [
        (
            "bucket=week",
            StatusCode::UNPROCESSABLE_ENTITY,
            ProblemCode::ValidationFailed,
        ),
        (
            "from=2025-13-40",
            StatusCode::UNPROCESSABLE_ENTITY,
            ProblemCode::ValidationFailed,
        ),
        (
            "to=yesterday",
            StatusCode::UNPROCESSABLE_ENTITY,
            ProblemCode::ValidationFailed,
        ),
        (
            "from=2025-06-02T25:00:00Z",
            StatusCode::UNPROCESSABLE_ENTITY,
            ProblemCode::ValidationFailed,
        ),
        (
            "limit=10",
            StatusCode::UNPROCESSABLE_ENTITY,
            ProblemCode::ValidationFailed,
        ),
        (
            "from=2025-06-05&to=2025-06-04",
            StatusCode::BAD_REQUEST,
            ProblemCode::InvalidRange,
        ),
        (
            "from=2025-06-05T10:00:00Z&to=2025-06-05T10:00:00Z",
            StatusCode::BAD_REQUEST,
            ProblemCode::InvalidRange,
        ),
        (
            "from=2024-01-01&to=2025-02-04",
            StatusCode::BAD_REQUEST,
            ProblemCode::InvalidRange,
        ),
        (
            "from=2999-01-01",
            StatusCode::BAD_REQUEST,
            ProblemCode::InvalidRange,
        ),
        (
            "from=0001-01-01&to=9999-12-31",
            StatusCode::BAD_REQUEST,
            ProblemCode::InvalidRange,
        ),
    ];
    for (query, status, code) in cases {
        let refused = usage(&server, &acme, &acme.owner, query).await;
        assert_eq!(
            (refused.status, refused.problem().code),
            (status, code),
            "{query}: {}",
            refused.text
        );
    }
    // The longest period is 400 days, in hours too; one ancient day answers with empty buckets.
    let longest = report(
        &usage(
            &server,
            &acme,
            &acme.owner,
            "from=2024-01-01&to=2025-02-03&bucket=hour",
        )
        .await,
    );
    assert_eq!(longest.buckets.len(), 400 * 24);
    let ancient =
        report(&usage(&server, &acme, &acme.owner, "from=0001-01-01&to=0001-01-01").await);
    assert_eq!(ancient.buckets.len(), 1);
    assert_eq!(ancient.totals, UsageFigures::default());
}
