//! Checkout and the Billing Portal, against a local server that checks the requests as Stripe's
//! API documents them (form-encoded, `Authorization: Bearer <secret key>`) and answers the
//! documented JSON.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::IntoResponse;
use axum::routing::post;
use chrono::Utc;
use integration_tests::api::Reply;
use integration_tests::server::{Backends, TestServer};
use integration_tests::tokens::Person;
use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::api::{BillingSessionResponse, ProblemCode, Role};
use tokio::net::TcpListener;
use uuid::Uuid;

use crate::{billing_vars, deliver, org, subscription_event};

integration_tests::on_both_backends!(
    owners_and_admins_get_a_checkout_url_members_and_other_tenants_do_not,
    the_portal_needs_a_stripe_customer_and_then_answers_its_url,
);

const API_KEY: &str = "sk_test_billing_http";

/// One request the fake Stripe received.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    authorization: String,
    content_type: String,
    form: Vec<(String, String)>,
}

impl Received {
    fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How the fake Stripe behaves.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Answers as Stripe documents.
    Documented,
    /// Answers 500.
    Failing,
    /// Answers after 3 s.
    Slow,
}

#[derive(Clone)]
struct Fake {
    received: Arc<Mutex<Vec<Received>>>,
    behaviour: Behaviour,
}

/// Starts a fake Stripe API; returns its base URL and what it receives.
async fn fake_stripe(behaviour: Behaviour) -> (String, Arc<Mutex<Vec<Received>>>) {
    let fake = Fake {
        received: Arc::default(),
        behaviour,
    };
    let received = fake.received.clone();
    let app = Router::new()
        .route("/v1/checkout/sessions", post(session))
        .route("/v1/billing_portal/sessions", post(session))
        .with_state(fake);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

async fn session(
    State(fake): State<Fake>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let form = reqwest::Url::parse(&format!("http://form/?{}", String::from_utf8_lossy(&body)))
        .expect("a form body")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    fake.received.lock().expect("lock").push(Received {
        path: uri.path().to_owned(),
        authorization: header("authorization"),
        content_type: header("content-type"),
        form,
    });
    match fake.behaviour {
        Behaviour::Failing => {
            return (
                AxumStatus::INTERNAL_SERVER_ERROR,
                axum::Json(json!({"error": {"type": "api_error", "message": "boom"}})),
            );
        }
        Behaviour::Slow => tokio::time::sleep(Duration::from_secs(3)).await,
        Behaviour::Documented => {}
    }
    let body = if uri.path().starts_with("/v1/checkout") {
        json!({"id": "cs_test_1", "object": "checkout.session", "mode": "subscription",
               "url": "https://checkout.stripe.com/c/pay/cs_test_1"})
    } else {
        json!({"id": "bps_1", "object": "billing_portal.session",
               "url": "https://billing.stripe.com/p/session/test_1"})
    };
    (AxumStatus::OK, axum::Json(body))
}

/// A server whose Stripe API is `stripe` (a base URL).
async fn server_with_stripe(backends: Backends, stripe: &str) -> Option<TestServer> {
    TestServer::start(
        backends,
        &billing_vars(&[
            ("STRIPE_API_KEY", API_KEY),
            ("STRIPE_API_BASE", stripe),
            ("STRIPE_API_TIMEOUT_SECONDS", "1"),
            (
                "STRIPE_CHECKOUT_SUCCESS_URL",
                "https://app.coditect.test/billing/done",
            ),
            (
                "STRIPE_CHECKOUT_CANCEL_URL",
                "https://app.coditect.test/billing",
            ),
        ]),
    )
    .await
}

async fn post_as(
    server: &TestServer,
    path: &str,
    who: &Person,
    body: Option<serde_json::Value>,
) -> Reply {
    integration_tests::api::send(
        Method::POST,
        &format!("{}{path}", server.url),
        Some(&who.token()),
        body,
    )
    .await
}

/// Invites `person` into `tenant` as `role` and registers them.
async fn join(server: &TestServer, owner: &Person, tenant: Uuid, person: &Person, role: Role) {
    let invited = post_as(
        server,
        &format!("/api/v1/tenants/{tenant}/invitations"),
        owner,
        Some(json!({"email": person.email, "role": role})),
    )
    .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.text);
    let joined = integration_tests::api::register(&server.url, person).await;
    assert_eq!(joined.status, StatusCode::CREATED, "{}", joined.text);
}

