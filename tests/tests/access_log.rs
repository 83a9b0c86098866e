//! The access log: one line per request, at the severity its outcome deserves, with the request
//! id, and with the reason of a refusal (which never reaches the response).

use integration_tests::api::{Reply, acquire, heartbeat, machine, register, release, send};
use integration_tests::server::TestServer;
use integration_tests::tokens::Person;
use reqwest::Method;
use shared::api::{AcquireResponse, ProblemCode};
use shared::telemetry::CapturedLines;

/// Log lines in Cloud Logging's format captured from everything this thread runs, and a runtime
/// on this thread (so the server's lines are captured too) for as long as the guard lives.
fn capturing_logs() -> (
    CapturedLines,
    tokio::runtime::Runtime,
    tracing::subscriber::DefaultGuard,
) {
    use tracing_subscriber::layer::SubscriberExt;
    let lines = CapturedLines::default();
    let subscriber = tracing_subscriber::registry().with(
        shared::telemetry::CloudLoggingLayer::new("demo-coditect", lines.clone()),
    );
    let guard = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    (lines, runtime, guard)
}

/// A refused token is logged with the check it failed (never in the response), on the request's
/// log line with its request id.
#[test]
fn a_refused_token_is_logged_with_its_reason_and_request_id() {
    let (lines, runtime, _guard) = capturing_logs();
    let reply = runtime.block_on(async {
        let server = TestServer::embedded(&[]).await;
        send(
            Method::PUT,
            &format!("{}/api/v1/licenses/heartbeat", server.url),
            Some("not-a-lease"),
            None,
        )
        .await
    });
    assert_eq!(reply.code(), Some(ProblemCode::InvalidToken));
    assert!(
        !reply.text.contains("lease:"),
        "the reason stays out of the response"
    );
    let request_id = reply.headers["x-request-id"].to_str().expect("id");
    let logged = lines
        .lines()
        .into_iter()
        .find(|line| line["message"] == "request refused")
        .expect("a refusal line");
    assert_eq!(logged["severity"], "WARNING");
    assert_eq!(logged["request_id"], request_id);
    assert!(
        logged["reason"]
            .as_str()
            .expect("reason")
            .starts_with("lease:"),
        "{logged}"
    );
}

/// Heartbeats and health probes are the bulk of all requests: their successes log at DEBUG (Cloud
/// Run's request log has them already), their refusals at WARNING, and other requests at INFO.
#[test]
fn routine_successes_log_at_debug_and_everything_else_as_before() {
    let (lines, runtime, _guard) = capturing_logs();
    let replies = runtime.block_on(async {
        let server = TestServer::embedded(&[]).await;
        let person = Person::at("acme.test");
        let registered = register(&server.url, &person).await;
        let granted = acquire(&server.url, &person, &machine(1), "laptop").await;
        let lease = granted.json::<AcquireResponse>().lease;
        let beat = heartbeat(&server.url, &lease).await;
        let health = send(Method::GET, &format!("{}/healthz", server.url), None, None).await;
        let refused = heartbeat(&server.url, &format!("{lease}x")).await;
        let released = release(&server.url, &lease).await;
        [registered, granted, beat, health, refused, released]
    });
    let severity_of = |reply: &Reply| {
        let id = reply.headers["x-request-id"].to_str().expect("id");
        let line = lines
            .lines()
            .into_iter()
            .find(|line| {
                line["request_id"] == id
                    && ["request served", "request refused"]
                        .contains(&line["message"].as_str().unwrap_or(""))
            })
            .unwrap_or_else(|| panic!("no access line for {id}"));
        line["severity"].as_str().expect("severity").to_owned()
    };
    let severities: Vec<String> = replies.iter().map(severity_of).collect();
    assert_eq!(
        severities,
        ["INFO", "INFO", "DEBUG", "DEBUG", "WARNING", "INFO"],
        "register, acquire, heartbeat, healthz, refused heartbeat, release"
    );
}
