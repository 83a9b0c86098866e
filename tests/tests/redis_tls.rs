//! `REDIS_CA_CERT` against a real TLS Redis, as Memorystore's in-transit encryption serves it.
//!
//! Each test makes a private CA and a server certificate for `127.0.0.1`/`localhost` with the
//! `openssl` CLI, starts its own `redis-server` on a free TLS port (no plain port, nothing saved)
//! in a temp dir, and builds the seat store the way every service does: configuration from
//! variables, then `Backends::seats`. With the CA a seat is acquired, heartbeated and released;
//! without it, or with another CA, the handshake is refused (`UnknownIssuer`). A certificate shaped
//! like Memorystore's (the IP in the CN, no subject alternative name) is trusted through its CA.
//! The same holds for a Redis Cluster whose three nodes speak only TLS (`REDIS_CLUSTER=true`,
//! `integration_tests::redis_cluster::LocalCluster::start_tls`): every node the cluster names is
//! verified against the CA, and refused without it.
//!
//! Needs `redis-server` built with TLS (Debian's is) and `openssl`; without them the tests skip,
//! except under `CI`, where they fail.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use integration_tests::process::{on_a_free_port, ready_or_exited};
use integration_tests::redis_cluster::{ClusterTls, LocalCluster, installed};
use shared::backends::{Backends, Topology};
use shared::config::Config;
use shared::seats::{Acquired, SeatRequest, SeatStore, SessionData};
use uuid::Uuid;

/// Longest any one wait in these tests may take.
const WAIT: Duration = Duration::from_secs(10);

