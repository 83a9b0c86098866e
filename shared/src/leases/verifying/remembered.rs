//! Leases this process has already verified, remembered so that a session's heartbeats do not check
//! the same signature again every interval.
//!
//! A client presents the very same lease on every heartbeat and on its release, and checking its
//! signature (Ed25519 or RSA) was half of a heartbeat's CPU in the profile quoted in
//! `BENCHMARKS.md`. [`RememberedLeases`] checks a lease once and afterwards only re-reads its claims
//! and applies the expiry rule, which depends on the time and so is applied on every use.
//!
//! Why remembering is safe:
//! - What is remembered is the SHA-256 of the whole token, so a hit means these exact bytes
//!   (header, claims and signature) passed every check before. Changing one byte of any part
//!   misses and is verified in full.
//! - The trusted key set and issuer are fixed when the process starts (`LEASE_PUBLIC_KEYS`, the
//!   signer's keys), so a lease that verified once verifies for the life of the process.
//! - Only leases that passed are remembered: garbage and forgeries cannot fill the memory or push
//!   genuine leases out.
//!
//! Bounded: two generations of at most `generation` digests each (32 768 by default: a full
//! generation is a 65 536-bucket hash set of 32-byte digests, about 2 MB). A lease seen again while in the older generation moves to the newer, so the
//! leases of live sessions stay while those of ended sessions age out two turnovers later. Past
//! the bound every lease is still verified correctly, only no longer from memory.

use std::collections::HashSet;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::{LeaseError, LeaseVerifier, check_expiry, unix_now};
use crate::leases::LeaseClaims;

/// Digests per generation unless told otherwise: room for 32 768 live sessions heartbeating
/// through one instance (273 heartbeats/s at the default 120 s interval), and at most ~4 MB for
/// both generations.
pub const DEFAULT_GENERATION: usize = 32_768;

/// A [`LeaseVerifier`] that remembers the leases it has accepted.
#[derive(Debug)]
pub struct RememberedLeases {
    /// Checks leases never seen before.
    verifier: LeaseVerifier,
    /// Digests of the leases that passed.
    seen: Mutex<Seen>,
}

/// The SHA-256 of a token.
type TokenDigest = [u8; 32];

/// Two generations of remembered digests.
#[derive(Debug)]
struct Seen {
    /// Where new and re-seen digests go.
    current: HashSet<TokenDigest>,
    /// The generation before; dropped when `current` fills.
    previous: HashSet<TokenDigest>,
    /// How many digests `current` holds before it becomes `previous`.
    generation: usize,
    /// Leases that passed a full check (refusals are not counted): how a test tells a recall from
    /// a check.
    verified: u64,
}

impl RememberedLeases {
    /// Remembers up to [`DEFAULT_GENERATION`] leases per generation.
    pub fn new(verifier: LeaseVerifier) -> Self {
        Self::with_generation(verifier, DEFAULT_GENERATION)
    }

    /// Remembers up to `generation` leases per generation (at least one).
    pub fn with_generation(verifier: LeaseVerifier, generation: usize) -> Self {
        Self {
            verifier,
            seen: Mutex::new(Seen {
                current: HashSet::new(),
                previous: HashSet::new(),
                generation: generation.max(1),
                verified: 0,
            }),
        }
    }

    /// Exactly [`LeaseVerifier::verify`]: signature, key, algorithm, issuer and expiry.
    pub fn verify(&self, token: &str) -> Result<LeaseClaims, LeaseError> {
        let claims = self.verify_ignoring_expiry(token)?;
        check_expiry(&claims, unix_now())?;
        Ok(claims)
    }

    /// Exactly [`LeaseVerifier::verify_ignoring_expiry`]: everything but expiry.
    pub fn verify_ignoring_expiry(&self, token: &str) -> Result<LeaseClaims, LeaseError> {
        let digest: TokenDigest = Sha256::digest(token.as_bytes()).into();
        if self.seen().recall(&digest) {
            // These bytes verified before, so their claims are the verified claims.
            return claims_of(token);
        }
        let claims = self.verifier.verify_ignoring_expiry(token)?;
        let mut seen = self.seen();
        seen.verified += 1;
        seen.remember(digest);
        Ok(claims)
    }

