//! Signing in with the real `coditect-license` binary: `login`, `whoami`, `logout` as processes
//! with a home of their own, against the local server — with the Firebase Auth Emulator (email and
//! password, refresh, the `--no-browser` paste of an IdP redirect) and on the embedded default
//! without one (the demo sign-in). The browser sign-in in Chromium is `cli_browser_signin.rs`.
//!
//! ```sh
//! export FIREBASE_AUTH_EMULATOR_HOST="$(bash tests/firebase/start-emulator.sh)"
//! cargo nextest run -p integration-tests --test cli_signin
//! ```
//!
//! Without `FIREBASE_AUTH_EMULATOR_HOST` the emulator tests print SKIPPED, except in CI, where they
//! fail. The emulator keeps its accounts between runs, so every test signs up fresh addresses.

use chrono::{Duration, Utc};
use integration_tests::api::send;
use integration_tests::backends::backend_url;
use integration_tests::cli::{Cli, CliRun};
use integration_tests::server::TestServer;
use reqwest::Method;
use shared::api::{AuthConfigResponse, ProblemCode, SignInProvider};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const PASSWORD: &str = "correct-horse-battery";
/// Exit code: not signed in, or the sign-in was refused.
const NOT_SIGNED_IN: i32 = 77;

/// A fresh address at `domain`.
fn fresh_email(name: &str, domain: &str) -> String {
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..10];
    format!("{name}.{tag}@{domain}")
}

/// The local server accepting the emulator's tokens, or `None` when the test should skip.
async fn emulator_server() -> Option<TestServer> {
    let host = backend_url("FIREBASE_AUTH_EMULATOR_HOST")?;
    Some(TestServer::embedded(&[("FIREBASE_AUTH_EMULATOR_HOST", host.as_str())]).await)
}

#[track_caller]
fn assert_exit(run: &CliRun, code: i32) {
    assert_eq!(run.code, Some(code), "exit code of {run:?}");
}

#[cfg(unix)]
#[track_caller]
fn assert_private(cli: &Cli) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(cli.files().credentials_path())
        .expect("credentials.json exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "credentials.json is private");
}

#[tokio::test]
async fn the_auth_config_tells_a_client_how_to_sign_in_in_each_mode() {
    let embedded = TestServer::embedded(&[]).await;
    let reply = send(
        Method::GET,
        &format!("{}/api/v1/auth/config", embedded.url),
        None,
        None,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let demo: AuthConfigResponse = reply.json();
    assert!(demo.demo_sign_in && !demo.emulator);
    assert_eq!(demo.project_id, "demo-coditect");
    assert_eq!(demo.api_key, "fake-api-key");
    assert!(demo.providers.is_empty());

    let emulated = TestServer::embedded(&[("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099")]).await;
    let emulator: AuthConfigResponse = send(
        Method::GET,
        &format!("{}/api/v1/auth/config", emulated.url),
        None,
        None,
    )
    .await
    .json();
    assert!(!emulator.demo_sign_in && emulator.emulator);
    assert_eq!(
        emulator.identity_toolkit_url,
        "http://127.0.0.1:9099/identitytoolkit.googleapis.com"
    );
    assert_eq!(
        emulator.secure_token_url,
        "http://127.0.0.1:9099/securetoken.googleapis.com"
    );
    assert_eq!(emulator.providers, SignInProvider::ALL);

    let unconfigured = TestServer::embedded(&[("GOOGLE_CLOUD_PROJECT", "coditect-prod")]).await;
    let reply = send(
        Method::GET,
        &format!("{}/api/v1/auth/config", unconfigured.url),
        None,
        None,
    )
    .await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.code(), Some(ProblemCode::SignInNotConfigured));
    assert!(reply.problem().detail.contains("IDENTITY_API_KEY"));

    let production = TestServer::embedded(&[
        ("GOOGLE_CLOUD_PROJECT", "coditect-prod"),
        ("IDENTITY_API_KEY", "AIzaPublicWebKey"),
    ])
    .await;
    let google: AuthConfigResponse = send(
        Method::GET,
        &format!("{}/api/v1/auth/config", production.url),
        None,
        None,
    )
    .await
    .json();
    assert_eq!(google.api_key, "AIzaPublicWebKey");
    assert_eq!(
        google.identity_toolkit_url,
        "https://identitytoolkit.googleapis.com"
    );
    assert!(!google.demo_sign_in && !google.emulator);
}

