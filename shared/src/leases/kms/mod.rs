//! Cloud KMS, where a deployment's lease key lives: the private key never leaves KMS.
//!
//! [`KmsClient`] asks KMS to sign a digest with one key version (`projects/P/locations/L/keyRings/
//! R/cryptoKeys/K/cryptoKeyVersions/N`, algorithm `RSA_SIGN_PKCS1_*_SHA256`, JWS `RS256`) for
//! [`super::signing::KmsSigner`], and fetches the public keys heartbeat, release and admin verify
//! with and publish.
//!
//! It speaks Cloud KMS's documented REST wire format through `reqwest` (already in the tree)
//! rather than the official `google-cloud-kms-v1` crate: two calls do not yet earn that crate's
//! gRPC, auth and code-generated types in every function's build. The calls are:
//! - an access token from the metadata server (`GET …/instance/service-accounts/default/token`,
//!   `Metadata-Flavor: Google`), cached until a minute before it expires;
//! - `POST /v1/{version}:asymmetricSign` with the SHA-256 digest of the JWS signing input;
//! - `GET /v1/{version}/publicKey`, a PEM SPKI RSA key turned into a JWK.
//!
//! Every sign response is checked as KMS asks callers to: `verifiedDigestCrc32c` is true (KMS
//! received and checked our `digestCrc32c`; one it found wrong is an error answer), the CRC32C of
//! the returned signature equals `signatureCrc32c`, and `name` is the version asked for. A
//! signature that fails its CRC32C is asked for again, a limited number of times
//! ([`SIGN_ATTEMPTS`]), as KMS recommends; a 401 drops the cached access token and is retried once
//! with a fresh one. Anything else is an error, and no token is produced. A public key must come
//! with its `name` and a matching `pemCrc32c`.
//!
//! A key's `kid` is the RFC 7638 thumbprint of its public JWK, as for Ed25519 keys: one rule for
//! every kind of key, recomputable by anyone holding only the public key (a client pinning keys, a
//! saved JWKS file), and it does not put project and key ring names into every token.
//!
//! Layout: `kms/client.rs` makes the REST calls and caches the access token; `kms/wire.rs` holds
//! the request and answer shapes and the checks each answer must pass.

mod client;
mod wire;

pub use client::{KMS_API, KmsClient, KmsEndpoints, METADATA_SERVER, SIGN_ATTEMPTS};

/// A Cloud KMS key version name, checked to have every part
/// (`projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyVersionName(String);

impl KeyVersionName {
    /// `name`, when it is a full key version name.
    pub fn parse(name: &str) -> Option<Self> {
        is_key_version_name(name).then(|| Self(name.to_owned()))
    }

    /// The name, as KMS's REST paths take it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for KeyVersionName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `name` has the shape of a KMS key version name.
pub fn is_key_version_name(name: &str) -> bool {
    const LABELS: [&str; 5] = [
        "projects",
        "locations",
        "keyRings",
        "cryptoKeys",
        "cryptoKeyVersions",
    ];
    let parts: Vec<&str> = name.split('/').collect();
    parts.len() == 10
        && parts.chunks(2).zip(LABELS).all(|(pair, label)| {
            pair[0] == label && !pair[1].is_empty() && !pair[1].contains([':', '?', '#'])
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_full_key_version_names_are_accepted() {
        let name = "projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1";
        assert!(is_key_version_name(name));
        assert!(!is_key_version_name(
            "projects/p/locations/global/keyRings/r/cryptoKeys/k"
        ));
        assert!(!is_key_version_name(&format!("{name}:asymmetricSign")));
        assert!(!is_key_version_name(
            "projects//locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1"
        ));
    }
}
