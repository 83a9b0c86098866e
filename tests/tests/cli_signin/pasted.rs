//! `login --github --no-browser`: the address the browser ended on, pasted, finishes the sign-in.

use integration_tests::cli::Cli;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::{emulator_server, fresh_email};

#[tokio::test]
#[cfg_attr(
    not(firebase_emulator),
    ignore = "FIREBASE_AUTH_EMULATOR_HOST is not set"
)]
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
