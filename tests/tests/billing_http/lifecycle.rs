//! A subscription's whole life, delivered in order and shuffled with duplicates, and the seats
//! and suspension it means for acquire.

use chrono::Utc;
use integration_tests::api::{acquire, heartbeat, machine};
use integration_tests::server::{Backends, TestServer};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use reqwest::StatusCode;
use serde_json::Value;
use shared::api::{
    AcquireResponse, LicenseStatus, ProblemCode, Tier, WebhookOutcome, WebhookResponse,
};
use shared::domain::License;
use uuid::Uuid;

use crate::{billing_vars, deliver, invoice_event, org, subscription_event};

integration_tests::on_both_backends!(
    a_subscription_life_in_order_and_shuffled_with_duplicates_ends_in_the_same_license,
    a_tenant_at_ten_seats_gets_its_tenth_seat_not_an_eleventh_and_lowering_evicts_nobody,
    an_unpaid_subscription_is_suspended_after_the_grace_and_restored_by_a_payment,
);

/// created → quantity 5 → 10 → payment failed → paid → deleted, a second apart, ending `end`.
fn life(tenant: Uuid, end: i64) -> Vec<Value> {
    let t = |i: i64| end - 6 + i;
    let sub = |id: &str, kind: &str, i: i64, status: &str, quantity: u32| {
        subscription_event(
            &format!("{id}_{}", tenant.simple()),
            kind,
            t(i),
            tenant,
            status,
            quantity,
        )
    };
    let invoice = |id: &str, kind: &str, i: i64| {
        invoice_event(&format!("{id}_{}", tenant.simple()), kind, t(i), tenant)
    };
    vec![
        sub(
            "evt_created",
            "customer.subscription.created",
            1,
            "active",
            1,
        ),
        sub("evt_five", "customer.subscription.updated", 2, "active", 5),
        sub("evt_ten", "customer.subscription.updated", 3, "active", 10),
        invoice("evt_failed", "invoice.payment_failed", 4),
        invoice("evt_paid", "invoice.paid", 5),
        sub(
            "evt_deleted",
            "customer.subscription.deleted",
            6,
            "canceled",
            10,
        ),
    ]
}

async fn license(server: &TestServer, tenant: Uuid) -> License {
    server
        .local
        .store
        .license_of_tenant(tenant)
        .await
        .expect("read")
        .expect("a license")
}

async fn plan_changes(server: &TestServer, tenant: Uuid) -> usize {
    server
        .local
        .store
        .audit_events(tenant, 1000)
        .await
        .expect("audit")
        .iter()
        .filter(|e| e.action == "billing.plan_changed")
        .count()
}

#[track_caller]
fn outcome(reply: &integration_tests::api::Reply) -> WebhookOutcome {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json::<WebhookResponse>().outcome
}

async fn a_subscription_life_in_order_and_shuffled_with_duplicates_ends_in_the_same_license(
    backends: Backends,
) {
    let Some(server) = TestServer::start(backends, &billing_vars(&[])).await else {
        return;
    };
    let now = Utc::now().timestamp();

    // In order: every delivery is a real change, audited once, and the plan follows it.
    let (_, in_order) = org(&server, "inorder.test").await;
    let mut seen = Vec::new();
    for event in life(in_order, now) {
        assert_eq!(
            outcome(&deliver(&server, &event).await),
            WebhookOutcome::Changed
        );
        let l = license(&server, in_order).await;
        seen.push((l.tier, l.max_seats, l.grace_until.is_some()));
    }
    assert_eq!(
        seen,
        [
            (Tier::Pro, 1, false),
            (Tier::Pro, 5, false),
            (Tier::Pro, 10, false),
            (Tier::Pro, 10, true),
            (Tier::Pro, 10, false),
            (Tier::Free, 1, false),
        ]
    );
    assert_eq!(plan_changes(&server, in_order).await, 6);
    let expected = license(&server, in_order).await;

    // Shuffled, each delivered two or three times, for a few fixed seeds.
    for seed in [1_u64, 7, 42] {
        let (_, tenant) = org(&server, "shuffled.test").await;
        let mut deliveries = life(tenant, now);
        deliveries.extend(life(tenant, now));
        deliveries.extend(life(tenant, now).into_iter().step_by(2));
        deliveries.shuffle(&mut StdRng::seed_from_u64(seed));
        let mut changed = 0;
        let mut duplicates = 0;
        for event in &deliveries {
            match outcome(&deliver(&server, event).await) {
                WebhookOutcome::Changed => changed += 1,
                WebhookOutcome::Duplicate => duplicates += 1,
                _ => {}
            }
        }
        let end = license(&server, tenant).await;
        assert_eq!(
            (
                end.tier,
                end.max_seats,
                end.status,
                end.grace_until,
                end.expires_at
            ),
            (
                expected.tier,
                expected.max_seats,
                expected.status,
                expected.grace_until,
                expected.expires_at
            ),
            "seed {seed}"
        );
        assert_eq!(
            duplicates,
            deliveries.len() - 6,
            "seed {seed}: every repeat is a no-op"
        );
        assert_eq!(
            plan_changes(&server, tenant).await,
            changed,
            "seed {seed}: one audit event per real change"
        );

        // The same life before its deletion, shuffled: the newest state (10 seats, paid) wins,
        // not the last delivered.
        let (_, living) = org(&server, "living.test").await;
        let mut deliveries: Vec<Value> = life(living, now).into_iter().take(5).collect();
        deliveries.extend(life(living, now).into_iter().take(5).step_by(2));
        deliveries.shuffle(&mut StdRng::seed_from_u64(seed));
        for event in &deliveries {
            outcome(&deliver(&server, event).await);
        }
        let end = license(&server, living).await;
        assert_eq!(
            (end.tier, end.max_seats, end.status, end.grace_until),
            (Tier::Pro, 10, LicenseStatus::Active, None),
            "seed {seed}: {:?}",
            deliveries.iter().map(|e| &e["id"]).collect::<Vec<_>>()
        );
    }
}

