//! The real Firebase Auth Emulator end to end: people sign up through its REST API, and the ID
//! tokens it issues register a tenant, read `/me`, redeem an invitation and acquire a seat on the
//! local server.
//!
//! Start the emulator first (`tests/firebase/start-emulator.sh` prints the host):
//!
//! ```sh
//! export FIREBASE_AUTH_EMULATOR_HOST="$(bash tests/firebase/start-emulator.sh)"
//! cargo nextest run -p integration-tests --test firebase_emulator
//! bash tests/firebase/stop-emulator.sh
//! ```
//!
//! Built without `FIREBASE_AUTH_EMULATOR_HOST`, the tests are ignored (the summary counts them;
//! `tests/build.rs`), except in CI, where they fail.
//! The emulator keeps its accounts between runs, so every test signs up fresh email addresses.

use coditect_license::LicenseClient;
use integration_tests::api::{Reply, acquire_request};
use integration_tests::backends::backend_url;
use integration_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::api::{
    AcquireResponse, MeResponse, MembersResponse, ProblemCode, RegisterResponse, Role, Tier,
};

/// The project `start-emulator.sh` runs the emulator for, and the local server's default.
const PROJECT: &str = integration_tests::tokens::PROJECT;
const PASSWORD: &str = "correct-horse-battery";
/// Ana's laptop, as the CLI fingerprints a machine (hex).
const FINGERPRINT: &str = "a11ce0f1a9707ab1e5c0d17ec7a0b1e2";

/// The Firebase Auth Emulator at `host`, spoken to over its REST API as a web app would.
struct Emulator {
    host: String,
    http: reqwest::Client,
}

/// An account in the emulator.
struct Account {
    local_id: String,
    email: String,
}

impl Emulator {
    /// The emulator named by `FIREBASE_AUTH_EMULATOR_HOST`, or `None` when the test should skip.
    fn from_env() -> Option<Self> {
        let host = backend_url("FIREBASE_AUTH_EMULATOR_HOST")?;
        Some(Self {
            host: host.trim().trim_start_matches("http://").to_owned(),
            http: reqwest::Client::new(),
        })
    }

    fn url(&self, method: &str) -> String {
        format!(
            "http://{}/identitytoolkit.googleapis.com/v1/{method}?key=fake-api-key",
            self.host
        )
    }

    /// POSTs `body` to the Identity Toolkit `method` and returns the JSON answer.
    async fn call(&self, method: &str, body: Value, owner: bool) -> Value {
        let mut request = self.http.post(self.url(method)).json(&body);
        if owner {
            // The emulator's admin bypass, standing in for a service account.
            request = request.bearer_auth("owner");
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("the emulator at {} must answer: {e}", self.host));
        let status = response.status();
        let body: Value = response.json().await.expect("the emulator answers JSON");
        assert!(status.is_success(), "{method} answered {status}: {body}");
        body
    }

    /// Signs up `email` with a password, as the web app's sign-up form does.
    async fn sign_up(&self, email: &str) -> (Account, String) {
        let body = self
            .call(
                "accounts:signUp",
                json!({ "email": email, "password": PASSWORD, "returnSecureToken": true }),
                false,
            )
            .await;
        let account = Account {
            local_id: text(&body, "localId"),
            email: text(&body, "email"),
        };
        (account, text(&body, "idToken"))
    }

    /// Signs `account` in again: a fresh ID token with its current claims.
    async fn sign_in(&self, account: &Account) -> String {
        let body = self
            .call(
                "accounts:signInWithPassword",
                json!({ "email": account.email, "password": PASSWORD, "returnSecureToken": true }),
                false,
            )
            .await;
        text(&body, "idToken")
    }

    /// Marks the account's email verified, as clicking the verification link would.
    async fn verify_email(&self, account: &Account) {
        let body = self
            .call(
                &format!("projects/{PROJECT}/accounts:update"),
                json!({ "localId": account.local_id, "emailVerified": true }),
                true,
            )
            .await;
        assert_eq!(body["emailVerified"], json!(true), "{body}");
    }
}

/// A fresh address at `domain`, in mixed case as people type them.
fn fresh_email(name: &str, domain: &str) -> String {
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..10];
    format!("{name}.{tag}@{domain}")
}

#[track_caller]
fn text(body: &Value, key: &str) -> String {
    body[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {body}"))
        .to_owned()
}

/// The claims of an emulator ID token (unsigned: its payload is all there is to read).
fn claims_of(id_token: &str) -> Value {
    let payload = id_token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .expect("base64url payload"),
    )
    .expect("claims JSON")
}

/// The local server accepting the emulator's tokens.
async fn server_for(emulator: &Emulator) -> TestServer {
    TestServer::embedded(&[("FIREBASE_AUTH_EMULATOR_HOST", emulator.host.as_str())]).await
}