/// A temp dir holding the certificates and the server's working dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("redis-tls-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).expect("create the temp dir");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A TLS redis-server of this test, killed on drop (also when the test fails).
struct TlsRedis {
    child: Child,
    port: u16,
    /// The CA that signed the server's certificate.
    ca: PathBuf,
    /// A CA that signed nothing this server presents.
    other_ca: PathBuf,
    _dir: TempDir,
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TlsRedis {
    /// Certificates, then the server, ready to accept connections; `None` when the tools are
    /// missing outside CI.
    fn start() -> Option<Self> {
        Self::start_with(Names::AltNames)
    }

    /// Like [`Self::start`], the server certificate naming itself as `names` says.
    fn start_with(names: Names) -> Option<Self> {
        if !tools_present() {
            return None;
        }
        let dir = TempDir::new();
        let ca = make_ca(&dir.0, "ca");
        let other_ca = make_ca(&dir.0, "other-ca");
        let (cert, key) = make_server_certificate(&dir.0, "ca", names);
        // Another process may take the port before redis-server binds it: then it exits, and
        // the next port is tried.
        let mut child = None;
        let port = on_a_free_port("the TLS redis-server", |port| {
            let mut started = Command::new("redis-server")
                .args(["--port", "0", "--bind", "127.0.0.1"])
                .args(["--tls-port", &port.to_string()])
                .arg("--tls-cert-file")
                .arg(&cert)
                .arg("--tls-key-file")
                .arg(&key)
                .arg("--tls-ca-cert-file")
                .arg(&ca)
                .args([
                    "--tls-auth-clients",
                    "no",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .arg("--dir")
                .arg(&dir.0)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-server");
            let address = SocketAddr::from(([127, 0, 0, 1], port));
            let listening =
                ready_or_exited("the TLS redis-server", &mut started, port, WAIT, || {
                    TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok()
                });
            child = Some(started);
            listening
        });
        Some(Self {
            child: child.expect("a server was started"),
            port,
            ca,
            other_ca,
            _dir: dir,
        })
    }

    /// The seat store a service configured with these variables builds.
    async fn seats(&self, ca: Option<&Path>) -> Arc<dyn SeatStore> {
        configured_seats(&format!("rediss://127.0.0.1:{}", self.port), false, ca).await
    }
}

/// The seat store a service configured with `REDIS_URL=url`, `REDIS_CLUSTER=cluster` and
/// `REDIS_CA_CERT=ca` builds.
async fn configured_seats(url: &str, cluster: bool, ca: Option<&Path>) -> Arc<dyn SeatStore> {
    let ca = ca.map(|p| p.to_str().expect("utf-8 path").to_owned());
    let config = Config::from_lookup(|name| match name {
        "REDIS_URL" => Some(url.to_owned()),
        "REDIS_CLUSTER" => Some(cluster.to_string()),
        "REDIS_CA_CERT" => ca.clone(),
        "REDIS_KEY_PREFIX" => Some("tls-test:".into()),
        _ => None,
    })
    .expect("configuration parses");
    Backends::new(Arc::new(config), Topology::OneFunction)
        .seats()
        .await
        .expect("the seat store is built")
}

/// Whether `redis-server` and `openssl` can run; a missing one fails in CI and skips elsewhere.
fn tools_present() -> bool {
    for (tool, arg) in [("redis-server", "--version"), ("openssl", "version")] {
        let ran = Command::new(tool)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success());
        if !ran {
            assert!(
                std::env::var_os("CI").is_none(),
                "{tool} must be installed in CI: the TLS Redis tests may not be skipped there"
            );
            if !cfg!(redis_tls_tools) {
                panic!(
                    "{tool} is not installed, so this TLS Redis test cannot run: install it, or mark \
                     the test #[cfg_attr(not(redis_tls_tools), ignore = \"{tool} is not installed\")] \
                     so the summary counts it as ignored (tests/build.rs)"
                );
            }
            eprintln!(
                "SKIPPED: {tool} was installed when this test binary was built but does not run \
                 now, so this TLS Redis test did not run"
            );
            return false;
        }
    }
    true
}

/// Runs `openssl` in `dir` with the words of `command` (none of which has a space).
fn openssl(dir: &Path, command: &str) {
    let output = Command::new("openssl")
        .args(command.split_whitespace())
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        output.status.success(),
        "openssl {command} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Options of every key made here: P-256, which rustls and redis-server's OpenSSL both take, and
/// which is generated in milliseconds.
const P256: &str = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2";

/// A self-signed CA, `<name>.pem` and `<name>.key` in `dir`.
fn make_ca(dir: &Path, name: &str) -> PathBuf {
    openssl(
        dir,
        &format!(
            "req -x509 {P256} -subj /CN=coditect-test-{name} \
             -addext basicConstraints=critical,CA:TRUE \
             -addext keyUsage=critical,keyCertSign,cRLSign -keyout {name}.key -out {name}.pem"
        ),
    );
    dir.join(format!("{name}.pem"))
}

/// How a server certificate names the server.
#[derive(Clone, Copy)]
enum Names {
    /// Subject alternative names `127.0.0.1` and `localhost`, as a certificate should.
    AltNames,
    /// Only the subject CN, holding the IP, as Memorystore's in-transit encryption serves it.
    MemorystoreCommonName,
}

/// A server certificate signed by the CA `ca`, naming the server as `names` says.
fn make_server_certificate(dir: &Path, ca: &str, names: Names) -> (PathBuf, PathBuf) {
    make_certificate(dir, ca, names, "serverAuth")
}

/// A certificate signed by the CA `ca` for `usage` (`extendedKeyUsage`). The nodes of a TLS
/// cluster present theirs as clients too, to each other on the cluster bus, so theirs needs
/// `serverAuth,clientAuth`: with `serverAuth` alone the nodes never join.
fn make_certificate(dir: &Path, ca: &str, names: Names, usage: &str) -> (PathBuf, PathBuf) {
    let (subject, alt_names) = match names {
        Names::AltNames => ("localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\n"),
        Names::MemorystoreCommonName => ("127.0.0.1", ""),
    };
    std::fs::write(
        dir.join("server.ext"),
        format!(
            "{alt_names}basicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage={usage}\n"
        ),
    )
    .expect("write the extensions file");
    openssl(
        dir,
        &format!("req {P256} -subj /CN={subject} -keyout server.key -out server.csr"),
    );
    openssl(
        dir,
        &format!(
            "x509 -req -in server.csr -CA {ca}.pem -CAkey {ca}.key -CAcreateserial -days 2 \
             -extfile server.ext -out server.pem"
        ),
    );
    (dir.join("server.pem"), dir.join("server.key"))
}

async fn bounded<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("{what} took more than {WAIT:?}"))
}

/// Why `seats` could not reach the server; panics if it could.
async fn refusal(seats: &dyn SeatStore) -> String {
    match bounded("ping", seats.ping()).await {
        Ok(()) => panic!("the TLS handshake succeeded with a CA that did not sign the server"),
        Err(e) => {
            let why = format!("{e:#}");
            eprintln!("refused as expected: {why}");
            why
        }
    }
}

#[tokio::test]
#[cfg_attr(
    not(redis_tls_tools),
    ignore = "redis-server or openssl is not installed"
)]
async fn with_the_ca_a_seat_is_acquired_heartbeated_and_released() {
    let Some(server) = TlsRedis::start() else {
        return;
    };
    let seats = server.seats(Some(&server.ca)).await;
    let license_id = Uuid::new_v4();
    let request = SeatRequest {
        license_id,
        max_seats: 1,
        ttl: Duration::from_secs(60),
        session: SessionData::new(Uuid::new_v4(), Uuid::new_v4(), "ab12", "tls-host", None),
        limits: Default::default(),
        per_user: None,
        borrow: None,
        wait: None,
        ticket: None,
    };
    let acquired = bounded("acquire", seats.acquire(&request, "session-1"))
        .await
        .expect("acquire over TLS");
    let Acquired::Granted { session_id, .. } = acquired else {
        panic!("an empty pool must grant a seat, got {acquired:?}");
    };
    let extended = bounded(
        "heartbeat",
        seats.heartbeat(license_id, &session_id, request.ttl),
    )
    .await
    .expect("heartbeat over TLS");
    assert!(extended.is_some(), "the seat just granted is live");
    let released = bounded("release", seats.release(license_id, &session_id))
        .await
        .expect("release over TLS");
    assert!(released, "the seat was held until released");
}

