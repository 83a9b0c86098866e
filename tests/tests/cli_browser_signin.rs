//! The CLI's Google and GitHub sign-in through a real browser: `coditect-license login --google`
//! opens `$BROWSER`, which here is `tests/browser/signin.mjs` — Debian's Chromium, headless, driven
//! by playwright-core — and the driver completes the Firebase Auth Emulator's fake-provider page
//! as a person would ("Add new account", email, name, sign in). The CLI must end up signed in
//! through its own loopback listener, state check and `signInWithIdp`, and `whoami` must work.
//!
//! ```sh
//! export FIREBASE_AUTH_EMULATOR_HOST="$(bash tests/firebase/start-emulator.sh)"
//! (cd tests/browser && npm ci)          # playwright-core; needs /usr/bin/chromium (apt chromium)
//! cargo nextest run -p integration-tests --test cli_browser_signin
//! ```
//!
//! Without the emulator, the driver's node_modules or Chromium, the test prints SKIPPED — except in
//! CI, where it fails (`.ci/run` installs all three).

use std::path::{Path, PathBuf};

use integration_tests::backends::backend_url;
use integration_tests::cli::Cli;
use integration_tests::server::TestServer;

/// The driver, its dependencies and the browser, or `None` (with a note) when the test should
/// skip outside CI.
fn browser_driver() -> Option<PathBuf> {
    let browser = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    let missing = if !browser.join("node_modules/playwright-core").is_dir() {
        Some("tests/browser/node_modules (run `npm ci` there)")
    } else if !Path::new("/usr/bin/chromium").exists() {
        Some("/usr/bin/chromium (apt-get install chromium)")
    } else {
        None
    };
    match missing {
        None => Some(browser.join("signin.mjs")),
        Some(what) if std::env::var_os("CI").is_some() => {
            panic!("{what} is missing: the browser sign-in test may not be skipped in CI")
        }
        Some(what) => {
            if !cfg!(browser_driver) {
                panic!(
                    "{what} is missing, so the browser sign-in test cannot run: install it, or mark \
                     the test #[cfg_attr(not(browser_driver), ignore = \"…\")] (tests/build.rs)"
                );
            }
            eprintln!(
                "SKIPPED: {what} was there when this test binary was built but is missing now, so \
                 the browser sign-in test did not run"
            );
            None
        }
    }
}

async fn signs_in_through_the_browser(provider_flag: &str, provider_id: &str) {
    let Some(host) = backend_url("FIREBASE_AUTH_EMULATOR_HOST") else {
        return;
    };
    let Some(driver) = browser_driver() else {
        return;
    };
    let server = TestServer::embedded(&[("FIREBASE_AUTH_EMULATOR_HOST", host.as_str())]).await;
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..10];
    let email = format!("kim.{tag}@browser.test");
    let mut cli = Cli::new(&server.url);
    let log = cli.home.0.join("browser-driver.log");
    cli.env = vec![
        ("BROWSER".into(), format!("node {}", driver.display())),
        ("SIGNIN_EMAIL".into(), email.clone()),
        ("SIGNIN_NAME".into(), "Kim Browser".into()),
        ("BROWSER_DRIVER_LOG".into(), log.display().to_string()),
    ];

    let login = cli.run(&["login", provider_flag, "--json"], "").await;

    let driver_log = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        login.code,
        Some(0),
        "{login:?}\nthe driver's log:\n{driver_log}"
    );
    let account = login.json();
    assert_eq!(account["provider"], provider_id);
    assert_eq!(account["email"], email.as_str());
    assert_eq!(account["organisation"]["role"], "OWNER");
    assert!(
        login.stderr.contains("/emulator/auth/handler?"),
        "the URL is printed: {login:?}"
    );

    cli.env.clear();
    let whoami = cli.run(&["whoami", "--json"], "").await;
    assert_eq!(whoami.code, Some(0), "{whoami:?}");
    assert_eq!(whoami.json()["email"], email.as_str());
    assert_eq!(cli.credentials().provider, provider_id);
}

#[tokio::test]
#[cfg_attr(
    not(all(firebase_emulator, browser_driver)),
    ignore = "FIREBASE_AUTH_EMULATOR_HOST is not set or the browser driver is not installed"
)]
async fn google_sign_in_in_a_headless_browser_signs_the_cli_in() {
    signs_in_through_the_browser("--google", "google.com").await;
}

#[tokio::test]
#[cfg_attr(
    not(all(firebase_emulator, browser_driver)),
    ignore = "FIREBASE_AUTH_EMULATOR_HOST is not set or the browser driver is not installed"
)]
async fn github_sign_in_in_a_headless_browser_signs_the_cli_in() {
    signs_in_through_the_browser("--github", "github.com").await;
}
