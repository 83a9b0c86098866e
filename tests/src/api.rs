//! A thin HTTP client for the tests: the requests a CLI or an admin tool would send.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::tokens::Person;

/// A response with its status, headers and JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body as JSON.
    pub body: Value,
}

impl Reply {
    /// The problem `code`, if the body is a problem.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
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
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Reply {
        status,
        headers,
        body,
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
