//! The lease keys this client trusts: pinned from the service's JWKS on first use, cached on disk
//! (`jwks.json`), and refreshed only when a lease names a key (`kid`) the pin does not hold — a
//! rotation. Every lease the client acts on is verified here, signature and issuer; one that
//! fails is never trusted. Expiry is judged by the caller against the trusted time
//! ([`crate::clock::TrustedTime`]), not the wall clock.

use serde::{Deserialize, Serialize};
use shared::leases::{JwkSet, LeaseClaims, LeaseVerifier};
use tokio::sync::Mutex;

use crate::home::ServerDir;
use crate::http::{ClientError, LicenseClient};

/// What `jwks.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pin {
    /// The leases' `iss`, pinned with the first lease that verified.
    issuer: Option<String>,
    /// The published keys.
    keys: JwkSet,
}

/// Lease keys pinned for one deployment.
#[derive(Debug)]
pub struct PinnedKeys {
    files: ServerDir,
    client: LicenseClient,
    /// The pin, read from disk on first use.
    pin: Mutex<Option<Pin>>,
}

impl PinnedKeys {
    /// The keys pinned for the deployment of `client`, kept in `files`.
    pub fn new(files: ServerDir, client: LicenseClient) -> Self {
        Self {
            files,
            client,
            pin: Mutex::new(None),
        }
    }

    /// Verifies `lease`'s signature and issuer against the pinned keys, fetching the published
    /// keys first when the pin lacks the lease's key. Expiry is not checked here.
    pub async fn verify(&self, lease: &str) -> Result<LeaseClaims, ClientError> {
        let kid = jsonwebtoken::decode_header(lease)
            .map_err(|e| untrusted(&format!("it is not a signed token ({e})")))?
            .kid
            .ok_or_else(|| untrusted("it names no key"))?;
        let mut pin = self.pin.lock().await;
        if pin.is_none() {
            *pin = self.read()?;
        }
        let knows = |pin: &Option<Pin>| {
            pin.as_ref().is_some_and(|p| {
                p.keys
                    .keys
                    .iter()
                    .any(|k| k.common.key_id.as_deref() == Some(kid.as_str()))
            })
        };
        let mut changed = false;
        if !knows(&pin) {
            let published = self.client.jwks().await?;
            let issuer = pin.as_ref().and_then(|p| p.issuer.clone());
            *pin = Some(Pin {
                issuer,
                keys: published,
            });
            changed = true;
            if !knows(&pin) {
                return Err(untrusted(&format!(
                    "it is signed by key {kid}, which the service does not publish"
                )));
            }
        }
        let Some(current) = pin.as_mut() else {
            return Err(untrusted("no keys are pinned"));
        };
        let issuer = match &current.issuer {
            Some(issuer) => issuer.clone(),
            None => {
                jsonwebtoken::dangerous::insecure_decode_claims::<LeaseClaims>(lease)
                    .map_err(|e| untrusted(&e.to_string()))?
                    .iss
            }
        };
        let claims = LeaseVerifier::from_jwks(&current.keys, &issuer)
            .and_then(|verifier| verifier.verify_ignoring_expiry(lease))
            .map_err(|e| untrusted(&e.to_string()))?;
        if current.issuer.is_none() {
            current.issuer = Some(issuer);
            changed = true;
        }
        if changed {
            let bytes = serde_json::to_vec_pretty(&*current)
                .map_err(|e| ClientError::Protocol(e.to_string()))?;
            self.files.write_public(&self.files.jwks_path(), &bytes)?;
        }
        Ok(claims)
    }

    fn read(&self) -> Result<Option<Pin>, ClientError> {
        let Some(bytes) = self.files.read(&self.files.jwks_path())? else {
            return Ok(None);
        };
        // A damaged pin is replaced by the published keys, as on first use.
        Ok(serde_json::from_slice(&bytes).ok())
    }
}

fn untrusted(why: &str) -> ClientError {
    ClientError::Protocol(format!("the lease is not trusted: {why}"))
}
