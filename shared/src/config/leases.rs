//! The lease keys, typed at start-up: which key signs (a Cloud KMS key version or an Ed25519 key
//! file), which rotated-out keys are still accepted, and which public keys the services that never
//! sign trust. Every rule that relates these variables is checked here, once, so a deployment with
//! mismatched keys stops at start-up with a sentence instead of signing leases nobody can verify.

use std::path::{Path, PathBuf};

use super::{ConfigError, Vars};
use crate::leases::kms::KeyVersionName;

/// The key acquire signs leases with (`LEASE_SIGNING_KEY`), and the keys of the same kind rotated
/// out whose leases may still be in use (`LEASE_RETIRED_KEYS`): published and accepted, never used
/// to sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseSigningKey {
    /// A Cloud KMS RSA key version (`RSA_SIGN_PKCS1_*_SHA256`); the private key never leaves KMS.
    Kms {
        /// The version that signs.
        version: KeyVersionName,
        /// Versions rotated out.
        retired: Vec<KeyVersionName>,
    },
    /// A PKCS#8 PEM Ed25519 key file.
    File {
        /// The key file.
        path: PathBuf,
        /// Key files rotated out (private or public PEM).
        retired: Vec<PathBuf>,
        /// Whether a missing file is generated: only at the default path under `DATA_DIR` (the
        /// embedded default). A configured path that does not exist is a deployment mistake, not
        /// a reason to mint a key nobody else trusts.
        generate: bool,
    },
}

impl LeaseSigningKey {
    /// The key file, when the key is one (tests sign leases of their own with it).
    pub fn file(&self) -> Option<&Path> {
        match self {
            Self::File { path, .. } => Some(path),
            Self::Kms { .. } => None,
        }
    }
}

/// The public keys trusted by the services that never sign (`LEASE_PUBLIC_KEYS`): admin publishes
/// them, heartbeat and release verify with them, and none of the three holds a private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeasePublicKeys {
    /// KMS key versions, their public keys fetched at start-up.
    Kms(Vec<KeyVersionName>),
    /// A JWKS document saved from `/.well-known/jwks.json`.
    JwksFile(PathBuf),
}

/// Reads `LEASE_SIGNING_KEY`, `LEASE_RETIRED_KEYS` and `LEASE_PUBLIC_KEYS`.
pub(super) fn lease_keys(
    vars: &Vars<'_>,
    data_dir: &Path,
) -> Result<(LeaseSigningKey, Option<LeasePublicKeys>), ConfigError> {
    let default_path = data_dir.join("lease-signing-key.pem");
    let retired = vars.list("LEASE_RETIRED_KEYS");
    let signing = match vars.string("LEASE_SIGNING_KEY") {
        Some(value) if looks_like_kms(&value) => LeaseSigningKey::Kms {
            version: version_of("LEASE_SIGNING_KEY", &value)?,
            retired: retired
                .iter()
                .map(|entry| {
                    if looks_like_kms(entry) {
                        version_of("LEASE_RETIRED_KEYS", entry)
                    } else {
                        Err(malformed(
                            "LEASE_RETIRED_KEYS",
                            entry,
                            "is a key file, but LEASE_SIGNING_KEY is a KMS key version; list \
                             retired KMS key versions instead",
                        ))
                    }
                })
                .collect::<Result<_, _>>()?,
        },
        path => {
            if let Some(entry) = retired.iter().find(|entry| looks_like_kms(entry)) {
                return Err(malformed(
                    "LEASE_RETIRED_KEYS",
                    entry,
                    "is a KMS key version, but LEASE_SIGNING_KEY is a key file; list retired key \
                     files instead",
                ));
            }
            let path = path.map_or_else(|| default_path.clone(), PathBuf::from);
            LeaseSigningKey::File {
                generate: path == default_path,
                path,
                retired: retired.iter().map(PathBuf::from).collect(),
            }
        }
    };
    let public = match vars.string("LEASE_PUBLIC_KEYS") {
        None => None,
        Some(value) if looks_like_kms(&value) => Some(LeasePublicKeys::Kms(
            vars.list("LEASE_PUBLIC_KEYS")
                .iter()
                .map(|name| version_of("LEASE_PUBLIC_KEYS", name))
                .collect::<Result<_, _>>()?,
        )),
        Some(path) => Some(LeasePublicKeys::JwksFile(PathBuf::from(path.trim()))),
    };
    if let (LeaseSigningKey::Kms { version, .. }, Some(LeasePublicKeys::Kms(published))) =
        (&signing, &public)
        && !published.contains(version)
    {
        return Err(malformed(
            "LEASE_SIGNING_KEY",
            version.as_str(),
            "is not in LEASE_PUBLIC_KEYS: publish a key version before signing with it, or \
             clients cannot verify its leases",
        ));
    }
    Ok((signing, public))
}

/// Whether a value names KMS key versions rather than files.
fn looks_like_kms(value: &str) -> bool {
    value.trim_start().starts_with("projects/")
}

fn version_of(name: &'static str, value: &str) -> Result<KeyVersionName, ConfigError> {
    KeyVersionName::parse(value.trim()).ok_or_else(|| {
        malformed(
            name,
            value,
            "is not a KMS key version name \
             (projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N)",
        )
    })
}

fn malformed(name: &'static str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Malformed {
        name,
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}
