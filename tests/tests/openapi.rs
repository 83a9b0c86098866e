//! The OpenAPI document: the committed copy is the generated one, it is served, and it describes
//! what the servers route — every documented operation reaches a handler, with the authentication
//! the document declares.

use integration_tests::api::send;
use integration_tests::server::TestServer;
use reqwest::Method;
use serde_json::Value;

/// The committed document, `docs/openapi.json`.
fn committed() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

#[test]
fn the_committed_document_is_the_one_the_types_generate() {
    let generated = shared::api::openapi::json();
    let committed = committed();
    if generated != committed {
        let first_difference = generated
            .lines()
            .zip(committed.lines())
            .position(|(g, c)| g != c)
            .map_or(
                generated.lines().count().min(committed.lines().count()),
                |i| i,
            );
        panic!(
            "docs/openapi.json differs from the document the wire types generate (first at line \
             {}); regenerate it with `cargo run -p admin -- openapi > docs/openapi.json` and review \
             the diff",
            first_difference + 1
        );
    }
}

#[test]
fn the_document_is_openapi_3_1_and_every_operation_names_its_errors() {
    let document: Value = serde_json::from_str(&committed()).expect("the document is JSON");
    assert_eq!(document["openapi"], "3.1.0");
    for (path, method, operation) in operations(&document) {
        let responses = operation["responses"].as_object().expect("responses");
        assert!(
            responses.contains_key("503"),
            "{method} {path} documents 503 unavailable"
        );
        // Stripe's signature is not a bearer credential: a refused one is 400 invalid_signature.
        let secured = operation.get("security").is_some() && !signed_by_stripe(&operation);
        assert_eq!(
            responses.contains_key("401"),
            secured,
            "{method} {path}: 401 is documented exactly when a bearer credential is required"
        );
        for (status, response) in responses {
            if status.starts_with('4') || status.starts_with('5') {
                assert!(
                    response["content"]["application/problem+json"].is_object(),
                    "{method} {path} {status} answers problem+json"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_local_server_serves_the_committed_document() {
    let server = TestServer::embedded(&[]).await;
    let reply = send(
        Method::GET,
        &format!("{}/openapi.json", server.url),
        None,
        None,
    )
    .await;
    assert_eq!(reply.status, 200);
    let committed: Value = serde_json::from_str(&committed()).expect("JSON");
    assert_eq!(reply.json::<Value>(), committed);
}

/// Every documented operation but cleanup (which `local` runs on a timer) reaches a handler on the
/// local server: without credentials a secured one answers 401 with an RFC 6750 challenge (the
/// Stripe webhook 400 `invalid_signature`), an open one 200 — never the router's 404 or 405.
#[tokio::test]
async fn every_documented_operation_is_routed_with_the_documented_authentication() {
    let server = TestServer::embedded(&[]).await;
    let document: Value = serde_json::from_str(&committed()).expect("JSON");
    let mut checked = 0;
    for (path, method, operation) in operations(&document) {
        if path == "/api/v1/tasks/cleanup" {
            continue;
        }
        let concrete = path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    uuid::Uuid::new_v4().to_string()
                } else {
                    segment.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
        let reply = send(
            method.clone(),
            &format!("{}{concrete}", server.url),
            None,
            None,
        )
        .await;
        if signed_by_stripe(&operation) {
            assert_eq!(
                (reply.status.as_u16(), reply.code()),
                (400, Some(shared::api::ProblemCode::InvalidSignature)),
                "{method} {path} wants a Stripe-Signature"
            );
        } else if operation.get("security").is_some() {
            assert_eq!(reply.status, 401, "{method} {path} wants a credential");
            let challenge = reply
                .headers
                .get(reqwest::header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            assert!(
                challenge.starts_with("Bearer "),
                "{method} {path}: WWW-Authenticate is {challenge:?}"
            );
        } else {
            assert_eq!(reply.status, 200, "{method} {path} answers openly");
        }
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} operations were checked");
}

/// Whether `operation` is authenticated by Stripe's webhook signature.
fn signed_by_stripe(operation: &Value) -> bool {
    operation["security"]
        .as_array()
        .is_some_and(|all| all.iter().any(|s| s.get("stripe_signature").is_some()))
}

/// `(path, method, operation)` for every operation of the document.
fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                all.push((path.clone(), method.clone(), operation.clone()));
            }
        }
    }
    all
}
