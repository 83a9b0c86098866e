//! [`Credentials`]: the sign-in as `credentials.json` holds it (mode 0600), and the rule for when
//! its ID token is refreshed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::api::AuthConfigResponse;

use super::toolkit::TokenGrant;
use crate::home::ServerDir;
use crate::http::ClientError;

/// How long before its expiry an ID token is replaced: long enough that a token handed out is
/// still valid when the service checks it, also with some clock skew.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// The provider name of the demo sign-in (tokens minted by the client for the embedded default).
pub const DEMO_PROVIDER: &str = "demo";

/// The stored sign-in of one deployment. Its `Debug` shows no token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// How the person signed in: `password`, `google.com`, `github.com` or `demo`.
    pub provider: String,
    /// Identity Platform's uid.
    pub uid: String,
    /// The account's email, when it has one.
    pub email: Option<String>,
    /// Exchanged for new ID tokens; `None` for the demo sign-in, which mints its own.
    pub refresh_token: Option<String>,
    /// The current ID token.
    pub id_token: String,
    /// When the current ID token expires.
    pub id_token_expires_at: DateTime<Utc>,
    /// The Identity Platform project (the demo sign-in's audience).
    pub project_id: String,
    /// The public Web API key the refresh is sent with.
    pub api_key: String,
    /// Where the refresh token is exchanged (Google's Secure Token API, or the emulator's).
    pub secure_token_url: String,
    /// When this sign-in happened.
    pub signed_in_at: DateTime<Utc>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("provider", &self.provider)
            .field("uid", &self.uid)
            .field("email", &self.email)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("id_token", &"<redacted>")
            .field("id_token_expires_at", &self.id_token_expires_at)
            .field("project_id", &self.project_id)
            .field("secure_token_url", &self.secure_token_url)
            .field("signed_in_at", &self.signed_in_at)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// The credentials of a sign-in with `provider` that granted `grant` at `now`.
    pub fn from_grant(
        provider: &str,
        grant: TokenGrant,
        config: &AuthConfigResponse,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            provider: provider.to_owned(),
            uid: grant.uid,
            email: grant.email,
            refresh_token: Some(grant.refresh_token),
            id_token: grant.id_token,
            id_token_expires_at: expiry(now, grant.expires_in),
            project_id: config.project_id.clone(),
            api_key: config.api_key.clone(),
            secure_token_url: config.secure_token_url.clone(),
            signed_in_at: now,
        }
    }

    /// Whether the ID token must be replaced before it is used at `now`: it expires within
    /// [`REFRESH_MARGIN`] (or has expired).
    pub fn needs_refresh(&self, now: DateTime<Utc>) -> bool {
        let margin = chrono::Duration::from_std(REFRESH_MARGIN).unwrap_or_default();
        self.id_token_expires_at - margin <= now
    }

    /// Takes the tokens of a refresh at `now`, keeping who signed in.
    pub fn refreshed(&mut self, grant: TokenGrant, now: DateTime<Utc>) {
        self.id_token = grant.id_token;
        self.refresh_token = Some(grant.refresh_token);
        self.id_token_expires_at = expiry(now, grant.expires_in);
    }

    /// The stored sign-in of `files`; `None` when there is none.
    pub fn read(files: &ServerDir) -> Result<Option<Self>, ClientError> {
        let Some(bytes) = files.read(&files.credentials_path())? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            ClientError::NotSignedIn(format!(
                "The stored sign-in ({}) cannot be read ({e}): sign in again.",
                files.credentials_path().display()
            ))
        })
    }

    /// Stores this sign-in (0600, replaced whole).
    pub fn write(&self, files: &ServerDir) -> Result<(), ClientError> {
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| ClientError::Protocol(format!("credentials do not serialize: {e}")))?;
        files.write_private(&files.credentials_path(), &bytes)?;
        Ok(())
    }
}

fn expiry(now: DateTime<Utc>, lifetime: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(lifetime).unwrap_or_else(|_| chrono::Duration::hours(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials(expires_at: DateTime<Utc>) -> Credentials {
        Credentials {
            provider: "password".into(),
            uid: "ana".into(),
            email: Some("ana@acme.test".into()),
            refresh_token: Some("refresh-secret".into()),
            id_token: "id-secret".into(),
            id_token_expires_at: expires_at,
            project_id: "demo-coditect".into(),
            api_key: "fake-api-key".into(),
            secure_token_url: "http://127.0.0.1:9099/securetoken.googleapis.com".into(),
            signed_in_at: expires_at - chrono::Duration::hours(1),
        }
    }

    #[test]
    fn a_token_is_refreshed_once_less_than_five_minutes_remain_and_after_it_expired() {
        let expires = Utc::now();
        let stored = credentials(expires);
        assert!(!stored.needs_refresh(expires - chrono::Duration::minutes(6)));
        assert!(stored.needs_refresh(expires - chrono::Duration::minutes(4)));
        assert!(stored.needs_refresh(expires + chrono::Duration::hours(2)));
    }

    #[test]
    fn debug_output_shows_who_but_never_a_token() {
        let shown = format!("{:?}", credentials(Utc::now()));
        assert!(shown.contains("ana@acme.test"), "{shown}");
        assert!(!shown.contains("refresh-secret"), "{shown}");
        assert!(!shown.contains("id-secret"), "{shown}");
    }

    #[test]
    fn a_refresh_replaces_the_tokens_and_the_expiry_but_not_who() {
        let now = Utc::now();
        let mut stored = credentials(now);
        // A grant naming someone else: who signed in comes from the sign-in, never a refresh.
        stored.refreshed(
            TokenGrant {
                uid: "bob".into(),
                email: Some("bob@acme.test".into()),
                id_token: "new-id".into(),
                refresh_token: "new-refresh".into(),
                expires_in: Duration::from_secs(3600),
            },
            now,
        );
        assert_eq!(stored.id_token, "new-id");
        assert_eq!(stored.refresh_token.as_deref(), Some("new-refresh"));
        assert_eq!(stored.id_token_expires_at, now + chrono::Duration::hours(1));
        assert_eq!(stored.uid, "ana");
        assert_eq!(stored.email.as_deref(), Some("ana@acme.test"));
        assert!(!stored.needs_refresh(now));
    }
}
