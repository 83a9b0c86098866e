//! Typed reads of environment variables, each error naming its variable.

use std::fmt;
use std::time::Duration;

use super::ConfigError;

/// Typed access to variables, naming the variable in every error.
pub(crate) struct Vars<'a>(pub(crate) &'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    /// A variable's value; set-but-empty counts as unset, as Cloud Run's console leaves them.
    pub(crate) fn string(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    /// A comma-separated list, its entries trimmed, empty entries dropped.
    pub(crate) fn list(&self, name: &str) -> Vec<String> {
        self.string(name)
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|entry| !entry.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn parsed<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: std::str::FromStr,
        T::Err: fmt::Display,
    {
        match self.string(name) {
            None => Ok(default),
            Some(value) => value
                .trim()
                .parse()
                .map_err(|e: T::Err| ConfigError::Malformed {
                    name,
                    reason: e.to_string(),
                    value,
                }),
        }
    }

    pub(crate) fn seconds(
        &self,
        name: &'static str,
        default: u64,
    ) -> Result<Duration, ConfigError> {
        self.parsed(name, default).map(Duration::from_secs)
    }

    /// Seconds that must not be 0 (a timeout of 0 would close every connection at once).
    pub(crate) fn positive_seconds(
        &self,
        name: &'static str,
        default: u64,
    ) -> Result<Duration, ConfigError> {
        match self.seconds(name, default)? {
            d if d.is_zero() => Err(ConfigError::Malformed {
                name,
                value: "0".into(),
                reason: "must be at least 1 second".into(),
            }),
            d => Ok(d),
        }
    }
}
