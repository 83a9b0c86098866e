//! The command line of `loadgen`, parsed by hand: a dozen flags do not earn an argument-parser
//! dependency in the test crate.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{anyhow, bail};
use shared::config::RedisTarget;

use super::binaries::BinariesOptions;
use super::run::{BaselineRedis, RunOptions};
use super::scenario::{NAMES, Phase, Scenario};
use super::target::{Urls, Where};
use crate::server::Backends;

/// The usage text.
pub const USAGE: &str = "\
loadgen — simulated CLI clients against the licensing service, with a raw Redis baseline

USAGE:
    loadgen <seed|contention|scale|peak> [OPTIONS]
    loadgen binaries [--bin-dir DIR] [--runs N] [--duration S]

SERVER (default: the local server in this process on --backend embedded):
    --backend embedded|real|cluster
                              in-process backends; real = $DATABASE_URL + $REDIS_URL (a fresh
                              schema and key prefix, removed afterwards; with
                              REDIS_CLUSTER=true, $REDIS_URL is a Redis Cluster's seed nodes);
                              cluster = $DATABASE_URL + a local 3-master Redis Cluster started
                              on free ports (needs redis-server and redis-cli)
    --url URL                 an external server (every function at URL) instead
    --acquire-url, --heartbeat-url, --release-url, --admin-url URL
                              one function elsewhere (Cloud Run: one URL per service)
    --database-url URL        the external server's records database, to set seat counts
                              (without it every license keeps the FREE plan's 1 seat)

BASELINE:
    --redis-url URL|none      Redis for the raw EVALSHA baseline (default $REDIS_URL; the
                              local cluster with --backend cluster); with REDIS_CLUSTER=true a
                              cluster's seed nodes, comma-separated

FLEET (override the scenario's preset):
    --clients N  --licenses N  --seats N  --users-per-license N
    --duration S              seconds per phase
    --heartbeat-interval MS   pause between heartbeats (0 = back to back); in the
                              acquire-only phase, between acquires
    --heartbeats N|hold       heartbeats per session before release
    --ramp MS                 spread client starts over this time
    --rate-limits on|off      the in-process server's default rate limits (default: on for
                              contention, off for the rest; a --url server has its own)
    --phases P[,P…]           lifecycle, heartbeat-only, acquire-only (default: the preset's)

OUTPUT:
    --audit-interval MS       seat-store audit period (0 = off; default 500)
    --repeat N                run N times; print each run and the medians
    --json PATH               append one JSON line per run

Exit status: 0 when the seat invariant held and no unexpected error occurred, 1 otherwise.
";

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// Run a scenario.
    Run(Box<RunCommand>),
    /// Measure the release binaries.
    Binaries(BinariesOptions),
    /// Print the usage.
    Help,
}

/// A scenario run and how to present it.
#[derive(Debug)]
pub struct RunCommand {
    /// The run itself.
    pub options: RunOptions,
    /// How many times.
    pub repeat: usize,
    /// Where to append JSON lines.
    pub json: Option<PathBuf>,
}

fn value<T: FromStr>(flag: &str, raw: Option<String>) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    let raw = raw.ok_or_else(|| anyhow!("{flag} needs a value"))?;
    raw.parse()
        .map_err(|e| anyhow!("{flag} {raw:?} is not valid: {e}"))
}

/// Parses `args` (without the program name).
pub fn parse(args: impl IntoIterator<Item = String>) -> anyhow::Result<Command> {
    let mut args = args.into_iter();
    let Some(command) = args.next() else {
        return Ok(Command::Help);
    };
    let mut pairs = Vec::new();
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Ok(Command::Help);
        }
        match flag.split_once('=') {
            Some((flag, v)) if flag.starts_with("--") => {
                pairs.push((flag.to_owned(), Some(v.into())))
            }
            _ if flag.starts_with("--") => pairs.push((flag, args.next())),
            _ => bail!("unexpected argument {flag:?}; see --help"),
        }
    }
    match command.as_str() {
        "-h" | "--help" | "help" => Ok(Command::Help),
        "binaries" => binaries(pairs).map(Command::Binaries),
        name => scenario(name, pairs).map(|run| Command::Run(Box::new(run))),
    }
}

fn binaries(pairs: Vec<(String, Option<String>)>) -> anyhow::Result<BinariesOptions> {
    let mut options = BinariesOptions::default();
    for (flag, raw) in pairs {
        match flag.as_str() {
            "--bin-dir" => options.bin_dir = value(&flag, raw)?,
            "--runs" => options.runs = value(&flag, raw)?,
            "--duration" => options.load = Duration::from_secs(value(&flag, raw)?),
            _ => bail!("unknown flag {flag} for `binaries`; see --help"),
        }
    }
    Ok(options)
}

