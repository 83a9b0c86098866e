//! Questions for the person at the terminal, and lines read from stdin for scripts. Every read
//! runs off the async runtime, so a prompt never stalls the spinner or a timeout.

use std::io::{BufRead, IsTerminal, Write};

use crate::exit::Exit;
use crate::output::Failure;

/// Whether a person can answer questions (stdin and stderr are terminals).
pub(crate) fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks `question` on stderr and reads one line from stdin (without its line end).
pub(crate) async fn ask(question: &str) -> Result<String, Failure> {
    let question = question.to_owned();
    blocking(move || {
        eprint!("{question}");
        let _ = std::io::stderr().flush();
        read_line()
    })
    .await
}

/// Reads one line from stdin, as `--password-stdin` does (`printf '%s\n' "$PW" | …`).
pub(crate) async fn line_from_stdin() -> Result<String, Failure> {
    blocking(read_line).await
}

/// Asks for a password without echoing it.
pub(crate) async fn password(question: &str) -> Result<String, Failure> {
    let question = question.to_owned();
    blocking(move || rpassword::prompt_password(question)).await
}

fn read_line() -> std::io::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn blocking(
    read: impl FnOnce() -> std::io::Result<String> + Send + 'static,
) -> Result<String, Failure> {
    tokio::task::spawn_blocking(read)
        .await
        .map_err(|e| Failure::new(Exit::Software, format!("the prompt failed: {e}")))?
        .map_err(|e| Failure::new(Exit::Usage, format!("could not read the answer: {e}")))
}
