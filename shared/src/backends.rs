//! The one wiring: [`Backends`] turns the typed [`Config`] into connected backends, and every
//! function's state is made from it (`AcquireState::new(&backends)` and so on). A function's
//! binary, the all-in-one `local` server, the tests and the load generator all start this way, so
//! there is one place that decides what a configuration means.
//!
//! Each backend is built the first time a state asks for it and shared afterwards: `local`, whose
//! states all draw from one [`Backends`], gets one records pool, one seat store and one signer for
//! every route, and a single function builds only what its state needs.
//!
//! The embedded default needs nothing installed: records in a SQLite file under `DATA_DIR`
//! (migrated at start-up), seats in process, a lease key generated into `DATA_DIR`, and emulator
//! identity for the `demo-coditect` project. Each is replaced by its production counterpart when its
//! variable is set; for leases that is a Cloud KMS key version in `LEASE_SIGNING_KEY` (acquire)
//! and the published versions in `LEASE_PUBLIC_KEYS` (admin, heartbeat, release).

use std::sync::Arc;

use anyhow::{Context, bail};
use jsonwebtoken::jwk::JwkSet;
use tokio::sync::OnceCell;

use crate::config::{Config, Database, LeasePublicKeys, LeaseSigningKey};
use crate::identity::IdTokenVerifier;
use crate::leases::LeaseVerifier;
use crate::leases::kms::KmsClient;
use crate::leases::signing::{Ed25519Signer, KmsSigner, LeaseSigner};
use crate::leases::verifying::RememberedLeases;
use crate::seats::{EmbeddedSeats, RedisEndpoint, RedisSeats, SeatStore, read_redis_ca};
use crate::store::{PgStore, SqliteStore, Store};

/// How the process relates to the other functions, which decides where seats may live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// One process serves acquire, heartbeat and release together (`local`): seats may live in
    /// this process when no `REDIS_URL` is set.
    AllInOne,
    /// One function of several (a Cloud Run service): seats must be shared through Redis, and a
    /// start without `REDIS_URL` is refused rather than handing out seats nobody else sees.
    OneFunction,
}

/// The backends a configuration names, built on first use and shared afterwards.
pub struct Backends {
    /// What everything is built from.
    config: Arc<Config>,
    /// Where seats may live.
    topology: Topology,
    /// The records.
    records: OnceCell<Arc<dyn Store>>,
    /// The live seats.
    seats: OnceCell<Arc<dyn SeatStore>>,
    /// The lease signer (acquire).
    signer: OnceCell<Arc<dyn LeaseSigner>>,
    /// The public lease keys trusted and published.
    lease_keys: OnceCell<Arc<JwkSet>>,
    /// The lease verifier of heartbeat and release.
    leases: OnceCell<Arc<RememberedLeases>>,
    /// The ID-token verifier.
    identity: OnceCell<Arc<IdTokenVerifier>>,
}

impl Backends {
    /// Backends for `config`; nothing is connected until a state asks for it.
    pub fn new(config: Arc<Config>, topology: Topology) -> Self {
        Self {
            config,
            topology,
            records: OnceCell::new(),
            seats: OnceCell::new(),
            signer: OnceCell::new(),
            lease_keys: OnceCell::new(),
            leases: OnceCell::new(),
            identity: OnceCell::new(),
        }
    }

    /// The configuration everything is built from.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// The records store. SQLite is created and migrated on the spot (it is the embedded default);
    /// PostgreSQL is connected lazily and never migrated here: `admin migrate` does that, once per
    /// deploy, so instances starting in parallel never race on a migration.
    pub async fn records(&self) -> anyhow::Result<Arc<dyn Store>> {
        let built = self.records.get_or_try_init(|| async {
            let config = &self.config;
            let store: Arc<dyn Store> = match &config.database {
                Database::Sqlite(url) => {
                    std::fs::create_dir_all(&config.data_dir).with_context(|| {
                        format!("creating DATA_DIR {}", config.data_dir.display())
                    })?;
                    let store = SqliteStore::connect(url.expose()).await?;
                    store.migrate().await?;
                    Arc::new(store)
                }
                Database::Postgres(url) => Arc::new(PgStore::connect_lazy(
                    url.expose(),
                    config.database_max_connections,
                )?),
            };
            anyhow::Ok(store)
        });
        Ok(built.await?.clone())
    }

    /// The seat store: Redis when `REDIS_URL` is set (a Redis Cluster with `REDIS_CLUSTER=true`;
    /// verified against the CA in `REDIS_CA_CERT` when that is set); without it, in this process,
    /// for [`Topology::AllInOne`] only.
    pub async fn seats(&self) -> anyhow::Result<Arc<dyn SeatStore>> {
        let built = self.seats.get_or_try_init(|| async {
            let config = &self.config;
            let seats: Arc<dyn SeatStore> = match &config.redis {
                Some(target) => {
                    let ca = match &config.redis_ca_cert {
                        Some(path) => Some(read_redis_ca(path)?),
                        None => None,
                    };
                    let endpoint = RedisEndpoint::new(target, ca)?;
                    Arc::new(RedisSeats::on(endpoint, &config.redis_key_prefix))
                }
                None if self.topology == Topology::AllInOne => Arc::new(EmbeddedSeats::new()),
                None => bail!(
                    "environment variable REDIS_URL is required: this function shares seats with \
                     the other functions through Redis (run `cargo run -p local` for the \
                     all-in-one server with in-process seats)"
                ),
            };
            anyhow::Ok(seats)
        });
        Ok(built.await?.clone())
    }

