//! The webhook's door: what a delivery must carry to change anything.

use chrono::Utc;
use integration_tests::server::{Backends, TempDir, TestServer};
use reqwest::StatusCode;
use serde_json::json;
use shared::api::{ProblemCode, Tier, WebhookOutcome, WebhookResponse};
use shared::billing::signature::signature_header;
use shared::config::Secret;

use crate::{BILLING, SECRET, billing_vars, deliver, org, post_webhook, subscription_event};

integration_tests::on_both_backends!(
    refused_signatures_answer_invalid_signature_and_change_nothing,
    a_signed_body_that_is_not_an_event_is_refused_and_an_unknown_type_accepted,
);

async fn refused_signatures_answer_invalid_signature_and_change_nothing(backends: Backends) {
    // Arrange
    let Some(server) = TestServer::start(backends, &billing_vars(&[])).await else {
        return;
    };
    let (_, tenant) = org(&server, "acme.test").await;
    let now = Utc::now().timestamp();
    let body = subscription_event(
        "evt_1",
        "customer.subscription.created",
        now,
        tenant,
        "active",
        10,
    )
    .to_string();
    let secret = Secret::new(SECRET);
    let mut changed = body.clone().into_bytes();
    let at = changed.len() / 2;
    changed[at] = if changed[at] == b'1' { b'2' } else { b'1' };
    let signed = signature_header(&secret, now, body.as_bytes());
    let refusals: Vec<(&str, Vec<u8>, Option<String>)> = vec![
        ("no header", body.clone().into_bytes(), None),
        (
            "garbage header",
            body.clone().into_bytes(),
            Some("nonsense".into()),
        ),
        ("one byte changed", changed, Some(signed.clone())),
        (
            "stale timestamp",
            body.clone().into_bytes(),
            Some(signature_header(&secret, now - 301, body.as_bytes())),
        ),
        (
            "wrong secret",
            body.clone().into_bytes(),
            Some(signature_header(
                &Secret::new("whsec_other"),
                now,
                body.as_bytes(),
            )),
        ),
    ];

    for (case, bytes, header) in refusals {
        // Act
        let reply = post_webhook(&server, &bytes, header.as_deref()).await;

        // Assert
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, Some(ProblemCode::InvalidSignature)),
            "{case}: {}",
            reply.text
        );
        assert!(
            !reply.text.contains(SECRET),
            "{case}: the secret never shows"
        );
    }
    let license = server
        .local
        .store
        .license_of_tenant(tenant)
        .await
        .expect("read");
    let license = license.expect("a license");
    assert_eq!(
        (license.tier, license.max_seats),
        (Tier::Free, 1),
        "nothing changed"
    );

    // The genuine delivery is then accepted: the refusals recorded nothing.
    let accepted = post_webhook(&server, body.as_bytes(), Some(&signed)).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text);
    assert_eq!(
        accepted.json::<WebhookResponse>().outcome,
        WebhookOutcome::Changed
    );
}

async fn a_signed_body_that_is_not_an_event_is_refused_and_an_unknown_type_accepted(
    backends: Backends,
) {
    // Arrange
    let Some(server) = TestServer::start(backends, &billing_vars(&[])).await else {
        return;
    };
    let unknown = json!({"id": "evt_unknown", "object": "event", "type": "charge.refunded",
        "created": Utc::now().timestamp(), "data": {"object": {"id": "ch_1"}}});

    // Act
    let not_an_event = deliver(&server, &json!({"hello": "world"})).await;
    let first = deliver(&server, &unknown).await;
    let again = deliver(&server, &unknown).await;

    // Assert
    assert_eq!(
        (not_an_event.status, not_an_event.code()),
        (StatusCode::BAD_REQUEST, Some(ProblemCode::ValidationFailed)),
        "{}",
        not_an_event.text
    );
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(
        first.json::<WebhookResponse>().outcome,
        WebhookOutcome::Ignored
    );
    assert_eq!(
        again.json::<WebhookResponse>().outcome,
        WebhookOutcome::Duplicate,
        "an unknown type is recorded"
    );
}

#[tokio::test]
async fn a_delivery_larger_than_the_json_limit_but_within_a_mebibyte_is_accepted() {
    // Arrange
    let server = TestServer::embedded(&billing_vars(&[])).await;
    let (_, tenant) = org(&server, "big.test").await;
    let mut event = subscription_event(
        "evt_big",
        "customer.subscription.created",
        Utc::now().timestamp(),
        tenant,
        "active",
        3,
    );
    // Stripe's objects carry much more than billing reads: 300 KiB of it here.
    event["data"]["object"]["description"] = json!("x".repeat(300 * 1024));

    // Act
    let reply = deliver(&server, &event).await;

    // Assert
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let license = server
        .local
        .store
        .license_of_tenant(tenant)
        .await
        .expect("read");
    assert_eq!(license.expect("a license").max_seats, 3);
}

#[tokio::test]
async fn a_delivery_while_the_database_is_down_answers_503_so_stripe_retries() {
    // Arrange: PostgreSQL on a port where nothing listens.
    let data_dir = TempDir::new();
    let mut vars: Vec<(String, String)> = BILLING
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    vars.push(("DATA_DIR".into(), data_dir.0.display().to_string()));
    vars.push((
        "DATABASE_URL".into(),
        "postgres://postgres@127.0.0.1:9/none".into(),
    ));
    let server = TestServer::with(vars, data_dir).await;
    let event = subscription_event(
        "evt_down",
        "customer.subscription.created",
        Utc::now().timestamp(),
        uuid::Uuid::now_v7(),
        "active",
        3,
    );

    // Act
    let reply = deliver(&server, &event).await;

    // Assert
    assert_eq!(
        (reply.status, reply.code()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some(ProblemCode::Unavailable)
        ),
        "{}",
        reply.text
    );
    assert!(reply.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn without_a_configured_secret_every_delivery_is_refused() {
    // Arrange
    let server = TestServer::embedded(&[]).await;
    let event =
        json!({"id": "evt_1", "type": "charge.refunded", "created": 1, "data": {"object": {}}});
    let body = event.to_string();
    let header = signature_header(
        &Secret::new(SECRET),
        Utc::now().timestamp(),
        body.as_bytes(),
    );

    // Act
    let reply = post_webhook(&server, body.as_bytes(), Some(&header)).await;

    // Assert
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::BAD_REQUEST, Some(ProblemCode::InvalidSignature)),
        "{}",
        reply.text
    );
}
