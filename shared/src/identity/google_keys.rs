//! Google's ID-token signing keys, fetched from the published JWKS and cached.
//!
//! Keys are cached for the `Cache-Control: max-age` the endpoint sends, but never less than
//! [`RefreshPolicy::min_max_age`] (60 s): an answer with `max-age=0` would otherwise make every
//! token fetch the keys. A token naming an unknown `kid` triggers one refresh (Google may have
//! rotated), but at most once per [`RefreshPolicy::unknown_kid_floor`] (30 s), so a flood of forged
//! tokens cannot turn into a flood of requests to Google. When a refresh fails, the cached keys
//! stay in use and the next attempt waits for the same floor.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;
use tokio::sync::Mutex;

use super::IdentityError;

/// Used when the endpoint sends no usable `max-age`.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3600);

/// How often the keys may be fetched. Production uses [`RefreshPolicy::default`]; tests shorten
/// the floors instead of sleeping through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// The shortest time fetched keys are cached, whatever the endpoint's `max-age` says.
    pub min_max_age: Duration,
    /// The shortest time between two refreshes caused by unknown `kid`s, and between a failed
    /// fetch and the next attempt.
    pub unknown_kid_floor: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            min_max_age: Duration::from_secs(60),
            unknown_kid_floor: Duration::from_secs(30),
        }
    }
}

/// The cached key set.
pub struct GoogleKeys {
    url: String,
    http: reqwest::Client,
    policy: RefreshPolicy,
    cache: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, DecodingKey>,
    /// When the cached keys go stale.
    fresh_until: Option<Instant>,
    /// When the last fetch was made, for the refresh floor.
    fetched_at: Option<Instant>,
}

impl GoogleKeys {
    /// Keys from `url` (Google's endpoint in production; a local server in tests), fetched as
    /// often as `policy` allows.
    pub fn new(url: &str, policy: RefreshPolicy) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self {
            url: url.to_owned(),
            http,
            policy,
            cache: Mutex::new(Cache::default()),
        })
    }

    /// The key named `kid`, fetching the key set if the cache is stale or (rate-limited) if the
    /// `kid` is unknown.
    pub async fn key(&self, kid: &str) -> Result<DecodingKey, IdentityError> {
        let mut cache = self.cache.lock().await;
        let now = Instant::now();
        let stale = cache.fresh_until.is_none_or(|until| now >= until);
        let unknown = !cache.keys.contains_key(kid);
        let may_refresh_for_kid = cache
            .fetched_at
            .is_none_or(|at| now.duration_since(at) >= self.policy.unknown_kid_floor);
        if stale || (unknown && may_refresh_for_kid) {
            match self.fetch().await {
                Ok((keys, max_age)) => {
                    cache.keys = keys;
                    cache.fresh_until = Some(now + max_age.max(self.policy.min_max_age));
                    cache.fetched_at = Some(now);
                }
                Err(e) => {
                    // Retry after the floor, not on every token while the endpoint is down: each
                    // retry holds the lock for up to the request timeout, and a token flood must
                    // not become a request flood, with or without keys cached.
                    cache.fetched_at = Some(now);
                    cache.fresh_until = Some(now + self.policy.unknown_kid_floor);
                    // Stale keys still verify Google's signatures; only fail when there are none.
                    if cache.keys.is_empty() {
                        return Err(IdentityError::KeysUnavailable(e));
                    }
                    tracing::warn!(error = %e, "refreshing Google's ID-token keys failed; using cached keys");
                }
            }
        }
        if cache.keys.is_empty() {
            return Err(IdentityError::KeysUnavailable(
                "no keys fetched yet; the last attempt failed moments ago".into(),
            ));
        }
        cache.keys.get(kid).cloned().ok_or_else(|| {
            IdentityError::Invalid(format!("kid {kid:?} is not a current Google key"))
        })
    }

    async fn fetch(&self) -> Result<(HashMap<String, DecodingKey>, Duration), String> {
        let response = self
            .http
            .get(&self.url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| e.to_string())?;
        let max_age = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age)
            .unwrap_or(DEFAULT_MAX_AGE);
        let set: JwkSet = response.json().await.map_err(|e| e.to_string())?;
        let keys = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                DecodingKey::from_jwk(jwk).ok().map(|key| (kid, key))
            })
            .collect();
        Ok((keys, max_age))
    }
}

/// The `max-age` of a `Cache-Control` header.
fn max_age(header: &str) -> Option<Duration> {
    header
        .split(',')
        .filter_map(|part| part.trim().strip_prefix("max-age="))
        .find_map(|secs| secs.trim().parse().ok())
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_among_other_directives() {
        assert_eq!(
            max_age("public, max-age=19302, must-revalidate"),
            Some(Duration::from_secs(19302))
        );
        assert_eq!(max_age("no-cache"), None);
    }
}
