//! The tenants the clients draw from, set up as people do it: over HTTP an owner registers and
//! invites the members, who register in turn. Seat counts have no HTTP endpoint yet (Stripe sets
//! them), so they are written through a records store: the in-process server's own handle, or the
//! `--database-url` of an external one.

use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::Utc;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use shared::api::{InvitationResponse, RegisterResponse};
use shared::domain::{LicenseStatus, Tier};
use shared::store::{LicensePlan, PgStore, SqliteStore, Store};
use tokio::runtime::Handle;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::scenario::Workload;
use super::target::Urls;
use crate::tokens::Person;

/// Licenses set up at once.
const SETUP_CONCURRENCY: usize = 8;

/// One license the clients draw from.
#[derive(Debug, Clone)]
pub struct LicenseUnderTest {
    /// The license (the seat pool's key).
    pub id: Uuid,
    /// Its tenant.
    pub tenant: Uuid,
    /// Its `max_seats` as set.
    pub seats: u32,
    /// Who registered the tenant; reads the live sessions for the audit of an external server.
    pub owner: Person,
    /// The members the clients sign in as.
    pub members: Vec<Person>,
}

/// A records store on `url` (PostgreSQL or SQLite).
pub(crate) async fn connect(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else {
        Ok(Arc::new(PgStore::connect_lazy(url, 2)?))
    }
}

/// Gives every license its seat count, on the runtime that owns `store`.
pub(crate) async fn set_seats(
    runtime: &Handle,
    store: Arc<dyn Store>,
    licenses: &[LicenseUnderTest],
) -> anyhow::Result<()> {
    let plans: Vec<(Uuid, u32)> = licenses.iter().map(|l| (l.tenant, l.seats)).collect();
    runtime
        .spawn(async move {
            for (tenant, seats) in plans {
                let plan = LicensePlan {
                    tier: Tier::Team,
                    max_seats: i32::try_from(seats)?,
                    features: Vec::new(),
                    status: LicenseStatus::Active,
                    expires_at: None,
                };
                store.update_license(tenant, &plan, Utc::now()).await?;
            }
            anyhow::Ok(())
        })
        .await?
}

/// Registers an owner and `members_per_license` members for each license, a few licenses at once.
pub(crate) async fn register_all(
    http: &reqwest::Client,
    urls: &Urls,
    workload: &Workload,
) -> anyhow::Result<Vec<LicenseUnderTest>> {
    let gate = Arc::new(Semaphore::new(SETUP_CONCURRENCY));
    let mut setups = JoinSet::new();
    for index in 0..workload.licenses {
        let (http, admin, gate) = (http.clone(), urls.admin.clone(), gate.clone());
        let (members, seats) = (workload.members_per_license(), workload.seats);
        setups.spawn(async move {
            let _permit = gate.acquire().await?;
            let license = register_license(&http, &admin, index, members, seats).await;
            license.map(|l| (index, l))
        });
    }
    let mut licenses = Vec::with_capacity(workload.licenses);
    while let Some(done) = setups.join_next().await {
        licenses.push(done??);
    }
    licenses.sort_by_key(|(index, _)| *index);
    Ok(licenses.into_iter().map(|(_, l)| l).collect())
}

async fn register_license(
    http: &reqwest::Client,
    admin: &str,
    index: usize,
    members: usize,
    seats: u32,
) -> anyhow::Result<LicenseUnderTest> {
    let domain = format!("lic{index}.loadgen.test");
    let owner = Person::at(&domain);
    let registered: RegisterResponse = call(
        http,
        reqwest::Method::POST,
        &format!("{admin}/api/v1/register"),
        &owner,
        None,
    )
    .await
    .context("registering a tenant's owner")?;
    let tenant = registered.tenant.id;
    let license = registered.license.id;
    let mut people = Vec::with_capacity(members);
    for _ in 0..members {
        let member = Person::at(&domain);
        call::<InvitationResponse>(
            http,
            reqwest::Method::POST,
            &format!("{admin}/api/v1/tenants/{tenant}/invitations"),
            &owner,
            Some(json!({"email": member.email, "role": "MEMBER"})),
        )
        .await
        .context("inviting a member")?;
        let joined: RegisterResponse = call(
            http,
            reqwest::Method::POST,
            &format!("{admin}/api/v1/register"),
            &member,
            None,
        )
        .await
        .context("registering an invited member")?;
        if joined.tenant.id != tenant {
            bail!("an invited member joined another tenant: {joined:?}");
        }
        people.push(member);
    }
    Ok(LicenseUnderTest {
        id: license,
        tenant,
        seats,
        owner,
        members: people,
    })
}

/// One authenticated JSON call that must succeed; its body as the type the server promises.
pub(crate) async fn call<T: DeserializeOwned>(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    who: &Person,
    body: Option<Value>,
) -> anyhow::Result<T> {
    let mut request = http.request(method, url).bearer_auth(who.token());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.with_context(|| url.to_owned())?;
    let status = response.status();
    let text = response.text().await.with_context(|| url.to_owned())?;
    if !status.is_success() {
        bail!("{url} answered {status}: {text}");
    }
    serde_json::from_str(&text)
        .with_context(|| format!("{url} answered {status} with an unexpected body: {text}"))
}
