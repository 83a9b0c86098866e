//! Relaying signals to `run`'s child.
//!
//! A terminal's Ctrl-C (SIGINT) goes to the whole foreground process group: the child has it
//! already, and relaying it again would interrupt it twice. A signal another process sends to the
//! CLI alone (`kill -INT`, a supervisor's SIGTERM, the hangup of a closed session) reaches only the
//! CLI, so it is relayed. The kernel says which is which (`si_code`), which is why this reads the
//! signal's origin rather than only its number.

use tokio::sync::mpsc;

/// A signal the child should get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Relay {
    /// The signal number.
    pub(crate) signal: i32,
    /// Whether the child already got it from the terminal.
    pub(crate) child_has_it: bool,
}

/// Starts listening for SIGINT, SIGTERM and SIGHUP; the receiver yields each as it comes.
#[cfg(unix)]
pub(crate) fn listen() -> std::io::Result<(mpsc::UnboundedReceiver<Relay>, Stop)> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    use signal_hook::iterator::SignalsInfo;
    use signal_hook::iterator::exfiltrator::WithOrigin;
    use signal_hook::low_level::siginfo::Cause;

    let mut signals = SignalsInfo::<WithOrigin>::new([SIGINT, SIGTERM, SIGHUP])?;
    let handle = signals.handle();
    let (sender, receiver) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for origin in signals.forever() {
            let child_has_it = matches!(origin.cause, Cause::Kernel);
            let relay = Relay {
                signal: origin.signal,
                child_has_it,
            };
            if sender.send(relay).is_err() {
                break;
            }
        }
    });
    Ok((receiver, Stop(handle)))
}

/// Stops listening when dropped (the default dispositions come back).
#[cfg(unix)]
pub(crate) struct Stop(signal_hook::iterator::Handle);

#[cfg(unix)]
impl Drop for Stop {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Sends `signal` to the process `pid`.
#[cfg(unix)]
pub(crate) fn send(pid: u32, signal: i32) {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let (Ok(pid), Ok(signal)) = (i32::try_from(pid), Signal::try_from(signal)) else {
        return;
    };
    let _ = kill(Pid::from_raw(pid), signal);
}

/// SIGTERM's number.
#[cfg(unix)]
pub(crate) const TERMINATE: i32 = signal_hook::consts::SIGTERM;
