//! Where live seats are kept: `REDIS_URL`, `REDIS_CLUSTER` and `REDIS_CA_CERT`.
//!
//! One Redis instance (Memorystore for Redis) is the default. `REDIS_CLUSTER=true` makes
//! `REDIS_URL` the seed nodes of a Redis Cluster (Memorystore Cluster's discovery endpoint, or a
//! comma-separated list of nodes); the client learns every other node from them. The scripts are
//! the same either way: every key of a license shares its hash tag, so each script touches one slot.

use std::path::PathBuf;

use super::{ConfigError, Secret, Vars};

/// The Redis that holds the live seats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisTarget {
    /// One instance at this URL.
    Instance(Secret),
    /// A Redis Cluster, reached through these seed nodes (at least one, all `redis://` or all
    /// `rediss://`).
    Cluster(Vec<Secret>),
}

impl RedisTarget {
    /// Every URL named: the instance's, or each seed's.
    pub fn urls(&self) -> Vec<&str> {
        match self {
            Self::Instance(url) => vec![url.expose()],
            Self::Cluster(seeds) => seeds.iter().map(Secret::expose).collect(),
        }
    }

    /// Whether the connection is TLS (`rediss://`); seeds of a cluster all agree.
    pub fn is_tls(&self) -> bool {
        self.urls().iter().all(|url| url.starts_with("rediss://"))
    }

    /// `url` read as `REDIS_URL` is, a cluster's seed nodes when `cluster` (`REDIS_CLUSTER=true`):
    /// for tools that take the same values from elsewhere, like the load generator.
    pub fn parse(url: &str, cluster: bool) -> Result<Self, ConfigError> {
        let lookup = |name: &str| match name {
            "REDIS_URL" => Some(url.to_owned()),
            "REDIS_CLUSTER" => Some(cluster.to_string()),
            _ => None,
        };
        Self::from_vars(&Vars(&lookup))?.ok_or(ConfigError::Missing {
            name: "REDIS_URL",
            reason: "a Redis URL is needed here",
        })
    }

    /// Parses `REDIS_URL` and `REDIS_CLUSTER`; URLs are never echoed, they may hold a password.
    pub(super) fn from_vars(vars: &Vars<'_>) -> Result<Option<Self>, ConfigError> {
        let cluster = cluster_flag(vars)?;
        let Some(raw) = vars.string("REDIS_URL") else {
            if cluster {
                return Err(ConfigError::Missing {
                    name: "REDIS_URL",
                    reason: "REDIS_CLUSTER=true needs the cluster's seed nodes in REDIS_URL",
                });
            }
            return Ok(None);
        };
        let urls = vars.list("REDIS_URL");
        let malformed = |reason: &str| ConfigError::Malformed {
            name: "REDIS_URL",
            value: "[redacted]".into(),
            reason: reason.into(),
        };
        if urls
            .iter()
            .any(|url| !(url.starts_with("redis://") || url.starts_with("rediss://")))
        {
            return Err(malformed("expected redis:// or rediss:// URLs"));
        }
        if !cluster {
            return match urls.as_slice() {
                [_] if !raw.contains(',') => Ok(Some(Self::Instance(Secret::new(raw.trim())))),
                _ => Err(malformed(
                    "several URLs are the seed nodes of a Redis Cluster: set REDIS_CLUSTER=true, \
                     or give one URL",
                )),
            };
        }
        let tls = urls
            .iter()
            .filter(|url| url.starts_with("rediss://"))
            .count();
        if tls != 0 && tls != urls.len() {
            return Err(malformed(
                "the seed nodes mix redis:// and rediss://; a cluster is either all TLS or none",
            ));
        }
        Ok(Some(Self::Cluster(
            urls.into_iter().map(Secret::new).collect(),
        )))
    }
}

/// `REDIS_CLUSTER`: `true` or `false` (default), as Terraform writes it.
fn cluster_flag(vars: &Vars<'_>) -> Result<bool, ConfigError> {
    match vars
        .string("REDIS_CLUSTER")
        .map(|v| v.trim().to_ascii_lowercase())
    {
        None => Ok(false),
        Some(value) => match value.as_str() {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            _ => Err(ConfigError::Malformed {
                name: "REDIS_CLUSTER",
                value,
                reason: "expected true or false".into(),
            }),
        },
    }
}

/// `REDIS_CA_CERT`, a path (Terraform mounts the secret as a file). A CA only means something to a
/// TLS connection, so with a plain or missing `REDIS_URL` it is a mistake, not something to ignore:
/// the operator believes the connection is verified.
pub(super) fn redis_ca_cert(
    vars: &Vars<'_>,
    redis: Option<&RedisTarget>,
) -> Result<Option<PathBuf>, ConfigError> {
    let Some(path) = vars.string("REDIS_CA_CERT") else {
        return Ok(None);
    };
    // The content pasted in place of the path: say so rather than "no such file -----BEGIN…".
    if path.trim_start().starts_with("-----BEGIN") {
        return Err(ConfigError::Malformed {
            name: "REDIS_CA_CERT",
            value: "[PEM content]".into(),
            reason: "expected the path of a PEM file, not the PEM itself".into(),
        });
    }
    match redis {
        None => Err(ConfigError::Missing {
            name: "REDIS_URL",
            reason: "REDIS_CA_CERT is set, and a CA is only used by a rediss:// Redis",
        }),
        Some(target) if !target.is_tls() => Err(ConfigError::Malformed {
            name: "REDIS_CA_CERT",
            value: path,
            reason: "is set, but REDIS_URL is a plain redis:// URL, so the CA would never be \
                     used; use rediss:// (TLS) or unset REDIS_CA_CERT"
                .into(),
        }),
        Some(_) => Ok(Some(PathBuf::from(path))),
    }
}
