//! Spawning one step process and supervising it to its end.
//!
//! The process becomes the leader of a new process group (`process_group(0)`, no
//! `pre_exec`, so std can use `posix_spawn`). One task loop reads both pipes, waits for the
//! leader, and runs the timers: the timeout and a cancellation send SIGTERM to the group and
//! SIGKILL after the grace period. When the leader has exited, the group must be empty
//! before the attempt is over: members it left behind get the same TERM→grace→KILL, so a
//! step never leaves processes running and a grandchild holding a pipe open cannot make us
//! hang. Then the processes that left the group (`setsid`) and were re-parented to us are
//! ended too (`escaped.rs`); output from one we could not find is read for at most
//! [`DRAIN_LIMIT`] after the group is gone.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use chrono::Utc;
use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;
use tokio::time::Instant;

use super::output::{LogSink, Tail};
use super::spawn::Spawn;
use super::{Command, ExecError, Exit, Outcome};

/// Bytes read from a pipe at once.
const READ_CHUNK: usize = 8 * 1024;
/// How long pipes are still read once the process group is gone; only a process that left
/// the group can keep them open that long.
const DRAIN_LIMIT: Duration = Duration::from_secs(1);
/// How long to wait for the group to disappear after SIGKILL before giving up on it
/// (a process stuck in uninterruptible sleep cannot be helped).
const KILL_SETTLE: Duration = Duration::from_secs(2);
/// First and longest interval of polling whether the group still has members.
const FIRST_POLL: Duration = Duration::from_millis(5);
const MAX_POLL: Duration = Duration::from_millis(50);