async fn owners_and_admins_get_a_checkout_url_members_and_other_tenants_do_not(backends: Backends) {
    // Arrange
    let (stripe, received) = fake_stripe(Behaviour::Documented).await;
    let Some(server) = server_with_stripe(backends, &stripe).await else {
        return;
    };
    let (owner, tenant) = org(&server, "buyer.test").await;
    let (admin, member) = (Person::at("buyer.test"), Person::at("buyer.test"));
    join(&server, &owner, tenant, &admin, Role::Admin).await;
    join(&server, &owner, tenant, &member, Role::Member).await;
    let (stranger, _) = org(&server, "other.test").await;
    let path = format!("/api/v1/tenants/{tenant}/billing/checkout");
    let plan = json!({"tier": "PRO", "seats": 10});

    // Act
    let by_owner = post_as(&server, &path, &owner, Some(plan.clone())).await;
    let by_admin = post_as(&server, &path, &admin, Some(plan.clone())).await;
    let by_member = post_as(&server, &path, &member, Some(plan.clone())).await;
    let by_stranger = post_as(&server, &path, &stranger, Some(plan.clone())).await;
    let unsold = post_as(
        &server,
        &path,
        &owner,
        Some(json!({"tier": "TEAM", "seats": 2})),
    )
    .await;

    // Assert
    assert_eq!(by_owner.status, StatusCode::OK, "{}", by_owner.text);
    assert_eq!(
        by_owner.json::<BillingSessionResponse>().url,
        "https://checkout.stripe.com/c/pay/cs_test_1"
    );
    assert_eq!(by_admin.status, StatusCode::OK, "{}", by_admin.text);
    assert_eq!(
        (by_member.status, by_member.code()),
        (StatusCode::FORBIDDEN, Some(ProblemCode::Forbidden))
    );
    assert_eq!(
        (by_stranger.status, by_stranger.code()),
        (StatusCode::NOT_FOUND, Some(ProblemCode::NotFound))
    );
    assert_eq!(
        (unsold.status, unsold.code()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(ProblemCode::ValidationFailed)
        ),
        "TEAM is only a lookup key here, which Checkout cannot sell: {}",
        unsold.text
    );
    let received = received.lock().expect("lock").clone();
    assert_eq!(
        received.len(),
        2,
        "only the owner's and the admin's calls reach Stripe"
    );
    let first = &received[0];
    assert_eq!(first.path, "/v1/checkout/sessions");
    assert_eq!(first.authorization, format!("Bearer {API_KEY}"));
    assert!(
        first
            .content_type
            .starts_with("application/x-www-form-urlencoded")
    );
    let tenant_text = tenant.to_string();
    for (field, value) in [
        ("mode", "subscription"),
        ("line_items[0][price]", "price_pro"),
        ("line_items[0][quantity]", "10"),
        ("client_reference_id", tenant_text.as_str()),
        (
            "subscription_data[metadata][tenant_id]",
            tenant_text.as_str(),
        ),
        ("success_url", "https://app.coditect.test/billing/done"),
        ("cancel_url", "https://app.coditect.test/billing"),
    ] {
        assert_eq!(
            first.field(field),
            Some(value),
            "{field} in {:?}",
            first.form
        );
    }
    assert_eq!(first.field("customer"), None, "no customer is known yet");
}

