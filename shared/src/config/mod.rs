//! Configuration, read once from environment variables at start-up.
//!
//! Cloud Run passes everything through the environment, so that is the only source. Every variable
//! has a default that selects the embedded backends, so `cargo run -p local` needs none. A variable
//! that is set but malformed stops start-up with a message naming it; it is never silently ignored.
//! The README's configuration table lists every variable read here.

mod leases;
mod limits;
mod redis;
mod sign_in;
mod vars;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use self::redis::RedisTarget;
pub use leases::{LeasePublicKeys, LeaseSigningKey};
pub use limits::RateLimits;
pub use sign_in::{EMULATOR_API_KEY, IDENTITY_TOOLKIT_URL, SECURE_TOKEN_URL, SignInConfig};

pub use crate::leases::kms::KeyVersionName;
pub(crate) use vars::Vars;

use crate::leases::kms::{KMS_API, KmsEndpoints};

/// The Identity Platform project used when none is configured: a `demo-` project, which puts
/// identity into emulator mode, as the Firebase tools do.
pub const DEFAULT_PROJECT: &str = "demo-coditect";

/// Google's published keys for Identity Platform / Firebase ID tokens.
pub const GOOGLE_JWKS_URL: &str =
    "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com";

/// A value that must never reach a log line or a response (database and Redis URLs carry
/// passwords, webhook secrets sign requests).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it (a driver, a signature check).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// The records database, its kind decided once, here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file (the embedded default), created and migrated at start-up.
    Sqlite(Secret),
    /// PostgreSQL (Cloud SQL), migrated by `admin migrate` and never at start-up.
    Postgres(Secret),
}

impl Database {
    /// The connection URL (it may carry a password).
    pub fn url(&self) -> &Secret {
        match self {
            Self::Sqlite(url) | Self::Postgres(url) => url,
        }
    }

    /// Parses `DATABASE_URL`; the value is never echoed, it may hold a password.
    fn parse(url: String) -> Result<Self, ConfigError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite(Secret::new(url)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(Secret::new(url)))
        } else {
            Err(ConfigError::Malformed {
                name: "DATABASE_URL",
                value: "[redacted]".into(),
                reason: "expected a postgres:// or sqlite:// URL".into(),
            })
        }
    }
}

/// Why configuration could not be read; the message names the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable is set but cannot be parsed.
    #[error("environment variable {name} is malformed ({value:?}): {reason}")]
    Malformed {
        /// The variable.
        name: &'static str,
        /// What it holds (never a secret: secrets are not parsed).
        value: String,
        /// What was expected.
        reason: String,
    },
    /// A variable is required in this situation but missing.
    #[error("environment variable {name} is required: {reason}")]
    Missing {
        /// The variable.
        name: &'static str,
        /// Why it is required here.
        reason: &'static str,
    },
}

