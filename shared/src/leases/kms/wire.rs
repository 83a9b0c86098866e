//! The JSON Cloud KMS and the metadata server speak, and the checks every answer must pass before
//! anything in it is used.

use crate::leases::signing::with_thumbprint_kid;
use anyhow::{Context, anyhow, ensure};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::Jwk;
use rsa::RsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use serde::Deserialize;
use serde_json::{Value, json};

/// CRC32C (Castagnoli), the checksum KMS uses. `crc` is already in the tree through sqlx, so it
/// costs no compile time and no hand-written table.
pub(super) const CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// `metadata …/token`.
#[derive(Deserialize)]
pub(super) struct TokenResponse {
    /// The OAuth 2.0 bearer token.
    pub(super) access_token: String,
    /// Seconds until it expires.
    pub(super) expires_in: u64,
}

/// `asymmetricSign`. Int64 fields arrive as JSON strings, so they are read as values.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SignResponse {
    /// The signature, standard base64.
    signature: String,
    /// CRC32C of the decoded signature, to detect corruption on the way back.
    #[serde(default)]
    signature_crc32c: Value,
    /// Whether KMS checked our `digestCrc32c`, i.e. signed the digest we sent.
    #[serde(default)]
    verified_digest_crc32c: bool,
    /// The key version that signed.
    #[serde(default)]
    name: String,
}

/// Why a sign answer was not used.
#[derive(Debug)]
pub(super) enum SignCheck {
    /// The signature does not match its CRC32C: corrupted on the way back. KMS asks callers to
    /// retry such an answer a limited number of times.
    Corrupted,
    /// Anything else: the request was not checked, another key signed, the answer is malformed.
    Refused(anyhow::Error),
}

impl SignResponse {
    /// The decoded signature, once every integrity check KMS documents has passed.
    pub(super) fn checked_signature(self, version: &str) -> Result<Vec<u8>, SignCheck> {
        let refused = |e: anyhow::Error| SignCheck::Refused(e);
        // `false` means KMS did not receive our `digestCrc32c` (a checksum it received and found
        // wrong is an error answer, not a signature), so it cannot vouch for the digest it signed.
        if !self.verified_digest_crc32c {
            return Err(refused(anyhow!(
                "KMS did not verify the digest CRC32C (it did not receive it)"
            )));
        }
        if self.name != version {
            return Err(refused(anyhow!(
                "KMS signed with {:?}, not {version}",
                self.name
            )));
        }
        let signature = STANDARD
            .decode(&self.signature)
            .context("signature is not base64")
            .map_err(refused)?;
        let expected = int64(&self.signature_crc32c)
            .context("no signatureCrc32c")
            .map_err(refused)?;
        if u64::from(CRC32C.checksum(&signature)) != expected {
            return Err(SignCheck::Corrupted);
        }
        Ok(signature)
    }
}

/// `publicKey`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PublicKeyResponse {
    /// PEM SPKI public key.
    pem: String,
    /// KMS algorithm name, e.g. `RSA_SIGN_PKCS1_4096_SHA256`.
    algorithm: String,
    /// CRC32C of `pem` (always sent by KMS; an answer without it is refused).
    #[serde(default)]
    pem_crc32c: Value,
    /// The key version whose key this is (always sent by KMS; refused when missing).
    #[serde(default)]
    name: Option<String>,
}

impl PublicKeyResponse {
    /// The key as an `RS256` JWK, once its name, checksum and algorithm are what we asked for.
    pub(super) fn to_jwk(&self, version: &str) -> anyhow::Result<Jwk> {
        let name = self
            .name
            .as_deref()
            .with_context(|| format!("KMS answered a public key of {version} without its name"))?;
        ensure!(
            name == version,
            "KMS answered with the key of {name:?}, not {version}"
        );
        let crc = int64(&self.pem_crc32c)
            .with_context(|| format!("KMS answered a public key of {version} without pemCrc32c"))?;
        ensure!(
            u64::from(CRC32C.checksum(self.pem.as_bytes())) == crc,
            "the public key of {version} does not match its pemCrc32c: corrupted in transit"
        );
        ensure!(
            self.algorithm.starts_with("RSA_SIGN_PKCS1_") && self.algorithm.ends_with("_SHA256"),
            "{version} is a {} key; leases need RSA_SIGN_PKCS1_*_SHA256 (RS256)",
            self.algorithm
        );
        rsa_jwk(&self.pem)
    }
}

/// The `RS256` JWK of a PEM SPKI RSA public key, `kid` its RFC 7638 thumbprint.
fn rsa_jwk(pem: &str) -> anyhow::Result<Jwk> {
    let key = RsaPublicKey::from_public_key_pem(pem)
        .map_err(|e| anyhow!("not an RSA public key: {e}"))?;
    let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
    let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
    let jwk = json!({ "kty": "RSA", "n": n, "e": e, "alg": "RS256", "use": "sig" });
    with_thumbprint_kid(serde_json::from_value(jwk).context("building the lease JWK")?)
}

/// A protobuf JSON int64: a decimal string (as Google sends it) or a number.
fn int64(value: &Value) -> Option<u64> {
    match value {
        Value::String(text) => text.parse().ok(),
        other => other.as_u64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_is_castagnoli() {
        // The check value of CRC-32C (RFC 3720, B.4).
        assert_eq!(CRC32C.checksum(b"123456789"), 0xE306_9283);
    }
}
