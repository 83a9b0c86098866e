//! One run of a scenario: set the server up, then for each phase drive the same fleet at raw
//! Redis (the baseline) and at the service, auditing the seat store meanwhile, and tear down.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use shared::config::RedisTarget;
use shared::seats::{RedisEndpoint, RedisSeats};
use tokio::sync::watch;
use uuid::Uuid;

use super::cpu::{CpuMeter, CpuUse};
use super::driver::{PhaseRun, run_phase};
use super::ledger::{Ledger, Verdict, audit};
use super::scenario::{Phase, Scenario};
use super::stats::{Endpoint, Summary};
use super::target::{HolderSource, Target, Where};
use super::transport::{Api, Client, HttpApi, RawLicense, RawRedis};

/// What to run, where.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The scenario, with any flag overrides applied.
    pub scenario: Scenario,
    /// The server.
    pub place: Where,
    /// The Redis of the raw baseline; `None` skips it.
    pub baseline_redis: Option<BaselineRedis>,
    /// Pause between two sweeps of the seat-store audit; `None` turns it off.
    pub audit_every: Option<Duration>,
}

/// Where the raw baseline runs its scripts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaselineRedis {
    /// A Redis instance or cluster (`--redis-url`, `$REDIS_URL` and `$REDIS_CLUSTER`).
    At(RedisTarget),
    /// The local Redis Cluster `--backend cluster` starts for the server.
    LocalCluster,
}

impl BaselineRedis {
    /// The Redis itself, starting the local cluster if it is that one and not running yet.
    pub fn target(&self) -> anyhow::Result<RedisTarget> {
        match self {
            Self::At(target) => Ok(target.clone()),
            Self::LocalCluster => crate::redis_cluster::shared()
                .map(|cluster| cluster.target())
                .context("the local Redis Cluster needs redis-server and redis-cli installed"),
        }
    }
}

/// One side's figures for a phase.
#[derive(Debug, Clone)]
pub struct SideReport {
    /// Wall time of the phase.
    pub elapsed: Duration,
    /// Acquire, heartbeat, release and the floor, in [`Endpoint::ALL`] order.
    pub endpoints: Vec<Summary>,
    /// The invariant checks.
    pub verdict: Verdict,
    /// CPU seconds each side of the machine spent on the phase, where it could be read.
    pub cpu: Option<CpuUse>,
}

impl SideReport {
    /// The figures of `endpoint`.
    pub fn of(&self, endpoint: Endpoint) -> &Summary {
        &self.endpoints[endpoint as usize]
    }

    /// Requests per second of every endpoint together.
    pub fn rate(&self) -> f64 {
        self.endpoints.iter().map(|s| s.per_second).sum()
    }
}

/// One phase on both sides.
#[derive(Debug, Clone)]
pub struct PhaseReport {
    /// Which phase.
    pub phase: Phase,
    /// The service over HTTP.
    pub http: SideReport,
    /// Raw EVALSHA on Redis, when a Redis was given.
    pub raw: Option<SideReport>,
}

/// One run of a scenario.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The scenario as run.
    pub scenario: Scenario,
    /// Which server and backends.
    pub target: String,
    /// The phases in order.
    pub phases: Vec<PhaseReport>,
}

impl RunReport {
    /// Whether the invariant held on every side of every phase.
    pub fn invariant_held(&self) -> bool {
        self.phases
            .iter()
            .all(|p| p.http.verdict.held() && p.raw.as_ref().is_none_or(|raw| raw.verdict.held()))
    }

    /// Failures other than `seats_exhausted` and `rate_limited`, over the whole HTTP side.
    pub fn unexpected_errors(&self) -> u64 {
        self.phases
            .iter()
            .flat_map(|p| &p.http.endpoints)
            .map(Summary::unexpected_errors)
            .sum()
    }
}

/// Runs `options.scenario` once.
pub async fn run(options: &RunOptions) -> anyhow::Result<RunReport> {
    let workload = &options.scenario.workload;
    eprintln!(
        "setting up {} licenses for {} clients…",
        workload.licenses, workload.clients
    );
    let target = Target::prepare(&options.place, workload).await?;
    let result = run_on(&target, options).await;
    target.shutdown().await?;
    result
}

