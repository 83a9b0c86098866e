//! [`SignInError`], and Identity Toolkit's refusal codes (`EMAIL_NOT_FOUND`, `INVALID_PASSWORD`,
//! `TOKEN_EXPIRED`, …) turned into sentences a person can act on.

use crate::home::HomeError;
use crate::http::ClientError;

/// Why a sign-in, or the refresh of a stored one, failed.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Identity Platform refused: wrong password, unknown email, revoked sign-in…
    #[error("{sentence}")]
    Refused {
        /// Identity Toolkit's code, e.g. `EMAIL_NOT_FOUND` (what follows ` : ` dropped).
        code: String,
        /// What it means for the person.
        sentence: String,
    },
    /// Identity Platform, or the licensing service, could not be reached.
    #[error("the sign-in service could not be reached: {0}")]
    Unreachable(String),
    /// An answer that is not the documented shape.
    #[error("unexpected answer from the sign-in service: {0}")]
    Protocol(String),
    /// The browser sign-in did not complete in time, or was given up.
    #[error("{0}")]
    Abandoned(String),
    /// This server does not offer that way of signing in.
    #[error("{0}")]
    NotOffered(String),
    /// A file of the client's home could not be read or written.
    #[error(transparent)]
    Files(#[from] HomeError),
}

impl SignInError {
    /// A refusal with Identity Toolkit's `message` (e.g. `WEAK_PASSWORD : Password should be at
    /// least 6 characters`).
    pub(crate) fn refused(message: &str) -> Self {
        let code = message
            .split(" : ")
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        Self::Refused {
            sentence: sentence(&code, message),
            code,
        }
    }

    /// Identity Toolkit's code of a refusal.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Refused { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the refusal says there is no account with that email (offer to sign up).
    pub fn is_unknown_email(&self) -> bool {
        self.code() == Some("EMAIL_NOT_FOUND")
    }
}

impl From<SignInError> for ClientError {
    fn from(error: SignInError) -> Self {
        match error {
            SignInError::Unreachable(why) => Self::Unreachable(why),
            SignInError::Protocol(why) => Self::Protocol(why),
            SignInError::Files(e) => Self::Files(e),
            refused @ (SignInError::Refused { .. }
            | SignInError::Abandoned(_)
            | SignInError::NotOffered(_)) => Self::NotSignedIn(refused.to_string()),
        }
    }
}

/// The sentence for Identity Toolkit's `code`; `message` is the whole text, shown for codes this
/// table does not know.
fn sentence(code: &str, message: &str) -> String {
    let known = match code {
        "EMAIL_NOT_FOUND" => "No account uses that email address.",
        // Newer projects (email enumeration protection) answer this for both a wrong password and
        // an unknown email.
        "INVALID_PASSWORD" | "INVALID_LOGIN_CREDENTIALS" => {
            "The email address or the password is wrong."
        }
        "EMAIL_EXISTS" => {
            "An account with that email address exists already: sign in instead of signing up."
        }
        "WEAK_PASSWORD" => "That password is too weak: use at least 6 characters.",
        "INVALID_EMAIL" => "That is not a valid email address.",
        "MISSING_PASSWORD" => "Type a password.",
        "USER_DISABLED" => "This account has been disabled; ask your organisation's owner.",
        "TOO_MANY_ATTEMPTS_TRY_LATER" => "Too many attempts: wait a few minutes and try again.",
        "OPERATION_NOT_ALLOWED" | "PASSWORD_LOGIN_DISABLED" => {
            "This way of signing in is not enabled for this service."
        }
        "TOKEN_EXPIRED" | "CREDENTIAL_TOO_OLD_LOGIN_AGAIN" => {
            "Your sign-in has expired (the password changed, or it was revoked): sign in again."
        }
        "USER_NOT_FOUND" => "Your account no longer exists: sign in again or sign up.",
        "INVALID_REFRESH_TOKEN" | "INVALID_GRANT_TYPE" | "MISSING_REFRESH_TOKEN" => {
            "The stored sign-in is not valid any more: sign in again."
        }
        "INVALID_IDP_RESPONSE" | "INVALID_CREDENTIAL_OR_PROVIDER_ID" => {
            "The provider's answer was not accepted: sign in again."
        }
        "FEDERATED_USER_ID_ALREADY_LINKED" | "NEED_CONFIRMATION" => {
            "That email address already belongs to an account with another way of signing in: \
             use that one."
        }
        "UNAUTHORIZED_DOMAIN" | "INVALID_CONTINUE_URI" => {
            "This service does not accept the CLI's browser redirect (127.0.0.1): ask its \
             operator to authorise that domain, or sign in with --email."
        }
        "API_KEY_INVALID" | "INVALID_API_KEY" => {
            "The service's sign-in configuration is wrong (its Web API key is refused); ask its \
             operator."
        }
        _ => "",
    };
    if known.is_empty() {
        format!("Sign-in was refused: {message}.")
    } else {
        known.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_password_and_an_unknown_email_read_as_sentences() {
        let wrong = SignInError::refused("INVALID_PASSWORD");
        assert_eq!(
            wrong.to_string(),
            "The email address or the password is wrong."
        );
        assert_eq!(
            SignInError::refused("INVALID_LOGIN_CREDENTIALS").to_string(),
            wrong.to_string()
        );
        let unknown = SignInError::refused("EMAIL_NOT_FOUND");
        assert!(unknown.is_unknown_email());
        assert!(!wrong.is_unknown_email());
    }

    #[test]
    fn the_code_is_the_part_before_the_explanation() {
        let weak = SignInError::refused("WEAK_PASSWORD : Password should be at least 6 characters");
        assert_eq!(weak.code(), Some("WEAK_PASSWORD"));
        assert_eq!(
            weak.to_string(),
            "That password is too weak: use at least 6 characters."
        );
    }

    #[test]
    fn an_expired_or_disabled_refresh_means_signing_in_again() {
        for code in ["TOKEN_EXPIRED", "USER_DISABLED", "INVALID_REFRESH_TOKEN"] {
            let error = ClientError::from(SignInError::refused(code));
            assert!(
                matches!(error, ClientError::NotSignedIn(_)),
                "{code} is a missing sign-in: {error:?}"
            );
        }
    }

    #[test]
    fn an_unknown_code_is_shown_as_identity_platform_wrote_it() {
        let odd = SignInError::refused("SOMETHING_NEW : with detail");
        assert_eq!(
            odd.to_string(),
            "Sign-in was refused: SOMETHING_NEW : with detail."
        );
    }
}
