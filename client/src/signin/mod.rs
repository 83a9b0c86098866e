//! Sign-in: the stored Identity Platform sign-in of this machine's user, and the ways to get one.
//!
//! The licensing service says how to sign in (`GET /api/v1/auth/config`: project, public Web API
//! key, endpoints), so a client needs only the service's URL. Every way ends in [`Credentials`]
//! stored in `credentials.json` (0600), which [`StoredSignIn`] turns into fresh ID tokens for the
//! seat lifecycle.
//!
//! # Layout
//!
//! - [`toolkit`]: [`IdentityToolkit`], the Identity Toolkit and Secure Token REST calls
//!   (`accounts:signUp`, `accounts:signInWithPassword`, `accounts:createAuthUri`,
//!   `accounts:signInWithIdp`, `v1/token`); [`wire`](self) holds their bodies.
//! - [`errors`]: [`SignInError`], Identity Toolkit's refusal codes as sentences.
//! - [`credentials`]: the stored file and the refresh-before-expiry rule.
//! - [`stored`]: [`StoredSignIn`], which refreshes and persists the ID token.
//! - [`idp`]: Google and GitHub through the browser: the state nonce, the auth URI, the finish.
//! - [`loopback`]: the one-shot listener on 127.0.0.1 that receives the browser's redirect.
//! - [`demo`]: the demo sign-in of the embedded default (a minted unsigned token).

pub mod credentials;
pub mod demo;
pub mod errors;
pub mod idp;
pub mod loopback;
pub mod stored;
pub mod toolkit;
mod wire;

pub use credentials::{Credentials, DEMO_PROVIDER, REFRESH_MARGIN};
pub use errors::SignInError;
pub use idp::IdpSignIn;
pub use loopback::Loopback;
pub use stored::{Clock, StoredSignIn};
pub use toolkit::{IdentityToolkit, TokenGrant};