#[tokio::test]
async fn a_new_person_signs_up_with_email_and_password_and_gets_an_organisation() {
    let Some(server) = emulator_server().await else {
        return;
    };
    let cli = Cli::new(&server.url);
    let email = fresh_email("ana", "acme.test");

    let login = cli
        .run(
            &[
                "login",
                "--email",
                &email,
                "--sign-up",
                "--password-stdin",
                "--organisation",
                "Acme Robotics",
                "--json",
            ],
            &format!("{PASSWORD}\n"),
        )
        .await;

    assert_exit(&login, 0);
    let account = login.json();
    assert_eq!(account["provider"], "password");
    assert_eq!(account["email"], email.as_str());
    assert_eq!(account["registered_now"], true);
    assert_eq!(account["organisation"]["name"], "Acme Robotics");
    assert_eq!(account["organisation"]["role"], "OWNER");
    assert_eq!(account["organisation"]["tier"], "FREE");
    assert_eq!(account["organisation"]["max_seats"], 1);
    assert_private(&cli);
    let stored = cli.credentials();
    assert_eq!(stored.uid, account["uid"].as_str().expect("uid"));
    assert!(stored.refresh_token.is_some());
    let on_disk = std::fs::read_to_string(cli.files().credentials_path()).expect("read");
    assert!(!login.stdout.contains(&stored.id_token) && !login.stderr.contains(&stored.id_token));
    assert!(on_disk.contains(&stored.id_token));

    let whoami = cli.run(&["whoami", "--json"], "").await;
    assert_exit(&whoami, 0);
    let me = whoami.json();
    assert_eq!(me["email"], email.as_str());
    assert_eq!(me["organisation"]["id"], account["organisation"]["id"]);
    assert_eq!(me["organisation"]["seats_in_use"], 0);
    assert_eq!(me["registered_now"], false);
}

#[tokio::test]
async fn a_second_login_with_the_password_signs_in_to_the_same_organisation() {
    let Some(server) = emulator_server().await else {
        return;
    };
    let email = fresh_email("bo", "acme.test");
    let first = Cli::new(&server.url);
    let signed_up = first
        .run(
            &[
                "login",
                "--email",
                &email,
                "--sign-up",
                "--password-stdin",
                "--json",
            ],
            &format!("{PASSWORD}\n"),
        )
        .await;
    assert_exit(&signed_up, 0);

    let laptop = Cli::new(&server.url);
    let login = laptop
        .run(
            &["login", "--email", &email, "--password-stdin"],
            &format!("{PASSWORD}\n"),
        )
        .await;

    assert_exit(&login, 0);
    assert!(
        login
            .stdout
            .contains(&format!("as {}", email.to_lowercase())),
        "{login:?}"
    );
    assert!(
        login.stdout.contains("Organisation: acme.test as OWNER."),
        "{login:?}"
    );
    assert_eq!(laptop.credentials().uid, first.credentials().uid);
}

#[tokio::test]
async fn a_wrong_password_is_refused_with_a_sentence_and_exit_77() {
    let Some(server) = emulator_server().await else {
        return;
    };
    let cli = Cli::new(&server.url);
    let email = fresh_email("cy", "acme.test");
    let signed_up = cli
        .run(
            &["login", "--email", &email, "--sign-up", "--password-stdin"],
            &format!("{PASSWORD}\n"),
        )
        .await;
    assert_exit(&signed_up, 0);
    let other = Cli::new(&server.url);

    let refused = other
        .run(
            &["login", "--email", &email, "--password-stdin"],
            "not-the-password\n",
        )
        .await;

    assert_exit(&refused, NOT_SIGNED_IN);
    assert!(
        refused
            .stderr
            .contains("The email address or the password is wrong."),
        "{refused:?}"
    );
    assert!(
        !other.files().credentials_path().exists(),
        "nothing is stored"
    );
}

