//! Validation of the acquire request body ([`AcquireRequest`], defined in the wire contract).

use shared::api::AcquireRequest;
use shared::error::ApiError;
use shared::identity::claim_text::is_hidden;

/// The request with its fields checked and normalised; a `validation_failed` naming the field
/// otherwise. A fingerprint is 16 to 128 hex digits, optionally after a version prefix (`v1:`);
/// it is compared lower-cased.
pub(crate) fn validated(mut request: AcquireRequest) -> Result<AcquireRequest, ApiError> {
    request.fingerprint = request.fingerprint.trim().to_ascii_lowercase();
    if !plausible_fingerprint(&request.fingerprint) {
        return Err(ApiError::Validation(
            "fingerprint must be 16 to 128 hexadecimal characters, optionally after a version \
             prefix such as `v1:`"
                .into(),
        ));
    }
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
    Ok(request)
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