#[tokio::test]
#[cfg_attr(
    not(redis_tls_tools),
    ignore = "redis-server or openssl is not installed"
)]
async fn without_the_ca_the_server_certificate_is_refused() {
    let Some(server) = TlsRedis::start() else {
        return;
    };
    let why = refusal(&*server.seats(None).await).await;
    assert!(why.contains("UnknownIssuer"), "{why}");
}

#[tokio::test]
#[cfg_attr(
    not(redis_tls_tools),
    ignore = "redis-server or openssl is not installed"
)]
async fn with_another_ca_the_server_certificate_is_refused() {
    let Some(server) = TlsRedis::start() else {
        return;
    };
    let why = refusal(&*server.seats(Some(&server.other_ca)).await).await;
    assert!(why.contains("UnknownIssuer"), "{why}");
}

/// Memorystore names its server only by the IP in the subject CN, which rustls never matches: with
/// the instance's CA the chain is what is verified, so a deployment as Terraform configures it
/// connects, and a certificate of any other CA is still refused.
#[tokio::test]
#[cfg_attr(
    not(redis_tls_tools),
    ignore = "redis-server or openssl is not installed"
)]
async fn a_memorystore_shaped_certificate_is_trusted_through_its_ca_alone() {
    let Some(server) = TlsRedis::start_with(Names::MemorystoreCommonName) else {
        return;
    };
    let seats = server.seats(Some(&server.ca)).await;
    bounded("ping", seats.ping())
        .await
        .expect("the CA's certificate is trusted though it names the server only in its CN");
    let why = refusal(&*server.seats(Some(&server.other_ca)).await).await;
    assert!(why.contains("UnknownIssuer"), "{why}");
    let why = refusal(&*server.seats(None).await).await;
    assert!(why.contains("UnknownIssuer"), "{why}");
}

#[tokio::test]
async fn an_insecure_url_is_refused_with_or_without_a_ca() {
    for ca in [None, Some(b"-----BEGIN CERTIFICATE-----\n".to_vec())] {
        let Err(why) = shared::seats::redis_client("rediss://127.0.0.1:1/#insecure", ca) else {
            panic!("a client that verifies nothing was built");
        };
        assert!(format!("{why:#}").contains("#insecure"), "{why:#}");
    }
}