    /// How many leases passed a full check; every other accepted call was answered from memory.
    pub fn full_verifications(&self) -> u64 {
        self.seen().verified
    }

    /// How many leases are remembered now.
    pub fn remembered(&self) -> usize {
        let seen = self.seen();
        seen.current.len() + seen.previous.len()
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        // Nothing panics while holding the lock, and the sets stay valid if something did.
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Seen {
    /// Whether `digest` is remembered; moves it to the current generation if it was in the older.
    fn recall(&mut self, digest: &TokenDigest) -> bool {
        if self.current.contains(digest) {
            return true;
        }
        if self.previous.remove(digest) {
            self.remember(*digest);
            return true;
        }
        false
    }

    fn remember(&mut self, digest: TokenDigest) {
        if self.current.len() >= self.generation {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(digest);
    }
}

/// The claims of a token whose exact bytes verified before, read without checking again.
fn claims_of(token: &str) -> Result<LeaseClaims, LeaseError> {
    jsonwebtoken::dangerous::insecure_decode_claims(token)
        .map_err(|e| LeaseError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;
    use crate::leases::fixtures::{ISSUER, claims, signer};
    use crate::leases::signing::{Ed25519Signer, LeaseSigner};

    fn leases_of(signer: &Ed25519Signer, generation: usize) -> RememberedLeases {
        RememberedLeases::with_generation(signer.verifier(ISSUER).expect("verifier"), generation)
    }

    /// `token` with part `index` (0 header, 1 claims, 2 signature) replaced.
    fn with_part(token: &str, index: usize, part: &str) -> String {
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[index] = part;
        parts.join(".")
    }

    #[tokio::test]
    async fn a_lease_is_verified_once_and_then_recalled_with_the_same_claims() {
        let signer = signer();
        let signed = claims("s1", 60);
        let token = signer.sign(&signed).await.expect("signs");
        let leases = leases_of(&signer, DEFAULT_GENERATION);

        for _ in 0..3 {
            assert_eq!(leases.verify(&token).as_ref(), Ok(&signed));
        }
        assert_eq!(leases.verify_ignoring_expiry(&token).as_ref(), Ok(&signed));

        assert_eq!(leases.full_verifications(), 1);
        assert_eq!(leases.remembered(), 1);
    }

    #[tokio::test]
    async fn a_remembered_lease_past_its_grace_is_expired_but_may_still_release() {
        let signer = signer();
        let token = signer.sign(&claims("s1", -60)).await.expect("signs");
        let leases = leases_of(&signer, DEFAULT_GENERATION);

        assert!(leases.verify_ignoring_expiry(&token).is_ok(), "release");
        assert_eq!(leases.verify(&token), Err(LeaseError::Expired), "heartbeat");
        assert_eq!(leases.verify(&token), Err(LeaseError::Expired), "again");
        assert!(
            leases.verify_ignoring_expiry(&token).is_ok(),
            "release again"
        );
        assert_eq!(leases.full_verifications(), 1);
    }

    #[tokio::test]
    async fn the_expiry_rule_forgives_the_same_leeway_as_the_verifier() {
        let signer = signer();
        let inside = signer.sign(&claims("in", -1)).await.expect("signs");
        let outside = signer.sign(&claims("out", -9)).await.expect("signs");
        let verifier = signer.verifier(ISSUER).expect("verifier");
        let leases = leases_of(&signer, DEFAULT_GENERATION);

        for _ in 0..2 {
            assert_eq!(
                leases.verify(&inside).is_ok(),
                verifier.verify(&inside).is_ok()
            );
            assert!(leases.verify(&inside).is_ok());
            assert_eq!(leases.verify(&outside), verifier.verify(&outside));
            assert_eq!(leases.verify(&outside), Err(LeaseError::Expired));
        }
    }

    #[tokio::test]
    async fn a_remembered_lease_changed_in_any_part_is_refused() {
        let signer = signer();
        let mine = claims("mine", 60);
        let token = signer.sign(&mine).await.expect("signs");
        let leases = leases_of(&signer, DEFAULT_GENERATION);
        leases.verify(&token).expect("the genuine lease verifies");

        let forged_claims =
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims("theirs", 60)).expect("json"));
        let other_signature = signer.sign(&claims("other", 60)).await.expect("signs");
        let other_signature = other_signature.split('.').nth(2).expect("signature");
        let unsigned_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#);
        for changed in [
            with_part(&token, 1, &forged_claims),
            with_part(&token, 2, other_signature),
            with_part(&token, 2, ""),
            with_part(&token, 0, &unsigned_header),
            format!("{token}x"),
        ] {
            assert!(
                matches!(leases.verify(&changed), Err(LeaseError::Invalid(_))),
                "accepted {changed}"
            );
            assert!(leases.verify_ignoring_expiry(&changed).is_err());
        }
        assert_eq!(leases.remembered(), 1, "refused leases are not remembered");
        assert_eq!(leases.verify(&token), Ok(mine));
    }

    #[tokio::test]
    async fn leases_of_another_key_or_issuer_are_refused_every_time() {
        let signer = signer();
        let foreign = self::signer().sign(&claims("s1", 60)).await.expect("signs");
        let other_issuer = {
            let mut c = claims("s2", 60);
            c.iss = "someone-else".into();
            signer.sign(&c).await.expect("signs")
        };
        let leases = leases_of(&signer, DEFAULT_GENERATION);

        for _ in 0..3 {
            for token in [&foreign, &other_issuer, &"not.a.lease".to_owned()] {
                assert!(matches!(leases.verify(token), Err(LeaseError::Invalid(_))));
            }
        }
        assert_eq!(leases.remembered(), 0);
        assert_eq!(leases.full_verifications(), 0);
    }

    #[tokio::test]
    async fn memory_stays_bounded_and_a_lease_in_use_stays_remembered() {
        let signer = signer();
        let live = signer.sign(&claims("live", 60)).await.expect("signs");
        let mut others = Vec::new();
        for i in 0..40 {
            others.push(
                signer
                    .sign(&claims(&format!("s{i}"), 60))
                    .await
                    .expect("signs"),
            );
        }
        let leases = leases_of(&signer, 4);

        leases.verify(&live).expect("verifies");
        for (i, other) in others.iter().enumerate() {
            assert_eq!(leases.verify(other).map(|c| c.sid), Ok(format!("s{i}")));
            assert!(leases.remembered() <= 8, "at most two generations of four");
            if i % 3 == 0 {
                assert_eq!(leases.verify(&live).map(|c| c.sid), Ok("live".into()));
            }
        }

        // One full check per distinct lease: the live one was never forgotten.
        assert_eq!(leases.full_verifications(), 41);
        // A lease forgotten long ago is verified again, correctly.
        assert_eq!(leases.verify(&others[0]).map(|c| c.sid), Ok("s0".into()));
        assert_eq!(leases.full_verifications(), 42);
    }

    #[tokio::test]
    async fn concurrent_callers_never_get_a_forgery_accepted_or_a_lease_refused() {
        let signer = signer();
        let mut genuine = Vec::new();
        let mut forged = Vec::new();
        for i in 0..12 {
            let token = signer
                .sign(&claims(&format!("s{i}"), 60))
                .await
                .expect("signs");
            let theirs = URL_SAFE_NO_PAD
                .encode(serde_json::to_vec(&claims(&format!("x{i}"), 60)).expect("json"));
            forged.push(with_part(&token, 1, &theirs));
            genuine.push(token);
        }
        // A small generation, so threads also race the turnover.
        let leases = leases_of(&signer, 5);

        std::thread::scope(|scope| {
            for t in 0..8 {
                let (leases, genuine, forged) = (&leases, &genuine, &forged);
                scope.spawn(move || {
                    for round in 0..150 {
                        let i = (t * 7 + round) % genuine.len();
                        assert_eq!(
                            leases.verify(&genuine[i]).map(|c| c.sid),
                            Ok(format!("s{i}"))
                        );
                        assert!(leases.verify(&forged[i]).is_err(), "forgery accepted");
                    }
                });
            }
        });
        assert!(leases.remembered() <= 10);
    }
}
