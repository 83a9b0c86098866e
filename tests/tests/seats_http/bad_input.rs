//! Bad input: forged or malformed leases and malformed acquire requests answer clear problems.

use integration_tests::api::{acquire, heartbeat, machine, release, send};
use integration_tests::server::Backends;
use reqwest::{Method, StatusCode};
use shared::api::ProblemCode;
use uuid::Uuid;

use crate::{base64_claims_with, lease, owner_on, server_claims, sessions_of};

integration_tests::on_both_backends!(
    bad_leases_are_refused_with_clear_codes,
    malformed_acquire_requests_answer_problems,
    a_hostname_that_could_pass_for_another_is_refused,
    limits_count_characters_so_a_name_of_two_byte_letters_is_kept_whole,
);

async fn bad_leases_are_refused_with_clear_codes(backends: Backends) {
    let Some((server, owner, _)) = owner_on(backends, &[]).await else {
        return;
    };
    let granted = acquire(&server.url, &owner, &machine(1), "laptop").await;
    let good = lease(&granted);
    // The service remembers a lease whose signature it has checked; copies of it changed in any
    // part must still be checked, and refused.
    assert_eq!(heartbeat(&server.url, &good).await.status, StatusCode::OK);

    for (name, token) in [
        ("malformed", "not-a-jwt".to_owned()),
        ("tampered", {
            let mut parts: Vec<&str> = good.split('.').collect();
            let forged = base64_claims_with(&good, "sid", "0000");
            parts[1] = &forged;
            parts.join(".")
        }),
        ("signature changed", {
            let (signed, signature) = good.rsplit_once('.').expect("three parts");
            let flipped = if signature.starts_with('A') { "B" } else { "A" };
            format!("{signed}.{flipped}{}", &signature[1..])
        }),
        (
            "signature dropped",
            format!("{}.", good.rsplit_once('.').expect("parts").0),
        ),
    ] {
        let beat = heartbeat(&server.url, &token).await;
        assert_eq!(
            (beat.status, beat.code()),
            (StatusCode::UNAUTHORIZED, Some(ProblemCode::InvalidToken)),
            "{name}"
        );
        let gone = release(&server.url, &token).await;
        assert_eq!(gone.code(), Some(ProblemCode::InvalidToken), "{name}");
    }
    let missing = send(
        Method::PUT,
        &format!("{}/api/v1/licenses/heartbeat", server.url),
        None,
        None,
    )
    .await;
    assert_eq!(missing.code(), Some(ProblemCode::InvalidToken));
    let wrong_method = send(
        Method::GET,
        &format!("{}/api/v1/licenses/heartbeat", server.url),
        Some(&good),
        None,
    )
    .await;
    assert_eq!(
        (wrong_method.status, wrong_method.code()),
        (
            StatusCode::METHOD_NOT_ALLOWED,
            Some(ProblemCode::MethodNotAllowed)
        )
    );

    // A genuine lease naming another license reaches only that license's pool: nothing there.
    let signer = shared::leases::signing::Ed25519Signer::load(
        server.config.lease_signing_key.file().expect("a key file"),
        false,
    )
    .expect("server key");
    let mut claims = server_claims(&good, &server);
    claims.license = Uuid::new_v4().to_string();
    let other = shared::leases::signing::LeaseSigner::sign(&signer, &claims)
        .await
        .expect("signs");
    assert_eq!(
        heartbeat(&server.url, &other).await.code(),
        Some(ProblemCode::SessionNotFound)
    );
    assert_eq!(
        release(&server.url, &other).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        heartbeat(&server.url, &good).await.status,
        StatusCode::OK,
        "the real seat is untouched"
    );
}