async fn run_on(target: &Target, options: &RunOptions) -> anyhow::Result<RunReport> {
    let scenario = &options.scenario;
    let workload = &scenario.workload;
    let clients: Vec<Client> = (0..workload.clients)
        .map(|index| {
            let license = workload.license_of(index);
            let members = &target.licenses[license].members;
            Client {
                index,
                license,
                id_token: members[(index / workload.licenses) % members.len()].token(),
                fingerprint: format!("{index:016x}{:016x}", 0x10ad_6e4e_u64),
                hostname: format!("loadgen-{index}"),
            }
        })
        .collect();
    let seats: Vec<u32> = target.licenses.iter().map(|l| l.seats).collect();
    let http = Arc::new(Api::Http(HttpApi::new(&target.urls)?));
    let baseline_redis = match &options.baseline_redis {
        Some(redis) => Some(redis.target()?),
        None => None,
    };
    let raw = match &baseline_redis {
        Some(redis) => Some(Baseline::connect(redis, target).await?),
        None => None,
    };
    let meter = CpuMeter::new(target.in_process(), baseline_redis.as_ref()).await;
    let mut phases = Vec::new();
    for &phase in &scenario.phases {
        let raw_side = match &raw {
            Some(baseline) => {
                eprintln!("{} / {}: raw Redis baseline…", scenario.name, phase.name());
                let source = baseline.holders()?;
                Some(
                    side(
                        baseline.api.clone(),
                        &clients,
                        options,
                        &meter,
                        phase,
                        &seats,
                        source,
                    )
                    .await?,
                )
            }
            None => None,
        };
        eprintln!("{} / {}: HTTP service…", scenario.name, phase.name());
        let http_side = side(
            http.clone(),
            &clients,
            options,
            &meter,
            phase,
            &seats,
            target.holders(),
        )
        .await?;
        phases.push(PhaseReport {
            phase,
            http: http_side,
            raw: raw_side,
        });
    }
    if let Some(baseline) = raw {
        baseline.clean().await?;
    }
    Ok(RunReport {
        scenario: scenario.clone(),
        target: target.description.clone(),
        phases,
    })
}

/// Runs one phase on one side with the seat-store audit alongside.
async fn side(
    api: Arc<Api>,
    clients: &[Client],
    options: &RunOptions,
    meter: &CpuMeter,
    phase: Phase,
    seats: &[u32],
    (source, runtime): (HolderSource, tokio::runtime::Handle),
) -> anyhow::Result<SideReport> {
    let ledger = Arc::new(Ledger::new(seats.to_vec()));
    let (stop, stopped) = watch::channel(false);
    let auditor = options
        .audit_every
        .map(|every| runtime.spawn(audit(source, ledger.clone(), every, stopped)));
    let measuring = meter.start().await;
    let run = run_phase(
        api,
        clients,
        &options.scenario.workload,
        phase,
        ledger.clone(),
    )
    .await;
    let cpu = meter.stop(measuring).await;
    let _ = stop.send(true);
    if let Some(auditor) = auditor {
        auditor.await?;
    }
    let PhaseRun { stats, elapsed } = run?;
    Ok(SideReport {
        elapsed,
        endpoints: Endpoint::ALL
            .iter()
            .map(|&e| stats.of(e).summary(elapsed))
            .collect(),
        verdict: ledger.verdict(),
        cpu,
    })
}

/// The raw side: the same licenses, in Redis only, under a prefix of their own.
struct Baseline {
    api: Arc<Api>,
    redis: RedisTarget,
    prefix: String,
    licenses: Vec<Uuid>,
}

impl Baseline {
    async fn connect(redis: &RedisTarget, target: &Target) -> anyhow::Result<Self> {
        let prefix = format!("loadgen:{}:", Uuid::new_v4().simple());
        let licenses: Vec<RawLicense> = target
            .licenses
            .iter()
            .map(|l| RawLicense {
                id: Uuid::new_v4(),
                tenant: Uuid::new_v4(),
                users: l.members.iter().map(|_| Uuid::new_v4()).collect(),
                seats: l.seats,
            })
            .collect();
        let ids = licenses.iter().map(|l| l.id).collect();
        let api = Api::Raw(RawRedis::connect(redis, &prefix, licenses).await?);
        Ok(Self {
            api: Arc::new(api),
            redis: redis.clone(),
            prefix,
            licenses: ids,
        })
    }

    fn store(&self) -> anyhow::Result<RedisSeats> {
        let endpoint = RedisEndpoint::new(&self.redis, super::transport::redis_ca()?)?;
        Ok(RedisSeats::on(endpoint, &self.prefix))
    }

    fn holders(&self) -> anyhow::Result<(HolderSource, tokio::runtime::Handle)> {
        Ok((
            HolderSource::Store {
                seats: Arc::new(self.store()?),
                licenses: self.licenses.clone(),
            },
            tokio::runtime::Handle::current(),
        ))
    }

    async fn clean(self) -> anyhow::Result<()> {
        self.store()?.delete_all().await?;
        Ok(())
    }
}
