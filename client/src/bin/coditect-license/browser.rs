//! Opening a URL in the person's browser: `$BROWSER` when set (a `:`-separated list of commands,
//! `%s` standing for the URL, else the URL appended, as `xdg-open` and Python's `webbrowser` read
//! it), else the platform's opener (`xdg-open`, `open`, `start`). The URL is always printed too,
//! so a browser that does not open is no dead end.

use std::process::{Command, Stdio};

/// Starts a browser on `url` without waiting for it; `false` when no command could be started.
pub(crate) fn open(url: &str) -> bool {
    let commands: Vec<Vec<String>> = match std::env::var("BROWSER") {
        Ok(list) if !list.trim().is_empty() => list
            .split(':')
            .map(|command| with_url(command, url))
            .filter(|words| !words.is_empty())
            .collect(),
        _ => vec![platform_opener(url)],
    };
    commands.into_iter().any(|words| {
        Command::new(&words[0])
            .args(&words[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .is_ok()
    })
}

/// The words of `command` with the URL put where `%s` is, or appended.
fn with_url(command: &str, url: &str) -> Vec<String> {
    let mut words: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
    if words.iter().any(|w| w.contains("%s")) {
        for word in &mut words {
            *word = word.replace("%s", url);
        }
    } else if !words.is_empty() {
        words.push(url.to_owned());
    }
    words
}

fn platform_opener(url: &str) -> Vec<String> {
    let words: &[&str] = if cfg!(target_os = "macos") {
        &["open"]
    } else if cfg!(windows) {
        &["cmd", "/C", "start", ""]
    } else {
        &["xdg-open"]
    };
    let mut words: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
    words.push(url.to_owned());
    words
}

#[cfg(test)]
mod tests {
    use super::with_url;

    #[test]
    fn the_url_replaces_percent_s_or_is_appended() {
        assert_eq!(
            with_url("firefox --new-tab %s", "http://x/"),
            ["firefox", "--new-tab", "http://x/"]
        );
        assert_eq!(
            with_url("node driver.mjs", "http://x/"),
            ["node", "driver.mjs", "http://x/"]
        );
        assert!(with_url("  ", "http://x/").is_empty());
    }
}
