//! The lease: a signed token proving its holder has a seat, verified offline by the client and by
//! heartbeat and release without any database or signing key.
//!
//! A compact JWS (JWT): header `alg` (`EdDSA` for the Ed25519 key of the embedded default, `RS256`
//! for the Cloud KMS RSA key of a deployment), `kid` (the RFC 7638 thumbprint of the public key,
//! for either kind), `typ` `JWT`. Claims are [`LeaseClaims`]. Public keys are published as a JWKS
//! at `/.well-known/jwks.json` with every key still accepted, so a new key can be published before
//! it signs and an old one kept until the leases it signed have expired.
//!
//! - [`verifying`]: checking a lease against a key set ([`LeaseVerifier`]), shared by the client
//!   SDK (which links only this) and the server; with the server, [`verifying::RememberedLeases`],
//!   heartbeat's and release's verifier, which checks each lease's signature once and remembers
//!   that it passed.
//! - [`signing`] (server only): the [`signing::LeaseSigner`] trait acquire signs with, the Ed25519
//!   key-file signer and the Cloud KMS signer.
//! - [`kms`] (server only): the Cloud KMS calls: sign a digest, fetch a version's public key.

#[cfg(feature = "server")]
pub mod kms;
#[cfg(feature = "server")]
pub mod signing;
pub mod verifying;

pub use jsonwebtoken::jwk::JwkSet;
pub use verifying::{LeaseError, LeaseVerifier};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a lease asserts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseClaims {
    /// Who issued it (`LEASE_ISSUER`).
    pub iss: String,
    /// The user holding the seat.
    pub sub: String,
    /// The user's tenant.
    pub tenant: String,
    /// The license whose seat it is.
    pub license: String,
    /// The license's plan.
    pub tier: String,
    /// Feature flags the CLI may unlock.
    pub features: Vec<String>,
    /// The seat session id heartbeat and release act on.
    pub sid: String,
    /// SHA-256 (hex) of the machine fingerprint, so a lease copied to another machine is noticed
    /// by the client without the fingerprint itself travelling in the token.
    pub fph: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// End of the offline grace: after this the lease proves nothing (seconds since the epoch).
    pub exp: i64,
    /// How often to heartbeat (seconds).
    pub hbi: u64,
    /// Which grant of the session this lease is (1 when new, one more each time the same user
    /// re-acquires on the same machine): only the latest grant's lease releases the seat. 0 in a
    /// lease issued before grants were numbered.
    #[serde(default)]
    pub grant: u64,
    /// When the seat's borrow ends (seconds since the epoch), if it is borrowed for offline use:
    /// `exp` is then no earlier, and the seat needs no heartbeat until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bor: Option<i64>,
}

/// Claims and keys for the unit tests of the signer and the verifiers.
#[cfg(all(test, feature = "server"))]
pub(crate) mod fixtures {
    use ed25519_dalek::SigningKey;

    use super::LeaseClaims;
    use super::signing::Ed25519Signer;
    use super::verifying::unix_now;

    /// The issuer the fixtures' claims carry.
    pub(crate) const ISSUER: &str = "coditect-licensing";

    /// Claims of session `sid`, issued now, expiring `exp_in` seconds from now (negative: past).
    pub(crate) fn claims(sid: &str, exp_in: i64) -> LeaseClaims {
        let now = unix_now();
        LeaseClaims {
            iss: ISSUER.into(),
            sub: "user".into(),
            tenant: "tenant".into(),
            license: "license".into(),
            tier: "FREE".into(),
            features: vec![],
            sid: sid.into(),
            fph: super::fingerprint_hash("0123456789abcdef"),
            iat: now,
            exp: now + exp_in,
            hbi: 120,
            grant: 1,
            bor: None,
        }
    }

    /// A signer with a fresh key.
    pub(crate) fn signer() -> Ed25519Signer {
        Ed25519Signer::from_key(&SigningKey::generate(&mut rand::rngs::OsRng)).expect("signer")
    }
}

/// The fingerprint hash a lease carries.
pub fn fingerprint_hash(fingerprint: &str) -> String {
    hex_lower(&Sha256::digest(fingerprint.as_bytes()))
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
