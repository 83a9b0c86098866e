//! Validation of the acquire request body ([`AcquireRequest`], defined in the wire contract).

use shared::api::{AcquireRequest, LeaveRequest, MAX_WAIT_SECONDS};
use shared::error::ApiError;
use shared::identity::claim_text::is_hidden;

/// The request with its fields checked and normalised; a `validation_failed` naming the field
/// otherwise. A fingerprint is 16 to 128 hex digits, optionally after a version prefix (`v1:`);
/// it is compared lower-cased.
pub(crate) fn validated(mut request: AcquireRequest) -> Result<AcquireRequest, ApiError> {
    request.fingerprint = normalized_fingerprint(&request.fingerprint)?;
    // Lengths count characters of the body as sent, as the OpenAPI document's `maxLength` does.
    let hostname_length = request.hostname.chars().count();
    request.hostname = request.hostname.trim().to_owned();
    if request.hostname.is_empty()
        || hostname_length > 255
        || request.hostname.chars().any(is_hidden)
    {
        return Err(ApiError::Validation(
            "hostname must be 1 to 255 printable characters, without control or bidirectional \
             formatting characters"
                .into(),
        ));
    }
    if let Some(version) = &request.client_version
        && (version.chars().count() > 64 || version.chars().any(is_hidden))
    {
        return Err(ApiError::Validation(
            "client_version must be at most 64 printable characters, without control or \
             bidirectional formatting characters"
                .into(),
        ));
    }
    if request
        .borrow_seconds
        .is_some_and(|s| !(1..=shared::api::MAX_BORROW_SECONDS).contains(&s))
    {
        return Err(ApiError::Validation(
            "borrow_seconds must be 1 to 2592000 (30 days)".into(),
        ));
    }
    if request.wait_seconds.is_some_and(|s| s > MAX_WAIT_SECONDS) {
        return Err(ApiError::Validation(format!(
            "wait_seconds must be 0 to {MAX_WAIT_SECONDS}; ask again to keep waiting"
        )));
    }
    Ok(request)
}

/// The leave request with its fingerprint normalised as acquire's; a ticket is what acquire hands
/// out (1 to 64 hex digits).
pub(crate) fn leave_validated(mut request: LeaveRequest) -> Result<LeaveRequest, ApiError> {
    request.fingerprint = normalized_fingerprint(&request.fingerprint)?;
    request.ticket = request.ticket.trim().to_ascii_lowercase();
    if request.ticket.is_empty()
        || request.ticket.len() > 64
        || !request.ticket.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(ApiError::Validation(
            "ticket must be the ticket an acquire answered (hexadecimal)".into(),
        ));
    }
    Ok(request)
}

/// The fingerprint trimmed and lower-cased, if it is one.
fn normalized_fingerprint(fingerprint: &str) -> Result<String, ApiError> {
    let fingerprint = fingerprint.trim().to_ascii_lowercase();
    if !plausible_fingerprint(&fingerprint) {
        return Err(ApiError::Validation(
            "fingerprint must be 16 to 128 hexadecimal characters, optionally after a version \
             prefix such as `v1:`"
                .into(),
        ));
    }
    Ok(fingerprint)
}

/// `[v<digit>:]<16..=128 hex>`.
fn plausible_fingerprint(fingerprint: &str) -> bool {
    let hex = match fingerprint.split_once(':') {
        Some((version, rest))
            if version.len() == 2
                && version.starts_with('v')
                && version.as_bytes()[1].is_ascii_digit() =>
        {
            rest
        }
        Some(_) => return false,
        None => fingerprint,
    };
    (16..=128).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(fingerprint: &str, hostname: &str) -> AcquireRequest {
        AcquireRequest {
            fingerprint: fingerprint.into(),
            hostname: hostname.into(),
            client_version: None,
            borrow_seconds: None,
            wait_seconds: None,
        }
    }

    #[test]
    fn a_hex_fingerprint_and_a_hostname_pass_normalised() {
        let ok = validated(request("ABCDEF0123456789", " dev-box ")).expect("valid");
        assert_eq!(ok.fingerprint, "abcdef0123456789");
        assert_eq!(ok.hostname, "dev-box");
    }

    #[test]
    fn a_versioned_fingerprint_passes() {
        let ok = validated(request("V1:ABCDEF0123456789", "h")).expect("valid");
        assert_eq!(ok.fingerprint, "v1:abcdef0123456789");
    }

    #[test]
    fn short_or_non_hex_fingerprints_and_empty_hostnames_are_refused() {
        assert!(validated(request("abc", "h")).is_err());
        assert!(validated(request("zzzzzzzzzzzzzzzz", "h")).is_err());
        assert!(validated(request("v1:abc", "h")).is_err());
        assert!(validated(request("x1:0123456789abcdef", "h")).is_err());
        assert!(validated(request(":0123456789abcdef", "h")).is_err());
        assert!(validated(request("0123456789abcdef", "  ")).is_err());
        assert!(validated(request("0123456789abcdef", "a\nb")).is_err());
    }
}
