//! `bench_usage`: times the usage report on a generated year of a 100-seat license's audit trail,
//! on SQLite and PostgreSQL (see `integration_tests::usage_bench` and `BENCHMARKS.md`).
//!
//! Run: `cargo bench-usage` (both backends; PostgreSQL needs `DATABASE_URL`), or
//! `cargo bench-usage --backend sqlite --repeat 10 --seed 7`. Exits 1 when a backend failed or the
//! two answered different reports, 2 on a usage error.

use std::process::ExitCode;

use integration_tests::usage_bench::{self, Options};

const USAGE: &str = "usage: bench_usage [--backend sqlite|postgres|both] [--repeat N] [--seed N]";

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("bench_usage: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match usage_bench::run(options).await {
        Ok((rows, timings)) => {
            println!("{}", usage_bench::render(rows, &timings));
            let same = timings
                .windows(2)
                .all(|pair| pair[0].report == pair[1].report);
            if same {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("bench_usage: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        sqlite: true,
        postgres: true,
        repeat: 5,
        seed: 2025,
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--backend" => match value()?.as_str() {
                "sqlite" => options.postgres = false,
                "postgres" => options.sqlite = false,
                "both" => {}
                other => return Err(format!("unknown backend {other:?}")),
            },
            "--repeat" => {
                options.repeat = value()?.parse().map_err(|e| format!("--repeat: {e}"))?
            }
            "--seed" => options.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--help" | "-h" => return Err("the options are:".to_owned()),
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    Ok(options)
}