#[tokio::test]
async fn an_unknown_email_says_how_to_sign_up() {
    let Some(server) = emulator_server().await else {
        return;
    };
    let cli = Cli::new(&server.url);
    let email = fresh_email("nobody", "acme.test");

    let refused = cli
        .run(
            &["login", "--email", &email, "--password-stdin", "--json"],
            &format!("{PASSWORD}\n"),
        )
        .await;

    assert_exit(&refused, NOT_SIGNED_IN);
    let error = &refused.json()["error"];
    assert_eq!(error["code"], "EMAIL_NOT_FOUND");
    assert_eq!(error["message"], "No account uses that email address.");
    assert!(
        error["next_step"]
            .as_str()
            .is_some_and(|s| s.contains("--sign-up")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn an_expired_id_token_is_exchanged_for_a_new_one_which_is_stored() {
    let Some(server) = emulator_server().await else {
        return;
    };
    let cli = Cli::new(&server.url);
    let email = fresh_email("dee", "acme.test");
    let login = cli
        .run(
            &["login", "--email", &email, "--sign-up", "--password-stdin"],
            &format!("{PASSWORD}\n"),
        )
        .await;
    assert_exit(&login, 0);
    // The stored token is past its expiry, and not one the service would accept: only a refresh
    // can make `whoami` work.
    let mut stored = cli.credentials();
    stored.id_token = "expired.token.".into();
    stored.id_token_expires_at = Utc::now() - Duration::minutes(1);
    stored.write(&cli.files()).expect("rewritten");

    let whoami = cli.run(&["whoami", "--json"], "").await;

    assert_exit(&whoami, 0);
    assert_eq!(whoami.json()["email"], email.as_str());
    let refreshed = cli.credentials();
    assert_ne!(refreshed.id_token, "expired.token.");
    assert!(refreshed.id_token_expires_at > Utc::now() + Duration::minutes(30));
    assert_eq!(refreshed.uid, stored.uid);
    assert_private(&cli);
}

#[tokio::test]
async fn a_revoked_refresh_token_means_signing_in_again() {
    let Some(server) = emulator_server().await else {
        return;
    };
    let cli = Cli::new(&server.url);
    let email = fresh_email("eve", "acme.test");
    let login = cli
        .run(
            &["login", "--email", &email, "--sign-up", "--password-stdin"],
            &format!("{PASSWORD}\n"),
        )
        .await;
    assert_exit(&login, 0);
    let mut stored = cli.credentials();
    stored.refresh_token = Some("not-a-refresh-token".into());
    stored.id_token_expires_at = Utc::now() - Duration::minutes(1);
    stored.write(&cli.files()).expect("rewritten");

    let whoami = cli.run(&["whoami"], "").await;

    assert_exit(&whoami, NOT_SIGNED_IN);
    assert!(whoami.stderr.contains("sign in again"), "{whoami:?}");
}

#[tokio::test]
async fn a_pasted_redirect_finishes_a_no_browser_sign_in() {
    let Some(server) = emulator_server().await else {
        return;
    };
    let cli = Cli::new(&server.url);
    let email = fresh_email("fin", "github.test");
    let mut child = tokio::process::Command::new(integration_tests::cli::binary())
        .args([
            "--server",
            &server.url,
            "login",
            "--github",
            "--no-browser",
            "--json",
        ])
        .env("CODITECT_LICENSE_HOME", &cli.home.0)
        .env_remove("BROWSER")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starts");
    // The printed URL carries the loopback redirect and its state, as the provider would send it.
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let auth_uri = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(line) = stderr.next_line().await.expect("reads") {
            if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
                return url.to_owned();
            }
        }
        panic!("no URL printed");
    })
    .await
    .expect("the URL is printed");
    let redirect = reqwest::Url::parse(&auth_uri)
        .expect("a URL")
        .query_pairs()
        .find(|(k, _)| k == "redirectUrl")
        .map(|(_, v)| v.into_owned())
        .expect("the emulator page names the redirect");
    assert!(redirect.starts_with("http://127.0.0.1:") && redirect.contains("/callback?state="));
    // What the browser elsewhere ends on: the redirect with the provider's (the emulator's fake)
    // answer.
    let claims = serde_json::json!({"sub": uuid::Uuid::new_v4().simple().to_string(), "email": email, "email_verified": true, "name": "Fin"});
    let pasted = reqwest::Url::parse_with_params(
        &redirect,
        &[
            ("providerId", "github.com"),
            ("id_token", &claims.to_string()),
        ],
    )
    .expect("a URL");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(format!("{pasted}\n").as_bytes())
        .await
        .expect("pasted");
    drop(stdin);

    let output = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("login finishes")
        .expect("runs");

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let account: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON");
    assert_eq!(account["provider"], "github.com");
    assert_eq!(account["email"], email.as_str());
    assert_eq!(account["organisation"]["role"], "OWNER");
}