async fn a_tenant_at_ten_seats_gets_its_tenth_seat_not_an_eleventh_and_lowering_evicts_nobody(
    backends: Backends,
) {
    // Arrange
    let Some(server) = TestServer::start(backends, &billing_vars(&[])).await else {
        return;
    };
    let (owner, tenant) = org(&server, "ten.test").await;
    let now = Utc::now().timestamp();
    let [created, _, ten, ..] = &life(tenant, now)[..] else {
        unreachable!("a life has six events");
    };
    outcome(&deliver(&server, created).await);
    outcome(&deliver(&server, ten).await);

    // Act
    let mut leases = Vec::new();
    let mut in_use = Vec::new();
    for n in 0..10 {
        let reply = acquire(&server.url, &owner, &machine(n), &format!("host-{n}")).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "seat {}: {}",
            n + 1,
            reply.text
        );
        let grant = reply.json::<AcquireResponse>();
        in_use.push(grant.license.seats_in_use);
        leases.push(grant.lease);
    }
    let eleventh = acquire(&server.url, &owner, &machine(10), "host-10").await;

    // Assert: the server counted each grant as one more seat (ten distinct machines, not ten
    // renewals of one), and refuses the eleventh with all ten in use.
    assert_eq!(in_use, (1..=10).collect::<Vec<u32>>());
    assert_eq!(
        (eleventh.status, eleventh.code()),
        (StatusCode::CONFLICT, Some(ProblemCode::SeatsExhausted)),
        "{}",
        eleventh.text
    );
    let refusal = eleventh.problem();
    assert_eq!(
        (refusal.max_seats, refusal.seats_in_use),
        (Some(10), Some(10))
    );

    // Lowering the seats to 5 evicts nobody: all ten keep heartbeating, and no new seat is given
    // while the pool is above the new count.
    let five = subscription_event(
        &format!("evt_lowered_{}", tenant.simple()),
        "customer.subscription.updated",
        now + 1,
        tenant,
        "active",
        5,
    );
    assert_eq!(
        outcome(&deliver(&server, &five).await),
        WebhookOutcome::Changed
    );
    for (n, lease) in leases.iter().enumerate() {
        let reply = heartbeat(&server.url, lease).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "seat {} after lowering: {}",
            n + 1,
            reply.text
        );
    }
    let newcomer = acquire(&server.url, &owner, &machine(11), "host-11").await;
    assert_eq!(
        (newcomer.status, newcomer.code()),
        (StatusCode::CONFLICT, Some(ProblemCode::SeatsExhausted)),
        "{}",
        newcomer.text
    );
    assert_eq!(newcomer.problem().max_seats, Some(5));
}

async fn an_unpaid_subscription_is_suspended_after_the_grace_and_restored_by_a_payment(
    backends: Backends,
) {
    // Arrange: no grace at all, so a failure suspends at once.
    let Some(server) =
        TestServer::start(backends, &billing_vars(&[("BILLING_GRACE_DAYS", "0")])).await
    else {
        return;
    };
    let (owner, tenant) = org(&server, "late.test").await;
    let now = Utc::now().timestamp();
    let events = life(tenant, now);
    outcome(&deliver(&server, &events[0]).await);

    // Act
    outcome(&deliver(&server, &events[3]).await);
    let suspended = acquire(&server.url, &owner, &machine(1), "laptop").await;
    outcome(&deliver(&server, &events[4]).await);
    let restored = acquire(&server.url, &owner, &machine(1), "laptop").await;

    // Assert
    assert_eq!(
        (suspended.status, suspended.code()),
        (StatusCode::FORBIDDEN, Some(ProblemCode::LicenseSuspended)),
        "{}",
        suspended.text
    );
    assert_eq!(restored.status, StatusCode::OK, "{}", restored.text);
    let l = license(&server, tenant).await;
    assert_eq!(
        (l.tier, l.status, l.grace_until),
        (Tier::Pro, LicenseStatus::Active, None)
    );
}
