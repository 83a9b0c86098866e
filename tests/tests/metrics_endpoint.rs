//! The single-node install's Prometheus endpoint, from the real `local` binary: `METRICS_ADDRESS`
//! serves `/metrics` on its own port (the service's port answers 404 there), with requests by
//! route and code, their latency, and the cleanup task's seat events and seats in use per tier.

use std::time::{Duration, Instant};

use integration_tests::api::{acquire, machine, register};
use integration_tests::process::{built_binary, free_port, spawn_on_free_port};
use integration_tests::server::TempDir;
use integration_tests::tokens::Person;

/// The figure of the first line of `text` that starts with `series`.
fn figure(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
}

#[tokio::test]
async fn the_local_binary_serves_its_figures_as_prometheus_text() {
    // Arrange: the embedded default with metrics on, cleanup every second.
    let data_dir = TempDir::new();
    let mut metrics_port = 0;
    let (service, port) = spawn_on_free_port(|port| {
        // Either port may be taken before the bind; each try picks both afresh.
        metrics_port = free_port();
        let mut command = std::process::Command::new(built_binary("local"));
        command
            .env_clear()
            .env("PORT", port.to_string())
            .env("DATA_DIR", &data_dir.0)
            .env("METRICS_ADDRESS", format!("127.0.0.1:{metrics_port}"))
            .env("CLEANUP_INTERVAL_SECONDS", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        command
    })
    .await;
    let base = format!("http://127.0.0.1:{port}");

    // Act: a member takes a seat.
    let person = Person::at("metrics.test");
    assert!(register(&base, &person).await.status.is_success());
    let granted = acquire(&base, &person, &machine(1), "laptop").await;
    assert!(granted.status.is_success(), "{}", granted.text);

    // Assert: the figures, once cleanup has written the grant to the audit trail.
    let url = format!("http://127.0.0.1:{metrics_port}/metrics");
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let response = reqwest::get(&url).await.expect("the metrics port answers");
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; version=0.0.4"
        );
        let text = response.text().await.expect("text");
        if figure(&text, "coditect_seat_events_total{kind=\"granted\"}") == Some(1.0) {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no granted event after 30 s of cleanup runs:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let acquired = "coditect_http_requests_total{method=\"POST\",route=\"/api/v1/licenses/acquire\",status=\"200\",code=\"\"}";
    assert_eq!(figure(&text, acquired), Some(1.0), "{text}");
    assert_eq!(
        figure(
            &text,
            "coditect_http_request_duration_seconds_count{route=\"/api/v1/licenses/acquire\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        figure(&text, "coditect_seats_in_use{tier=\"FREE\"}"),
        Some(1.0),
        "{text}"
    );
    let on_service_port = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("answers");
    assert_eq!(on_service_port.status(), 404, "never on the service's port");
    drop(service);
}