async fn malformed_acquire_requests_answer_problems(backends: Backends) {
    let Some((server, owner, _)) = owner_on(backends, &[]).await else {
        return;
    };
    let url = format!("{}/api/v1/licenses/acquire", server.url);
    let no_token = send(
        Method::POST,
        &url,
        None,
        Some(serde_json::json!({"fingerprint": machine(1), "hostname": "h"})),
    )
    .await;
    assert_eq!(
        (no_token.status, no_token.code()),
        (StatusCode::UNAUTHORIZED, Some(ProblemCode::InvalidToken))
    );
    let missing = send(
        Method::POST,
        &url,
        Some(&owner.token()),
        Some(serde_json::json!({"hostname": "h"})),
    )
    .await;
    assert_eq!(
        (missing.status, missing.code()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(ProblemCode::ValidationFailed)
        )
    );
    let short = send(
        Method::POST,
        &url,
        Some(&owner.token()),
        Some(serde_json::json!({"fingerprint": "ab", "hostname": "h"})),
    )
    .await;
    assert_eq!(short.code(), Some(ProblemCode::ValidationFailed));
    assert!(short.problem().detail.contains("fingerprint"));
    let text = reqwest::Client::new()
        .post(&url)
        .bearer_auth(owner.token())
        .body("fingerprint=x")
        .send()
        .await
        .expect("answer");
    assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

/// The holders list shows each machine's hostname to owners and admins: a right-to-left override
/// could make `laptop\u{202e}gpj.exe` read as `laptopexe.jpg`, a control character could rewrite
/// a terminal line. Each is refused naming the field and nothing is held; the CLI drops them
/// before it sends (`coditect_license::fingerprint::printable_hostname`).
async fn a_hostname_that_could_pass_for_another_is_refused(backends: Backends) {
    let Some((server, owner, _)) = owner_on(backends, &[]).await else {
        return;
    };
    let url = format!("{}/api/v1/licenses/acquire", server.url);
    for (what, hostname, version) in [
        ("right-to-left override", "laptop\u{202e}gpj.exe", "1.0"),
        ("left-to-right isolate", "ana\u{2066}-laptop", "1.0"),
        ("Arabic letter mark", "ana\u{061c}laptop", "1.0"),
        ("escape sequence", "ana\u{1b}[2Jlaptop", "1.0"),
        ("NUL", "ana\u{0}laptop", "1.0"),
        ("override in the version", "laptop", "1.0\u{202e}"),
    ] {
        let reply = send(
            Method::POST,
            &url,
            Some(&owner.token()),
            Some(serde_json::json!({
                "fingerprint": machine(1),
                "hostname": hostname,
                "client_version": version,
            })),
        )
        .await;
        assert_eq!(
            (reply.status, reply.code()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(ProblemCode::ValidationFailed)
            ),
            "{what}: {}",
            reply.text
        );
        let field = if what.contains("version") {
            "client_version"
        } else {
            "hostname"
        };
        assert!(
            reply.problem().detail.contains(field),
            "{what}: {}",
            reply.text
        );
    }
    // What the CLI sends for such a name is accepted, and the seat was free all along.
    let cleaned = coditect_license::fingerprint::printable_hostname("laptop\u{202e}gpj.exe");
    assert_eq!(cleaned, "laptopgpj.exe");
    let granted = acquire(&server.url, &owner, &machine(1), &cleaned).await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.text);
}

async fn limits_count_characters_so_a_name_of_two_byte_letters_is_kept_whole(backends: Backends) {
    let Some((server, owner, tenant)) = owner_on(backends, &[]).await else {
        return;
    };
    let url = format!("{}/api/v1/licenses/acquire", server.url);
    let token = owner.token();
    let ask = |hostname: String, version: String| {
        let body = serde_json::json!({
            "fingerprint": machine(2),
            "hostname": hostname,
            "client_version": version,
        });
        send(Method::POST, &url, Some(&token), Some(body))
    };
    // 255 and 64 characters of two bytes each (510 and 128 bytes): at the limits, as documented.
    let hostname = "é".repeat(255);
    let version = "ü".repeat(64);
    for (what, too_long) in [
        ("hostname", ask("é".repeat(256), version.clone()).await),
        (
            "client_version",
            ask(hostname.clone(), "ü".repeat(65)).await,
        ),
    ] {
        assert_eq!(
            (too_long.status, too_long.code()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(ProblemCode::ValidationFailed)
            ),
            "{what} one character over: {}",
            too_long.text
        );
        assert!(
            too_long.problem().detail.contains(what),
            "{}",
            too_long.text
        );
    }
    let granted = ask(hostname.clone(), version.clone()).await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.text);
    // The store keeps every byte: the admin sees the name as sent, not cut at a byte count.
    let sessions = sessions_of(&server, &owner, tenant).await.sessions;
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0].hostname, hostname);
    assert_eq!(
        sessions[0].client_version.as_deref(),
        Some(version.as_str())
    );
}
