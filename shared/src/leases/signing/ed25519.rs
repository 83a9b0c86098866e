//! The Ed25519 key-file signer of the embedded default (and of deployments that mount a key file
//! instead of using Cloud KMS).

use std::path::Path;

use anyhow::{Context, anyhow};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, Header};

use super::{LeaseSigner, with_thumbprint_kid};
use crate::leases::LeaseClaims;
use crate::leases::verifying::LeaseVerifier;

/// A signer holding an Ed25519 private key in memory.
pub struct Ed25519Signer {
    /// RFC 7638 thumbprint of the current public key.
    kid: String,
    /// The private key, expanded once. (`jsonwebtoken` would rebuild it from DER on every
    /// signature, deriving the public key again: as costly as the signature itself, and a third
    /// of an acquire's CPU.)
    key: SigningKey,
    /// The current key first, then retired ones.
    published: JwkSet,
}

impl Ed25519Signer {
    /// Loads the key at `path`; when `create` is set and no file exists, generates one there
    /// (readable by the owner only).
    pub fn load(path: &Path, create: bool) -> anyhow::Result<Self> {
        let pem = match std::fs::read_to_string(path) {
            Ok(pem) => pem,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => generate(path)?,
            Err(e) => {
                return Err(anyhow!(e))
                    .with_context(|| format!("LEASE_SIGNING_KEY: cannot read {}", path.display()));
            }
        };
        let key = SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
            anyhow!(
                "LEASE_SIGNING_KEY: {} is not a PKCS#8 Ed25519 key: {e}",
                path.display()
            )
        })?;
        Self::from_key(&key)
    }

    /// A signer for `key` (tests generate keys in memory).
    pub fn from_key(key: &SigningKey) -> anyhow::Result<Self> {
        let jwk = public_jwk(&key.verifying_key())?;
        Ok(Self {
            kid: jwk.common.key_id.clone().unwrap_or_default(),
            key: key.clone(),
            published: JwkSet { keys: vec![jwk] },
        })
    }

    /// Also publishes (and so accepts) the public halves of the keys in `paths`: keys rotated out
    /// whose leases may still be in use. Each file is a PKCS#8 private or SPKI public PEM.
    pub fn with_retired(mut self, paths: &[std::path::PathBuf]) -> anyhow::Result<Self> {
        for path in paths {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("LEASE_RETIRED_KEYS: cannot read {}", path.display()))?;
            let public = SigningKey::from_pkcs8_pem(&pem)
                .map(|k| k.verifying_key())
                .or_else(|_| VerifyingKey::from_public_key_pem(&pem))
                .map_err(|e| {
                    anyhow!(
                        "LEASE_RETIRED_KEYS: {} is not an Ed25519 PEM key: {e}",
                        path.display()
                    )
                })?;
            self.published.keys.push(public_jwk(&public)?);
        }
        Ok(self)
    }

    /// The `kid` new leases carry.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// A verifier trusting every published key.
    pub fn verifier(&self, issuer: &str) -> anyhow::Result<LeaseVerifier> {
        LeaseVerifier::from_jwks(&self.published, issuer).map_err(|e| anyhow!(e))
    }
}

#[async_trait]
impl LeaseSigner for Ed25519Signer {
    async fn sign(&self, claims: &LeaseClaims) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        // A compact JWS (RFC 7515 §7.1): BASE64URL(header) "." BASE64URL(claims) "." BASE64URL(
        // the Ed25519 signature of the first two parts, as ASCII).
        let header = serde_json::to_vec(&header).context("encoding the lease header")?;
        let claims = serde_json::to_vec(claims).context("encoding the lease claims")?;
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let signature = self.key.sign(signing_input.as_bytes());
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        ))
    }

    fn jwks(&self) -> JwkSet {
        self.published.clone()
    }
}

/// The JWK of an Ed25519 public key, `kid` its RFC 7638 thumbprint.
pub(crate) fn public_jwk(key: &VerifyingKey) -> anyhow::Result<Jwk> {
    let jwk = serde_json::json!({
        "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(key.as_bytes()),
        "alg": "EdDSA", "use": "sig",
    });
    with_thumbprint_kid(serde_json::from_value(jwk).context("building the lease JWK")?)
}

