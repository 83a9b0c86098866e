//! `loadgen binaries`: each release binary's size, cold start (exec → first 200 on `/healthz`),
//! idle RSS, and peak RSS while the `seed` scenario runs against it.
//!
//! Expects the binaries already built (`cargo build --release --bins`) next to this executable (or
//! in `--bin-dir`); it never builds them, so what it measures is exactly what is on disk. The
//! functions run as on Cloud Run: PostgreSQL (a fresh, migrated schema of `DATABASE_URL`), Redis
//! (a fresh prefix of `REDIS_URL`), one shared Ed25519 lease key, JSON logs at `info` (to a file).
//! `local` is measured that way and on the embedded default too.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::{Child, Command};
use tokio::time::Instant;

use super::report;
use super::run::{RunOptions, run};
use super::scenario::Scenario;
use super::target::{Urls, Where};
use crate::backends::PgSchema;
use crate::server::TempDir;

/// Every function binary, and the all-in-one server.
pub const BINARIES: [&str; 7] = [
    "acquire",
    "heartbeat",
    "release",
    "admin",
    "cleanup",
    "stripe-webhook",
    "local",
];

/// How long a binary may take to answer `/healthz` before it counts as failed.
const START_LIMIT: Duration = Duration::from_secs(10);

/// Options of `loadgen binaries`.
#[derive(Debug, Clone)]
pub struct BinariesOptions {
    /// Where the release binaries are.
    pub bin_dir: PathBuf,
    /// Cold starts per binary (the median is reported).
    pub runs: usize,
    /// How long the seed scenario runs for the peak RSS.
    pub load: Duration,
}

impl Default for BinariesOptions {
    fn default() -> Self {
        let bin_dir = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("target/release"));
        Self {
            bin_dir,
            runs: 5,
            load: Duration::from_secs(10),
        }
    }
}

/// A binary started for measuring.
struct Running {
    child: Child,
    port: u16,
}

