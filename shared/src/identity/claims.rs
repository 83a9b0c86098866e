//! The claims of an ID token and the checks Google documents for them.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::{IdentityError, claim_text};

/// The claims we read from an Identity Platform ID token.
#[derive(Debug, Clone, Deserialize)]
pub struct IdClaims {
    /// The user's uid.
    #[serde(default)]
    pub sub: String,
    /// Audience: the project id.
    #[serde(default)]
    pub aud: String,
    /// Issuer: `https://securetoken.google.com/<project>`.
    #[serde(default)]
    pub iss: String,
    /// Expiry (seconds).
    #[serde(default)]
    pub exp: i64,
    /// Issued at (seconds); missing or not positive, the token is refused.
    #[serde(default)]
    pub iat: Option<i64>,
    /// When the user authenticated (seconds); missing or not positive, the token is refused.
    #[serde(default)]
    pub auth_time: Option<i64>,
    /// The user's email, if the provider gave one.
    #[serde(default)]
    pub email: Option<String>,
    /// Whether the email is verified.
    #[serde(default)]
    pub email_verified: bool,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Firebase-specific claims.
    #[serde(default)]
    pub firebase: FirebaseClaims,
}

/// The `firebase` claim.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FirebaseClaims {
    /// Identity Platform tenant, when multi-tenancy is used.
    #[serde(default)]
    pub tenant: Option<String>,
    /// `google.com`, `github.com`, `password`, …
    #[serde(default)]
    pub sign_in_provider: Option<String>,
}

/// A verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Identity Platform uid.
    pub uid: String,
    /// Email, trimmed and lower-cased, at most 254 bytes; `None` when the token has none or a
    /// blank one.
    pub email: Option<String>,
    /// Whether Identity Platform verified the email.
    pub email_verified: bool,
    /// Display name without control or bidi characters, at most 200 characters.
    pub name: Option<String>,
    /// How they signed in.
    pub provider: Option<String>,
}

impl IdClaims {
    /// Google's documented checks, `now` in seconds.
    pub fn check(
        &self,
        project: &str,
        tenant: Option<&str>,
        now: i64,
        skew: Duration,
    ) -> Result<(), IdentityError> {
        let skew = skew.as_secs() as i64;
        let invalid = |why: String| Err(IdentityError::Invalid(why));
        if self.aud != project {
            return invalid(format!("aud {:?} is not the project {project:?}", self.aud));
        }
        let issuer = format!("https://securetoken.google.com/{project}");
        if self.iss != issuer {
            return invalid(format!("iss {:?} is not {issuer:?}", self.iss));
        }
        if self.exp <= now - skew {
            return invalid(format!("expired at {} (now {now})", self.exp));
        }
        // As the Firebase Admin SDKs do: both times present, positive and not in the future.
        let Some(iat) = self.iat.filter(|&iat| iat > 0) else {
            return invalid(format!("iat {:?} is missing or not a time", self.iat));
        };
        if iat > now + skew {
            return invalid(format!("iat {iat} is in the future (now {now})"));
        }
        let Some(auth_time) = self.auth_time.filter(|&at| at > 0) else {
            return invalid(format!(
                "auth_time {:?} is missing or not a time",
                self.auth_time
            ));
        };
        if auth_time > now + skew {
            return invalid(format!(
                "auth_time {auth_time} is in the future (now {now})"
            ));
        }
        if let Some(why) = claim_text::uid_problem(&self.sub) {
            return invalid(why);
        }
        if let Some(expected) = tenant
            && self.firebase.tenant.as_deref() != Some(expected)
        {
            return invalid(format!(
                "firebase.tenant {:?} is not {expected:?}",
                self.firebase.tenant
            ));
        }
        Ok(())
    }

    /// The caller these claims describe, every text bounded and clean ([`claim_text`]): an email
    /// the store could not hold refuses the token; a name is cleaned instead.
    pub fn into_caller(self) -> Result<Caller, IdentityError> {
        let email = claim_text::email(self.email.as_deref()).map_err(IdentityError::Invalid)?;
        Ok(Caller {
            uid: self.sub,
            email_verified: self.email_verified && email.is_some(),
            email,
            name: claim_text::display_name(self.name.as_deref()),
            provider: claim_text::label(self.firebase.sign_in_provider.as_deref()),
        })
    }
}

/// The claims of an emulator token, whose signature (if any) is not checked: the emulator signs
/// nothing (`alg: none`), and the Admin SDKs skip the signature in emulator mode.
pub(super) fn decode_unverified(token: &str) -> Result<IdClaims, IdentityError> {
    let mut parts = token.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(IdentityError::Invalid("not a three-part JWT".into()));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| IdentityError::Invalid(format!("payload is not base64url: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| IdentityError::Invalid(format!("payload is not claims JSON: {e}")))
}
