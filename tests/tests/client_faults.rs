//! A client cannot make the service log errors, nor fill its log (issue 14, finding 8).
//!
//! - A body that never completes (a Content-Length larger than what is sent, a chunked body that
//!   stalls) answers 408 `body_timeout` at the request timeout, closes the connection, and logs a
//!   WARNING refusal, never an ERROR; a body cut short or with a bad chunk size answers 400.
//! - A storm of identical refusals logs only the first `LOGGED_PER_WINDOW` lines per kind and
//!   minute, and one `similar requests not logged` line carries the rest's `count`: the `count`
//!   fields add up to exactly the requests sent.
//! - The same answers appear in the metrics (`shared::metrics`), which the Prometheus endpoint of
//!   the local server serves.
//!
//! Each test talks raw HTTP/1.1 over TCP to a real server, as a hostile client would.

use std::time::{Duration, Instant};

use integration_tests::server::TestServer;
use serde_json::Value;
use shared::serving::access_log::LOGGED_PER_WINDOW;
use shared::telemetry::CapturedLines;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ACQUIRE: &str = "/api/v1/licenses/acquire";

/// Log lines captured from everything this thread runs, with a runtime on this thread.
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

/// Sends `raw` (head and whatever body) and reads the answer until the server closes or `within`
/// passes; returns the answer's text and whether the server closed the connection.
async fn exchange(server: &TestServer, raw: &[u8], within: Duration) -> (String, bool) {
    let address = server.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream.write_all(raw).await.expect("send");
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    let closed = loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    (String::from_utf8_lossy(&answer).into_owned(), closed)
}

fn head(extra: &str) -> String {
    format!(
        "POST {ACQUIRE} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n\
         authorization: Bearer not-a-token\r\n{extra}\r\n"
    )
}

fn status_of(answer: &str) -> &str {
    answer.split(' ').nth(1).unwrap_or("")
}

fn errors(lines: &CapturedLines) -> Vec<Value> {
    lines
        .lines()
        .into_iter()
        .filter(|line| line["severity"] == "ERROR")
        .collect()
}

#[test]
fn a_body_that_never_arrives_is_the_clients_408_and_a_warning() {
    let (lines, runtime, _guard) = capturing_logs();
    runtime.block_on(async {
        let server = TestServer::embedded(&[("REQUEST_TIMEOUT_SECONDS", "1")]).await;
        for (what, raw) in [
            (
                "a Content-Length of 10 GB",
                format!(
                    "{}{{\"fingerprint\":",
                    head("content-length: 10000000000\r\n")
                ),
            ),
            (
                "a chunked body that stalls",
                format!(
                    "{}10\r\n{{\"fingerprint\":",
                    head("transfer-encoding: chunked\r\n")
                ),
            ),
        ] {
            let started = Instant::now();
            let (answer, closed) = exchange(&server, raw.as_bytes(), Duration::from_secs(20)).await;
            assert_eq!(status_of(&answer), "408", "{what}: {answer}");
            assert!(
                answer.contains("\"code\":\"body_timeout\""),
                "{what}: {answer}"
            );
            assert!(
                answer.to_ascii_lowercase().contains("connection: close"),
                "{answer}"
            );
            assert!(closed, "{what}: the connection is closed after the 408");
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "{what}: answered at the request timeout, not later ({:?})",
                started.elapsed()
            );
        }
        for (what, raw) in [
            (
                "a body cut short",
                format!("{}{{\"fingerprint\":", head("content-length: 100\r\n")),
            ),
            (
                "a bad chunk size",
                format!(
                    "{}zz\r\n{{}}\r\n0\r\n\r\n",
                    head("transfer-encoding: chunked\r\n")
                ),
            ),
        ] {
            let address = server.url.trim_start_matches("http://");
            let mut stream = TcpStream::connect(address).await.expect("connect");
            stream.write_all(raw.as_bytes()).await.expect("send");
            if what == "a body cut short" {
                stream.shutdown().await.expect("half-close");
            }
            let mut answer = String::new();
            tokio::time::timeout(Duration::from_secs(20), stream.read_to_string(&mut answer))
                .await
                .expect("answered before the deadline")
                .ok();
            assert_eq!(status_of(&answer), "400", "{what}: {answer}");
        }
    });
    let refusals: Vec<Value> = lines
        .lines()
        .into_iter()
        .filter(|line| line["code"] == "body_timeout")
        .collect();
    assert_eq!(refusals.len(), 2, "{refusals:?}");
    for line in &refusals {
        assert_eq!(line["severity"], "WARNING", "{line}");
        assert_eq!(line["message"], "request refused", "{line}");
    }
    assert!(
        errors(&lines).is_empty(),
        "no ERROR line: {:?}",
        errors(&lines)
    );
}

#[test]
fn a_refusal_storm_is_aggregated_and_its_counts_add_up_exactly() {
    const STORM: usize = 60;
    let (lines, runtime, _guard) = capturing_logs();
    runtime.block_on(async {
        let server = TestServer::embedded(&[]).await;
        let client = reqwest::Client::new();
        for _ in 0..STORM {
            let reply = client
                .put(format!("{}/api/v1/licenses/heartbeat", server.url))
                .bearer_auth("not-a-lease")
                .send()
                .await
                .expect("answers");
            assert_eq!(reply.status(), 401);
        }
        let metrics = shared::metrics::global().render();
        let counted = metrics
            .lines()
            .find(|line| {
                line.starts_with("coditect_http_requests_total{")
                    && line.contains("route=\"/api/v1/licenses/heartbeat\"")
                    && line.contains("code=\"invalid_token\"")
            })
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|n| n.parse::<usize>().ok())
            .expect("the refusals are in the metrics");
        assert!(counted >= STORM, "{counted} counted of {STORM}:\n{metrics}");
        server.stop().await;
    });
    let of_kind: Vec<Value> = lines
        .lines()
        .into_iter()
        .filter(|line| line["code"] == "invalid_token" && line["status"] == 401)
        .collect();
    let full = of_kind
        .iter()
        .filter(|line| line["message"] == "request refused")
        .count();
    let summaries: Vec<&Value> = of_kind
        .iter()
        .filter(|line| line["message"] == "similar requests not logged")
        .collect();
    assert_eq!(full, LOGGED_PER_WINDOW as usize, "lines logged in full");
    assert_eq!(summaries.len(), 1, "{summaries:?}");
    assert_eq!(summaries[0]["severity"], "WARNING");
    assert_eq!(summaries[0]["route"], "/api/v1/licenses/heartbeat");
    let total: u64 = of_kind
        .iter()
        .filter_map(|line| line["count"].as_u64())
        .sum();
    assert_eq!(total, STORM as u64, "the counts add up to every request");
}
