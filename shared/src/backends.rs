//! Turning configuration into connected backends, the same way in every service.
//!
//! The embedded default needs nothing installed: records in a SQLite file under `DATA_DIR`
//! (migrated at start-up), seats in process, a lease key generated into `DATA_DIR`, and emulator
//! identity for the `demo-coditect` project. Each is replaced by its production counterpart when its
//! variable is set.

use std::sync::Arc;

use anyhow::{Context, bail};

use crate::config::Config;
use crate::identity::IdTokenVerifier;
use crate::leases::signer::Ed25519Signer;
use crate::leases::verify::LeaseVerifier;
use crate::seats::{EmbeddedSeats, RedisSeats, SeatStore};
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

/// The seat store: Redis when `REDIS_URL` is set. Without it, seats live in this process, which is
/// only correct when one process serves acquire, heartbeat and release together — the `local`
/// server. A single function started without `REDIS_URL` is refused rather than handing out seats
/// no other service can see.
pub fn seats(config: &Config, single_process: bool) -> anyhow::Result<Arc<dyn SeatStore>> {
    match &config.redis_url {
        Some(url) => Ok(Arc::new(RedisSeats::new(
            url.expose(),
            &config.redis_key_prefix,
        )?)),
        None if single_process => Ok(Arc::new(EmbeddedSeats::new())),
        None => bail!(
            "environment variable REDIS_URL is required: this function shares seats with the \
             other functions through Redis (run `cargo run -p local` for the all-in-one server \
             with in-process seats)"
        ),
    }
}

/// The lease signer. The key file is generated on first run only at the default path under
/// `DATA_DIR`: a configured path that does not exist is a deployment mistake, not a reason to mint
/// a key nobody else trusts.
pub fn lease_signer(config: &Config) -> anyhow::Result<Arc<Ed25519Signer>> {
    let default_path = config.data_dir.join("lease-signing-key.pem");
    let create = config.lease_signing_key == default_path;
    let signer = Ed25519Signer::load(&config.lease_signing_key, create)?
        .with_retired(&config.lease_retired_keys)?;
    Ok(Arc::new(signer))
}

/// The lease verifier of heartbeat and release. With `LEASE_PUBLIC_KEYS` (a JWKS file, e.g. saved
/// from `/.well-known/jwks.json`) these services never hold a private key; without it the keys are
/// the public halves of `LEASE_SIGNING_KEY` and `LEASE_RETIRED_KEYS`.
pub fn lease_verifier(config: &Config) -> anyhow::Result<LeaseVerifier> {
    match &config.lease_public_keys {
        Some(path) => {
            let json = std::fs::read_to_string(path)
                .with_context(|| format!("LEASE_PUBLIC_KEYS: cannot read {}", path.display()))?;
            LeaseVerifier::from_jwks_json(&json, &config.lease_issuer)
                .with_context(|| format!("LEASE_PUBLIC_KEYS: {}", path.display()))
        }
        None => lease_signer(config)?.verifier(&config.lease_issuer),
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
