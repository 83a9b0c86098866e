//! ID-token verification as Google documents it for Identity Platform, proven end to end: a test RSA
//! key signs tokens, a local server publishes its JWKS with `Cache-Control: public, max-age=…` (and
//! counts how often it is fetched), and
//! [`IdTokenVerifier`](shared::identity::IdTokenVerifier) checks them.
//!
//! Every refusal is an [`IdentityError::Invalid`] whose reason names the failed check: that reason is
//! what the services log (clients only ever see `invalid_token`), so each test asserts on it.
//!
//! Layout: this file holds the tokens' claims; `key_server` the key and the key server; then the
//! tests: `valid_tokens`, `refusals` (one test per forgery), `keys_cache` (key rotation, refresh
//! floor, cache, the key endpoint failing) and `emulator` (emulator mode, and the Cloud Run guard
//! of `shared::backends::identity`).
//!
//! Run: `cargo nextest run -p integration-tests --test identity_verification`

mod emulator;
mod key_server;
mod keys_cache;
mod refusals;
mod valid_tokens;

use serde_json::{Value, json};
use shared::identity::{Caller, IdentityError};

/// The project the Google-mode tokens are for (not a `demo-` project: that would mean emulator).
const PROJECT: &str = "coditect-test";
/// The Identity Platform tenant the Google-mode verifier requires.
const TENANT: &str = "acme-tenant-x7k2p";
/// The `max-age` the key server sends unless a test says otherwise.
const MAX_AGE: u64 = 3600;

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The claims Identity Platform puts in a fresh token of `uid` for `project` in `TENANT`.
fn claims_for(project: &str, uid: &str) -> Value {
    let now = now();
    json!({
        "iss": format!("https://securetoken.google.com/{project}"),
        "aud": project,
        "sub": uid,
        "user_id": uid,
        "email": "Ana.Lima@Acme.IO",
        "email_verified": true,
        "name": "Ana Lima",
        "iat": now,
        "auth_time": now,
        "exp": now + 3600,
        "firebase": { "sign_in_provider": "google.com", "tenant": TENANT },
    })
}

/// Valid claims of `PROJECT`.
fn claims(uid: &str) -> Value {
    claims_for(PROJECT, uid)
}

/// `claims` with `key` set to `value` (a dotted key reaches into `firebase`).
fn with(mut claims: Value, key: &str, value: Value) -> Value {
    match key.split_once('.') {
        Some((outer, inner)) => claims[outer][inner] = value,
        None => claims[key] = value,
    }
    claims
}

/// The reason of an `Invalid` refusal.
#[track_caller]
fn invalid_reason(result: Result<Caller, IdentityError>) -> String {
    match result {
        Err(IdentityError::Invalid(reason)) => reason,
        other => panic!("expected IdentityError::Invalid, got {other:?}"),
    }
}
