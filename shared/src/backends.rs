//! Turning configuration into connected backends, the same way in every service.
//!
//! The embedded default needs nothing installed: records in a SQLite file under `DATA_DIR`
//! (migrated at start-up), seats in process, a lease key generated into `DATA_DIR`, and emulator
//! identity for the `demo-coditect` project. Each is replaced by its production counterpart when its
//! variable is set; for leases that is a Cloud KMS key version in `LEASE_SIGNING_KEY` (acquire)
//! and the published versions in `LEASE_PUBLIC_KEYS` (admin, heartbeat, release).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use async_trait::async_trait;
use jsonwebtoken::jwk::JwkSet;

use crate::config::Config;
use crate::identity::IdTokenVerifier;
use crate::leases::LeaseClaims;
use crate::leases::kms::{KmsClient, KmsEndpoints, KmsSigner, is_key_version_name};
use crate::leases::signer::{Ed25519Signer, LeaseSigner};
use crate::leases::verified::VerifiedLeases;
use crate::leases::verify::LeaseVerifier;
use crate::seats::{EmbeddedSeats, RedisSeats, SeatStore, read_redis_ca};
use crate::store::{PgStore, SqliteStore, Store};

/// The records store. SQLite is created and migrated on the spot (it is the embedded default);
/// PostgreSQL is connected lazily and never migrated here: `admin migrate` does that, once per
/// deploy, so instances starting in parallel never race on a migration.
pub async fn records(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let url = config.database_url.expose();
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating DATA_DIR {}", config.data_dir.display()))?;
        let store = SqliteStore::connect(url).await?;
        store.migrate().await?;
        Ok(Arc::new(store))
    } else {
        Ok(Arc::new(PgStore::connect_lazy(
            url,
            config.database_max_connections,
        )?))
    }
}

/// The seat store: Redis when `REDIS_URL` is set (verified against the CA in `REDIS_CA_CERT` when
/// that is set). Without it, seats live in this process, which is
/// only correct when one process serves acquire, heartbeat and release together — the `local`
/// server. A single function started without `REDIS_URL` is refused rather than handing out seats
/// no other service can see.
pub fn seats(config: &Config, single_process: bool) -> anyhow::Result<Arc<dyn SeatStore>> {
    match &config.redis_url {
        Some(url) => {
            let url = url.expose();
            let prefix = &config.redis_key_prefix;
            let seats = match &config.redis_ca_cert {
                Some(path) => RedisSeats::with_ca(url, prefix, read_redis_ca(path)?)?,
                None => RedisSeats::new(url, prefix)?,
            };
            Ok(Arc::new(seats))
        }
        None if single_process => Ok(Arc::new(EmbeddedSeats::new())),
        None => bail!(
            "environment variable REDIS_URL is required: this function shares seats with the \
             other functions through Redis (run `cargo run -p local` for the all-in-one server \
             with in-process seats)"
        ),
    }
}

/// The lease signer. `LEASE_SIGNING_KEY` naming a Cloud KMS key version (`projects/…`) signs in
/// KMS, publishing also the KMS versions in `LEASE_RETIRED_KEYS`; anything else is an Ed25519 key
/// file. The file is generated on first run only at the default path under `DATA_DIR`: a
/// configured path that does not exist is a deployment mistake, not a reason to mint a key nobody
/// else trusts.
pub async fn lease_signer(config: &Config) -> anyhow::Result<Arc<dyn LeaseSigner>> {
    match kms_name(&config.lease_signing_key) {
        Some(version) => Ok(Arc::new(kms_signer(config, version).await?)),
        None => Ok(Arc::new(ed25519_signer(config)?)),
    }
}

/// What admin publishes at `/.well-known/jwks.json`: the keys of `LEASE_PUBLIC_KEYS` when set
/// (the same keys heartbeat and release accept; admin then holds no signing key), else those of
/// [`lease_signer`].
pub async fn lease_publisher(config: &Config) -> anyhow::Result<Arc<dyn LeaseSigner>> {
    match public_keys(config).await? {
        Some(keys) => Ok(Arc::new(PublishedKeys(keys))),
        None => lease_signer(config).await,
    }
}

