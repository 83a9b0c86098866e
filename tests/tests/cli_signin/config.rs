//! `GET /api/v1/auth/config` over HTTP: what the CLI learns of each kind of server.

use integration_tests::api::send;
use integration_tests::server::TestServer;
use reqwest::Method;
use shared::api::{AuthConfigResponse, ProblemCode, SignInProvider};

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
