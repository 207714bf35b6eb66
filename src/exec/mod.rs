//! The executor of one attempt of one step.
//!
//! It owns spawning and supervising one step process: the process runs in its own process
//! group, a timeout or a cancellation sends SIGTERM to the whole group and SIGKILL after a
//! grace period, processes the step leaves behind are ended the same way (also those that
//! left its group, found as orphans re-parented to a subreaper: `escaped.rs`), and stdout and
//! stderr are captured into one log file with a size cap plus a bounded in-memory tail of
//! each stream. It also provides POSIX shell quoting. A command may run as another user
//! (`run_as.rs`) or on another server through `ssh` (`remote.rs`): `spawn_plan` turns it
//! into the program, argv, environment and standard input to spawn locally.
//!
//! It must not touch the database or know about jobs, runs or retries: it gets a [`Command`]
//! and hands back an [`Outcome`]; the engine decides what the outcome means.

/// Set beside [`MALLOC_TUNING`] when the daemon set it for its own allocations
/// (`cli::malloc`): none of them is then given to a step.
pub const MALLOC_SET_BY_UNYO: &str = "UNYO_MALLOC_ARENA_MAX_SET";

/// glibc's settings the daemon runs with, unless the operator set `MALLOC_ARENA_MAX`
/// (`cli::malloc` says why each).
pub const MALLOC_TUNING: &[(&str, &str)] = &[
    ("MALLOC_ARENA_MAX", "2"),
    ("MALLOC_MMAP_THRESHOLD_", "131072"),
];

pub mod escaped;
pub mod orphans;
mod output;
mod process;
pub mod remote;
pub mod run_as;
mod spawn;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use remote::{ConnectionFailure, SshTarget, Target};
pub use spawn::{Environment, work_in};

/// Runs `cmd` to its end and reports what happened (see [`process::execute`]); an exit 255
/// of a remote command's `ssh` is told apart as a [`ConnectionFailure`].
pub async fn execute(
    cmd: &Command,
    cancel: tokio::sync::watch::Receiver<bool>,
    on_spawn: impl FnOnce(u32),
) -> Result<Outcome, ExecError> {
    let mut outcome = process::execute(cmd, cancel, on_spawn).await?;
    remote::classify(cmd, &mut outcome);
    Ok(outcome)
}

/// What to spawn on this machine for a [`Command`].
struct SpawnPlan {
    /// The program and its arguments.
    argv: Vec<String>,
    /// Variables added on top of the inherited environment (after `env_remove`).
    env: Vec<(String, String)>,
    /// Bytes written to the process's standard input, which then stays open until the
    /// attempt is over; `None`: standard input is `/dev/null`.
    stdin: Option<Vec<u8>>,
    /// Keeps a shared ssh connection in use while the attempt runs.
    _lease: Option<remote::Lease>,
}

/// Turns a command into what is spawned: its argv (or `/bin/sh -c LINE`), behind `setpriv`
/// for `user`, or the `ssh` command whose remote side runs it.
async fn spawn_plan(cmd: &Command) -> Result<SpawnPlan, ExecError> {
    let argv = match &cmd.program {
        Program::Argv(argv) if argv.is_empty() => return Err(ExecError::EmptyArgv),
        Program::Argv(argv) => argv.clone(),
        Program::Shell(line) => vec!["/bin/sh".to_owned(), "-c".to_owned(), line.clone()],
    };
    match (&cmd.target, &cmd.user) {
        (Target::Local, None) => Ok(SpawnPlan {
            argv,
            env: cmd.env.clone(),
            stdin: None,
            _lease: None,
        }),
        (Target::Local, Some(name)) => {
            let user = run_as::check(name).map_err(ExecError::RunAs)?;
            let mut env = run_as::env(&user);
            env.extend(cmd.env.iter().cloned());
            Ok(SpawnPlan {
                argv: run_as::wrap(&user, argv),
                env,
                stdin: None,
                _lease: None,
            })
        }
        (Target::Ssh(target), None) => {
            let remote = remote::prepare(cmd, target)
                .await
                .map_err(|source| ExecError::Ssh {
                    host: target.name.clone(),
                    source,
                })?;
            Ok(SpawnPlan {
                argv: remote.argv,
                env: cmd.env.clone(),
                stdin: Some(remote.stdin),
                _lease: remote.lease,
            })
        }
        (Target::Ssh(target), Some(name)) => Err(ExecError::RunAs(format!(
            "`user: {name}` runs a local step; on `{}` the step logs in as the host's user",
            target.name
        ))),
    }
}

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// A program and its arguments, run directly (looked up in `PATH`).
    Argv(Vec<String>),
    /// A shell line, run as `/bin/sh -c <line>`.
    Shell(String),
}