#[tokio::test]
async fn a_ca_file_that_is_missing_or_holds_no_certificate_stops_start_up() {
    let dir = TempDir::new();
    let garbage = dir.0.join("garbage.pem");
    std::fs::write(&garbage, "this is not a certificate\n").expect("write");
    let broken = dir.0.join("broken.pem");
    std::fs::write(
        &broken,
        "-----BEGIN CERTIFICATE-----\n!!not base64!!\n-----END CERTIFICATE-----\n",
    )
    .expect("write");
    for path in [dir.0.join("absent.pem"), garbage, broken] {
        let ca = path.to_str().expect("utf-8 path").to_owned();
        let config = Config::from_lookup(|name| match name {
            "REDIS_URL" => Some("rediss://127.0.0.1:1".into()),
            "REDIS_CA_CERT" => Some(ca.clone()),
            _ => None,
        })
        .expect("configuration parses");
        let backends = Backends::new(Arc::new(config), Topology::OneFunction);
        let why = match backends.seats().await {
            Ok(_) => panic!("a store was built with {}", path.display()),
            Err(e) => format!("{e:#}"),
        };
        assert!(why.contains("REDIS_CA_CERT"), "{why}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(redis_tls_tools, redis_tools)),
    ignore = "redis-server, redis-cli or openssl is not installed"
)]
async fn a_tls_cluster_is_trusted_through_its_ca_on_every_node_and_refused_without_it() {
    // Arrange: three TLS-only nodes (client and cluster bus) serving a Memorystore-shaped
    // certificate (the IP in the CN only), as Memorystore Cluster's in-transit encryption does.
    if !tools_present() || installed().is_none() {
        return;
    }
    let dir = TempDir::new();
    let ca = make_ca(&dir.0, "ca");
    let other_ca = make_ca(&dir.0, "other-ca");
    let (cert, key) = make_certificate(
        &dir.0,
        "ca",
        Names::MemorystoreCommonName,
        "serverAuth,clientAuth",
    );
    let tls = ClusterTls {
        cert,
        key,
        ca: ca.clone(),
    };
    let cluster = tokio::task::spawn_blocking(move || LocalCluster::start_tls(tls))
        .await
        .expect("the start ran")
        .expect("a TLS cluster starts");
    let seeds = cluster.redis_url();
    assert!(seeds.starts_with("rediss://"), "{seeds}");

    // Act: seats in licenses spread over the three nodes, through the seeds' TLS alone.
    let seats = configured_seats(&seeds, true, Some(&ca)).await;
    let mut licenses = Vec::new();
    for index in 0..24 {
        let license_id = Uuid::new_v4();
        let request = SeatRequest {
            license_id,
            max_seats: 1,
            ttl: Duration::from_secs(60),
            session: SessionData::new(Uuid::new_v4(), Uuid::new_v4(), "ab12", "tls-host", None),
            limits: Default::default(),
            per_user: None,
            borrow: None,
            wait: None,
            ticket: None,
        };
        let acquired = bounded(
            "acquire",
            seats.acquire(&request, &format!("session-{index}")),
        )
        .await
        .expect("acquire over TLS on the cluster");
        let Acquired::Granted { session_id, .. } = acquired else {
            panic!("an empty pool must grant a seat, got {acquired:?}");
        };
        let extended = bounded(
            "heartbeat",
            seats.heartbeat(license_id, &session_id, request.ttl),
        )
        .await
        .expect("heartbeat over TLS on the cluster");
        assert!(extended.is_some(), "the seat just granted is live");
        licenses.push(license_id);
    }
    let mut pools = bounded("pools", seats.pools())
        .await
        .expect("pools scans every node over TLS");

    // Assert
    pools.sort_unstable();
    licenses.sort_unstable();
    assert_eq!(pools, licenses);
    for license_id in licenses {
        assert!(bounded("reap", seats.reap(license_id)).await.is_ok());
    }
    let why = refusal(&*configured_seats(&seeds, true, None).await).await;
    assert!(why.contains("UnknownIssuer"), "{why}");
    let why = refusal(&*configured_seats(&seeds, true, Some(&other_ca)).await).await;
    assert!(why.contains("UnknownIssuer"), "{why}");
}