/// Runs `cmd` to its end and reports what happened.
///
/// When `cancel` becomes true (or already is), the process group gets SIGTERM, then SIGKILL
/// after `kill_grace`, and the outcome has `cancelled = true`. `on_spawn` gets the pid
/// (which is also the process group id) right after the process started.
pub async fn execute(
    cmd: &Command,
    mut cancel: watch::Receiver<bool>,
    on_spawn: impl FnOnce(u32),
) -> Result<Outcome, ExecError> {
    // The argv (behind `setpriv` for a `user`, or `ssh` for a host), env and stdin.
    let mut plan = super::spawn_plan(cmd).await?;
    let stdin_data = plan.stdin.take();
    let program = plan.argv.first().ok_or(ExecError::EmptyArgv)?.as_str();
    let args: Vec<&str> = plan.argv.iter().map(String::as_str).collect();
    // The file itself is opened on the first output byte; its directory is made here so
    // that a bad log location is reported before anything runs.
    super::output::log_dir_ready(&cmd.log_path)
        .await
        .map_err(|source| ExecError::Log {
            path: cmd.log_path.clone(),
            source,
        })?;
    let spec = Spawn {
        program,
        args: &args,
        workdir: &cmd.workdir,
        base: &cmd.base,
        extra: &plan.env,
        stdin: stdin_data.is_some(),
    };
    // The variables that name the step, as the process sees them (its own win).
    let marks = super::escaped::marks_of(|k| {
        cmd.env
            .iter()
            .rev()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone().into_bytes())
            .or_else(|| cmd.base.get(k).map(<[u8]>::to_vec))
    });

    let started_at = Utc::now();
    // Registered while it lives, so that processes leaving its group can be told apart.
    let (mut child, registration) =
        match super::escaped::spawn_step(marks, || super::spawn::spawn(&spec)) {
            Ok(spawned) => spawned,
            Err(source) => {
                let source = explain_spawn_error(source, cmd).await;
                return Err(spawn_error(program, source));
            }
        };
    let pid = child.id();
    let pgid = Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX));
    on_spawn(pid);
    // A remote step's ssh gets its environment as data, and its stdin stays open until the
    // attempt is over: its end tells the remote side to stop the command.
    let stdin_guard = stdin_data.map(|data| super::remote::feed(child.stdin.take(), data));

    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    // Filled by `read_buf` up to their capacity, never zeroed first.
    let mut out_buf = Vec::with_capacity(READ_CHUNK);
    let mut err_buf = Vec::with_capacity(READ_CHUNK);
    let mut out_tail = Tail::new(cmd.tail_limit);
    let mut err_tail = Tail::new(cmd.tail_limit);
    let mut log = LogSink::new(cmd.log_path.clone(), cmd.log_limit);

    let now = Instant::now();
    let mut sup = Supervisor::new(
        pgid,
        cmd.timeout.and_then(|t| now.checked_add(t)),
        cmd.kill_grace,
    );
    let mut cancel_open = true;
    if *cancel.borrow_and_update() {
        sup.cancelled = true;
        sup.terminate(now);
    }

    let timer = tokio::time::sleep_until(now);
    tokio::pin!(timer);
    let mut swept = false;
    loop {
        if sup.group_gone && !swept {
            // The group is empty: what left it (re-parented to us, a subreaper) goes too.
            swept = true;
            super::escaped::sweep(Some(pid), cmd.kill_grace).await;
        }
        let streams_done = stdout.is_none() && stderr.is_none();
        if sup.drain_expired || (sup.status.is_some() && sup.group_gone && streams_done) {
            break;
        }
        let wake = sup.next_wake();
        if let Some(at) = wake
            && timer.deadline() != at
        {
            timer.as_mut().reset(at);
        }
        tokio::select! {
            read = read_some(&mut stdout, &mut out_buf), if stdout.is_some() => {
                if let Some(chunk) = chunk(read, &out_buf, &mut stdout, pid) {
                    out_tail.push(chunk);
                    cmd.progress.add(chunk.len());
                    log.write(chunk).await;
                }
            }
            read = read_some(&mut stderr, &mut err_buf), if stderr.is_some() => {
                if let Some(chunk) = chunk(read, &err_buf, &mut stderr, pid) {
                    err_tail.push(chunk);
                    cmd.progress.add(chunk.len());
                    log.write(chunk).await;
                }
            }
            status = child.wait(), if sup.status.is_none() => match status {
                Ok(status) => {
                    sup.status = Some(status);
                    sup.check_group(Instant::now()).await;
                }
                Err(source) => {
                    sup.signal(Signal::SIGKILL);
                    return Err(spawn_error(program, source));
                }
            },
            changed = cancel.changed(), if cancel_open && sup.status.is_none() && !sup.term_sent => {
                match changed {
                    Ok(()) => {
                        if *cancel.borrow_and_update() {
                            sup.cancelled = true;
                            sup.terminate(Instant::now());
                        }
                    }
                    // Nobody can cancel any more.
                    Err(_) => cancel_open = false,
                }
            }
            () = &mut timer, if wake.is_some() => sup.on_timer(Instant::now()).await,
        }
    }
    // Dropping the readers closes our ends of the pipes; only an escaped process still
    // writing to them notices.
    drop(stdout);
    drop(stderr);
    drop(registration);
    drop(stdin_guard);

    let status = match sup.status {
        Some(status) => status,
        None => child
            .wait()
            .await
            .map_err(|source| spawn_error(program, source))?,
    };
    let ended_at = Utc::now();
    let stats = log.finish().await;
    Ok(Outcome {
        exit: exit_of(status),
        timed_out: sup.timed_out,
        cancelled: sup.cancelled,
        pid,
        started_at,
        ended_at,
        stdout_tail: out_tail.into_string(),
        stderr_tail: err_tail.into_string(),
        log_written: stats.written,
        log_dropped: stats.dropped,
        connection: None,
    })
}

/// The termination state machine of one process group.
struct Supervisor {
    pgid: Pid,
    /// When the timeout expires, if there is one.
    deadline: Option<Instant>,
    grace: Duration,
    timed_out: bool,
    cancelled: bool,
    term_sent: bool,
    /// When SIGKILL is due; `None` before SIGTERM (or if the grace never ends).
    kill_at: Option<Instant>,
    kill_sent_at: Option<Instant>,
    /// The leader's exit status, once it has been reaped.
    status: Option<ExitStatus>,
    /// No live member of the group is left (checked only after the leader was reaped).
    group_gone: bool,
    next_poll: Option<Instant>,
    poll_interval: Duration,
    /// Pipes are read until then once the group is gone.
    drain_until: Option<Instant>,
    drain_expired: bool,
}

