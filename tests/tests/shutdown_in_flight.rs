//! Stopping with requests in flight, by SIGTERM (Cloud Run) and by SIGINT (Ctrl-C): the `local`
//! binary stops accepting at once (a new connection is refused), a request in flight that
//! completes within `SHUTDOWN_GRACE_SECONDS` is answered, one that outlasts the grace is abandoned,
//! and the process exits on time instead of waiting for it.
//!
//! A request is held in flight by sending its body slowly: the headers and half the body first,
//! the rest when the test says so (or never).

use std::time::{Duration, Instant};

use integration_tests::api::{acquire_request, machine, register};
use integration_tests::process::{built_binary, spawn_on_free_port};
use integration_tests::server::TempDir;
use integration_tests::tokens::Person;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The grace the service is given here (8 s in production).
const GRACE: Duration = Duration::from_secs(4);

/// An acquire whose body is only half sent.
struct HalfSent {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl HalfSent {
    async fn start(port: u16, owner: &Person, n: u32) -> Self {
        let body = serde_json::to_vec(&acquire_request(&machine(n), "host", "test")).expect("JSON");
        let head = format!(
            "POST /api/v1/licenses/acquire HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n\
             authorization: Bearer {}\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n",
            owner.token(),
            body.len()
        );
        let mut stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let (first, rest) = body.split_at(body.len() / 2);
        stream.write_all(head.as_bytes()).await.expect("headers");
        stream.write_all(first).await.expect("half the body");
        Self {
            stream,
            rest: rest.to_vec(),
        }
    }

    /// Sends the rest and reads the whole answer (empty when the connection was closed first).
    async fn finish(mut self) -> String {
        // The server may already have closed the connection: a failed write shows as no answer.
        let _ = self.stream.write_all(&self.rest).await;
        self.answer().await
    }

    /// Reads until the server closes the connection.
    async fn answer(mut self) -> String {
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(GRACE * 3, self.stream.read_to_end(&mut answer))
            .await
            .expect("the connection ends");
        String::from_utf8_lossy(&answer).into_owned()
    }
}

async fn stops_with_requests_in_flight(signal: &str) {
    // Arrange: the service, an owner, two acquires in flight.
    let data_dir = TempDir::new();
    let (service, port) = spawn_on_free_port(|port| {
        let mut command = std::process::Command::new(built_binary("local"));
        command
            .env_clear()
            .env("PORT", port.to_string())
            .env("DATA_DIR", &data_dir.0)
            .env("SHUTDOWN_GRACE_SECONDS", GRACE.as_secs().to_string())
            .env("REQUEST_TIMEOUT_SECONDS", "60")
            .env("HEADER_READ_TIMEOUT_SECONDS", "60")
            .env("LOG_LEVEL", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        command
    })
    .await;
    let owner = Person::at("acme.test");
    let base = format!("http://127.0.0.1:{port}");
    assert_eq!(register(&base, &owner).await.status, StatusCode::CREATED);
    let finishing = HalfSent::start(port, &owner, 1).await;
    let outlasting = HalfSent::start(port, &owner, 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Act: the signal; then the first request completes, the second never does.
    let signalled = Instant::now();
    let sent = std::process::Command::new("kill")
        .args([format!("-{signal}"), service.0.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let new_connection = TcpStream::connect(("127.0.0.1", port)).await;
    let answered = finishing.finish().await;
    let abandoned = tokio::spawn(outlasting.answer());
    let status = service.exited_within(GRACE * 2).await;
    let exited_after = signalled.elapsed();

    // Assert
    assert!(
        new_connection.is_err(),
        "{signal}: a new connection was accepted after the signal"
    );
    assert!(
        answered.starts_with("HTTP/1.1 200"),
        "{signal}: the request in flight was not answered: {answered:?}"
    );
    assert!(status.success(), "{signal}: exit status {status:?}");
    assert!(
        exited_after < GRACE + Duration::from_secs(2),
        "{signal}: exited {exited_after:?} after the signal (grace {GRACE:?})"
    );
    let abandoned = abandoned.await.expect("reads");
    assert!(
        !abandoned.contains("200 OK"),
        "{signal}: the request that outlasted the grace was served: {abandoned:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_the_request_in_flight_refuses_new_connections_and_exits_on_time() {
    stops_with_requests_in_flight("TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_answers_the_request_in_flight_refuses_new_connections_and_exits_on_time() {
    stops_with_requests_in_flight("INT").await;
}
