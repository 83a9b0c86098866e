//! A thin HTTP client for the tests: the requests a CLI or an admin tool would send.
//!
//! A [`Reply`] keeps the raw body; tests read it as the wire contract's types
//! ([`Reply::json`], [`Reply::problem`], [`Reply::code`]) so that renaming a field of
//! `shared::api` breaks the build of the tests, not a promise silently.

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use shared::api::problem::PROBLEM_JSON;
use shared::api::{ProblemCode, ProblemDetails};

use crate::tokens::Person;

/// A response with its status, headers and raw body.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body as received (empty when there is none), for the answers that are not ours to
    /// type (a JWKS, a plain-text rejection) and for failure messages.
    pub text: String,
}

impl Reply {
    /// The body as `T`, the type the server promises for this answer.
    ///
    /// # Panics
    ///
    /// When the body does not deserialize as `T`, with the status and the raw body.
    #[track_caller]
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_str(&self.text).unwrap_or_else(|e| {
            panic!(
                "{} answered a body that is not a {}: {e}\n{}",
                self.status,
                std::any::type_name::<T>(),
                self.text
            )
        })
    }

    /// The body as a problem, checking it is served as `application/problem+json`.
    ///
    /// # Panics
    ///
    /// When the content type is another or the body is not a [`ProblemDetails`].
    #[track_caller]
    pub fn problem(&self) -> ProblemDetails {
        assert_eq!(
            self.content_type(),
            PROBLEM_JSON,
            "{} answered a problem with another content type: {}",
            self.status,
            self.text
        );
        self.json()
    }

    /// The problem `code`, or `None` when the body is not a problem (a success, a non-JSON
    /// answer), so `(reply.status, reply.code())` shows both when an assertion fails.
    pub fn code(&self) -> Option<ProblemCode> {
        serde_json::from_str::<ProblemDetails>(&self.text)
            .ok()
            .map(|problem| problem.code)
    }

    /// The `Content-Type`.
    pub fn content_type(&self) -> &str {
        self.headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

/// Sends a request with an optional bearer token and JSON body.
pub async fn send(method: Method, url: &str, bearer: Option<&str>, body: Option<Value>) -> Reply {
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("a body");
    Reply {
        status,
        headers,
        text,
    }
}

/// Registers `person` (creating their tenant unless invited) and returns the register answer.
pub async fn register(base: &str, person: &Person) -> Reply {
    send(
        Method::POST,
        &format!("{base}/api/v1/register"),
        Some(&person.token()),
        None,
    )
    .await
}

/// Acquires a seat for `person` on machine `fingerprint`.
pub async fn acquire(base: &str, person: &Person, fingerprint: &str, hostname: &str) -> Reply {
    send(
        Method::POST,
        &format!("{base}/api/v1/licenses/acquire"),
        Some(&person.token()),
        Some(json!({"fingerprint": fingerprint, "hostname": hostname, "client_version": "test"})),
    )
    .await
}

/// Heartbeats with `lease`.
pub async fn heartbeat(base: &str, lease: &str) -> Reply {
    send(
        Method::PUT,
        &format!("{base}/api/v1/licenses/heartbeat"),
        Some(lease),
        None,
    )
    .await
}

/// Releases with `lease`.
pub async fn release(base: &str, lease: &str) -> Reply {
    send(
        Method::DELETE,
        &format!("{base}/api/v1/licenses/release"),
        Some(lease),
        None,
    )
    .await
}

/// A machine fingerprint, distinct per `n`.
pub fn machine(n: u32) -> String {
    format!("{n:016x}{:016x}", 0xc0d1_7ec7_u64)
}

/// The acquire body a client sends for `fingerprint` on `hostname`.
pub fn acquire_request(
    fingerprint: &str,
    hostname: &str,
    client_version: &str,
) -> shared::api::AcquireRequest {
    shared::api::AcquireRequest {
        fingerprint: fingerprint.to_owned(),
        hostname: hostname.to_owned(),
        client_version: Some(client_version.to_owned()),
        borrow_seconds: None,
        wait_seconds: None,
    }
}