    /// The lease signer of `LEASE_SIGNING_KEY`: Cloud KMS, or an Ed25519 key file (generated on
    /// first run only at the default path under `DATA_DIR`).
    pub async fn lease_signer(&self) -> anyhow::Result<Arc<dyn LeaseSigner>> {
        let built = self.signer.get_or_try_init(|| async {
            let signer: Arc<dyn LeaseSigner> = match &self.config.lease_signing_key {
                LeaseSigningKey::Kms { version, retired } => {
                    let client = self.kms()?;
                    let signer = KmsSigner::connect(client.clone(), version)
                        .await
                        .context("LEASE_SIGNING_KEY")?;
                    let retired = client
                        .public_keys(retired)
                        .await
                        .context("LEASE_RETIRED_KEYS")?;
                    tracing::info!(%version, kid = signer.kid(), "signing leases with Cloud KMS");
                    Arc::new(signer.also_publishing(retired))
                }
                LeaseSigningKey::File {
                    path,
                    retired,
                    generate,
                } => Arc::new(Ed25519Signer::load(path, *generate)?.with_retired(retired)?),
            };
            anyhow::Ok(signer)
        });
        Ok(built.await?.clone())
    }

    /// The public lease keys: those of `LEASE_PUBLIC_KEYS` when set (fetched from KMS or read
    /// from a JWKS file, so admin, heartbeat and release hold no private key), else those the
    /// signer publishes. Fixed for the life of the process, which is what lets
    /// [`RememberedLeases`] remember the leases that passed.
    pub async fn lease_keys(&self) -> anyhow::Result<Arc<JwkSet>> {
        let built = self.lease_keys.get_or_try_init(|| async {
            let keys = match &self.config.lease_public_keys {
                Some(LeasePublicKeys::Kms(versions)) => self
                    .kms()?
                    .public_keys(versions)
                    .await
                    .context("LEASE_PUBLIC_KEYS")?,
                Some(LeasePublicKeys::JwksFile(path)) => {
                    let json = std::fs::read_to_string(path).with_context(|| {
                        format!("LEASE_PUBLIC_KEYS: cannot read {}", path.display())
                    })?;
                    serde_json::from_str(&json).with_context(|| {
                        format!(
                            "LEASE_PUBLIC_KEYS: {} is not a JWKS document",
                            path.display()
                        )
                    })?
                }
                None => self.lease_signer().await?.jwks(),
            };
            anyhow::Ok(Arc::new(keys))
        });
        Ok(built.await?.clone())
    }

    /// The lease verifier of heartbeat and release, trusting [`Self::lease_keys`].
    pub async fn leases(&self) -> anyhow::Result<Arc<RememberedLeases>> {
        let built = self.leases.get_or_try_init(|| async {
            let keys = self.lease_keys().await?;
            let verifier = LeaseVerifier::from_jwks(&keys, &self.config.lease_issuer)
                .context("LEASE_PUBLIC_KEYS")?;
            anyhow::Ok(Arc::new(RememberedLeases::new(verifier)))
        });
        Ok(built.await?.clone())
    }

    /// The ID-token verifier. Emulator mode is refused on Cloud Run, where it would let anyone
    /// forge any identity, and announced loudly elsewhere.
    pub async fn identity(&self) -> anyhow::Result<Arc<IdTokenVerifier>> {
        let built = self
            .identity
            .get_or_try_init(|| async { identity(&self.config) });
        Ok(built.await?.clone())
    }

    fn kms(&self) -> anyhow::Result<KmsClient> {
        KmsClient::new(self.config.kms.clone())
    }
}

fn identity(config: &Config) -> anyhow::Result<Arc<IdTokenVerifier>> {
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

    fn backends(vars: &[(&str, &str)], topology: Topology) -> Backends {
        let config = Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .expect("configuration parses");
        Backends::new(Arc::new(config), topology)
    }

    #[tokio::test]
    async fn one_function_without_redis_is_refused() {
        let Err(why) = backends(&[], Topology::OneFunction).seats().await else {
            panic!("in-process seats for a single function");
        };
        assert!(format!("{why:#}").contains("REDIS_URL"), "{why:#}");
        assert!(backends(&[], Topology::AllInOne).seats().await.is_ok());
    }

    #[tokio::test]
    async fn a_backend_is_built_once_and_shared() {
        let dir = std::env::temp_dir().join(format!("backends-{}", uuid::Uuid::new_v4()));
        let dir_name = dir.display().to_string();
        let backends = backends(&[("DATA_DIR", &dir_name)], Topology::AllInOne);
        let (a, b) = (backends.seats().await, backends.seats().await);
        assert!(Arc::ptr_eq(&a.expect("seats"), &b.expect("seats")));
        let (a, b) = tokio::join!(backends.lease_signer(), backends.lease_signer());
        assert!(Arc::ptr_eq(&a.expect("signer"), &b.expect("signer")));
        // Without LEASE_PUBLIC_KEYS the trusted keys are the signer's.
        let keys = backends.lease_keys().await.expect("keys");
        assert_eq!(*keys, backends.lease_signer().await.expect("signer").jwks());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_configured_key_file_that_is_missing_is_not_generated() {
        let path = std::env::temp_dir().join(format!("no-such-key-{}.pem", uuid::Uuid::new_v4()));
        let path_name = path.display().to_string();
        let backends = backends(&[("LEASE_SIGNING_KEY", &path_name)], Topology::AllInOne);
        let Err(why) = backends.lease_signer().await else {
            panic!("a key was generated at a configured path");
        };
        assert!(format!("{why:#}").contains("LEASE_SIGNING_KEY"), "{why:#}");
        assert!(!path.exists());
    }
}
