//! Verifying a lease against a published key set. Shared by heartbeat, release and the client SDK,
//! so all three apply exactly the same checks. [`remembered`] (server only) adds the memory of
//! leases that passed, for heartbeats.

#[cfg(feature = "server")]
pub mod remembered;

#[cfg(feature = "server")]
pub use remembered::RememberedLeases;

use std::collections::HashMap;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};

use super::LeaseClaims;

/// Why a lease was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaseError {
    /// Not a JWS, unknown key, wrong algorithm, bad signature, wrong issuer: not ours.
    #[error("invalid lease: {0}")]
    Invalid(String),
    /// Ours, but past its `exp`: acquire again.
    #[error("lease expired")]
    Expired,
}

/// Verifies leases against a set of public keys.
#[derive(Clone)]
pub struct LeaseVerifier {
    /// `kid` → (key, the one algorithm that key may be used with).
    keys: HashMap<String, TrustedKey>,
    /// Expected `iss`.
    issuer: String,
}

impl std::fmt::Debug for LeaseVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseVerifier")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .field("issuer", &self.issuer)
            .finish()
    }
}

impl LeaseVerifier {
    /// A verifier trusting the keys of `jwks` (Ed25519 `OKP` and RSA keys; others are skipped).
    pub fn from_jwks(jwks: &JwkSet, issuer: &str) -> Result<Self, LeaseError> {
        let mut keys = HashMap::new();
        for jwk in &jwks.keys {
            if let Some((kid, key)) = key_of(jwk)? {
                keys.insert(kid, key);
            }
        }
        if keys.is_empty() {
            return Err(LeaseError::Invalid(
                "the key set holds no usable key".into(),
            ));
        }
        Ok(Self {
            keys,
            issuer: issuer.to_owned(),
        })
    }

    /// A verifier from a JWKS document (what `/.well-known/jwks.json` serves).
    pub fn from_jwks_json(json: &str, issuer: &str) -> Result<Self, LeaseError> {
        let jwks: JwkSet = serde_json::from_str(json)
            .map_err(|e| LeaseError::Invalid(format!("not a JWKS document: {e}")))?;
        Self::from_jwks(&jwks, issuer)
    }

    /// Checks signature, key, algorithm, issuer and expiry; returns the claims.
    pub fn verify(&self, token: &str) -> Result<LeaseClaims, LeaseError> {
        self.check(token, true)
    }

    /// Like [`Self::verify`] but accepts a lease past its `exp` (for giving a seat back).
    pub fn verify_ignoring_expiry(&self, token: &str) -> Result<LeaseClaims, LeaseError> {
        self.check(token, false)
    }

    fn check(&self, token: &str, enforce_expiry: bool) -> Result<LeaseClaims, LeaseError> {
        let header = decode_header(token).map_err(|e| LeaseError::Invalid(e.to_string()))?;
        let kid = header
            .kid
            .ok_or_else(|| LeaseError::Invalid("no kid in the header".into()))?;
        let (key, alg) = self
            .keys
            .get(&kid)
            .ok_or_else(|| LeaseError::Invalid(format!("unknown kid {kid}")))?;
        // The algorithm comes from our key, never from the token: a token cannot choose `none` or
        // HS256-with-the-public-key.
        if header.alg != *alg {
            return Err(LeaseError::Invalid(format!(
                "alg {:?} does not match key {kid}",
                header.alg
            )));
        }
        let mut validation = Validation::new(*alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "sub"]);
        validation.validate_aud = false;
        // Expiry is checked below by `check_expiry`, the one rule every path applies.
        validation.validate_exp = false;
        let claims = decode::<LeaseClaims>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|e| LeaseError::Invalid(e.to_string()))?;
        if enforce_expiry {
            check_expiry(&claims, unix_now())?;
        }
        Ok(claims)
    }
}

/// Seconds of clock difference forgiven on `exp` (the signer's clock against the verifier's).
pub const EXPIRY_LEEWAY_SECONDS: i64 = 5;

/// [`LeaseError::Expired`] when the lease's `exp` lies more than the leeway before `now` (seconds
/// since the epoch).
pub fn check_expiry(claims: &LeaseClaims, now: i64) -> Result<(), LeaseError> {
    if claims.exp < now.saturating_sub(EXPIRY_LEEWAY_SECONDS) {
        return Err(LeaseError::Expired);
    }
    Ok(())
}

/// Seconds since the epoch (0 for a clock set before 1970, which then expires nothing).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A public key and the one algorithm it may be used with.
type TrustedKey = (DecodingKey, Algorithm);

/// The `kid` and trusted key of a JWK; `None` for a key without `kid` or of another kind.
fn key_of(jwk: &Jwk) -> Result<Option<(String, TrustedKey)>, LeaseError> {
    use jsonwebtoken::jwk::AlgorithmParameters as P;
    let Some(kid) = jwk.common.key_id.clone() else {
        return Ok(None);
    };
    let alg = match &jwk.algorithm {
        P::OctetKeyPair(_) => Algorithm::EdDSA,
        P::RSA(_) => Algorithm::RS256,
        _ => return Ok(None),
    };
    let key =
        DecodingKey::from_jwk(jwk).map_err(|e| LeaseError::Invalid(format!("key {kid}: {e}")))?;
    Ok(Some((kid, (key, alg))))
}