/// The lease verifier of heartbeat and release. With `LEASE_PUBLIC_KEYS` (KMS key version names,
/// or a JWKS file saved from `/.well-known/jwks.json`) these services never hold a private key;
/// without it the keys are those [`lease_signer`] publishes. The keys are fixed for the life of
/// the process, which is what lets [`VerifiedLeases`] remember the leases that passed.
pub async fn lease_verifier(config: &Config) -> anyhow::Result<Arc<VerifiedLeases>> {
    let keys = match public_keys(config).await? {
        Some(keys) => keys,
        None => lease_signer(config).await?.jwks(),
    };
    let verifier =
        LeaseVerifier::from_jwks(&keys, &config.lease_issuer).context("LEASE_PUBLIC_KEYS")?;
    Ok(Arc::new(VerifiedLeases::new(verifier)))
}

async fn kms_signer(config: &Config, version: &str) -> anyhow::Result<KmsSigner> {
    let published = public_key_names(config)?;
    if let Some(names) = &published
        && !names.iter().any(|name| name == version)
    {
        bail!(
            "LEASE_SIGNING_KEY {version} is not in LEASE_PUBLIC_KEYS: publish a key version \
             before signing with it, or clients cannot verify its leases"
        );
    }
    let mut retired = Vec::new();
    for entry in &config.lease_retired_keys {
        match kms_name(entry) {
            Some(name) => retired.push(name.to_owned()),
            None => bail!(
                "LEASE_RETIRED_KEYS: {} is a key file, but LEASE_SIGNING_KEY is a KMS key; \
                 list retired KMS key versions instead",
                entry.display()
            ),
        }
    }
    let client = KmsClient::new(KmsEndpoints::google())?;
    let signer = KmsSigner::connect(client.clone(), version)
        .await
        .context("LEASE_SIGNING_KEY")?;
    let retired = client
        .public_keys(&retired)
        .await
        .context("LEASE_RETIRED_KEYS")?;
    tracing::info!(version, kid = signer.kid(), "signing leases with Cloud KMS");
    Ok(signer.also_publishing(retired))
}

fn ed25519_signer(config: &Config) -> anyhow::Result<Ed25519Signer> {
    if let Some(name) = config.lease_retired_keys.iter().find_map(|p| kms_name(p)) {
        bail!(
            "LEASE_RETIRED_KEYS: {name} is a KMS key version, but LEASE_SIGNING_KEY is a key \
             file; list retired key files instead"
        );
    }
    let default_path = config.data_dir.join("lease-signing-key.pem");
    let create = config.lease_signing_key == default_path;
    Ed25519Signer::load(&config.lease_signing_key, create)?.with_retired(&config.lease_retired_keys)
}

/// The keys of `LEASE_PUBLIC_KEYS`, fetched from KMS or read from a JWKS file; `None` when unset.
async fn public_keys(config: &Config) -> anyhow::Result<Option<JwkSet>> {
    if let Some(names) = public_key_names(config)? {
        let client = KmsClient::new(KmsEndpoints::google())?;
        let keys = client
            .public_keys(&names)
            .await
            .context("LEASE_PUBLIC_KEYS")?;
        return Ok(Some(keys));
    }
    let Some(path) = &config.lease_public_keys else {
        return Ok(None);
    };
    let json = std::fs::read_to_string(path)
        .with_context(|| format!("LEASE_PUBLIC_KEYS: cannot read {}", path.display()))?;
    let keys = serde_json::from_str(&json).with_context(|| {
        format!(
            "LEASE_PUBLIC_KEYS: {} is not a JWKS document",
            path.display()
        )
    })?;
    Ok(Some(keys))
}

