//! [`IdTokens`]: where the seat lifecycle gets the Identity Platform ID token each acquire needs.
//! A signed-in CLI hands its stored sign-in (which refreshes the token before it expires); a test
//! or a service account hands a [`FixedIdToken`].

use std::future::Future;
use std::pin::Pin;

use crate::http::ClientError;

/// A future answering an ID token.
pub type IdTokenFuture<'a> = Pin<Box<dyn Future<Output = Result<String, ClientError>> + Send + 'a>>;

/// A source of ID tokens, asked before every acquire, so it may refresh.
pub trait IdTokens: Send + Sync {
    /// A currently valid ID token; [`ClientError::NotSignedIn`] when there is no sign-in.
    fn id_token(&self) -> IdTokenFuture<'_>;
}

/// One ID token, used as it is.
#[derive(Clone)]
pub struct FixedIdToken(pub String);

impl std::fmt::Debug for FixedIdToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FixedIdToken(<redacted>)")
    }
}

impl IdTokens for FixedIdToken {
    fn id_token(&self) -> IdTokenFuture<'_> {
        let token = self.0.clone();
        Box::pin(async move { Ok(token) })
    }
}