impl Supervisor {
    fn new(pgid: Pid, deadline: Option<Instant>, grace: Duration) -> Self {
        Self {
            pgid,
            deadline,
            grace,
            timed_out: false,
            cancelled: false,
            term_sent: false,
            kill_at: None,
            kill_sent_at: None,
            status: None,
            group_gone: false,
            next_poll: None,
            poll_interval: FIRST_POLL,
            drain_until: None,
            drain_expired: false,
        }
    }

    /// The earliest instant at which `on_timer` has something to do.
    fn next_wake(&self) -> Option<Instant> {
        let timeout = self
            .deadline
            .filter(|_| self.status.is_none() && !self.term_sent);
        let kill = self
            .kill_at
            .filter(|_| self.kill_sent_at.is_none() && !self.group_gone);
        let poll = self
            .next_poll
            .filter(|_| self.status.is_some() && !self.group_gone);
        [timeout, kill, poll, self.drain_until]
            .into_iter()
            .flatten()
            .min()
    }

    async fn on_timer(&mut self, now: Instant) {
        if self.status.is_none() && !self.term_sent && self.deadline.is_some_and(|at| at <= now) {
            self.timed_out = true;
            self.terminate(now);
        }
        if !self.group_gone
            && self.kill_sent_at.is_none()
            && self.kill_at.is_some_and(|at| at <= now)
        {
            self.signal(Signal::SIGKILL);
            self.kill_sent_at = Some(now);
        }
        if self.status.is_some() && !self.group_gone && self.next_poll.is_some_and(|at| at <= now) {
            self.check_group(now).await;
        }
        if self.drain_until.is_some_and(|at| at <= now) {
            self.drain_expired = true;
        }
    }

    /// SIGTERM to the group now, SIGKILL after the grace period.
    fn terminate(&mut self, now: Instant) {
        self.term_sent = true;
        self.kill_at = now.checked_add(self.grace);
        self.signal(Signal::SIGTERM);
    }

    fn signal(&self, signal: Signal) {
        match killpg(self.pgid, signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(error) => {
                tracing::warn!(pgid = self.pgid.as_raw(), %signal, %error, "cannot signal step process group");
            }
        }
    }

    /// After the leader was reaped: is the group empty? If not, make it so.
    async fn check_group(&mut self, now: Instant) {
        let alive = group_alive(self.pgid).await;
        let gave_up = alive
            && self
                .kill_sent_at
                .is_some_and(|at| now.saturating_duration_since(at) >= KILL_SETTLE);
        if !alive || gave_up {
            if gave_up {
                tracing::warn!(
                    pgid = self.pgid.as_raw(),
                    "processes of the step survived SIGKILL; giving up on them"
                );
            }
            self.group_gone = true;
            self.next_poll = None;
            self.drain_until = now.checked_add(DRAIN_LIMIT);
            return;
        }
        if !self.term_sent {
            tracing::warn!(
                pgid = self.pgid.as_raw(),
                "step exited but left processes behind; terminating them"
            );
            self.terminate(now);
        }
        self.next_poll = now.checked_add(self.poll_interval);
        self.poll_interval = (self.poll_interval * 2).min(MAX_POLL);
    }
}

/// Reads from a pipe that is still open into `buf` (emptied first, read up to its capacity,
/// which never grows); never called on a closed one.
async fn read_some<R: AsyncRead + Unpin>(
    reader: &mut Option<R>,
    buf: &mut Vec<u8>,
) -> io::Result<usize> {
    buf.clear();
    match reader {
        Some(reader) => reader.read_buf(buf).await,
        None => std::future::pending().await,
    }
}

/// The bytes a read produced; closes the stream on end of file or error.
fn chunk<'a, R>(
    read: io::Result<usize>,
    buf: &'a [u8],
    reader: &mut Option<R>,
    pid: u32,
) -> Option<&'a [u8]> {
    match read {
        Ok(0) => {
            *reader = None;
            None
        }
        Ok(n) => buf.get(..n),
        Err(error) if error.kind() == io::ErrorKind::Interrupted => None,
        Err(error) => {
            tracing::warn!(pid, %error, "cannot read step output; closing the pipe");
            *reader = None;
            None
        }
    }
}

