//! Signing leases (server only): acquire depends on [`LeaseSigner`], made from the configured
//! `LEASE_SIGNING_KEY`:
//!
//! - [`Ed25519Signer`] (`ed25519.rs`): an Ed25519 key kept in a PKCS#8 PEM file, generated into
//!   `DATA_DIR` on the first run of the embedded default or mounted from Secret Manager.
//! - [`KmsSigner`] (`kms.rs`): a Cloud KMS RSA key version, whose private key never leaves KMS.
//!
//! Both publish, besides the signing key, the keys rotated out whose leases may still be in use.

mod ed25519;
mod kms;

use async_trait::async_trait;
use jsonwebtoken::jwk::{Jwk, JwkSet, ThumbprintHash};

pub use ed25519::Ed25519Signer;
pub use kms::KmsSigner;

use super::LeaseClaims;

/// Signs leases and publishes the keys that verify them.
#[async_trait]
pub trait LeaseSigner: Send + Sync + 'static {
    /// A compact JWS of `claims`, signed with the current key.
    async fn sign(&self, claims: &LeaseClaims) -> anyhow::Result<String>;

    /// Every public key still accepted: the current one and those retired but not yet unused.
    fn jwks(&self) -> JwkSet;
}

/// `jwk` with its `kid` set to its RFC 7638 SHA-256 thumbprint: one rule for every kind of key,
/// recomputable by anyone holding only the public key (a client pinning keys, a saved JWKS file).
pub(crate) fn with_thumbprint_kid(mut jwk: Jwk) -> anyhow::Result<Jwk> {
    let kid = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|e| anyhow::anyhow!("computing the lease key's thumbprint: {e}"))?;
    jwk.common.key_id = Some(kid);
    Ok(jwk)
}
