//! The exit codes of `coditect-license`, documented in the README and in `--help`: a script
//! branches on these. `run` exits with its child's code when the child ran; a child killed by
//! signal N gives 128 + N, as a shell reports it.

use coditect_license::{ClientError, ProblemCode};

/// Why the CLI itself stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Done.
    Ok,
    /// The command line is wrong (clap's own errors too).
    Usage,
    /// The licensing service could not be reached and no offline grace covers this.
    Unreachable,
    /// The service answered something unexpected, or a lease did not verify: a bug to report.
    Software,
    /// A file of the client's home could not be read or written.
    Files,
    /// Every seat is in use: try again later (the message says when one frees).
    NoSeat,
    /// The license grants no seat: none, expired, suspended or canceled; or the role may not.
    LicenseRefused,
    /// No sign-in is stored, or the service refused it: `coditect-license login`.
    NotSignedIn,
    /// The seat was lost while running: offline grace ended, or the service withdrew it.
    SeatLost,
}

impl Exit {
    /// The process exit code.
    pub(crate) fn code(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Usage => 64,
            Self::Unreachable => 69,
            Self::Software => 70,
            Self::Files => 74,
            Self::NoSeat => 75,
            Self::LicenseRefused => 76,
            Self::NotSignedIn => 77,
            Self::SeatLost => 78,
        }
    }

    /// The exit for a failed call.
    pub(crate) fn of(error: &ClientError) -> Self {
        match error {
            ClientError::Unreachable(_) => Self::Unreachable,
            ClientError::Protocol(_) => Self::Software,
            ClientError::Files(_) => Self::Files,
            ClientError::NotSignedIn(_) => Self::NotSignedIn,
            ClientError::WaitedOut { .. } => Self::NoSeat,
            ClientError::Refused { status, .. } => match error.code() {
                Some(ProblemCode::SeatsExhausted | ProblemCode::UserSeatLimit) => Self::NoSeat,
                Some(ProblemCode::InvalidToken) => Self::NotSignedIn,
                Some(
                    ProblemCode::NoLicense
                    | ProblemCode::LicenseExpired
                    | ProblemCode::LicenseSuspended
                    | ProblemCode::LicenseCanceled
                    | ProblemCode::BorrowNotAllowed
                    | ProblemCode::Forbidden,
                ) => Self::LicenseRefused,
                _ if *status >= 500 || *status == 429 => Self::Unreachable,
                _ => Self::Software,
            },
        }
    }
}

/// The table `--help` prints after the commands.
pub(crate) const EXIT_CODES_HELP: &str = "\
Exit codes:
  0   done (run: the command's own exit code; 128+N when a signal N ended it)
  64  usage: the command line is wrong
  69  the licensing service could not be reached (and no offline grace covers it)
  70  unexpected answer from the service (please report it)
  74  a file under the client's home could not be read or written
  75  no seat is free: every seat of the license is in use, or you hold as many as one person
      may; try again later
  76  the license grants no seat (none, expired, suspended or canceled), or no borrow that long
  77  not signed in, or the sign-in was refused: run `coditect-license login`
  78  the seat was lost while running: offline grace ended, or the service withdrew it";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exit_code_is_distinct_and_documented() {
        let all = [
            Exit::Ok,
            Exit::Usage,
            Exit::Unreachable,
            Exit::Software,
            Exit::Files,
            Exit::NoSeat,
            Exit::LicenseRefused,
            Exit::NotSignedIn,
            Exit::SeatLost,
        ];
        let mut codes: Vec<u8> = all.iter().map(|e| e.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        for code in codes {
            assert!(
                EXIT_CODES_HELP.contains(&format!("  {code} ")),
                "{code} is in the help table"
            );
        }
    }
}
