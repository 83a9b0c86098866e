//! Google and GitHub through the browser, as Identity Platform's REST API does it for an installed
//! app: `accounts:createAuthUri` with a `continueUri` on this machine's loopback carrying a random
//! state nonce, the browser to the answered `authUri`, the provider's redirect back to the
//! `continueUri`, whose state is checked, and `accounts:signInWithIdp` with the URL received and
//! the session id.
//!
//! The Firebase Auth Emulator implements no `createAuthUri` for providers: its fake provider is
//! the page `/emulator/auth/handler`, which keeps its answer in the page's session storage rather
//! than the redirect. Against the emulator the auth URI is that page (served through the
//! [`Loopback`](super::Loopback), so the answer lands in the loopback's origin) and the loopback's
//! bridge page moves the answer into the redirect URL.

use rand::RngCore;
use reqwest::Url;

use super::errors::SignInError;
use super::toolkit::{IdentityToolkit, TokenGrant};

/// The name the emulator's fake-provider page keys its answer by (`<api key>:<app name>`).
pub const EMULATOR_APP_NAME: &str = "coditect-license";

/// A browser sign-in in progress.
#[derive(Debug, Clone)]
pub struct IdpSignIn {
    /// `google.com` or `github.com`.
    provider_id: String,
    /// Where the browser goes.
    auth_uri: String,
    /// `createAuthUri`'s session, sent back with the redirect.
    session_id: String,
    /// The random nonce the redirect must carry: a redirect someone else started is refused.
    state: String,
    /// The loopback URL the provider redirects to.
    continue_uri: String,
}

impl IdpSignIn {
    /// Starts a sign-in with `provider_id` (`google.com`, `github.com`) whose redirect comes back to
    /// `redirect_base` (`http://127.0.0.1:<port>`) at `/callback`.
    pub async fn start(
        toolkit: &IdentityToolkit,
        provider_id: &str,
        redirect_base: &str,
    ) -> Result<Self, SignInError> {
        let state = nonce();
        let continue_uri = format!(
            "{}/callback?state={state}",
            redirect_base.trim_end_matches('/')
        );
        let (auth_uri, session_id) = match toolkit.emulator_origin() {
            Some(_) => {
                let widget = format!(
                    "{}/emulator/auth/handler",
                    redirect_base.trim_end_matches('/')
                );
                let auth_uri = Url::parse_with_params(
                    &widget,
                    &[
                        ("apiKey", toolkit.config().api_key.as_str()),
                        ("appName", EMULATOR_APP_NAME),
                        ("authType", "signInViaRedirect"),
                        ("providerId", provider_id),
                        ("redirectUrl", continue_uri.as_str()),
                        ("eventId", state.as_str()),
                    ],
                )
                .map_err(|e| SignInError::Protocol(e.to_string()))?;
                // The emulator ignores the session; it is sent all the same.
                (auth_uri.to_string(), nonce())
            }
            None => toolkit.create_auth_uri(provider_id, &continue_uri).await?,
        };
        Ok(Self {
            provider_id: provider_id.to_owned(),
            auth_uri,
            session_id,
            state,
            continue_uri,
        })
    }

    /// Where to send the browser.
    pub fn auth_uri(&self) -> &str {
        &self.auth_uri
    }

    /// The provider.
    pub fn provider_id(&self) -> &str {
        &self.provider_id
    }

    /// Where the provider redirects to (with the state nonce).
    pub fn continue_uri(&self) -> &str {
        &self.continue_uri
    }

    /// Whether `redirected` is this sign-in's answer: it carries this sign-in's state nonce (else
    /// an error: not this sign-in's), and the provider's answer or refusal.
    pub fn check_redirect(&self, redirected: &str) -> Result<Redirect, SignInError> {
        check_redirect(&self.state, redirected)
    }

