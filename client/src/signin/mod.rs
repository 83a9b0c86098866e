//! Sign-in: the stored Identity Platform sign-in of this machine's user, and the ways to get one.
//!
//! (Contract for the sign-in work; the implementation lands with it.)

use crate::home::ServerDir;
use crate::http::{ClientError, LicenseClient};
use crate::token::{IdTokenFuture, IdTokens};

/// The sign-in stored in `credentials.json` for one deployment; hands out fresh ID tokens.
pub struct StoredSignIn {
    id_token: String,
}

impl StoredSignIn {
    /// The stored sign-in, or [`ClientError::NotSignedIn`].
    pub async fn load(files: &ServerDir, _client: &LicenseClient) -> Result<Self, ClientError> {
        let bytes = files
            .read(&files.credentials_path())?
            .ok_or_else(|| ClientError::NotSignedIn("You are not signed in.".into()))?;
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| ClientError::NotSignedIn(e.to_string()))?;
        let id_token = value["id_token"].as_str().unwrap_or_default().to_owned();
        Ok(Self { id_token })
    }
}

impl IdTokens for StoredSignIn {
    fn id_token(&self) -> IdTokenFuture<'_> {
        let token = self.id_token.clone();
        Box::pin(async move { Ok(token) })
    }
}