/// Generates a key into `path`, creating its directory; refuses to overwrite a file that appeared
/// meanwhile (another process created it first: load that one instead).
fn generate(path: &Path) -> anyhow::Result<String> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let pem = key
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .map_err(|e| anyhow!("encoding the new lease key: {e}"))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(pem.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            tracing::info!(path = %path.display(), "generated a new lease signing key");
            Ok(pem.to_string())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
        }
        Err(e) => Err(anyhow!(e)).with_context(|| format!("creating {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;
    use crate::leases::fixtures::signer;
    use crate::leases::verifying::LeaseError;

    fn claims(exp_in: i64) -> LeaseClaims {
        crate::leases::fixtures::claims("session", exp_in)
    }

    #[tokio::test]
    async fn a_signed_lease_verifies_with_the_published_keys() {
        let signer = signer();
        let signed = claims(60);
        let token = signer.sign(&signed).await.expect("signs");
        let jwks = serde_json::to_string(&signer.jwks()).expect("jwks serialises");
        let verifier =
            LeaseVerifier::from_jwks_json(&jwks, "coditect-licensing").expect("verifier");
        assert_eq!(verifier.verify(&token).expect("verifies"), signed);
    }

    /// Ed25519 signatures are deterministic (RFC 8032), so a lease signed with the kept key must be
    /// byte for byte what `jsonwebtoken` makes from the same key, header and claims.
    #[tokio::test]
    async fn a_lease_is_exactly_the_jws_jsonwebtoken_would_make() {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let signer = Ed25519Signer::from_key(&key).expect("signer");
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(signer.kid().to_owned());
        let der = key.to_pkcs8_der().expect("der");
        let claims = claims(60);
        let theirs = jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes()),
        )
        .expect("jsonwebtoken signs");

        let ours = signer.sign(&claims).await.expect("signs");

        assert_eq!(ours, theirs);
        let decoded = jsonwebtoken::decode_header(&ours).expect("a JWS header");
        assert_eq!(decoded.alg, Algorithm::EdDSA);
        assert_eq!(decoded.kid.as_deref(), Some(signer.kid()));
    }

    #[tokio::test]
    async fn a_tampered_lease_is_refused() {
        let signer = signer();
        let token = signer.sign(&claims(60)).await.expect("signs");
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut forged = claims(60);
        forged.sid = "someone-elses-session".into();
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).expect("json"));
        let verifier = signer.verifier("coditect-licensing").expect("verifier");
        assert!(matches!(
            verifier.verify(&parts.join(".")),
            Err(LeaseError::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn a_lease_of_another_key_or_issuer_is_refused() {
        let token = signer().sign(&claims(60)).await.expect("signs");
        let verifier = signer().verifier("coditect-licensing").expect("verifier");
        assert!(
            matches!(verifier.verify(&token), Err(LeaseError::Invalid(why)) if why.contains("unknown kid"))
        );
        let own = signer();
        let token = own.sign(&claims(60)).await.expect("signs");
        let other_issuer = own.verifier("someone-else").expect("verifier");
        assert!(matches!(
            other_issuer.verify(&token),
            Err(LeaseError::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn an_unsigned_lease_naming_our_kid_is_refused() {
        let signer = signer();
        let header =
            URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","kid":"{}"}}"#, signer.kid()));
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(60)).expect("json"));
        let verifier = signer.verifier("coditect-licensing").expect("verifier");
        assert!(verifier.verify(&format!("{header}.{payload}.")).is_err());
    }

    #[tokio::test]
    async fn an_expired_lease_is_expired_but_may_still_release() {
        let signer = signer();
        let token = signer.sign(&claims(-60)).await.expect("signs");
        let verifier = signer.verifier("coditect-licensing").expect("verifier");
        assert_eq!(verifier.verify(&token), Err(LeaseError::Expired));
        assert!(verifier.verify_ignoring_expiry(&token).is_ok());
    }

    #[tokio::test]
    async fn a_retired_key_is_published_and_accepted_but_never_signs() {
        let dir = std::env::temp_dir().join(format!("lease-keys-{}", uuid::Uuid::new_v4()));
        let old_path = dir.join("old.pem");
        let old = Ed25519Signer::load(&old_path, true).expect("old key generated");
        let old_lease = old.sign(&claims(60)).await.expect("signs");
        let new = Ed25519Signer::load(&dir.join("new.pem"), true)
            .expect("new key generated")
            .with_retired(&[old_path])
            .expect("retired key loads");
        assert_eq!(new.jwks().keys.len(), 2);
        assert_ne!(new.kid(), old.kid());
        let verifier = new.verifier("coditect-licensing").expect("verifier");
        assert!(verifier.verify(&old_lease).is_ok());
        // What `new` signs names its own key, never the retired one it also publishes.
        let new_lease = new.sign(&claims(60)).await.expect("signs");
        let header = jsonwebtoken::decode_header(&new_lease).expect("a JWS header");
        assert_eq!(header.kid.as_deref(), Some(new.kid()));
        assert_ne!(header.kid.as_deref(), Some(old.kid()));
        assert!(verifier.verify(&new_lease).is_ok());
        let _ = std::fs::remove_dir_all(dir);
    }

    /// RFC 8037 appendix A.3: the thumbprint of the appendix A.2 public key.
    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint() {
        let x = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .expect("base64url");
        let key = VerifyingKey::from_bytes(&x.try_into().expect("32 bytes")).expect("a key");
        let jwk = public_jwk(&key).expect("a JWK");
        assert_eq!(
            jwk.common.key_id.as_deref(),
            Some("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
        );
    }

    #[test]
    fn a_missing_key_file_is_created_once_and_then_reused() {
        let dir = std::env::temp_dir().join(format!("lease-keys-{}", uuid::Uuid::new_v4()));
        let path = dir.join("key.pem");
        assert!(
            Ed25519Signer::load(&path, false).is_err(),
            "no key, no create: an error"
        );
        let first = Ed25519Signer::load(&path, true).expect("created");
        let second = Ed25519Signer::load(&path, true).expect("loaded");
        assert_eq!(first.kid(), second.kid());
        let _ = std::fs::remove_dir_all(dir);
    }
}