impl Running {
    /// Starts `bin` with exactly `env` (plus `PORT`) and waits for `/healthz`; the time it took.
    async fn start(
        bin: &Path,
        env: &[(String, String)],
        log: &Path,
    ) -> anyhow::Result<(Self, Duration)> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = std::fs::File::create(log)?;
        let started = Instant::now();
        let child = Command::new(bin)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("PORT", port.to_string())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()?;
        let url = format!("http://127.0.0.1:{port}/healthz");
        loop {
            if let Ok(answer) = http.get(&url).send().await
                && answer.status().is_success()
            {
                return Ok((Self { child, port }, started.elapsed()));
            }
            if started.elapsed() > START_LIMIT {
                bail!(
                    "{} did not answer /healthz within {START_LIMIT:?}",
                    bin.display()
                );
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `VmRSS` and `VmHWM` (peak) in MB.
    fn memory(&self) -> anyhow::Result<(f64, f64)> {
        let pid = self.child.id().context("the binary has exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<f64>()
                        .ok()
                })
                .map(|kb| kb / 1024.0)
                .with_context(|| format!("no {name} in /proc/{pid}/status"))
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// One row of the table.
#[derive(Debug, Default)]
struct Row {
    size_mb: f64,
    cold_ms: f64,
    idle_mb: f64,
    peak_mb: Option<f64>,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// Measures every binary; the printed table.
pub async fn measure(options: &BinariesOptions) -> anyhow::Result<String> {
    for bin in BINARIES {
        if !options.bin_dir.join(bin).is_file() {
            bail!(
                "{} is missing: build the release binaries first with `cargo build --release --bins`",
                options.bin_dir.join(bin).display()
            );
        }
    }
    let redis = std::env::var("REDIS_URL")
        .context("`binaries` needs REDIS_URL (the functions share seats through Redis)")?;
    let schema = PgSchema::create().await.context(
        "`binaries` needs DATABASE_URL (the functions share records through PostgreSQL)",
    )?;
    let result = measure_with(options, &schema, &redis).await;
    schema.drop().await;
    result
}

async fn measure_with(
    options: &BinariesOptions,
    schema: &PgSchema,
    redis: &str,
) -> anyhow::Result<String> {
    let (real_dir, embedded_dir) = (TempDir::new(), TempDir::new());
    for dir in [&real_dir, &embedded_dir] {
        shared::leases::signing::Ed25519Signer::load(&dir.0.join("lease-signing-key.pem"), true)?;
    }
    let prefix = format!("loadgen:{}:", uuid::Uuid::new_v4().simple());
    let real: Vec<(String, String)> = [
        ("DATA_DIR", real_dir.0.display().to_string()),
        ("DATABASE_URL", schema.url()),
        ("REDIS_URL", redis.to_owned()),
        ("REDIS_KEY_PREFIX", prefix.clone()),
        ("LOG_LEVEL", "info".into()),
    ]
    .map(|(k, v)| (k.to_owned(), v))
    .into();
    let embedded: Vec<(String, String)> = vec![
        ("DATA_DIR".into(), embedded_dir.0.display().to_string()),
        ("LOG_LEVEL".into(), "info".into()),
    ];
    let log = real_dir.0.join("binary.log");
    let mut rows: Vec<(String, Row)> = Vec::new();
    let measured = |name: &str, env: &[(String, String)], label: &str| {
        let (bin, env, log) = (options.bin_dir.join(name), env.to_vec(), log.clone());
        let label = label.to_owned();
        let runs = options.runs;
        async move {
            // One start first, not counted: it creates the SQLite file of the embedded default.
            Running::start(&bin, &env, &log).await?.0.stop().await;
            let (mut cold, mut idle) = (Vec::new(), Vec::new());
            for _ in 0..runs {
                let (running, took) = Running::start(&bin, &env, &log).await?;
                tokio::time::sleep(Duration::from_millis(500)).await;
                idle.push(running.memory()?.0);
                cold.push(took.as_secs_f64() * 1000.0);
                running.stop().await;
            }
            let row = Row {
                size_mb: std::fs::metadata(&bin)?.len() as f64 / 1_048_576.0,
                cold_ms: median(cold),
                idle_mb: median(idle),
                peak_mb: None,
            };
            anyhow::Ok((label, row))
        }
    };
    for name in BINARIES {
        rows.push(measured(name, &real, name).await?);
    }
    rows.push(measured("local", &embedded, "local (embedded)").await?);

    // Peak RSS under seed: the functions as separate services, then local on each backend.
    let seed = |urls: Urls, database_url: String| RunOptions {
        scenario: seed_for(options.load),
        place: Where::External {
            urls,
            database_url: Some(database_url),
        },
        baseline_redis: None,
        audit_every: Some(Duration::from_millis(500)),
    };
    let mut functions = Vec::new();
    for name in ["acquire", "heartbeat", "release", "admin"] {
        functions.push((
            name,
            Running::start(&options.bin_dir.join(name), &real, &log)
                .await?
                .0,
        ));
    }
    let urls = Urls {
        acquire: functions[0].1.url(),
        heartbeat: functions[1].1.url(),
        release: functions[2].1.url(),
        admin: functions[3].1.url(),
    };
    let mut text = String::new();
    let load = run(&seed(urls, schema.url())).await?;
    text.push_str(&report::render(&load, "functions as separate services"));
    for (name, running) in functions {
        set_peak(&mut rows, name, running.memory()?.1);
        running.stop().await;
    }
    for (env, label, database) in [
        (&real, "local", schema.url()),
        (
            &embedded,
            "local (embedded)",
            format!("sqlite://{}", embedded_dir.0.join("coditect.db").display()),
        ),
    ] {
        let (running, _) = Running::start(&options.bin_dir.join("local"), env, &log).await?;
        let load = run(&seed(Urls::one(&running.url()), database)).await?;
        text.push_str(&report::render(&load, label));
        set_peak(&mut rows, label, running.memory()?.1);
        running.stop().await;
    }
    let seats = shared::seats::RedisSeats::new(redis, &prefix)?;
    seats.delete_all().await?;

    let mut table = format!(
        "\n=== binaries in {} (cold start and idle RSS: median of {} starts)\n{:<18} {:>8} {:>14} {:>12} {:>16}\n",
        options.bin_dir.display(),
        options.runs,
        "binary",
        "size MB",
        "cold start ms",
        "idle RSS MB",
        "peak RSS MB seed"
    );
    for (label, row) in &rows {
        let peak = row.peak_mb.map_or("-".to_owned(), |mb| format!("{mb:.1}"));
        table.push_str(&format!(
            "{label:<18} {:>8.1} {:>14.1} {:>12.1} {peak:>16}\n",
            row.size_mb, row.cold_ms, row.idle_mb
        ));
    }
    table.push_str(
        "targets: cold start ≤ 50 ms, idle RSS ≤ 15 MB per function (printed, not asserted)\n",
    );
    Ok(text + &table)
}

fn set_peak(rows: &mut [(String, Row)], label: &str, peak: f64) {
    if let Some((_, row)) = rows.iter_mut().find(|(l, _)| l == label) {
        row.peak_mb = Some(peak);
    }
}

fn seed_for(load: Duration) -> Scenario {
    let mut seed = Scenario::named("seed").expect("seed is a preset");
    seed.workload.duration = load;
    seed
}