async fn the_portal_needs_a_stripe_customer_and_then_answers_its_url(backends: Backends) {
    // Arrange
    let (stripe, received) = fake_stripe(Behaviour::Documented).await;
    let Some(server) = server_with_stripe(backends, &stripe).await else {
        return;
    };
    let (owner, tenant) = org(&server, "portal.test").await;
    let portal = format!("/api/v1/tenants/{tenant}/billing/portal");
    let before = post_as(&server, &portal, &owner, None).await;
    let subscribed = subscription_event(
        "evt_portal",
        "customer.subscription.created",
        Utc::now().timestamp(),
        tenant,
        "active",
        2,
    );
    assert_eq!(deliver(&server, &subscribed).await.status, StatusCode::OK);

    // Act
    let after = post_as(&server, &portal, &owner, None).await;
    let checkout = post_as(
        &server,
        &format!("/api/v1/tenants/{tenant}/billing/checkout"),
        &owner,
        Some(json!({"tier": "PRO", "seats": 3})),
    )
    .await;

    // Assert
    assert_eq!(
        (before.status, before.code()),
        (StatusCode::CONFLICT, Some(ProblemCode::Conflict)),
        "{}",
        before.text
    );
    assert_eq!(after.status, StatusCode::OK, "{}", after.text);
    assert_eq!(
        after.json::<BillingSessionResponse>().url,
        "https://billing.stripe.com/p/session/test_1"
    );
    assert_eq!(checkout.status, StatusCode::OK, "{}", checkout.text);
    let received = received.lock().expect("lock").clone();
    let customer = format!("cus_{}", tenant.simple());
    assert_eq!(received[0].path, "/v1/billing_portal/sessions");
    assert_eq!(received[0].field("customer"), Some(customer.as_str()));
    assert_eq!(
        received[0].field("return_url"),
        Some("https://app.coditect.test/billing/done")
    );
    assert_eq!(
        received[1].field("customer"),
        Some(customer.as_str()),
        "checkout reuses the known customer"
    );
}

#[tokio::test]
async fn stripe_down_failing_or_slow_answers_503_with_a_sentence() {
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        format!("http://{}", listener.local_addr().expect("addr"))
    };
    let (failing, _) = fake_stripe(Behaviour::Failing).await;
    let (slow, _) = fake_stripe(Behaviour::Slow).await;
    for (case, stripe) in [("down", closed), ("5xx", failing), ("timeout", slow)] {
        // Arrange
        let server = server_with_stripe(Backends::Embedded, &stripe)
            .await
            .expect("embedded");
        let (owner, tenant) = org(&server, "down.test").await;

        // Act
        let reply = post_as(
            &server,
            &format!("/api/v1/tenants/{tenant}/billing/checkout"),
            &owner,
            Some(json!({"tier": "PRO", "seats": 1})),
        )
        .await;

        // Assert
        assert_eq!(
            (reply.status, reply.code()),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Some(ProblemCode::Unavailable)
            ),
            "{case}: {}",
            reply.text
        );
        assert!(
            reply.problem().detail.contains("Stripe"),
            "{case}: {}",
            reply.text
        );
        assert!(reply.headers.contains_key("retry-after"), "{case}");
    }
}

#[tokio::test]
async fn without_a_stripe_key_checkout_answers_billing_not_configured() {
    // Arrange
    let server = TestServer::embedded(&billing_vars(&[])).await;
    let (owner, tenant) = org(&server, "unset.test").await;

    // Act
    let reply = post_as(
        &server,
        &format!("/api/v1/tenants/{tenant}/billing/checkout"),
        &owner,
        Some(json!({"tier": "PRO", "seats": 1})),
    )
    .await;

    // Assert
    assert_eq!(
        (reply.status, reply.code()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some(ProblemCode::BillingNotConfigured)
        ),
        "{}",
        reply.text
    );
    assert!(reply.problem().detail.contains("STRIPE_API_KEY"));
}
