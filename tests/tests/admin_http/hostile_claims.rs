//! Hostile ID-token claims at the first sign-in: very long, NUL and other control characters,
//! right-to-left overrides, empty. Each answers 2xx (the claim cleaned) or a 4xx problem, never a
//! 5xx, and nothing hostile is stored as sent.

use integration_tests::api::{Reply, machine, send};
use integration_tests::server::{Backends, TestServer};
use integration_tests::tokens::{PROJECT, emulator_token};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::api::{ProblemCode, RegisterResponse};
use shared::domain::User;

integration_tests::on_both_backends!(
    a_domain_longer_than_a_tenant_name_names_the_tenant_with_its_first_200_characters,
    hostile_display_names_are_stored_without_control_or_bidi_characters,
    an_email_or_uid_with_hidden_characters_is_an_invalid_token_and_stores_nothing,
    an_empty_email_signs_in_without_one,
);

/// The claims of a fresh person's emulator token, with `overrides` on top.
fn claims(overrides: Value) -> Value {
    let now = chrono::Utc::now().timestamp();
    let uid = uuid::Uuid::new_v4().simple().to_string();
    let mut claims = json!({
        "iss": format!("https://securetoken.google.com/{PROJECT}"),
        "aud": PROJECT,
        "sub": uid,
        "email": format!("{}@hostile.test", &uid[..8]),
        "email_verified": true,
        "iat": now,
        "auth_time": now,
        "exp": now + 3600,
        "firebase": {"sign_in_provider": "password"},
    });
    if let (Some(base), Some(extra)) = (claims.as_object_mut(), overrides.as_object()) {
        base.extend(extra.clone());
    }
    claims
}

/// Registers with a token of `claims`, asserting the answer is a success or a 4xx problem.
async fn register_with(server: &TestServer, claims: &Value) -> Reply {
    let reply = send(
        Method::POST,
        &format!("{}/api/v1/register", server.url),
        Some(&emulator_token(claims)),
        None,
    )
    .await;
    assert!(
        reply.status.is_success() || reply.status.is_client_error(),
        "claims {claims} answered {}: {}",
        reply.status,
        reply.text
    );
    if reply.status.is_client_error() {
        reply.problem();
    }
    reply
}

/// The stored member signed in as `claims.sub`, if any. PostgreSQL cannot even be asked about a
/// NUL, so a `sub` holding one is looked up without it (what a careless cleaner would store).
async fn stored(server: &TestServer, claims: &Value) -> Option<User> {
    let uid = claims["sub"]
        .as_str()
        .expect("sub is text")
        .replace('\0', "");
    server
        .local
        .store
        .user_by_uid(&uid)
        .await
        .expect("the store answers")
}

async fn a_domain_longer_than_a_tenant_name_names_the_tenant_with_its_first_200_characters(
    backends: Backends,
) {
    let Some(server) = TestServer::start(backends, &[]).await else {
        return;
    };
    // 250 characters, 50 more than a tenant name keeps.
    let domain = format!("{}.test", "d".repeat(245));
    let claims = claims(json!({"email": format!("ana@{domain}")}));

    let reply = register_with(&server, &claims).await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let registered: RegisterResponse = reply.json();
    assert_eq!(registered.tenant.name, domain[..200]);
    assert_eq!(
        registered.user.email.as_deref(),
        Some(format!("ana@{domain}").as_str())
    );
}

async fn hostile_display_names_are_stored_without_control_or_bidi_characters(backends: Backends) {
    let Some(server) = TestServer::start(backends, &[]).await else {
        return;
    };
    let names = [
        ("Ana\u{0}Lisa", Some("AnaLisa")),
        ("evil\u{202E}gpj.exe", Some("evilgpj.exe")),
        ("bell\u{7}\u{1b}[31mred\u{9b}", Some("bell[31mred")),
        ("\u{0}\u{202E}\u{2066} ", None),
        ("", None),
    ];
    for (name, expected) in names {
        let claims = claims(json!({"name": name, "email": null}));

        let reply = register_with(&server, &claims).await;

        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{name:?}: {}",
            reply.text
        );
        let user = stored(&server, &claims).await.expect("registered");
        assert_eq!(user.display_name.as_deref(), expected, "{name:?}");
        let tenant = reply.json::<RegisterResponse>().tenant.name;
        assert!(!tenant.chars().any(shared::identity::claim_text::is_hidden));
    }
    let long = "n".repeat(10_000);
    let claims = claims(json!({"name": long}));
    assert_eq!(
        register_with(&server, &claims).await.status,
        StatusCode::CREATED
    );
    let user = stored(&server, &claims).await.expect("registered");
    assert_eq!(user.display_name.map(|n| n.chars().count()), Some(200));
}

async fn an_email_or_uid_with_hidden_characters_is_an_invalid_token_and_stores_nothing(
    backends: Backends,
) {
    let Some(server) = TestServer::start(backends, &[]).await else {
        return;
    };
    let uid = uuid::Uuid::new_v4().simple().to_string();
    let hostile = [
        json!({"email": "ana\u{0}@hostile.test"}),
        json!({"email": "ana@hostile\u{202E}tset.test"}),
        json!({"email": "ana\u{1b}@hostile.test"}),
        json!({"email": format!("ana@{}.test", "d".repeat(300))}),
        json!({"sub": format!("{uid}\u{0}")}),
        json!({"sub": format!("{uid}\u{202E}")}),
        json!({"sub": format!("{uid}\u{7}")}),
        json!({"sub": "é".repeat(65)}),
        json!({"sub": ""}),
    ];
    for overrides in hostile {
        let claims = claims(overrides);

        let reply = register_with(&server, &claims).await;

        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::UNAUTHORIZED, Some(ProblemCode::InvalidToken)),
            "{claims}: {}",
            reply.text
        );
        if !claims["sub"].as_str().unwrap_or_default().is_empty() {
            assert!(stored(&server, &claims).await.is_none(), "{claims} stored");
        }
        // The same token reaches the store's lookups on the other paths: refused there too.
        let token = emulator_token(&claims);
        let fingerprint = machine(1);
        let elsewhere = [
            (Method::GET, "/api/v1/me", None),
            (
                Method::POST,
                "/api/v1/licenses/acquire",
                Some(json!({"fingerprint": fingerprint, "hostname": "h", "client_version": "t"})),
            ),
        ];
        for (method, path, body) in elsewhere {
            let reply = send(method, &format!("{}{path}", server.url), Some(&token), body).await;
            assert_eq!(
                (reply.status, reply.code()),
                (StatusCode::UNAUTHORIZED, Some(ProblemCode::InvalidToken)),
                "{path} {claims}: {}",
                reply.text
            );
        }
    }
}

async fn an_empty_email_signs_in_without_one(backends: Backends) {
    let Some(server) = TestServer::start(backends, &[]).await else {
        return;
    };
    let claims = claims(json!({"email": "  ", "name": "Ana"}));

    let reply = register_with(&server, &claims).await;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let registered: RegisterResponse = reply.json();
    assert_eq!(registered.tenant.name, "Ana's organisation");
    assert_eq!(registered.user.email, None);
    let user = stored(&server, &claims).await.expect("registered");
    assert_eq!(user.email, None);
}