fn scenario(name: &str, pairs: Vec<(String, Option<String>)>) -> anyhow::Result<RunCommand> {
    let mut scenario = Scenario::named(name).ok_or_else(|| {
        anyhow!(
            "unknown command {name:?}; one of {}, or binaries",
            NAMES.join(", ")
        )
    })?;
    let mut backend = Backends::Embedded;
    let mut urls: Option<Urls> = None;
    let mut single: Vec<(String, String)> = Vec::new();
    let mut database_url = None;
    let mut baseline_url = std::env::var("REDIS_URL")
        .ok()
        .filter(|u| !u.trim().is_empty());
    let mut baseline_flag = false;
    let mut audit_every = Some(Duration::from_millis(500));
    let (mut repeat, mut json) = (1, None);
    let mut phases = None;
    let w = &mut scenario.workload;
    for (flag, raw) in pairs {
        let ms = |raw| value(&flag, raw).map(Duration::from_millis);
        match flag.as_str() {
            "--backend" => {
                backend = match raw.as_deref() {
                    Some("embedded") => Backends::Embedded,
                    Some("real") => Backends::Real,
                    Some("cluster") => Backends::Cluster,
                    other => bail!("--backend must be embedded, real or cluster, not {other:?}"),
                }
            }
            "--url" => urls = Some(Urls::one(&value::<String>(&flag, raw)?)),
            "--acquire-url" | "--heartbeat-url" | "--release-url" | "--admin-url" => {
                single.push((flag.clone(), value(&flag, raw)?));
            }
            "--database-url" => database_url = Some(value(&flag, raw)?),
            "--redis-url" => {
                baseline_url = Some(value::<String>(&flag, raw)?).filter(|u| u != "none");
                baseline_flag = true;
            }
            "--clients" => w.clients = value(&flag, raw)?,
            "--licenses" => w.licenses = value(&flag, raw)?,
            "--seats" => w.seats = value(&flag, raw)?,
            "--users-per-license" => w.users_per_license = value(&flag, raw)?,
            "--duration" => w.duration = Duration::from_secs_f64(value(&flag, raw)?),
            "--heartbeat-interval" => w.heartbeat_interval = ms(raw)?,
            "--heartbeats" => {
                w.heartbeats_per_session = match raw.as_deref() {
                    Some("hold") => None,
                    _ => Some(value(&flag, raw)?),
                }
            }
            "--ramp" => w.ramp = ms(raw)?,
            "--rate-limits" => {
                w.rate_limits = match raw.as_deref() {
                    Some("on") => true,
                    Some("off") => false,
                    other => bail!("--rate-limits must be on or off, not {other:?}"),
                }
            }
            "--phases" => {
                let names: String = value(&flag, raw)?;
                phases = Some(
                    names
                        .split(',')
                        .map(|name| {
                            Phase::named(name.trim())
                                .ok_or_else(|| anyhow!("--phases: unknown phase {name:?}"))
                        })
                        .collect::<anyhow::Result<Vec<_>>>()?,
                );
            }
            "--audit-interval" => audit_every = Some(ms(raw)?).filter(|d| !d.is_zero()),
            "--repeat" => repeat = value::<usize>(&flag, raw)?.max(1),
            "--json" => json = Some(value(&flag, raw)?),
            _ => bail!("unknown flag {flag}; see --help"),
        }
    }
    if let Some(phases) = phases {
        scenario.phases = phases;
    }
    let w = &scenario.workload;
    if w.clients == 0 || w.licenses == 0 || w.licenses > w.clients {
        bail!("need at least one client per license (--clients ≥ --licenses ≥ 1)");
    }
    if !single.is_empty() && urls.is_none() {
        bail!("--acquire-url and friends refine --url; give --url (e.g. admin's) as well");
    }
    // With --backend cluster the baseline runs on the same cluster unless told otherwise.
    let local_cluster = backend == Backends::Cluster && urls.is_none() && !baseline_flag;
    let baseline_redis = match baseline_url {
        _ if local_cluster => Some(BaselineRedis::LocalCluster),
        None => None,
        Some(url) => {
            let cluster = std::env::var("REDIS_CLUSTER").is_ok_and(|v| v.trim() == "true");
            let target = RedisTarget::parse(&url, cluster)
                .map_err(|e| anyhow!("the baseline's Redis: {e}"))?;
            Some(BaselineRedis::At(target))
        }
    };
    let place = match urls {
        None => Where::InProcess(backend),
        Some(mut urls) => {
            for (flag, url) in single {
                let url = url.trim_end_matches('/').to_owned();
                match flag.as_str() {
                    "--acquire-url" => urls.acquire = url,
                    "--heartbeat-url" => urls.heartbeat = url,
                    "--release-url" => urls.release = url,
                    _ => urls.admin = url,
                }
            }
            Where::External { urls, database_url }
        }
    };
    Ok(RunCommand {
        options: RunOptions {
            scenario,
            place,
            baseline_redis,
            audit_every,
        },
        repeat,
        json,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(line: &str) -> anyhow::Result<Command> {
        parse(line.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn flags_override_the_preset_and_an_external_url_replaces_the_in_process_server() {
        let Ok(Command::Run(run)) = parsed(
            "contention --clients 20 --seats=3 --heartbeats hold --url http://h:1/ --redis-url none",
        ) else {
            panic!("a run");
        };
        let w = &run.options.scenario.workload;
        assert_eq!((w.clients, w.seats, w.licenses), (20, 3, 1));
        assert_eq!(w.heartbeats_per_session, None);
        assert_eq!(run.options.baseline_redis, None);
        assert!(matches!(
            run.options.place,
            Where::External { ref urls, .. } if urls.heartbeat == "http://h:1"
        ));
    }

    #[test]
    fn unknown_scenarios_and_flags_are_refused_by_name() {
        let err = parsed("nope").expect_err("unknown");
        assert!(format!("{err:#}").contains("nope"));
        let err = parsed("seed --clients").expect_err("no value");
        assert!(format!("{err:#}").contains("--clients"));
        assert!(matches!(parsed("seed --help"), Ok(Command::Help)));
    }
}