    /// Finishes the sign-in with the URL the provider redirected to.
    pub async fn finish(
        &self,
        toolkit: &IdentityToolkit,
        redirected: &str,
    ) -> Result<TokenGrant, SignInError> {
        match self.check_redirect(redirected)? {
            Redirect::Answer => {}
            Redirect::Refused(why) => return Err(SignInError::Abandoned(why)),
            Redirect::Empty => {
                return Err(SignInError::Abandoned(
                    "That URL carries no answer from the provider: paste the whole address the \
                     browser ended on."
                        .into(),
                ));
            }
        }
        toolkit
            .sign_in_with_idp(redirected.trim(), &self.session_id)
            .await
    }
}

/// What a redirect with the right state carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redirect {
    /// The provider's answer (a code, a token).
    Answer,
    /// The provider's refusal (`error=access_denied`), as a sentence.
    Refused(String),
    /// Nothing but the state (the emulator's page before the bridge moved its answer in).
    Empty,
}

/// Checks `redirected` against the `expected` state nonce, in constant time.
pub fn check_redirect(expected: &str, redirected: &str) -> Result<Redirect, SignInError> {
    let url = Url::parse(redirected.trim())
        .map_err(|_| SignInError::Abandoned(format!("{:?} is not a URL.", redirected.trim())))?;
    let mut state = None;
    let mut error = None;
    let mut answer = false;
    let fragment_pairs = url.fragment().map(fragment_pairs).unwrap_or_default();
    for (key, value) in url.query_pairs().into_owned().chain(fragment_pairs) {
        match key.as_str() {
            "state" => state = Some(value),
            "error" => error = Some(value),
            _ => answer = true,
        }
    }
    let matches = state
        .as_deref()
        .is_some_and(|s| same(s.as_bytes(), expected.as_bytes()));
    if !matches {
        return Err(SignInError::Abandoned(
            "That redirect does not belong to this sign-in (its state differs): start again."
                .into(),
        ));
    }
    if let Some(error) = error {
        return Ok(Redirect::Refused(format!(
            "The provider did not sign you in ({error})."
        )));
    }
    Ok(if answer {
        Redirect::Answer
    } else {
        Redirect::Empty
    })
}

/// A fresh 128-bit nonce, as hex.
fn nonce() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// The `key=value&…` pairs of a fragment (some providers answer there).
fn fragment_pairs(fragment: &str) -> Vec<(String, String)> {
    Url::parse(&format!("http://fragment/?{fragment}"))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATE: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_redirect_with_this_state_and_a_code_is_the_answer() {
        let url = format!("http://127.0.0.1:5000/callback?state={STATE}&code=4/abc&scope=email");
        assert_eq!(
            check_redirect(STATE, &url).expect("accepted"),
            Redirect::Answer
        );
    }

    #[test]
    fn a_redirect_with_another_state_or_none_is_refused() {
        for url in [
            "http://127.0.0.1:5000/callback?state=ffffffffffffffffffffffffffffffff&code=x"
                .to_owned(),
            "http://127.0.0.1:5000/callback?code=x".to_owned(),
            format!("http://127.0.0.1:5000/callback?state={STATE}x&code=x"),
        ] {
            let refused = check_redirect(STATE, &url).expect_err("refused");
            assert!(refused.to_string().contains("state"), "{url}: {refused}");
        }
    }

    #[test]
    fn a_provider_refusal_is_an_error_and_only_the_state_is_empty() {
        let denied = format!("http://127.0.0.1:5000/callback?state={STATE}&error=access_denied");
        assert_eq!(
            check_redirect(STATE, &denied).expect("this sign-in's"),
            Redirect::Refused("The provider did not sign you in (access_denied).".into())
        );
        let empty = format!("http://127.0.0.1:5000/callback?state={STATE}");
        assert_eq!(
            check_redirect(STATE, &empty).expect("state ok"),
            Redirect::Empty
        );
        assert!(check_redirect(STATE, "not a url").is_err());
    }

    #[test]
    fn nonces_are_fresh_and_128_bits() {
        let (a, b) = (nonce(), nonce());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
    }
}
