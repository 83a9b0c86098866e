//! The demo sign-in: on a server in emulator mode without an emulator (the embedded default),
//! nothing issues ID tokens, and the server accepts unsigned emulator-format ones. The client then
//! mints the token itself for the email a person types — exactly the shape of the README's
//! hand-made token — with a uid derived from the email, so the same email is the same person on
//! every machine. Only a server whose `GET /api/v1/auth/config` says `demo_sign_in` gets one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use shared::api::AuthConfigResponse;

use super::credentials::{Credentials, DEMO_PROVIDER};
use super::errors::SignInError;

/// How long a minted token lives, as the emulator's do.
const LIFETIME_SECONDS: i64 = 3600;

/// The claims of the README's token, in its order.
#[derive(Serialize)]
struct DemoClaims<'a> {
    iss: String,
    aud: &'a str,
    sub: &'a str,
    email: &'a str,
    email_verified: bool,
    iat: i64,
    auth_time: i64,
    exp: i64,
}

/// The uid of `email`'s demo sign-in: `demo-` and 24 hex digits of the SHA-256 of the email,
/// trimmed and lower-cased.
pub fn demo_uid(email: &str) -> String {
    let digest = Sha256::digest(email.trim().to_lowercase().as_bytes());
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("demo-{hex}")
}

/// An unsigned emulator-format ID token for `email` in `project`, issued at `now`, and its expiry.
pub fn mint(project: &str, email: &str, now: DateTime<Utc>) -> (String, DateTime<Utc>) {
    let email = email.trim().to_lowercase();
    let uid = demo_uid(&email);
    let iat = now.timestamp();
    let claims = DemoClaims {
        iss: format!("https://securetoken.google.com/{project}"),
        aud: project,
        sub: &uid,
        email: &email,
        email_verified: true,
        iat,
        auth_time: iat,
        exp: iat + LIFETIME_SECONDS,
    };
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    // Serializing these fields cannot fail.
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
    let expires = DateTime::from_timestamp(iat + LIFETIME_SECONDS, 0).unwrap_or(now);
    (format!("{header}.{payload}."), expires)
}

/// The demo sign-in of `email`, refused unless the server's configuration offers it.
pub fn sign_in(
    config: &AuthConfigResponse,
    email: &str,
    now: DateTime<Utc>,
) -> Result<Credentials, SignInError> {
    if !config.demo_sign_in {
        return Err(SignInError::NotOffered(
            "This server verifies real sign-ins: the demo sign-in is only for a server in \
             emulator mode without an emulator."
                .into(),
        ));
    }
    let email = email.trim().to_lowercase();
    match email.split_once('@') {
        Some((local, domain)) if !local.is_empty() && domain.contains('.') => {}
        _ => return Err(SignInError::refused("INVALID_EMAIL")),
    }
    let (id_token, expires) = mint(&config.project_id, &email, now);
    Ok(Credentials {
        provider: DEMO_PROVIDER.into(),
        uid: demo_uid(&email),
        email: Some(email),
        refresh_token: None,
        id_token,
        id_token_expires_at: expires,
        project_id: config.project_id.clone(),
        api_key: config.api_key.clone(),
        secure_token_url: config.secure_token_url.clone(),
        signed_in_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_email_is_the_same_uid_whatever_its_case() {
        assert_eq!(demo_uid("Ana@Acme.test "), demo_uid("ana@acme.test"));
        assert_ne!(demo_uid("ana@acme.test"), demo_uid("bob@acme.test"));
    }

    fn config(demo_sign_in: bool) -> AuthConfigResponse {
        AuthConfigResponse {
            project_id: "demo-coditect".into(),
            tenant_id: None,
            api_key: "fake-api-key".into(),
            identity_toolkit_url: "http://127.0.0.1:9099/identitytoolkit.googleapis.com".into(),
            secure_token_url: "http://127.0.0.1:9099/securetoken.googleapis.com".into(),
            providers: vec![],
            emulator: !demo_sign_in,
            demo_sign_in,
        }
    }

    #[test]
    fn the_demo_sign_in_is_refused_unless_the_server_offers_it() {
        let refused = sign_in(&config(false), "ana@acme.test", Utc::now()).expect_err("refused");
        assert!(matches!(refused, SignInError::NotOffered(_)), "{refused:?}");
        let stored = sign_in(&config(true), " Ana@Acme.test", Utc::now()).expect("offered");
        assert_eq!(stored.provider, DEMO_PROVIDER);
        assert_eq!(stored.email.as_deref(), Some("ana@acme.test"));
        assert_eq!(stored.uid, demo_uid("ana@acme.test"));
        assert!(stored.refresh_token.is_none());
    }

    #[test]
    fn a_demo_sign_in_needs_an_email_address() {
        for typed in ["", "ana", "@acme.test", "ana@localhost"] {
            assert!(
                sign_in(&config(true), typed, Utc::now()).is_err(),
                "{typed:?}"
            );
        }
    }

    #[test]
    fn a_minted_token_has_the_readme_shape() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("a time");
        let (token, expires) = mint("demo-coditect", "ana@acme.test", now);
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2], "", "unsigned");
        let header = URL_SAFE_NO_PAD.decode(parts[0]).expect("base64url");
        assert_eq!(header, br#"{"alg":"none","typ":"JWT"}"#);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("base64url"))
                .expect("JSON");
        assert_eq!(
            claims["iss"],
            "https://securetoken.google.com/demo-coditect"
        );
        assert_eq!(claims["aud"], "demo-coditect");
        assert_eq!(claims["sub"], demo_uid("ana@acme.test").as_str());
        assert_eq!(claims["email_verified"], true);
        assert_eq!(claims["exp"], 1_800_003_600);
        assert_eq!(expires.timestamp(), 1_800_003_600);
    }
}
