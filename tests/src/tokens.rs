//! ID tokens as the Firebase Auth Emulator issues them: unsigned (`alg: none`), with the claims
//! Identity Platform would put in a real one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// The project the embedded default uses.
pub const PROJECT: &str = "demo-coditect";

/// A person signing in through the emulator.
#[derive(Debug, Clone)]
pub struct Person {
    /// Their uid (`sub`).
    pub uid: String,
    /// Their email.
    pub email: Option<String>,
    /// Whether the email is verified.
    pub email_verified: bool,
}

impl Person {
    /// A person with a fresh uid and a verified email at `domain`.
    pub fn at(domain: &str) -> Self {
        let uid = uuid::Uuid::new_v4().simple().to_string();
        Self {
            email: Some(format!("{}@{domain}", &uid[..8])),
            email_verified: true,
            uid,
        }
    }

    /// This person's emulator ID token for `PROJECT`, valid for an hour.
    pub fn token(&self) -> String {
        let now = chrono::Utc::now().timestamp();
        emulator_token(&json!({
            "iss": format!("https://securetoken.google.com/{PROJECT}"),
            "aud": PROJECT,
            "sub": self.uid,
            "user_id": self.uid,
            "email": self.email,
            "email_verified": self.email_verified,
            "iat": now,
            "auth_time": now,
            "exp": now + 3600,
            "firebase": {"sign_in_provider": "password"},
        }))
    }
}

/// An unsigned token with `claims`, as the emulator makes them (`header.payload.` with an empty
/// signature).
pub fn emulator_token(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}