/// Whether the group still has a member that is not a zombie.
///
/// `killpg(pgid, 0)` also counts zombies, and an init that does not reap (common in
/// containers) keeps them forever, so on Linux a positive answer is checked in `/proc`.
async fn group_alive(pgid: Pid) -> bool {
    if killpg(pgid, None) == Err(Errno::ESRCH) {
        return false;
    }
    let raw = pgid.as_raw();
    match tokio::task::spawn_blocking(move || live_members(raw)).await {
        Ok(Ok(members)) => !members.is_empty(),
        // No /proc: trust killpg.
        _ => true,
    }
}

/// Pids of the group's members that are neither zombies nor dead, from `/proc/*/stat`.
fn live_members(pgid: i32) -> io::Result<Vec<i32>> {
    let mut live = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<i32>().ok())
        else {
            continue;
        };
        // The process may have ended since the directory was listed.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some((state, group)) = parse_stat(&stat)
            && group == pgid
            && state != 'Z'
            && state != 'X'
        {
            live.push(pid);
        }
    }
    Ok(live)
}

/// State and process group from a `/proc/<pid>/stat` line: `pid (comm) state ppid pgrp ...`,
/// where comm may contain spaces and parentheses.
fn parse_stat(stat: &str) -> Option<(char, i32)> {
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

fn exit_of(status: ExitStatus) -> Exit {
    match (status.code(), status.signal()) {
        (Some(code), _) => Exit::Code(code),
        (None, Some(signal)) => Exit::Signal(signal),
        // wait() reports neither stopped nor continued processes; keep the raw status.
        (None, None) => Exit::Code(status.into_raw()),
    }
}

fn spawn_error(program: &str, source: io::Error) -> ExecError {
    ExecError::Spawn {
        program: program.to_owned(),
        source,
    }
}

/// A missing working directory makes spawn fail with a bare "No such file or directory",
/// which would read as if the program were missing.
async fn explain_spawn_error(error: io::Error, cmd: &Command) -> io::Error {
    if error.kind() == io::ErrorKind::NotFound
        && !tokio::fs::metadata(&cmd.workdir)
            .await
            .is_ok_and(|m| m.is_dir())
    {
        return io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "working directory `{}` does not exist",
                cmd.workdir.display()
            ),
        );
    }
    error
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Instant as StdInstant;

    use super::super::Program;
    use super::*;

    fn command(program: Program, dir: &Path) -> Command {
        Command {
            program,
            base: std::sync::Arc::default(),
            env: Vec::new(),
            workdir: dir.to_path_buf(),
            timeout: None,
            kill_grace: Duration::from_millis(300),
            log_path: dir.join("step.log"),
            log_limit: 1 << 20,
            tail_limit: 4096,
            progress: Default::default(),
            target: super::super::Target::Local,
            user: None,
        }
    }

    fn shell(line: &str, dir: &Path) -> Command {
        command(Program::Shell(line.to_owned()), dir)
    }

    async fn run(cmd: &Command) -> Outcome {
        let (_tx, rx) = watch::channel(false);
        execute(cmd, rx, |_| {}).await.expect("runs")
    }

    /// Asserts that no process of the group is alive (zombies left to a non-reaping init
    /// are dead: they hold no resources and cannot run).
    fn assert_group_gone(pgid: u32) {
        let raw = i32::try_from(pgid).expect("pid fits");
        match killpg(Pid::from_raw(raw), None) {
            Err(Errno::ESRCH) => {}
            _ => {
                let live = live_members(raw).expect("/proc readable");
                assert!(live.is_empty(), "live members of group {pgid}: {live:?}");
            }
        }
    }

    /// A generous bound that only catches a hang (the sleeps in these tests last 300 s).
    const HANG: Duration = Duration::from_secs(30);

    #[tokio::test]
    async fn exit_code_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outcome = run(&shell("exit 3", dir.path())).await;
        assert_eq!(outcome.exit, Exit::Code(3));
        assert!(!outcome.success());
        assert!(!outcome.timed_out && !outcome.cancelled);

        let outcome = run(&command(Program::Argv(vec!["true".into()]), dir.path())).await;
        assert_eq!(outcome.exit, Exit::Code(0));
        assert!(outcome.success());
        assert!(outcome.started_at <= outcome.ended_at);
    }

    #[tokio::test]
    async fn signal_death_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outcome = run(&shell("kill -USR1 $$", dir.path())).await;
        assert_eq!(outcome.exit, Exit::Signal(Signal::SIGUSR1 as i32));
        assert!(!outcome.success());
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cmd = shell("sleep 300 & sleep 300", dir.path());
        cmd.timeout = Some(Duration::from_millis(300));
        let started = StdInstant::now();
        let outcome = run(&cmd).await;

        assert!(started.elapsed() < HANG);
        assert!(outcome.timed_out);
        assert!(!outcome.cancelled);
        assert!(!outcome.success());
        assert_eq!(outcome.exit, Exit::Signal(Signal::SIGTERM as i32));
        assert_group_gone(outcome.pid);
    }

    #[tokio::test]
    async fn timeout_escalates_to_kill_when_term_is_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cmd = shell("trap '' TERM; sleep 300", dir.path());
        cmd.timeout = Some(Duration::from_millis(300));
        let started = StdInstant::now();
        let outcome = run(&cmd).await;
        let elapsed = started.elapsed();

        assert!(outcome.timed_out);
        assert_eq!(outcome.exit, Exit::Signal(Signal::SIGKILL as i32));
        // TERM was ignored, so the whole grace period passed before KILL.
        assert!(elapsed >= Duration::from_millis(600), "{elapsed:?}");
        assert!(elapsed < HANG, "{elapsed:?}");
        assert_group_gone(outcome.pid);
    }

    #[tokio::test]
    async fn leftover_group_members_are_ended_after_the_leader_exits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cmd = shell("sleep 300 & echo done", dir.path());
        let started = StdInstant::now();
        let outcome = run(&cmd).await;

        assert!(started.elapsed() < HANG);
        assert_eq!(outcome.exit, Exit::Code(0));
        assert!(outcome.success());
        assert_eq!(outcome.stdout_tail, "done\n");
        let log = std::fs::read_to_string(&cmd.log_path).expect("log exists");
        assert_eq!(log, "done\n");
        assert_group_gone(outcome.pid);
    }

    #[tokio::test]
    async fn leftover_members_ignoring_term_are_killed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cmd = shell("(trap '' TERM; sleep 300) & echo done", dir.path());
        let outcome = run(&cmd).await;

        assert_eq!(outcome.exit, Exit::Code(0));
        assert_eq!(outcome.stdout_tail, "done\n");
        assert_group_gone(outcome.pid);
    }

    #[tokio::test]
    async fn escaped_process_holding_the_pipe_does_not_hang_us() {
        let dir = tempfile::tempdir().expect("tempdir");
        // `setsid` leaves our group (and session) but keeps stdout open; `$!` is its pid
        // because a non-leader runs setsid(2) without forking.
        let cmd = shell("setsid sleep 300 & echo $!", dir.path());
        let started = StdInstant::now();
        let outcome = run(&cmd).await;
        let elapsed = started.elapsed();

        let escaped: i32 = outcome.stdout_tail.trim().parse().expect("pid printed");
        let _ = nix::sys::signal::kill(Pid::from_raw(escaped), Signal::SIGKILL);
        assert!(elapsed < HANG, "{elapsed:?}");
        assert_eq!(outcome.exit, Exit::Code(0));
        assert_group_gone(outcome.pid);
    }

    #[tokio::test]
    async fn cancel_terminates_the_running_group() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cmd = shell("sleep 300 & sleep 300", dir.path());
        let (tx, rx) = watch::channel(false);
        let mut spawned = None;
        let canceller = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let _ = tx.send(true);
            tx
        });
        let outcome = execute(&cmd, rx, |pid| spawned = Some(pid))
            .await
            .expect("runs");
        let _tx = canceller.await.expect("canceller");

        assert_eq!(spawned, Some(outcome.pid));
        assert!(outcome.cancelled);
        assert!(!outcome.timed_out);
        assert!(!outcome.success());
        assert_eq!(outcome.exit, Exit::Signal(Signal::SIGTERM as i32));
        assert_group_gone(outcome.pid);
    }

    #[tokio::test]
    async fn cancelled_before_start_ends_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cmd = shell("sleep 300", dir.path());
        let (_tx, rx) = watch::channel(true);
        let outcome = execute(&cmd, rx, |_| {}).await.expect("runs");

        assert!(outcome.cancelled);
        assert!(!outcome.success());
        assert_group_gone(outcome.pid);
    }

    #[tokio::test]
    async fn dropped_cancel_sender_lets_the_step_finish() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cmd = shell("sleep 0.2; echo finished", dir.path());
        let (tx, rx) = watch::channel(false);
        drop(tx);
        let outcome = execute(&cmd, rx, |_| {}).await.expect("runs");

        assert!(outcome.success());
        assert_eq!(outcome.stdout_tail, "finished\n");
    }

    #[tokio::test]
    async fn env_and_workdir_are_applied() {
        let dir = tempfile::tempdir().expect("tempdir");
        let work = dir.path().join("work dir");
        std::fs::create_dir(&work).expect("mkdir");
        let mut cmd = shell("echo $FOO; pwd", dir.path());
        cmd.workdir = work.clone();
        cmd.env = vec![("FOO".into(), "bar baz".into())];
        let outcome = run(&cmd).await;

        let real = work.canonicalize().expect("canonical");
        assert_eq!(outcome.exit, Exit::Code(0));
        assert_eq!(
            outcome.stdout_tail,
            format!("bar baz\n{}\n", real.display())
        );
    }

    #[tokio::test]
    async fn empty_argv_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_tx, rx) = watch::channel(false);
        let result = execute(&command(Program::Argv(Vec::new()), dir.path()), rx, |_| {}).await;
        assert!(matches!(result, Err(ExecError::EmptyArgv)), "{result:?}");
    }

    #[tokio::test]
    async fn missing_program_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cmd = command(
            Program::Argv(vec!["unyo-no-such-program".into(), "x".into()]),
            dir.path(),
        );
        let (_tx, rx) = watch::channel(false);
        let mut called = false;
        let result = execute(&cmd, rx, |_| called = true).await;

        assert!(!called);
        let error = result.expect_err("fails");
        assert!(
            error
                .to_string()
                .starts_with("cannot start `unyo-no-such-program`: "),
            "{error}"
        );
        let ExecError::Spawn { program, source } = &error else {
            panic!("expected a spawn error, got {error:?}");
        };
        assert_eq!(program, "unyo-no-such-program");
        assert_eq!(source.kind(), io::ErrorKind::NotFound);
    }

    #[tokio::test]
    async fn missing_workdir_is_explained() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cmd = command(Program::Argv(vec!["true".into()]), dir.path());
        cmd.workdir = dir.path().join("absent");
        let (_tx, rx) = watch::channel(false);
        let result = execute(&cmd, rx, |_| {}).await;

        let message = result.expect_err("fails").to_string();
        assert!(message.contains("working directory"), "{message}");
        assert!(message.contains("absent"), "{message}");
    }

    #[tokio::test]
    async fn unusable_log_directory_is_a_log_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("plain-file");
        std::fs::write(&file, "x").expect("write");
        let mut cmd = command(Program::Argv(vec!["true".into()]), dir.path());
        cmd.log_path = file.join("sub").join("step.log");
        let (_tx, rx) = watch::channel(false);
        let result = execute(&cmd, rx, |_| {}).await;

        assert!(matches!(result, Err(ExecError::Log { .. })), "{result:?}");
    }

    #[test]
    fn stat_lines_with_odd_names_parse() {
        assert_eq!(
            parse_stat("42 (my (odd) name) S 1 42 42 0 -1 4194560"),
            Some(('S', 42))
        );
        assert_eq!(parse_stat("7 (sleep) Z 1 5 5 0"), Some(('Z', 5)));
        assert_eq!(parse_stat("garbage"), None);
    }
}
