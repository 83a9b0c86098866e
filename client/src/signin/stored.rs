//! [`StoredSignIn`]: the sign-in in `credentials.json`, handing out ID tokens that are valid when
//! used: a token with less than [`REFRESH_MARGIN`](super::credentials::REFRESH_MARGIN) left is
//! exchanged (Secure Token API) or, for the demo sign-in, minted again, and the new tokens are
//! written back so the next process starts with them. Before refreshing it reads the file again: a
//! token another process refreshed meanwhile is taken as it is, and a sign-in removed by `logout`
//! is never written back (the program is then not signed in).

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
            ClientError::NotSignedIn(format!(
                "You are not signed in to {}: run `coditect-license login`.",
                files.url()
            ))
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
        // Another process may have refreshed since this one read the file (take its token), or
        // the person signed out (a refresh must not write the sign-in back).
        match Credentials::read(&self.files)? {
            None => {
                return Err(ClientError::NotSignedIn(format!(
                    "You signed out of {}.",
                    self.files.url()
                )));
            }
            Some(on_disk) if on_disk.uid != current.uid => {
                return Err(ClientError::NotSignedIn(format!(
                    "Another account signed in to {} since this program started.",
                    self.files.url()
                )));
            }
            Some(on_disk) if !on_disk.needs_refresh(now) => {
                *current = on_disk;
                return Ok(current.id_token.clone());
            }
            Some(_) => {}
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::home::Home;

    struct Scratch(std::path::PathBuf);

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A home in a fresh directory, a client of a server nobody runs, and a settable clock.
    fn setup() -> (
        Scratch,
        ServerDir,
        LicenseClient,
        Arc<Mutex<DateTime<Utc>>>,
        Clock,
    ) {
        let root = std::env::temp_dir().join(format!("coditect-signin-{}", uuid::Uuid::new_v4()));
        let files = Home::at(&root).server("http://127.0.0.1:9");
        let client = LicenseClient::new("http://127.0.0.1:9").expect("a client");
        let now = Arc::new(Mutex::new(Utc::now()));
        let clock_now = now.clone();
        let clock: Clock = Arc::new(move || *clock_now.lock().expect("clock"));
        (Scratch(root), files, client, now, clock)
    }

    fn credentials(provider: &str, token: &str, expires: DateTime<Utc>) -> Credentials {
        Credentials {
            provider: provider.into(),
            uid: super::demo::demo_uid("ana@acme.test"),
            email: Some("ana@acme.test".into()),
            refresh_token: (provider != DEMO_PROVIDER).then(|| "refresh".into()),
            id_token: token.into(),
            id_token_expires_at: expires,
            project_id: "demo-coditect".into(),
            api_key: "fake-api-key".into(),
            // Nothing answers here: a test that reaches the Secure Token API fails.
            secure_token_url: "http://127.0.0.1:9".into(),
            signed_in_at: expires - chrono::Duration::hours(1),
        }
    }

    #[tokio::test]
    async fn a_token_is_used_until_the_margin_and_replaced_once_the_clock_passes_it() {
        let (_scratch, files, client, now, clock) = setup();
        let start = *now.lock().expect("clock");
        credentials(DEMO_PROVIDER, "first", start + chrono::Duration::hours(1))
            .write(&files)
            .expect("stored");
        let sign_in = StoredSignIn::load_with_clock(&files, &client, clock).expect("loads");
        assert_eq!(sign_in.fresh_id_token().await.expect("a token"), "first");

        *now.lock().expect("clock") = start + chrono::Duration::minutes(56);
        let minted = sign_in.fresh_id_token().await.expect("a token");

        assert_ne!(minted, "first");
        let stored = Credentials::read(&files).expect("reads").expect("exists");
        assert_eq!(stored.id_token, minted, "the new token is persisted");
        assert!(stored.id_token_expires_at > start + chrono::Duration::minutes(56));
    }

    #[tokio::test]
    async fn a_token_another_process_refreshed_is_taken_without_a_call() {
        let (_scratch, files, client, now, clock) = setup();
        let start = *now.lock().expect("clock");
        credentials("password", "old", start + chrono::Duration::minutes(2))
            .write(&files)
            .expect("stored");
        let sign_in = StoredSignIn::load_with_clock(&files, &client, clock).expect("loads");
        credentials("password", "theirs", start + chrono::Duration::hours(1))
            .write(&files)
            .expect("another process refreshed");

        assert_eq!(sign_in.fresh_id_token().await.expect("a token"), "theirs");
    }

    #[tokio::test]
    async fn after_logout_a_refresh_is_refused_and_writes_nothing_back() {
        let (_scratch, files, client, now, clock) = setup();
        let start = *now.lock().expect("clock");
        credentials(DEMO_PROVIDER, "first", start + chrono::Duration::minutes(1))
            .write(&files)
            .expect("stored");
        let sign_in = StoredSignIn::load_with_clock(&files, &client, clock).expect("loads");
        assert!(StoredSignIn::forget(&files).expect("removed"));

        let refused = sign_in.fresh_id_token().await.expect_err("signed out");

        assert!(
            matches!(refused, ClientError::NotSignedIn(_)),
            "{refused:?}"
        );
        assert!(!files.credentials_path().exists());
    }

    #[tokio::test]
    async fn debug_output_of_a_sign_in_shows_no_token() {
        let (_scratch, files, client, _now, clock) = setup();
        credentials("password", "secret-id-token", Utc::now())
            .write(&files)
            .expect("stored");
        let sign_in = StoredSignIn::load_with_clock(&files, &client, clock).expect("loads");
        let shown = format!("{sign_in:?}");
        assert!(
            shown.contains("ana@acme.test") && !shown.contains("secret-id-token"),
            "{shown}"
        );
    }
}