/// One attempt of one step, ready to run.
#[derive(Clone)]
pub struct Command {
    /// What to run.
    pub program: Program,
    /// The environment the process starts from, prepared once per run: unyo's own less its
    /// secrets, plus the run's variables (see [`Environment`]).
    pub base: Arc<Environment>,
    /// This attempt's variables, on top of `base` (a later one replaces an earlier one).
    pub env: Vec<(String, String)>,
    /// The working directory of the process.
    pub workdir: PathBuf,
    /// How long the process may run before it is terminated; `None` means no limit.
    pub timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL when the process group is terminated.
    pub kill_grace: Duration,
    /// The combined stdout and stderr log of this attempt; created on the first output byte.
    pub log_path: PathBuf,
    /// Maximum bytes of output written to the log file; the rest is read and dropped.
    pub log_limit: u64,
    /// Bytes of each stream's tail kept in memory.
    pub tail_limit: usize,
    /// Counts the output bytes as they are read, for whoever watches the attempt for
    /// progress (a stuck step prints nothing).
    pub progress: Progress,
    /// This machine, or a server reached through `ssh`.
    pub target: Target,
    /// The operating-system user the step runs as (a local step); `None`: unyo's own.
    pub user: Option<String>,
}

/// The output bytes an attempt's process has produced so far, counted as each chunk is
/// read from its pipes; shared with the task that watches it. A counter, not a time: the
/// watcher notes when it changes on its own clock.
#[derive(Debug, Clone, Default)]
pub struct Progress(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl Progress {
    /// `n` more bytes were read.
    pub fn add(&self, n: usize) {
        self.0
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
    }

    /// Bytes read so far.
    pub fn bytes(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Hand-written so that env values (which may hold secrets) never reach a log.
impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(key, _)| (key.as_str(), "<redacted>"))
            .collect();
        f.debug_struct("Command")
            .field("program", &self.program)
            .field("base", &self.base)
            .field("env", &env)
            .field("workdir", &self.workdir)
            .field("timeout", &self.timeout)
            .field("kill_grace", &self.kill_grace)
            .field("log_path", &self.log_path)
            .field("log_limit", &self.log_limit)
            .field("tail_limit", &self.tail_limit)
            .field("progress", &self.progress.bytes())
            .field("target", &self.target)
            .field("user", &self.user)
            .finish()
    }
}

/// How the step's own process (the group leader) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// It was killed by this signal number.
    Signal(i32),
}

/// `exit 3` or `killed by SIGKILL`.
pub fn describe_exit(exit: Exit) -> String {
    match exit {
        Exit::Code(c) => format!("exit {c}"),
        Exit::Signal(s) => match nix::sys::signal::Signal::try_from(s) {
            Ok(sig) => format!("killed by {}", sig.as_str()),
            Err(_) => format!("killed by signal {s}"),
        },
    }
}

/// What happened when a [`Command`] ran (kept as JSON when another node ran it).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    /// How the process ended.
    pub exit: Exit,
    /// The timeout expired and the process group was terminated.
    pub timed_out: bool,
    /// The run was cancelled and the process group was terminated.
    pub cancelled: bool,
    /// The process id, which is also the process group id.
    pub pid: u32,
    /// Just before the process was spawned.
    pub started_at: DateTime<Utc>,
    /// When supervision ended: the process group is gone and the output is drained.
    pub ended_at: DateTime<Utc>,
    /// The last `tail_limit` bytes of stdout, lossily decoded, starting at a char boundary.
    pub stdout_tail: String,
    /// The last `tail_limit` bytes of stderr, lossily decoded, starting at a char boundary.
    pub stderr_tail: String,
    /// Bytes of output written to the log file (0 means the file may not exist).
    pub log_written: u64,
    /// Bytes of output not written because of `log_limit` (or because the log failed).
    pub log_dropped: u64,
    /// A remote command's `ssh` failed (its own exit 255): the connection, not the command.
    pub connection: Option<ConnectionFailure>,
}

