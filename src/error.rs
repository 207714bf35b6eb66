//! The errors the CLI can end with, and the one place that maps them to exit codes.
//!
//! Exit codes (documented in `docs/reference/exit-codes.md`):
//! 0 success · 1 the run failed or was cancelled · 2 definitions are invalid ·
//! 3 bad request (unknown job, run, step or parameter) · 4 database or I/O problem ·
//! 5 refused: nothing was done because there is nothing to do, or not yet (a period that
//! has not ended, a value that is not the one expected, a run that refused) · 64 bad
//! command-line usage.

use crate::spec::Diagnostics;
use crate::store::StoreError;

/// An error that ends a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Definitions(Diagnostics),
    #[error("{0}")]
    Request(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{action}: {source}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
    },
    /// The command worked but its outcome is a failure (a failed run); already reported.
    #[error("{0}")]
    Failed(String),
    /// Nothing was done, on purpose: there is nothing to do, or not yet. A step declares
    /// this exit code in its `refuse_exit` to end refused instead of failed.
    #[error("{0}")]
    Refused(String),
    /// `unyo check` printed its line; exit with this Nagios code (1 WARNING, 2 CRITICAL,
    /// 3 UNKNOWN).
    #[error("check status {0}")]
    Checked(i32),
}

/// The exit code of [`Error::Refused`].
pub const EXIT_REFUSED: i32 = 5;

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Failed(_) => 1,
            Error::Definitions(_) => 2,
            Error::Request(_) => 3,
            Error::Store(_) | Error::Io { .. } => 4,
            Error::Refused(_) => EXIT_REFUSED,
            Error::Checked(code) => *code,
        }
    }
}

/// Exit code for command-line usage errors.
pub const EXIT_USAGE: i32 = 64;

impl From<Diagnostics> for Error {
    fn from(d: Diagnostics) -> Self {
        Error::Definitions(d)
    }
}
