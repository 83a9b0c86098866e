//! `coditect-license`: sign in to the CODITECT licensing service and run commands under a seat.
//!
//! ```sh
//! coditect-license login                 # once per machine and user
//! coditect-license run -- coditect …     # holds a seat while the command runs
//! coditect-license status                # who you are, the license, this machine's seat
//! ```
//!
//! Every command takes `--server` (or `CODITECT_LICENSE_URL`) and `--json`; the exit codes are
//! in [`exit`] and in `--help`.

mod account;
mod borrow;
mod browser;
mod context;
mod denial;
mod exit;
mod login;
mod login_browser;
mod logout;
mod output;
mod prompt;
mod release;
mod run;
mod signals;
mod status;
mod usage;
mod whoami;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::context::Context;
use crate::exit::{EXIT_CODES_HELP, Exit};
use crate::output::{Failure, Output};

/// Sign in to the CODITECT licensing service and run commands under a floating-license seat.
#[derive(Debug, Parser)]
#[command(name = "coditect-license", version, after_help = EXIT_CODES_HELP)]
struct Cli {
    /// The licensing service.
    #[arg(
        long,
        global = true,
        env = "CODITECT_LICENSE_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    server: String,
    /// Print one JSON object instead of sentences (for scripts).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sign in (Google, GitHub, or email and password); a first sign-in creates your organisation.
    Login(login::Args),
    /// Forget this machine's sign-in.
    Logout(logout::Args),
    /// Who you are signed in as, in which organisation.
    Whoami(whoami::Args),
    /// The license, its seats, and this machine's seat.
    Status(status::Args),
    /// Run a command while holding a seat: `coditect-license run -- <command> [args…]`.
    Run(run::Args),
    /// Give back this machine's seat (after a crash, or to free it for someone else now).
    Release(release::Args),
    /// Borrow this machine's seat for offline use: `coditect-license borrow --for 3d`.
    Borrow(borrow::Args),
    /// Give back a borrowed seat before its borrow ends.
    #[command(name = "return")]
    Return(borrow::ReturnArgs),
    /// The license's usage per hour or day, and how many more seats would have avoided the
    /// denials (owners and admins): `coditect-license usage --from 2026-03-01`.
    Usage(usage::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let usage = error.use_stderr();
            let _ = error.print();
            // `--help` and `--version` are not errors.
            return ExitCode::from(if usage { Exit::Usage.code() } else { 0 });
        }
    };
    let output = Output::detect(cli.json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let failure = Failure::new(Exit::Software, format!("could not start: {e}"));
            return ExitCode::from(output.failure(&failure).code());
        }
    };
    let code = runtime.block_on(async move {
        let context = match Context::new(&cli.server, output) {
            Ok(context) => context,
            Err(failure) => return output.failure(&failure).code(),
        };
        let outcome = match cli.command {
            Command::Login(args) => login::run(&context, args).await,
            Command::Logout(args) => logout::run(&context, args).await,
            Command::Whoami(args) => whoami::run(&context, args).await,
            Command::Status(args) => status::run(&context, args).await,
            Command::Run(args) => run::run(&context, args).await,
            Command::Release(args) => release::run(&context, args).await,
            Command::Borrow(args) => borrow::run(&context, args).await,
            Command::Return(args) => borrow::give_back(&context, args).await,
            Command::Usage(args) => usage::run(&context, args).await,
        };
        match outcome {
            Ok(code) => code,
            Err(failure) => output.failure(&failure).code(),
        }
    });
    // The runtime may still hold a blocked stdin reader (a password prompt): do not wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    ExitCode::from(code)
}