impl Outcome {
    /// Exit code 0, and neither timed out nor cancelled.
    pub fn success(&self) -> bool {
        self.exit == Exit::Code(0) && !self.timed_out && !self.cancelled
    }
}

/// Why a command could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The process could not be spawned (or, rarely, could not be waited for).
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        /// The program (argv[0], or `/bin/sh` for a shell line).
        program: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The log file's directory could not be created.
    #[error("cannot write log `{path}`: {source}")]
    Log {
        /// The log file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// `Program::Argv` with no program.
    #[error("argv is empty")]
    EmptyArgv,
    /// The step cannot run as its `user`.
    #[error("{0}")]
    RunAs(String),
    /// unyo's ssh files for a host could not be written.
    #[error("host `{host}`: cannot write unyo's ssh files: {source}")]
    Ssh {
        /// The host's name.
        host: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Quotes `value` as one POSIX shell word: always single-quoted, `'` written as `'\''`.
pub fn shell_quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for c in value.chars() {
        if c == '\'' {
            quoted.push_str("'\\''");
        } else {
            quoted.push(c);
        }
    }
    quoted.push('\'');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn shell_command(line: String, workdir: PathBuf) -> Command {
        Command {
            program: Program::Shell(line),
            base: Arc::default(),
            env: Vec::new(),
            log_path: workdir.join("out.log"),
            workdir,
            timeout: Some(Duration::from_secs(60)),
            kill_grace: Duration::from_millis(300),
            log_limit: 1 << 20,
            tail_limit: 4096,
            progress: Progress::default(),
            target: Target::Local,
            user: None,
        }
    }

    pub(super) fn outcome(exit: Exit) -> Outcome {
        Outcome {
            exit,
            timed_out: false,
            cancelled: false,
            pid: 1,
            started_at: Utc::now(),
            ended_at: Utc::now(),
            stdout_tail: String::new(),
            stderr_tail: String::new(),
            log_written: 0,
            log_dropped: 0,
            connection: None,
        }
    }

    #[test]
    fn shell_quote_forms() {
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("plain"), "'plain'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[tokio::test]
    async fn shell_quote_survives_the_shell() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cases = [
            "",
            "plain",
            "two words",
            "; rm -rf x",
            "$(touch pwned)",
            "`touch pwned`",
            "${HOME} $HOME",
            "it's",
            "'",
            "''",
            "\"double\" 'single'",
            "line one\nline two\n",
            "trailing newline\n",
            "back\\slash \\' \\n",
            "glob * ? [a]",
            "tab\there & | > < ( ) { } ! # ~",
            "-n",
            "%s %d %%",
            "日本語 ✓",
        ];
        for case in cases {
            let line = format!("printf %s {}", shell_quote(case));
            let cmd = shell_command(line, dir.path().to_path_buf());
            let (_tx, rx) = tokio::sync::watch::channel(false);
            let outcome = execute(&cmd, rx, |_| {}).await.expect("runs");
            assert_eq!(outcome.exit, Exit::Code(0), "case {case:?}: {outcome:?}");
            assert_eq!(outcome.stdout_tail, case, "case {case:?}");
            assert_eq!(outcome.stderr_tail, "", "case {case:?}");
        }
        assert!(!dir.path().join("pwned").exists());
        assert!(!dir.path().join("x").exists());
    }

    #[test]
    fn success_needs_code_zero_and_no_interruption() {
        let mut outcome = outcome(Exit::Code(0));
        assert!(outcome.success());
        outcome.timed_out = true;
        assert!(!outcome.success());
        outcome.timed_out = false;
        outcome.cancelled = true;
        assert!(!outcome.success());
        outcome.cancelled = false;
        outcome.exit = Exit::Code(1);
        assert!(!outcome.success());
        outcome.exit = Exit::Signal(15);
        assert!(!outcome.success());
    }

    #[test]
    fn command_debug_redacts_env_values() {
        let mut cmd = shell_command("true".into(), PathBuf::from("/tmp"));
        cmd.env.push(("DB_PASSWORD".into(), "hunter2".into()));
        let text = format!("{cmd:?}");
        assert!(text.contains("DB_PASSWORD"));
        assert!(!text.contains("hunter2"));
    }
}
