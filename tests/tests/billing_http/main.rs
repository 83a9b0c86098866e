//! Billing over real HTTP: Stripe's webhook deliveries (signed as Stripe signs them) change the
//! plan a tenant's seats are granted from, and owners and admins reach Checkout and the Billing
//! Portal (against a local server standing in for Stripe's API).
//!
//! Layout: this file holds the helpers (a tenant, a signed delivery, Stripe event bodies); then
//! `webhook` (signatures, the body of a delivery, a database that is down), `lifecycle` (a
//! subscription's whole life in order, shuffled and duplicated, and the seats it grants) and
//! `checkout` (Checkout and the Billing Portal).
//!
//! Run: `REDIS_URL=redis://127.0.0.1:6379 DATABASE_URL=postgres://postgres@127.0.0.1:5432/test
//! cargo test -p integration-tests --test billing_http`

use chrono::Utc;
use integration_tests::api::{Reply, register};
use integration_tests::server::TestServer;
use integration_tests::tokens::Person;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::api::RegisterResponse;
use shared::billing::signature::signature_header;
use shared::config::Secret;
use uuid::Uuid;

mod checkout;
mod lifecycle;
mod webhook;

/// The endpoint secret the test servers are configured with.
const SECRET: &str = "whsec_billing_http_test";

/// Billing variables every test server gets: the secret and a price table.
const BILLING: &[(&str, &str)] = &[
    ("STRIPE_WEBHOOK_SECRET", SECRET),
    ("STRIPE_PRICE_TIERS", "price_pro=PRO,team_monthly=TEAM"),
    // Acquire reads the license afresh on every call, so a new seat count counts at once.
    ("LICENSE_CACHE_SECONDS", "0"),
];

/// `BILLING` plus `extra`.
fn billing_vars<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut vars = BILLING.to_vec();
    vars.extend_from_slice(extra);
    vars
}

/// A new organisation: its owner and tenant id.
async fn org(server: &TestServer, domain: &str) -> (Person, Uuid) {
    let owner = Person::at(domain);
    let reply = register(&server.url, &owner).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    (owner, reply.json::<RegisterResponse>().tenant.id)
}

/// Posts `body` to the webhook with `signature` as its `Stripe-Signature` (none when `None`).
async fn post_webhook(server: &TestServer, body: &[u8], signature: Option<&str>) -> Reply {
    let mut request = reqwest::Client::new()
        .post(format!("{}/api/v1/stripe/webhook", server.url))
        .header("content-type", "application/json; charset=utf-8")
        .body(body.to_vec());
    if let Some(signature) = signature {
        request = request.header("stripe-signature", signature);
    }
    let response = request.send().await.expect("the server answers");
    Reply {
        status: response.status(),
        headers: response.headers().clone(),
        text: response.text().await.expect("a body"),
    }
}

/// Delivers `event` signed with the test secret, now, as Stripe does.
async fn deliver(server: &TestServer, event: &Value) -> Reply {
    let body = event.to_string();
    let header = signature_header(
        &Secret::new(SECRET),
        Utc::now().timestamp(),
        body.as_bytes(),
    );
    post_webhook(server, body.as_bytes(), Some(&header)).await
}

/// A `customer.subscription.*` event of `tenant`'s subscription, created at `created`.
fn subscription_event(
    id: &str,
    kind: &str,
    created: i64,
    tenant: Uuid,
    status: &str,
    quantity: u32,
) -> Value {
    json!({
        "id": id,
        "object": "event",
        "api_version": "2025-03-31.basil",
        "type": kind,
        "created": created,
        "livemode": false,
        "data": {"object": {
            "id": format!("sub_{}", tenant.simple()),
            "object": "subscription",
            "customer": format!("cus_{}", tenant.simple()),
            "status": status,
            "metadata": {"tenant_id": tenant.to_string()},
            "items": {"object": "list", "data": [{
                "id": "si_1",
                "object": "subscription_item",
                "price": {"id": "price_pro", "object": "price", "lookup_key": null},
                "quantity": quantity,
            }]},
        }},
    })
}

/// An `invoice.*` event of `tenant`'s customer.
fn invoice_event(id: &str, kind: &str, created: i64, tenant: Uuid) -> Value {
    json!({
        "id": id,
        "object": "event",
        "type": kind,
        "created": created,
        "data": {"object": {
            "id": format!("in_{id}"),
            "object": "invoice",
            "customer": format!("cus_{}", tenant.simple()),
            "parent": {"subscription_details": {"subscription": format!("sub_{}", tenant.simple())}},
        }},
    })
}
