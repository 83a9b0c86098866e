//! [`StoredSignIn`]: the sign-in in `credentials.json`, handing out ID tokens that are valid when
//! used: a token with less than [`REFRESH_MARGIN`](super::credentials::REFRESH_MARGIN) left is
//! exchanged (Secure Token API) or, for the demo sign-in, minted again, and the new tokens are
//! written back so the next process starts with them.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::credentials::{Credentials, DEMO_PROVIDER};
use super::{demo, toolkit};
use crate::home::ServerDir;
use crate::http::{ClientError, LicenseClient};
use crate::token::{IdTokenFuture, IdTokens};

/// Where "now" comes from (a test passes a clock of its own).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The sign-in stored in `credentials.json` for one deployment; hands out fresh ID tokens.
pub struct StoredSignIn {
    /// Where `credentials.json` is, to write a refreshed token back.
    files: ServerDir,
    /// The licensing client's connection pool, reused for the Secure Token API.
    http: reqwest::Client,
    /// "Now", for the refresh rule.
    clock: Clock,
    /// Serialises refreshes: one exchange at a time, the others take its result.
    current: tokio::sync::Mutex<Credentials>,
    /// Who signed in, readable without the lock (it never changes).
    uid: String,
    /// Their email, when the account has one.
    email: Option<String>,
    /// How they signed in.
    provider: String,
}

impl std::fmt::Debug for StoredSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSignIn")
            .field("uid", &self.uid)
            .field("email", &self.email)
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

impl StoredSignIn {
    /// The stored sign-in, or [`ClientError::NotSignedIn`].
    pub async fn load(files: &ServerDir, client: &LicenseClient) -> Result<Self, ClientError> {
        Self::load_with_clock(files, client, Arc::new(Utc::now))
    }

    /// As [`StoredSignIn::load`], reading the time from `clock`.
    pub fn load_with_clock(
        files: &ServerDir,
        client: &LicenseClient,
        clock: Clock,
    ) -> Result<Self, ClientError> {
        let credentials = Credentials::read(files)?.ok_or_else(|| {
            ClientError::NotSignedIn(format!("You are not signed in to {}.", files.url()))
        })?;
        Ok(Self::new(files, client, credentials, clock))
    }

    /// Stores `credentials` for `files`' deployment and hands out their tokens.
    pub fn save(
        files: &ServerDir,
        client: &LicenseClient,
        credentials: Credentials,
    ) -> Result<Self, ClientError> {
        credentials.write(files)?;
        Ok(Self::new(files, client, credentials, Arc::new(Utc::now)))
    }

    fn new(
        files: &ServerDir,
        client: &LicenseClient,
        credentials: Credentials,
        clock: Clock,
    ) -> Self {
        Self {
            files: files.clone(),
            http: client.http().clone(),
            clock,
            uid: credentials.uid.clone(),
            email: credentials.email.clone(),
            provider: credentials.provider.clone(),
            current: tokio::sync::Mutex::new(credentials),
        }
    }

    /// Identity Platform's uid of the signed-in person.
    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// Their email, when the account has one.
    pub fn email(&self) -> Option<&str> {
        self.email.as_deref()
    }

    /// How they signed in: `password`, `google.com`, `github.com` or `demo`.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// Removes the stored sign-in of `files`; whether there was one.
    pub fn forget(files: &ServerDir) -> Result<bool, ClientError> {
        let existed = files.credentials_path().exists();
        files.remove(&files.credentials_path())?;
        Ok(existed)
    }

    /// A valid ID token, refreshed (and stored) first when it expires within the margin.
    pub async fn fresh_id_token(&self) -> Result<String, ClientError> {
        let mut current = self.current.lock().await;
        let now = (self.clock)();
        if !current.needs_refresh(now) {
            return Ok(current.id_token.clone());
        }
        if current.provider == DEMO_PROVIDER {
            let email = current.email.clone().unwrap_or_default();
            let (token, expires) = demo::mint(&current.project_id, &email, now);
            current.id_token = token;
            current.id_token_expires_at = expires;
        } else {
            let refresh_token = current.refresh_token.clone().ok_or_else(|| {
                ClientError::NotSignedIn("The stored sign-in has no refresh token.".into())
            })?;
            let grant = toolkit::refresh(
                &self.http,
                &current.secure_token_url,
                &current.api_key,
                &refresh_token,
            )
            .await?;
            if grant.uid != current.uid {
                return Err(ClientError::Protocol(
                    "the refreshed token belongs to another account".into(),
                ));
            }
            current.refreshed(grant, now);
        }
        current.write(&self.files)?;
        Ok(current.id_token.clone())
    }
}

impl IdTokens for StoredSignIn {
    fn id_token(&self) -> IdTokenFuture<'_> {
        Box::pin(self.fresh_id_token())
    }
}