/// Everything a service reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Port to listen on (`PORT`, set by Cloud Run; default 8080).
    pub port: u16,
    /// Where the embedded default keeps its SQLite file and lease key (`DATA_DIR`).
    pub data_dir: PathBuf,
    /// The records database (`DATABASE_URL`): `postgres://…` or `sqlite://…`.
    pub database: Database,
    /// Connections per instance in the database pool (`DATABASE_MAX_CONNECTIONS`); Cloud SQL's
    /// connection limit is shared by every instance of every service.
    pub database_max_connections: u32,
    /// The live-seat store (`REDIS_URL`, a Redis Cluster's seed nodes with `REDIS_CLUSTER=true`);
    /// `None` selects the in-process store.
    pub redis: Option<RedisTarget>,
    /// The PEM file of the CA that signs the Redis server's certificate (`REDIS_CA_CERT`), trusted
    /// instead of the system roots: Memorystore's in-transit encryption uses a CA of its own, which
    /// Terraform mounts from Secret Manager as a file. Needs `rediss://` in `REDIS_URL`.
    pub redis_ca_cert: Option<PathBuf>,
    /// Put before every Redis key (`REDIS_KEY_PREFIX`), so environments or tests can share a Redis.
    pub redis_key_prefix: String,
    /// Identity Platform project id (`GOOGLE_CLOUD_PROJECT`), the ID tokens' audience.
    pub project_id: String,
    /// Firebase Auth Emulator host (`FIREBASE_AUTH_EMULATOR_HOST`); when set, emulator tokens count.
    pub auth_emulator_host: Option<String>,
    /// Identity Platform tenant that tokens must carry in `firebase.tenant`
    /// (`IDENTITY_PLATFORM_TENANT`), when multi-tenancy is used.
    pub identity_tenant: Option<String>,
    /// Where Google's ID-token keys are fetched (`GOOGLE_JWKS_URL`); tests serve their own.
    pub google_jwks_url: String,
    /// How clients sign in: the public Web API key (`IDENTITY_API_KEY`) and the Identity Toolkit
    /// and Secure Token endpoints (Google's, or the emulator's).
    pub sign_in: SignInConfig,
    /// The lease signing key (`LEASE_SIGNING_KEY`: a Cloud KMS key version name or a PKCS#8 PEM
    /// Ed25519 key file, generated on first run at the default path under `DATA_DIR`) and the
    /// keys of the same kind rotated out (`LEASE_RETIRED_KEYS`, comma-separated).
    pub lease_signing_key: LeaseSigningKey,
    /// The public keys admin publishes and heartbeat and release verify leases with
    /// (`LEASE_PUBLIC_KEYS`: comma-separated KMS key version names, or a JWKS file), so those
    /// services hold no private key. With a KMS `LEASE_SIGNING_KEY` it must list that version.
    pub lease_public_keys: Option<LeasePublicKeys>,
    /// Where Cloud KMS and the metadata server answer (`CLOUD_KMS_ENDPOINT`, `GCE_METADATA_HOST`;
    /// Google's own by default, local fakes in tests).
    pub kms: KmsEndpoints,
    /// `iss` of lease tokens (`LEASE_ISSUER`).
    pub lease_issuer: String,
    /// How long a seat lives without a heartbeat (`SEAT_TTL_SECONDS`, default 360).
    pub seat_ttl: Duration,
    /// How often clients are told to heartbeat (`HEARTBEAT_INTERVAL_SECONDS`, default 120).
    pub heartbeat_interval: Duration,
    /// How long a ticket in the queue lives without its machine asking again
    /// (`QUEUE_TICKET_SECONDS`, default 20): how long a seat stays reserved for a head of the queue
    /// that vanished without leaving.
    pub queue_ticket_ttl: Duration,
    /// How long a lease stays valid offline after it is issued (`OFFLINE_GRACE_SECONDS`).
    pub offline_grace: Duration,
    /// How long acquire may reuse a license it looked up (`LICENSE_CACHE_SECONDS`).
    pub license_cache_ttl: Duration,
    /// How long the FREE license of a new tenant lasts (`FREE_LICENSE_DAYS`); unset, forever.
    pub free_license_days: Option<u32>,
    /// How long an invitation can be redeemed (`INVITATION_TTL_DAYS`, default 7).
    pub invitation_ttl_days: u32,
    /// Longest a request may run before it answers 503 `timeout` (`REQUEST_TIMEOUT_SECONDS`).
    pub request_timeout: Duration,
    /// Largest request body accepted (`MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// How long in-flight requests may drain after SIGTERM (`SHUTDOWN_GRACE_SECONDS`); Cloud Run
    /// kills the instance 10 s after SIGTERM.
    pub shutdown_grace: Duration,
    /// How often the local server runs the cleanup task itself (`CLEANUP_INTERVAL_SECONDS`).
    pub cleanup_interval: Duration,
    /// Log filter (`LOG_LEVEL`, `tracing` directive syntax; default `info`).
    pub log_level: String,
    /// The Cloud Run service name (`K_SERVICE`), present only on Cloud Run.
    pub cloud_run_service: Option<String>,
    /// The address to listen on (`BIND_ADDRESS`); unset, loopback in emulator mode and every
    /// interface otherwise (`serving::listen_address`).
    pub bind_address: Option<std::net::IpAddr>,
    /// Where the local server serves its metrics as Prometheus text (`METRICS_ADDRESS`, e.g.
    /// `127.0.0.1:9464`); unset, nowhere. Refused on Cloud Run, where Cloud Monitoring's
    /// log-based metrics stand in for it.
    pub metrics_address: Option<std::net::SocketAddr>,
    /// How long a client may take to send a request's headers (`HEADER_READ_TIMEOUT_SECONDS`,
    /// default 10): from the accept for a new connection, from the first byte for a later request.
    pub header_read_timeout: Duration,
    /// How long a kept-alive connection may sit idle between requests (`KEEP_ALIVE_TIMEOUT_SECONDS`,
    /// default 75).
    pub keep_alive_timeout: Duration,
    /// Connections served at once (`MAX_CONNECTIONS`, default 10 000; lowered to fit the open-file
    /// limit); more wait in the listen backlog.
    pub max_connections: usize,
    /// How often machines and licenses may call acquire and release ([`RateLimits`]).
    pub rate_limits: RateLimits,
    /// Stripe: webhook secrets, the price table, the grace, the API (`crate::billing::config`).
    pub billing: crate::billing::BillingConfig,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(&lookup);
        let data_dir = PathBuf::from(vars.string("DATA_DIR").unwrap_or_else(|| "data".into()));
        let database = Database::parse(vars.string("DATABASE_URL").unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("coditect.db").display()
            )
        }))?;
        let redis = RedisTarget::from_vars(&vars)?;
        let redis_ca_cert = self::redis::redis_ca_cert(&vars, redis.as_ref())?;
        let seat_ttl = vars.seconds("SEAT_TTL_SECONDS", 360)?;
        let heartbeat_interval = vars.seconds("HEARTBEAT_INTERVAL_SECONDS", 120)?;
        if heartbeat_interval.is_zero() || heartbeat_interval >= seat_ttl {
            return Err(ConfigError::Malformed {
                name: "HEARTBEAT_INTERVAL_SECONDS",
                value: heartbeat_interval.as_secs().to_string(),
                reason: format!(
                    "must be above 0 and below SEAT_TTL_SECONDS ({}), or every seat expires between heartbeats",
                    seat_ttl.as_secs()
                ),
            });
        }
        let queue_ticket_ttl = vars.seconds("QUEUE_TICKET_SECONDS", 20)?;
        if queue_ticket_ttl < Duration::from_secs(2) {
            return Err(ConfigError::Malformed {
                name: "QUEUE_TICKET_SECONDS",
                value: queue_ticket_ttl.as_secs().to_string(),
                reason: "must be at least 2, or a waiting client loses its place between two polls"
                    .into(),
            });
        }
        let (lease_signing_key, lease_public_keys) = leases::lease_keys(&vars, &data_dir)?;
        let project_id = vars
            .string("GOOGLE_CLOUD_PROJECT")
            .unwrap_or_else(|| DEFAULT_PROJECT.into());
        let auth_emulator_host = vars.string("FIREBASE_AUTH_EMULATOR_HOST");
        let sign_in = SignInConfig::from_vars(
            &vars,
            auth_emulator_host.as_deref(),
            auth_emulator_host.is_some() || project_id.starts_with("demo-"),
        );
        Ok(Self {
            port: vars.parsed("PORT", 8080)?,
            database_max_connections: vars.parsed("DATABASE_MAX_CONNECTIONS", 5)?,
            database,
            redis,
            redis_ca_cert,
            redis_key_prefix: vars.string("REDIS_KEY_PREFIX").unwrap_or_default(),
            project_id,
            auth_emulator_host,
            identity_tenant: vars.string("IDENTITY_PLATFORM_TENANT"),
            google_jwks_url: vars
                .string("GOOGLE_JWKS_URL")
                .unwrap_or_else(|| GOOGLE_JWKS_URL.into()),
            sign_in,
            lease_signing_key,
            lease_public_keys,
            kms: KmsEndpoints {
                kms_api: vars.string("CLOUD_KMS_ENDPOINT").map_or_else(
                    || KMS_API.into(),
                    |url| url.trim_end_matches('/').to_owned(),
                ),
                // Google's client libraries read the same variable: a host[:port], no scheme.
                metadata: vars.string("GCE_METADATA_HOST").map_or_else(
                    || KmsEndpoints::google().metadata,
                    |host| format!("http://{}", host.trim()),
                ),
            },
            lease_issuer: vars
                .string("LEASE_ISSUER")
                .unwrap_or_else(|| "coditect-licensing".into()),
            seat_ttl,
            heartbeat_interval,
            queue_ticket_ttl,
            offline_grace: vars.seconds("OFFLINE_GRACE_SECONDS", 3600)?,
            license_cache_ttl: vars.seconds("LICENSE_CACHE_SECONDS", 5)?,
            free_license_days: match vars.string("FREE_LICENSE_DAYS") {
                Some(_) => Some(vars.parsed("FREE_LICENSE_DAYS", 0)?),
                None => None,
            },
            invitation_ttl_days: vars.parsed("INVITATION_TTL_DAYS", 7)?,
            request_timeout: vars.seconds("REQUEST_TIMEOUT_SECONDS", 10)?,
            max_body_bytes: vars.parsed("MAX_BODY_BYTES", 64 * 1024)?,
            shutdown_grace: vars.seconds("SHUTDOWN_GRACE_SECONDS", 8)?,
            cleanup_interval: vars.seconds("CLEANUP_INTERVAL_SECONDS", 60)?,
            log_level: vars.string("LOG_LEVEL").unwrap_or_else(|| "info".into()),
            cloud_run_service: vars.string("K_SERVICE"),
            bind_address: match vars.string("BIND_ADDRESS") {
                Some(_) => {
                    Some(vars.parsed("BIND_ADDRESS", std::net::Ipv4Addr::UNSPECIFIED.into())?)
                }
                None => None,
            },
            metrics_address: metrics_address(&vars)?,
            header_read_timeout: vars.positive_seconds("HEADER_READ_TIMEOUT_SECONDS", 10)?,
            keep_alive_timeout: vars.positive_seconds("KEEP_ALIVE_TIMEOUT_SECONDS", 75)?,
            max_connections: match vars.parsed("MAX_CONNECTIONS", 10_000_usize)? {
                0 => {
                    return Err(ConfigError::Malformed {
                        name: "MAX_CONNECTIONS",
                        value: "0".into(),
                        reason: "must be at least 1".into(),
                    });
                }
                n => n,
            },
            data_dir,
            rate_limits: RateLimits::from_vars(&vars)?,
            billing: crate::billing::BillingConfig::from_vars(&vars)?,
        })
    }

    /// Whether ID tokens are checked as the Firebase Auth Emulator issues them (unsigned): when the
    /// emulator host is set or the project is a `demo-` project, as the Firebase Admin SDKs decide.
    pub fn identity_emulated(&self) -> bool {
        self.auth_emulator_host.is_some() || self.project_id.starts_with("demo-")
    }

    /// Emulator mode without an emulator (the embedded default): nothing issues tokens, so a
    /// client may mint its own unsigned ones (the CLI's demo sign-in).
    pub fn demo_sign_in(&self) -> bool {
        self.identity_emulated() && self.auth_emulator_host.is_none()
    }
}

/// `METRICS_ADDRESS`, an `ip:port`; on Cloud Run (`K_SERVICE`) an instance's own counters would
/// be a random slice of the service's, and its one port is the service's, so it is refused.
fn metrics_address(vars: &Vars<'_>) -> Result<Option<std::net::SocketAddr>, ConfigError> {
    let Some(value) = vars.string("METRICS_ADDRESS") else {
        return Ok(None);
    };
    if vars.string("K_SERVICE").is_some() {
        return Err(ConfigError::Malformed {
            name: "METRICS_ADDRESS",
            value,
            reason:
                "is for a single-node install; on Cloud Run the metrics are Cloud Monitoring's \
                     log-based metrics (terraform/modules/monitoring)"
                    .into(),
        });
    }
    let addr = "127.0.0.1:9464".parse().expect("a socket address");
    Ok(Some(vars.parsed("METRICS_ADDRESS", addr)?))
}

#[cfg(test)]
mod tests;