#[tokio::test]
async fn the_demo_sign_in_needs_only_an_email_on_the_embedded_default() {
    let server = TestServer::embedded(&[]).await;
    let cli = Cli::new(&server.url);

    let login = cli
        .run(&["login", "--email", "Gus@Demo.Test", "--json"], "")
        .await;

    assert_exit(&login, 0);
    let account = login.json();
    assert_eq!(account["provider"], "demo");
    assert_eq!(account["email"], "gus@demo.test");
    assert_eq!(account["registered_now"], true);
    assert_eq!(account["organisation"]["name"], "demo.test");
    assert_private(&cli);
    // The same email on another machine is the same person, in the same organisation.
    let laptop = Cli::new(&server.url);
    let again = laptop
        .run(&["login", "--email", "gus@demo.test", "--json"], "")
        .await;
    assert_exit(&again, 0);
    assert_eq!(again.json()["uid"], account["uid"]);
    assert_eq!(again.json()["registered_now"], false);
}

#[tokio::test]
async fn an_expired_demo_token_is_minted_again() {
    let server = TestServer::embedded(&[]).await;
    let cli = Cli::new(&server.url);
    assert_exit(
        &cli.run(&["login", "--email", "hal@demo.test"], "").await,
        0,
    );
    let mut stored = cli.credentials();
    stored.id_token = "expired.token.".into();
    stored.id_token_expires_at = Utc::now() - Duration::hours(2);
    stored.write(&cli.files()).expect("rewritten");

    let whoami = cli.run(&["whoami"], "").await;

    assert_exit(&whoami, 0);
    assert!(whoami.stdout.contains("as hal@demo.test"), "{whoami:?}");
    let minted = cli.credentials();
    assert_ne!(minted.id_token, "expired.token.");
    assert!(minted.id_token_expires_at > Utc::now());
}

#[tokio::test]
async fn the_demo_sign_in_is_not_used_where_tokens_come_from_identity_platform() {
    let emulated = TestServer::embedded(&[("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9")]).await;
    let cli = Cli::new(&emulated.url);

    // No password on stdin and no terminal: the CLI asks for the password path's input instead of
    // minting a token.
    let refused = cli.run(&["login", "--email", "ida@demo.test"], "").await;

    assert_exit(&refused, 64);
    assert!(refused.stderr.contains("--password-stdin"), "{refused:?}");
    assert!(!cli.files().credentials_path().exists());
}

#[tokio::test]
async fn logout_forgets_the_sign_in_and_whoami_then_exits_77() {
    let server = TestServer::embedded(&[]).await;
    let cli = Cli::new(&server.url);
    assert_exit(&cli.run(&["login", "--email", "jo@demo.test"], "").await, 0);

    let logout = cli.run(&["logout"], "").await;
    assert_exit(&logout, 0);
    assert!(logout.stdout.contains("Signed out of"), "{logout:?}");
    assert!(!cli.files().credentials_path().exists());

    let again = cli.run(&["logout", "--json"], "").await;
    assert_exit(&again, 0);
    assert_eq!(again.json()["was_signed_in"], false);

    let whoami = cli.run(&["whoami"], "").await;
    assert_exit(&whoami, NOT_SIGNED_IN);
    assert!(whoami.stderr.contains("not signed in"), "{whoami:?}");
    assert!(
        whoami.stderr.contains("coditect-license login"),
        "{whoami:?}"
    );
}
