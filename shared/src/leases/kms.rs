//! Signing leases with a Cloud KMS asymmetric key, so the private key never leaves KMS.
//!
//! [`KmsSigner`] signs with one key version (`projects/P/locations/L/keyRings/R/cryptoKeys/K/
//! cryptoKeyVersions/N`, algorithm `RSA_SIGN_PKCS1_*_SHA256`, JWS `RS256`); [`KmsClient`] also
//! fetches the public keys heartbeat, release and admin publish and verify with.
//!
//! It speaks Cloud KMS's documented REST wire format through `reqwest` (already in the tree)
//! rather than the official `google-cloud-kms-v1` crate: two calls do not yet earn that crate's
//! gRPC, auth and code-generated types in every function's build. The calls are:
//! - an access token from the metadata server (`GET …/instance/service-accounts/default/token`,
//!   `Metadata-Flavor: Google`), cached until a minute before it expires;
//! - `POST /v1/{version}:asymmetricSign` with the SHA-256 digest of the JWS signing input;
//! - `GET /v1/{version}/publicKey`, a PEM SPKI RSA key turned into a JWK.
//!
//! Every sign response is checked as KMS asks callers to: `verifiedDigestCrc32c` is true, the
//! CRC32C of the returned signature equals `signatureCrc32c`, and `name` is the version asked for.
//! Anything else is an error, and no token is produced.
//!
//! A key's `kid` is the RFC 7638 thumbprint of its public JWK, as for Ed25519 keys: one rule for
//! every kind of key, recomputable by anyone holding only the public key (a client pinning keys, a
//! saved JWKS file), and it does not put project and key ring names into every token.
//!
//! Layout: `kms/client.rs` makes the REST calls and caches the access token; `kms/wire.rs` holds
//! the request and answer shapes and the checks each answer must pass.

mod client;
mod wire;

use anyhow::ensure;
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use serde_json::json;
use sha2::{Digest, Sha256};

pub use client::{KMS_API, KmsClient, KmsEndpoints, METADATA_SERVER};

use super::LeaseClaims;
use super::signer::LeaseSigner;

/// Signs leases with a Cloud KMS key version.
pub struct KmsSigner {
    /// Sends the sign requests.
    client: KmsClient,
    /// The key version name every sign request names and every answer must name.
    version: String,
    /// RFC 7638 thumbprint of the version's public key.
    kid: String,
    /// The signing key first, then retired ones.
    published: JwkSet,
}

impl KmsSigner {
    /// A signer for key `version`, fetching its public key (which also proves access at start-up).
    pub async fn connect(client: KmsClient, version: &str) -> anyhow::Result<Self> {
        ensure!(
            is_key_version_name(version),
            "{version:?} is not a KMS key version name \
             (projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N)"
        );
        let jwk = client.public_jwk(version).await?;
        Ok(Self {
            client,
            version: version.to_owned(),
            kid: jwk.common.key_id.clone().unwrap_or_default(),
            published: JwkSet { keys: vec![jwk] },
        })
    }

    /// Also publishes (and so accepts) `keys`: versions rotated out whose leases may still be in
    /// use. A key already published is not repeated.
    pub fn also_publishing(mut self, keys: JwkSet) -> Self {
        for key in keys.keys {
            if !self
                .published
                .keys
                .iter()
                .any(|k| k.common.key_id == key.common.key_id)
            {
                self.published.keys.push(key);
            }
        }
        self
    }

    /// The `kid` new leases carry.
    pub fn kid(&self) -> &str {
        &self.kid
    }
}

#[async_trait]
impl LeaseSigner for KmsSigner {
    async fn sign(&self, claims: &LeaseClaims) -> anyhow::Result<String> {
        let header = json!({ "alg": "RS256", "kid": self.kid, "typ": "JWT" });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?)
        );
        let digest = Sha256::digest(signing_input.as_bytes());
        let signature = self.client.sign_digest(&self.version, &digest).await?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }

    fn jwks(&self) -> JwkSet {
        self.published.clone()
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
