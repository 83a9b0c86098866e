//! Who is calling: Identity Platform ID tokens verified into a [`Caller`].
//!
//! Verification follows Google's documentation for Identity Platform / Firebase ID tokens:
//! RS256 only, `kid` naming a current Google key ([`google_keys`]), `aud` = project id,
//! `iss` = `https://securetoken.google.com/<project>`, `exp` in the future, `iat` and `auth_time` present,
//! positive and not in the future (a token without either is refused, as the Admin SDKs refuse it), `sub` non-empty and at most 128 bytes, and `firebase.tenant` when
//! Identity Platform multi-tenancy is configured ([`claims`]). The text claims that reach the
//! database (`sub`, `email`, `name`) are bounded and cleaned first ([`claim_text`]): a token whose
//! uid or email the store could not hold is refused (`invalid_token`), a name is cleaned.
//!
//! Emulator mode (the Firebase Auth Emulator host is set, or the project is a `demo-` project)
//! accepts the emulator's unsigned tokens with the same claim checks, as the Firebase Admin SDKs do.
//! It is refused on Cloud Run (see [`crate::backends`]).

pub mod claim_text;
mod claims;
mod google_keys;

use std::time::Duration;

use jsonwebtoken::{Algorithm, Validation, decode, decode_header};

pub use claims::{Caller, IdClaims};
pub use google_keys::{GoogleKeys, RefreshPolicy};

/// Why a token was refused. The text is for the log; clients only see `invalid_token`.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The token is not acceptable; says which check failed.
    #[error("{0}")]
    Invalid(String),
    /// Google's keys could not be fetched, so no token can be checked right now.
    #[error("Google's ID-token keys are unavailable: {0}")]
    KeysUnavailable(String),
}

/// How tokens are checked.
enum Mode {
    /// Signed by Google, checked against its published keys.
    Google(GoogleKeys),
    /// Unsigned tokens of the Firebase Auth Emulator.
    Emulator,
}

/// Verifies ID tokens for one project.
pub struct IdTokenVerifier {
    mode: Mode,
    project_id: String,
    /// Required `firebase.tenant`, when Identity Platform multi-tenancy is on.
    tenant: Option<String>,
}

/// Clock skew tolerated on `iat`, `auth_time` and `exp`.
const SKEW: Duration = Duration::from_secs(60);

impl IdTokenVerifier {
    /// Verifies Google-signed tokens, fetching keys from `jwks_url` as often as the production
    /// [`RefreshPolicy`] allows.
    pub fn google(
        project_id: &str,
        tenant: Option<String>,
        jwks_url: &str,
    ) -> anyhow::Result<Self> {
        Self::google_with(project_id, tenant, jwks_url, RefreshPolicy::default())
    }

    /// [`Self::google`] with its own key refresh floors (tests shorten them).
    pub fn google_with(
        project_id: &str,
        tenant: Option<String>,
        jwks_url: &str,
        policy: RefreshPolicy,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            mode: Mode::Google(GoogleKeys::new(jwks_url, policy)?),
            project_id: project_id.to_owned(),
            tenant,
        })
    }

    /// Accepts the Firebase Auth Emulator's unsigned tokens.
    pub fn emulator(project_id: &str, tenant: Option<String>) -> Self {
        Self {
            mode: Mode::Emulator,
            project_id: project_id.to_owned(),
            tenant,
        }
    }

    /// Whether unsigned emulator tokens are accepted.
    pub fn is_emulated(&self) -> bool {
        matches!(self.mode, Mode::Emulator)
    }

    /// Verifies `token` and returns who it identifies.
    pub async fn verify(&self, token: &str) -> Result<Caller, IdentityError> {
        let claims: IdClaims = match &self.mode {
            Mode::Emulator => claims::decode_unverified(token)?,
            Mode::Google(keys) => {
                let header = decode_header(token)
                    .map_err(|e| IdentityError::Invalid(format!("malformed token header: {e}")))?;
                if header.alg != Algorithm::RS256 {
                    return Err(IdentityError::Invalid(format!(
                        "algorithm {:?} is not RS256",
                        header.alg
                    )));
                }
                let kid = header
                    .kid
                    .ok_or_else(|| IdentityError::Invalid("no kid in the token header".into()))?;
                let key = keys.key(&kid).await?;
                // Signature only here; every claim is checked below, the same way in both modes.
                let mut validation = Validation::new(Algorithm::RS256);
                validation.validate_exp = false;
                validation.validate_aud = false;
                validation.required_spec_claims.clear();
                decode::<IdClaims>(token, &key, &validation)
                    .map_err(|e| IdentityError::Invalid(format!("signature check failed: {e}")))?
                    .claims
            }
        };
        claims.check(
            &self.project_id,
            self.tenant.as_deref(),
            chrono::Utc::now().timestamp(),
            SKEW,
        )?;
        claims.into_caller()
    }
}