/// `LEASE_PUBLIC_KEYS` as KMS key version names, when it is a comma-separated list of them.
fn public_key_names(config: &Config) -> anyhow::Result<Option<Vec<String>>> {
    let Some(list) = config.lease_public_keys.as_deref().and_then(Path::to_str) else {
        return Ok(None);
    };
    if !list.trim_start().starts_with("projects/") {
        return Ok(None);
    }
    let names: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(bad) = names.iter().find(|name| !is_key_version_name(name)) {
        bail!("LEASE_PUBLIC_KEYS: {bad:?} is not a KMS key version name");
    }
    Ok(Some(names))
}

/// `path` as a KMS key version name, when it is one (`projects/…`).
fn kms_name(path: &Path) -> Option<&str> {
    path.to_str().filter(|name| name.starts_with("projects/"))
}

/// Keys published by a service that never signs (admin with `LEASE_PUBLIC_KEYS`).
struct PublishedKeys(JwkSet);

#[async_trait]
impl LeaseSigner for PublishedKeys {
    async fn sign(&self, _claims: &LeaseClaims) -> anyhow::Result<String> {
        bail!("this service only publishes lease keys; it has no LEASE_SIGNING_KEY")
    }

    fn jwks(&self) -> JwkSet {
        self.0.clone()
    }
}

/// The ID-token verifier. Emulator mode is refused on Cloud Run, where it would let anyone forge
/// any identity, and announced loudly elsewhere.
pub fn identity(config: &Config) -> anyhow::Result<Arc<IdTokenVerifier>> {
    if config.identity_emulated() {
        if let Some(service) = &config.cloud_run_service {
            bail!(
                "refusing to start {service}: identity is in emulator mode (GOOGLE_CLOUD_PROJECT={:?}, \
                 FIREBASE_AUTH_EMULATOR_HOST={:?}), which accepts unsigned tokens; set a real \
                 project and unset FIREBASE_AUTH_EMULATOR_HOST",
                config.project_id,
                config.auth_emulator_host
            );
        }
        tracing::warn!(
            project = %config.project_id,
            "IDENTITY EMULATOR MODE: unsigned ID tokens are accepted; never expose this server"
        );
        return Ok(Arc::new(IdTokenVerifier::emulator(
            &config.project_id,
            config.identity_tenant.clone(),
        )));
    }
    Ok(Arc::new(IdTokenVerifier::google(
        &config.project_id,
        config.identity_tenant.clone(),
        &config.google_jwks_url,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1";
    const V2: &str = "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/2";

    fn config(vars: &[(&str, &str)]) -> Config {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .expect("configuration parses")
    }

    async fn refusal(vars: &[(&str, &str)]) -> String {
        match lease_signer(&config(vars)).await {
            Ok(_) => panic!("a signer was built"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn public_keys_are_kms_version_names_or_a_file() {
        let names = public_key_names(&config(&[("LEASE_PUBLIC_KEYS", &format!("{V1}, {V2}"))]));
        assert_eq!(
            names.expect("parses"),
            Some(vec![V1.to_owned(), V2.to_owned()])
        );
        let file = public_key_names(&config(&[("LEASE_PUBLIC_KEYS", "keys/jwks.json")]));
        assert_eq!(file.expect("parses"), None);
        let bad = public_key_names(&config(&[("LEASE_PUBLIC_KEYS", "projects/p/keyRings/r")]));
        assert!(bad.is_err());
    }

    #[tokio::test]
    async fn a_kms_signing_key_must_be_published_first() {
        let why = refusal(&[("LEASE_SIGNING_KEY", V2), ("LEASE_PUBLIC_KEYS", V1)]).await;
        assert!(why.contains("not in LEASE_PUBLIC_KEYS"), "{why}");
    }

    #[tokio::test]
    async fn retired_keys_are_of_the_signing_key_kind() {
        let why = refusal(&[("LEASE_SIGNING_KEY", V2), ("LEASE_RETIRED_KEYS", "old.pem")]).await;
        assert!(why.contains("LEASE_RETIRED_KEYS"), "{why}");
        let why = refusal(&[("LEASE_SIGNING_KEY", "key.pem"), ("LEASE_RETIRED_KEYS", V1)]).await;
        assert!(why.contains("LEASE_RETIRED_KEYS"), "{why}");
    }
}