/// `METHOD path` on the server with `id_token`; the status and the reply, read as the wire
/// contract's types.
async fn api(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    id_token: &str,
    body: Option<Value>,
) -> (StatusCode, Reply) {
    let reply = integration_tests::api::send(
        method,
        &format!("{}{path}", server.url),
        Some(id_token),
        body,
    )
    .await;
    (reply.status, reply)
}

#[tokio::test]
#[cfg_attr(
    not(firebase_emulator),
    ignore = "FIREBASE_AUTH_EMULATOR_HOST is not set"
)]
async fn an_emulator_sign_up_registers_a_tenant_reads_me_and_acquires_a_seat() {
    let Some(emulator) = Emulator::from_env() else {
        return;
    };
    let server = server_for(&emulator).await;
    let (account, id_token) = emulator.sign_up(&fresh_email("Ana", "Acme.IO")).await;

    // Register: a tenant, its owner, a FREE license.
    let (status, registered) = api(
        &server,
        reqwest::Method::POST,
        "/api/v1/register",
        &id_token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{}", registered.text);
    let registered: RegisterResponse = registered.json();
    assert_eq!(registered.user.role, Role::Owner);
    assert_eq!(registered.user.firebase_uid, account.local_id);
    assert_eq!(registered.user.email, Some(account.email.to_lowercase()));
    assert_eq!(registered.license.tier, Tier::Free);
    assert!(!registered.joined_by_invitation);
    let tenant_id = registered.tenant.id;

    // Me: the same tenant and role.
    let (status, me) = api(&server, reqwest::Method::GET, "/api/v1/me", &id_token, None).await;
    assert_eq!(status, StatusCode::OK, "{}", me.text);
    let me: MeResponse = me.json();
    assert_eq!(me.role, Role::Owner);
    assert_eq!(me.tenant.id, tenant_id);
    assert_eq!(me.seats_in_use, 0);

    // Acquire through the client SDK: a seat and a lease that verifies offline.
    let client = LicenseClient::new(&server.url).expect("client builds");
    let grant = client
        .acquire(
            &id_token,
            &acquire_request(FINGERPRINT, "ana-laptop", "1.0.0"),
        )
        .await
        .expect("a FREE license grants a seat");
    let lease = client
        .fetch_verifier(&server.config.lease_issuer)
        .await
        .expect("the lease keys are published")
        .verify(&grant.lease)
        .expect("the lease verifies");
    assert_eq!(lease.tenant, tenant_id.to_string());
    assert_eq!(lease.sid, grant.session_id);
    assert_eq!(lease.tier, "FREE");
    let (_, me) = api(&server, reqwest::Method::GET, "/api/v1/me", &id_token, None).await;
    assert_eq!(me.json::<MeResponse>().seats_in_use, 1, "{}", me.text);

    // The same machine asking again gets 200 and its own seat back.
    let (status, again) = api(
        &server,
        reqwest::Method::POST,
        "/api/v1/licenses/acquire",
        &id_token,
        Some(json!({
            "fingerprint": FINGERPRINT,
            "hostname": "ana-laptop",
            "client_version": "1.0.0",
        })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", again.text);
    let again: AcquireResponse = again.json();
    assert_eq!(again.session_id, grant.session_id);
    assert!(again.renewed);

    client
        .release(&grant.lease)
        .await
        .expect("the seat is released");
}

#[tokio::test]
#[cfg_attr(
    not(firebase_emulator),
    ignore = "FIREBASE_AUTH_EMULATOR_HOST is not set"
)]
async fn a_second_registration_of_the_same_emulator_account_answers_200() {
    let Some(emulator) = Emulator::from_env() else {
        return;
    };
    let server = server_for(&emulator).await;
    let (account, id_token) = emulator.sign_up(&fresh_email("ana", "acme.io")).await;
    let (status, first) = api(
        &server,
        reqwest::Method::POST,
        "/api/v1/register",
        &id_token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{}", first.text);

    let fresh_token = emulator.sign_in(&account).await;
    let (status, second) = api(
        &server,
        reqwest::Method::POST,
        "/api/v1/register",
        &fresh_token,
        None,
    )
    .await;

    assert_eq!(status, StatusCode::OK, "{}", second.text);
    assert_eq!(
        second.json::<RegisterResponse>().tenant.id,
        first.json::<RegisterResponse>().tenant.id
    );
}

#[tokio::test]
#[cfg_attr(
    not(firebase_emulator),
    ignore = "FIREBASE_AUTH_EMULATOR_HOST is not set"
)]
async fn an_invited_email_joins_the_tenant_once_the_emulator_has_verified_it() {
    let Some(emulator) = Emulator::from_env() else {
        return;
    };
    let server = server_for(&emulator).await;
    // Arrange: Ana owns a tenant and invites Bob.
    let (_, ana_token) = emulator.sign_up(&fresh_email("ana", "acme.io")).await;
    let (_, registered) = api(
        &server,
        reqwest::Method::POST,
        "/api/v1/register",
        &ana_token,
        None,
    )
    .await;
    let registered: RegisterResponse = registered.json();
    let tenant_id = registered.tenant.id;
    let bob_email = fresh_email("bob", "acme.io");
    let (status, invited) = api(
        &server,
        reqwest::Method::POST,
        &format!("/api/v1/tenants/{tenant_id}/invitations"),
        &ana_token,
        Some(json!({ "email": bob_email, "role": Role::Member })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{}", invited.text);
    // Bob signs up; the emulator verifies his email; he signs in again for a token saying so.
    let (bob, unverified_token) = emulator.sign_up(&bob_email).await;
    emulator.verify_email(&bob).await;
    let bob_token = emulator.sign_in(&bob).await;
    assert_eq!(claims_of(&unverified_token)["email_verified"], json!(false));
    assert_eq!(claims_of(&bob_token)["email_verified"], json!(true));

    // Act
    let (status, joined) = api(
        &server,
        reqwest::Method::POST,
        "/api/v1/register",
        &bob_token,
        None,
    )
    .await;

    // Assert: Bob is a MEMBER of Ana's tenant, sharing its license.
    assert_eq!(status, StatusCode::CREATED, "{}", joined.text);
    let joined: RegisterResponse = joined.json();
    assert!(joined.joined_by_invitation);
    assert_eq!(joined.tenant.id, tenant_id);
    assert_eq!(joined.user.role, Role::Member);
    assert_eq!(joined.license.id, registered.license.id);
    let (status, members) = api(
        &server,
        reqwest::Method::GET,
        &format!("/api/v1/tenants/{tenant_id}/members"),
        &ana_token,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", members.text);
    assert!(
        members
            .json::<MembersResponse>()
            .members
            .iter()
            .any(|member| member.firebase_uid == bob.local_id),
        "Bob is listed: {}",
        members.text
    );
}

#[tokio::test]
#[cfg_attr(
    not(firebase_emulator),
    ignore = "FIREBASE_AUTH_EMULATOR_HOST is not set"
)]
async fn an_invited_email_the_emulator_has_not_verified_does_not_join() {
    let Some(emulator) = Emulator::from_env() else {
        return;
    };
    let server = server_for(&emulator).await;
    let (_, ana_token) = emulator.sign_up(&fresh_email("ana", "acme.io")).await;
    let (_, registered) = api(
        &server,
        reqwest::Method::POST,
        "/api/v1/register",
        &ana_token,
        None,
    )
    .await;
    let tenant_id = registered.json::<RegisterResponse>().tenant.id;
    let carol_email = fresh_email("carol", "acme.io");
    let (invited, invitation) = api(
        &server,
        reqwest::Method::POST,
        &format!("/api/v1/tenants/{tenant_id}/invitations"),
        &ana_token,
        Some(json!({ "email": carol_email })),
    )
    .await;
    // Without the invitation the test below would pass for the wrong reason.
    assert_eq!(invited, StatusCode::CREATED, "{}", invitation.text);

    // Carol signs up but never verifies her email.
    let (_, carol_token) = emulator.sign_up(&carol_email).await;
    let (status, registered_carol) = api(
        &server,
        reqwest::Method::POST,
        "/api/v1/register",
        &carol_token,
        None,
    )
    .await;

    // She gets a tenant of her own, not Ana's.
    assert_eq!(status, StatusCode::CREATED, "{}", registered_carol.text);
    let registered_carol: RegisterResponse = registered_carol.json();
    assert!(!registered_carol.joined_by_invitation);
    assert_ne!(registered_carol.tenant.id, tenant_id);
    assert_eq!(registered_carol.user.role, Role::Owner);
}

#[tokio::test]
#[cfg_attr(
    not(firebase_emulator),
    ignore = "FIREBASE_AUTH_EMULATOR_HOST is not set"
)]
async fn a_forged_emulator_token_for_another_project_is_refused() {
    let Some(emulator) = Emulator::from_env() else {
        return;
    };
    let server = server_for(&emulator).await;
    let (_, id_token) = emulator.sign_up(&fresh_email("ana", "acme.io")).await;
    // The same token re-addressed to another project (the emulator signs nothing, so this is all a
    // forger needs to do).
    let mut claims = claims_of(&id_token);
    claims["aud"] = json!("demo-someone-else");
    let forged = integration_tests::tokens::emulator_token(&claims);

    let (status, problem) = api(
        &server,
        reqwest::Method::POST,
        "/api/v1/register",
        &forged,
        None,
    )
    .await;

    assert_eq!(status, StatusCode::UNAUTHORIZED, "{}", problem.text);
    assert_eq!(problem.problem().code, ProblemCode::InvalidToken);
}
