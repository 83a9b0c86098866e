//! A short cache of who a caller is and what license their tenant holds.
//!
//! Every CLI start calls acquire; fleets (CI runners, a team opening laptops at nine) call it in
//! bursts. Caching the membership and license for a few seconds (`LICENSE_CACHE_SECONDS`, 5 by
//! default) takes the database off that burst while keeping changes prompt: a suspension, a new
//! seat count or a removed member takes effect within that time. The seat cap itself is enforced
//! by the seat store on every call, never by this cache.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use shared::api::ProblemCode;
use shared::domain::{License, User};
use shared::error::{ApiError, Problem};
use shared::store::Store;
use tokio::sync::Mutex;

/// Entries beyond which the cache is cleared rather than grown (a bound on memory).
const MAX_ENTRIES: usize = 10_000;

/// Membership and license by Identity Platform uid.
pub struct LicenseCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, User, License)>>,
}

impl LicenseCache {
    /// A cache keeping entries for `ttl` (zero disables it).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The member signed in as `uid` and their tenant's license; `no_license` when they have none.
    pub async fn lookup(&self, store: &dyn Store, uid: &str) -> Result<(User, License), ApiError> {
        if let Some((at, user, license)) = self.entries.lock().await.get(uid)
            && at.elapsed() < self.ttl
        {
            return Ok((user.clone(), license.clone()));
        }
        let no_license = |detail: &str| {
            ApiError::from(Problem::new(
                StatusCode::FORBIDDEN,
                ProblemCode::NoLicense,
                detail,
            ))
        };
        let user = store.user_by_uid(uid).await?.ok_or_else(|| {
            no_license("You are not a member of an organisation yet: register first (POST /api/v1/register), or ask an owner to invite your email.")
        })?;
        let license = store
            .license_of_tenant(user.tenant_id)
            .await?
            .ok_or_else(|| {
                no_license("Your organisation holds no license; an owner can subscribe to a plan.")
            })?;
        if !self.ttl.is_zero() {
            let mut entries = self.entries.lock().await;
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(
                uid.to_owned(),
                (Instant::now(), user.clone(), license.clone()),
            );
        }
        Ok((user, license))
    }
}
