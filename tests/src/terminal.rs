//! A real terminal for a CLI test: a detached tmux session on a socket of its own, whose screen a
//! test reads and into which it types, as a person at a terminal would.

use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux session running one shell command; killed on drop.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Runs `shell_command` in a fresh 200×50 terminal (kept open a minute after it ends, so its
    /// last screen can be read).
    ///
    /// # Panics
    /// When tmux cannot start.
    pub fn start(shell_command: &str) -> Self {
        let tmux = Self {
            socket: format!("coditect-{}", uuid::Uuid::new_v4().simple()),
        };
        let started = Command::new("tmux")
            .args([
                "-L",
                &tmux.socket,
                "new-session",
                "-d",
                "-x",
                "200",
                "-y",
                "50",
            ])
            .arg(format!("{shell_command}; sleep 60"))
            .status()
            .expect("tmux runs");
        assert!(started.success(), "tmux starts");
        tmux
    }

    /// The screen as it is now, lines the terminal wrapped joined again.
    ///
    /// # Panics
    /// When tmux cannot be asked.
    pub fn screen(&self) -> String {
        let captured = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-J"])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&captured.stdout).into_owned()
    }

    /// Types `text` and Enter.
    ///
    /// # Panics
    /// When tmux cannot be told.
    pub fn type_line(&self, text: &str) {
        let sent = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-l", text])
            .status()
            .expect("send-keys");
        assert!(sent.success());
        let entered = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "Enter"])
            .status()
            .expect("send-keys");
        assert!(entered.success());
    }

    /// Waits until the screen shows `text`, at most `bound`; the screen then.
    ///
    /// # Panics
    /// When it does not by then (the panic shows the screen).
    pub async fn shows(&self, text: &str, bound: Duration) -> String {
        let started = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                started.elapsed() < bound,
                "the terminal did not show {text:?} within {bound:?}:\n{screen}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}
