//! The acquire request body and its validation.

use serde::Deserialize;
use shared::error::ApiError;

/// `{"fingerprint": "<hex>", "hostname": "…", "client_version": "…"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AcquireRequest {
    /// A stable id of the machine, hex (the client hashes machine-uid and more).
    pub(crate) fingerprint: String,
    /// The machine's name, shown to admins.
    pub(crate) hostname: String,
    /// The CLI's version.
    #[serde(default)]
    pub(crate) client_version: Option<String>,
}

impl AcquireRequest {
    /// The request with its fields checked; a `validation_failed` naming the field otherwise.
    pub(crate) fn validated(mut self) -> Result<Self, ApiError> {
        self.fingerprint = self.fingerprint.trim().to_ascii_lowercase();
        let fp = &self.fingerprint;
        if !(16..=128).contains(&fp.len()) || !fp.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApiError::Validation(
                "fingerprint must be 16 to 128 hexadecimal characters".into(),
            ));
        }
        self.hostname = self.hostname.trim().to_owned();
        if self.hostname.is_empty()
            || self.hostname.len() > 255
            || self.hostname.chars().any(char::is_control)
        {
            return Err(ApiError::Validation(
                "hostname must be 1 to 255 printable characters".into(),
            ));
        }
        if let Some(version) = &self.client_version
            && (version.len() > 64 || version.chars().any(char::is_control))
        {
            return Err(ApiError::Validation(
                "client_version must be at most 64 printable characters".into(),
            ));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(fingerprint: &str, hostname: &str) -> AcquireRequest {
        AcquireRequest {
            fingerprint: fingerprint.into(),
            hostname: hostname.into(),
            client_version: None,
        }
    }

    #[test]
    fn a_hex_fingerprint_and_a_hostname_pass_normalised() {
        let ok = request("ABCDEF0123456789", " dev-box ")
            .validated()
            .expect("valid");
        assert_eq!(ok.fingerprint, "abcdef0123456789");
        assert_eq!(ok.hostname, "dev-box");
    }

    #[test]
    fn short_or_non_hex_fingerprints_and_empty_hostnames_are_refused() {
        assert!(request("abc", "h").validated().is_err());
        assert!(request("zzzzzzzzzzzzzzzz", "h").validated().is_err());
        assert!(request("0123456789abcdef", "  ").validated().is_err());
        assert!(request("0123456789abcdef", "a\nb").validated().is_err());
    }
}
