//! `loadgen`: simulated CLI clients against the licensing service, with a raw Redis baseline and
//! the seat invariant checked throughout (see `integration_tests::load` and `BENCHMARKS.md`).
//!
//! Run: `cargo bench-seed` (and `bench-contention`, `bench-scale`, `bench-peak`,
//! `bench-binaries`), or `cargo run --release -p integration-tests --bin loadgen -- --help`.
//! Exits 1 when the invariant broke or a call failed unexpectedly, 2 on a usage error.

use std::io::Write;
use std::process::ExitCode;

use integration_tests::load::args::{self, Command, RunCommand};
use integration_tests::load::{binaries, report, run};

#[tokio::main]
async fn main() -> ExitCode {
    let command = match args::parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(e) => {
            eprintln!("loadgen: {e:#}\n\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    let outcome = match command {
        Command::Help => {
            println!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Command::Binaries(options) => binaries::measure(&options).await.map(|table| {
            println!("{table}");
            true
        }),
        Command::Run(command) => scenario(*command).await,
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("loadgen: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a scenario `repeat` times; whether every run kept the invariant without unexpected errors.
async fn scenario(command: RunCommand) -> anyhow::Result<bool> {
    let mut runs = Vec::new();
    for n in 1..=command.repeat {
        let report = run::run(&command.options).await?;
        println!(
            "{}",
            report::render(&report, &format!("run {n}/{}", command.repeat))
        );
        if let Some(path) = &command.json {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            writeln!(file, "{}", report::to_json(&report))?;
        }
        runs.push(report);
    }
    if runs.len() > 1
        && let Some(median) = report::median(&runs)
    {
        println!(
            "{}",
            report::render(&median, &format!("median of {} runs", runs.len()))
        );
    }
    let violated = runs.iter().filter(|r| !r.invariant_held()).count();
    let unexpected: u64 = runs.iter().map(run::RunReport::unexpected_errors).sum();
    if violated > 0 {
        eprintln!("\n!!! THE SEAT INVARIANT WAS VIOLATED in {violated} run(s): see above");
    }
    if unexpected > 0 {
        eprintln!(
            "\n!!! {unexpected} unexpected error(s) (anything but seats_exhausted): see above"
        );
    }
    Ok(violated == 0 && unexpected == 0)
}
