//! The Cloud KMS signer: leases signed by a key version that never leaves KMS (see
//! [`crate::leases::kms`] for the calls and the checks each answer passes).

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::LeaseSigner;
use crate::leases::LeaseClaims;
use crate::leases::kms::{KeyVersionName, KmsClient};

/// Signs leases with a Cloud KMS key version.
pub struct KmsSigner {
    /// Sends the sign requests.
    client: KmsClient,
    /// The key version name every sign request names and every answer must name.
    version: KeyVersionName,
    /// RFC 7638 thumbprint of the version's public key.
    kid: String,
    /// The signing key first, then retired ones.
    published: JwkSet,
}

impl KmsSigner {
    /// A signer for key `version`, fetching its public key (which also proves access at start-up).
    pub async fn connect(client: KmsClient, version: &KeyVersionName) -> anyhow::Result<Self> {
        let jwk = client.public_jwk(version.as_str()).await?;
        Ok(Self {
            client,
            version: version.clone(),
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
        let signature = self
            .client
            .sign_digest(self.version.as_str(), &digest)
            .await?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }

    fn jwks(&self) -> JwkSet {
        self.published.clone()
    }
}
