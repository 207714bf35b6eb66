//! A step on another server, through the system OpenSSH client: the `ssh` argv with unyo's
//! options, the remote command line built from quoted words, the step's environment sent as
//! data on the channel, the remote process group ended when the channel closes, the shared
//! connection (one master per host and unyo process), and an ssh failure (exit 255 of `ssh`
//! itself) told apart from the remote command's own exit 255.
//!
//! The remote side is a small POSIX `sh` wrapper ([`WRAPPER`]). It reads the environment
//! from its standard input (one `NAME=value` line each, the value's bytes outside a safe set
//! written as `\0ooo` escapes for `printf %b`, an empty line last), starts the command with
//! `setsid` (its own session and process group, standard input `/dev/null`), and keeps
//! reading its standard input: that input is the ssh channel, which unyo holds open for the
//! whole attempt, so its end means the local `ssh` was stopped (timeout, cancel, a dead
//! unyo) and the wrapper then ends the remote group, TERM then KILL after the grace. When
//! the command ends, what it left in its group gets the same. A remote exit 255 is followed
//! by a marker line on standard error, so an exit 255 without it is `ssh`'s own.
//!
//! Nothing here may put a value on a command line but as a word quoted by
//! [`super::shell_quote`]; environment values (which may hold secrets) never go on a command
//! line at all. It must not know jobs, runs or the database.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use super::escaped::{Registration, spawn_own};
use super::{Command, Exit, Outcome, Program, shell_quote};

/// Where a step runs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Target {
    /// On this machine.
    #[default]
    Local,
    /// On another server, through `ssh`.
    Ssh(SshTarget),
}

/// A server a step reaches through `ssh`, with everything its connection needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    /// The host's name in `unyo.yaml` (`tax-db`): used in messages and file names.
    pub name: String,
    pub address: String,
    pub port: u16,
    /// The user ssh logs in as.
    pub user: String,
    /// The private key; `None` leaves it to ssh's defaults for the unyo user.
    pub identity: Option<PathBuf>,
    /// The pinned host key, `TYPE BASE64` (`ssh-ed25519 AAAA…`).
    pub host_key: String,
    /// unyo's private ssh folder (`<data_dir>/ssh`): known hosts and control sockets.
    pub dir: PathBuf,
}

/// How long an attempt waits for the TCP connection (ssh's `ConnectTimeout`).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Keepalive interval (`ServerAliveInterval`); three missed answers end the connection.
pub const KEEPALIVE: Duration = Duration::from_secs(15);
/// How long a shared connection stays open after its last step.
pub const PERSIST: Duration = Duration::from_secs(60);
/// A Unix socket path longer than this cannot be bound (108 bytes on Linux, with margin).
const SOCKET_PATH_MAX: usize = 100;

/// The start of the error of an attempt whose connection failed, and of one whose host key
/// did not match; [`class_of_error`] reads them back from a recorded attempt.
pub const CONNECTION_FAILED: &str = "connection to host";
pub const HOST_KEY_CHANGED: &str = "host key of";

/// The remote wrapper: `$1` the grace in seconds, `$2` the marker, the rest the argv.
pub const WRAPPER: &str = r#"g=$1; m=$2; shift 2
while IFS= read -r l && [ -n "$l" ]; do
  v=$(printf '%bx' "${l#*=}"); export "${l%%=*}=${v%x}"
done
exec 3<&0
setsid "$@" </dev/null &
p=$!
{ while IFS= read -r l; do :; done
  kill -s TERM -- "-$p" 2>/dev/null && { sleep "$g"; kill -s KILL -- "-$p" 2>/dev/null; }
} <&3 >/dev/null 2>&1 &
w=$!
exec 3<&-
wait "$p"; r=$?
if kill -s TERM -- "-$p" 2>/dev/null; then sleep "$g"; kill -s KILL -- "-$p" 2>/dev/null; fi
kill "$w" 2>/dev/null
[ "$r" = 255 ] && printf '%s\n' "$m" >&2
exit "$r""#;

/// Why a remote attempt's connection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum FailureKind {
    /// The server presented a key other than the pinned one (or none is pinned).
    HostKey,
    /// The server refused every key offered.
    Auth,
    /// No connection: refused, unreachable, timed out, unknown name.
    Connect,
    /// The connection broke while the command ran (its end is unknown).
    Lost,
}

/// An exit 255 that came from `ssh`, not from the remote command.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConnectionFailure {
    pub host: String,
    pub kind: FailureKind,
    /// ssh's own words: its last line on standard error.
    pub message: String,
}

impl ConnectionFailure {
    /// The failure class incidents and runbooks know it by.
    pub fn class(&self) -> &'static str {
        match self.kind {
            FailureKind::HostKey => "host key changed",
            _ => "connection failed",
        }
    }
}

impl fmt::Display for ConnectionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            FailureKind::HostKey => {
                return write!(
                    f,
                    "{HOST_KEY_CHANGED} `{}` changed or is not the pinned one; refused ({})",
                    self.host, self.message
                );
            }
            FailureKind::Auth => "authentication failed",
            FailureKind::Connect => "cannot connect",
            FailureKind::Lost => "connection lost",
        };
        write!(
            f,
            "{CONNECTION_FAILED} `{}` failed: {what} ({})",
            self.host, self.message
        )
    }
}

/// The failure class of a recorded attempt's error, when it is a connection failure.
pub fn class_of_error(error: &str) -> Option<&'static str> {
    if error.starts_with(HOST_KEY_CHANGED) {
        Some("host key changed")
    } else if error.starts_with(CONNECTION_FAILED) {
        Some("connection failed")
    } else {
        None
    }
}

/// The line the wrapper prints after a remote exit 255.
fn marker(target: &SshTarget) -> String {
    format!("unyo: the command on `{}` exited 255", target.name)
}

/// After the attempt: an exit 255 without the wrapper's marker is `ssh`'s own; with it, the
/// marker is taken off the tail (the log keeps it).
pub(super) fn classify(cmd: &Command, outcome: &mut Outcome) {
    let Target::Ssh(target) = &cmd.target else {
        return;
    };
    if outcome.timed_out || outcome.cancelled || outcome.exit != Exit::Code(255) {
        return;
    }
    let mark = marker(target);
    let trimmed = outcome.stderr_tail.trim_end_matches('\n');
    if let Some(rest) = trimmed.strip_suffix(mark.as_str())
        && (rest.is_empty() || rest.ends_with('\n'))
    {
        outcome.stderr_tail.truncate(rest.len());
        return;
    }
    let message = outcome
        .stderr_tail
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("ssh exited 255 and said nothing")
        .to_owned();
    let all = &outcome.stderr_tail;
    let kind = if all.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        || all.contains("Host key verification failed")
        || all.contains("No ED25519 host key is known")
        || all.contains("host key for")
    {
        FailureKind::HostKey
    } else if all.contains("Permission denied") || all.contains("Too many authentication") {
        FailureKind::Auth
    } else if all.contains("Connection refused")
        || all.contains("Connection timed out")
        || all.contains("No route to host")
        || all.contains("Could not resolve")
        || all.contains("Network is unreachable")
        || (all.contains("Connection closed by") && !all.contains("Connection to"))
    {
        FailureKind::Connect
    } else {
        FailureKind::Lost
    };
    outcome.connection = Some(ConnectionFailure {
        host: target.name.clone(),
        kind,
        message,
    });
}

/// The known-hosts file of a host: one line, its pinned key, written by unyo (0600) when
/// it differs.
fn known_hosts(target: &SshTarget) -> std::io::Result<PathBuf> {
    let path = target.dir.join(format!("known_hosts.{}", target.name));
    let host = if target.port == 22 {
        target.address.clone()
    } else {
        format!("[{}]:{}", target.address, target.port)
    };
    let line = format!("{host} {}\n", target.host_key.trim());
    if std::fs::read_to_string(&path).ok().as_deref() != Some(line.as_str()) {
        private_dir(&target.dir)?;
        let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
        std::fs::write(&tmp, &line)?;
        set_mode(&tmp, 0o600)?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(path)
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Makes `dir` (and its parents) and gives it mode 0700.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    set_mode(dir, 0o700)
}

/// The control socket of this unyo process for a host as it is now configured (a reload
/// that changes the host's address, user, key or pinned key gets a connection of its own),
/// when its path is short enough.
fn socket(target: &SshTarget) -> Option<PathBuf> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [
        target.address.as_str(),
        &target.port.to_string(),
        &target.user,
        &target
            .identity
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        &target.host_key,
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let digest = format!("{:x}", h.finalize());
    let path = target.dir.join("control").join(format!(
        "{}-{}-{}",
        std::process::id(),
        target.name,
        digest.get(..8).unwrap_or_default()
    ));
    (path.as_os_str().len() <= SOCKET_PATH_MAX).then_some(path)
}

/// The options every connection to `target` gets.
fn options(target: &SshTarget, known: &Path) -> Vec<String> {
    let mut args: Vec<String> = vec!["-F".into(), "none".into(), "-T".into()];
    let mut opt = |o: String| {
        args.push("-o".into());
        args.push(o);
    };
    opt("BatchMode=yes".into());
    opt("StrictHostKeyChecking=yes".into());
    opt(format!("UserKnownHostsFile={}", known.display()));
    opt("GlobalKnownHostsFile=none".into());
    opt("CheckHostIP=no".into());
    opt("UpdateHostKeys=no".into());
    opt(format!("ConnectTimeout={}", CONNECT_TIMEOUT.as_secs()));
    opt(format!("ServerAliveInterval={}", KEEPALIVE.as_secs()));
    opt("ServerAliveCountMax=3".into());
    opt("LogLevel=ERROR".into());
    if let Some(identity) = &target.identity {
        opt("IdentitiesOnly=yes".into());
        args.push("-i".into());
        args.push(identity.display().to_string());
    }
    args.push("-p".into());
    args.push(target.port.to_string());
    args.push("-l".into());
    args.push(target.user.clone());
    args
}

/// The remote command line: the wrapper and the step's argv, each a quoted word.
pub fn remote_line(program: &Program, grace: Duration, target: &SshTarget) -> String {
    let argv: Vec<&str> = match program {
        Program::Argv(argv) => argv.iter().map(String::as_str).collect(),
        Program::Shell(line) => vec!["/bin/sh", "-c", line],
    };
    let grace = grace.as_secs() + u64::from(grace.subsec_nanos() > 0);
    let mut words = vec![
        "exec".to_owned(),
        "/bin/sh".to_owned(),
        "-c".to_owned(),
        shell_quote(WRAPPER),
        "unyo-remote".to_owned(),
        shell_quote(&grace.max(1).to_string()),
        shell_quote(&marker(target)),
    ];
    words.extend(argv.iter().map(|a| shell_quote(a)));
    words.join(" ")
}

/// The step's environment as the wrapper reads it: `NAME=value` lines, an empty line last.
/// Names that are not shell names are left out (the wrapper could not export them).
pub fn env_block(env: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in env {
        let name_ok = key
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !name_ok {
            continue;
        }
        out.extend_from_slice(key.as_bytes());
        out.push(b'=');
        for b in value.bytes() {
            if b.is_ascii_alphanumeric() || b"_-./:,+@= ".contains(&b) {
                out.push(b);
            } else {
                out.extend_from_slice(format!("\\0{b:03o}").as_bytes());
            }
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    out
}

/// What to spawn for a remote step: `ssh` with its argv, and the bytes for its stdin.
pub(super) struct Remote {
    pub argv: Vec<String>,
    pub stdin: Vec<u8>,
    /// Keeps the shared connection open while the attempt runs.
    pub lease: Option<Lease>,
}

/// Builds the `ssh` command of an attempt, opening (or reusing) the shared connection.
pub(super) async fn prepare(cmd: &Command, target: &SshTarget) -> std::io::Result<Remote> {
    let known = known_hosts(target)?;
    let mut argv = vec!["ssh".to_owned()];
    argv.extend(options(target, &known));
    let lease = match socket(target) {
        Some(sock) => {
            let lease = master(target, &known, &sock, &cmd.base).await;
            argv.extend([
                "-o".into(),
                "ControlMaster=no".into(),
                "-o".into(),
                format!("ControlPath={}", sock.display()),
            ]);
            lease
        }
        None => None,
    };
    argv.push("--".into());
    argv.push(target.address.clone());
    argv.push(remote_line(&cmd.program, cmd.kill_grace, target));
    Ok(Remote {
        argv,
        // The run's variables, then the attempt's: never unyo's own environment.
        stdin: env_block(&[cmd.base.added(), &cmd.env].concat()),
        lease,
    })
}

/// A shared connection: an `ssh -M` child of this process (not backgrounded with
/// `ControlPersist`, which would leave unyo's supervision and be taken for a step's
/// leftover). Its remote command reads its standard input, a pipe held here: closing it (idle
/// for [`PERSIST`], or this process ending however it ends) ends the master.
struct Master {
    child: tokio::process::Child,
    stdin: Option<tokio::process::ChildStdin>,
    _registration: Option<Registration>,
    users: usize,
    last_used: Instant,
}

static MASTERS: LazyLock<Mutex<HashMap<PathBuf, Master>>> = LazyLock::new(Mutex::default);

fn masters() -> MutexGuard<'static, HashMap<PathBuf, Master>> {
    MASTERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An attempt using a shared connection; dropping it marks the connection idle.
pub(super) struct Lease {
    socket: PathBuf,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(m) = masters().get_mut(&self.socket) {
            m.users = m.users.saturating_sub(1);
            m.last_used = Instant::now();
        }
    }
}

/// Opens the shared connection for `target` unless this process has one, and waits until
/// it accepts sessions (or failed: the attempt's own `ssh` then connects by itself and
/// reports why it cannot).
async fn master(
    target: &SshTarget,
    known: &Path,
    sock: &Path,
    base: &super::Environment,
) -> Option<Lease> {
    let started = {
        let mut all = masters();
        let alive = all
            .get_mut(sock)
            .is_some_and(|m| matches!(m.child.try_wait(), Ok(None)));
        if alive {
            if let Some(m) = all.get_mut(sock) {
                m.users += 1;
            }
            false
        } else {
            all.remove(sock);
            let dir = sock.parent()?;
            private_dir(dir).ok()?;
            let _ = std::fs::remove_file(sock);
            let mut command = tokio::process::Command::new("ssh");
            command
                .args(options(target, known))
                .args(["-M", "-o", "ControlPersist=no", "-S"])
                .arg(sock)
                .arg("--")
                .arg(&target.address)
                .arg("exec cat >/dev/null");
            // unyo's environment without its secrets (the run's `base`), and without the
            // variables that would make the connection look like a step's process.
            command.env_clear().envs(base.pairs().filter(|(k, _)| {
                !["UNYO_RUN_ID", "UNYO_STEP", "UNYO_JOB", "UNYO_ROOT"]
                    .iter()
                    .any(|m| std::ffi::OsStr::new(m) == *k)
            }));
            command
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(false);
            let (mut child, registration) = spawn_own(&mut command).ok()?;
            let stdin = child.stdin.take();
            all.insert(
                sock.to_path_buf(),
                Master {
                    child,
                    stdin,
                    _registration: registration,
                    users: 1,
                    last_used: Instant::now(),
                },
            );
            true
        }
    };
    let lease = Lease {
        socket: sock.to_path_buf(),
    };
    if started {
        tokio::spawn(close_when_idle(sock.to_path_buf()));
    }
    let give_up = Instant::now() + CONNECT_TIMEOUT + Duration::from_secs(5);
    let mut pause = Duration::from_millis(2);
    loop {
        if sock.exists() {
            return Some(lease);
        }
        let running = masters()
            .get_mut(sock)
            .is_some_and(|m| matches!(m.child.try_wait(), Ok(None)));
        if !running || Instant::now() >= give_up {
            return None;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Ends a shared connection once it has been idle for [`PERSIST`] (or has died).
async fn close_when_idle(sock: PathBuf) {
    loop {
        tokio::time::sleep(PERSIST).await;
        let closing = {
            let mut all = masters();
            let Some(m) = all.get_mut(&sock) else { return };
            let dead = !matches!(m.child.try_wait(), Ok(None));
            if dead || (m.users == 0 && m.last_used.elapsed() >= PERSIST) {
                all.remove(&sock)
            } else {
                None
            }
        };
        if let Some(mut m) = closing {
            // The remote `cat` ends, then the master once no session is left.
            drop(m.stdin.take());
            let _ = m.child.wait().await;
            let _ = std::fs::remove_file(&sock);
            return;
        }
    }
}

/// Writes the environment block to the local `ssh`'s standard input and keeps it open until
/// the returned guard is dropped (the end of the attempt): its end is what tells the remote
/// wrapper to stop the command.
pub(super) fn feed<W>(stdin: Option<W>, data: Vec<u8>) -> StdinGuard
where
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    if let Some(mut stdin) = stdin {
        tokio::spawn(async move {
            if stdin.write_all(&data).await.is_ok() {
                let _ = stdin.flush().await;
                // Held until the attempt is over (the sender is dropped).
                let _ = rx.await;
            }
            drop(stdin);
        });
    }
    StdinGuard { _close: tx }
}

/// Closes the local `ssh`'s standard input when dropped.
pub(super) struct StdinGuard {
    _close: tokio::sync::oneshot::Sender<()>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> SshTarget {
        SshTarget {
            name: "tax-db".into(),
            address: "127.0.0.1".into(),
            port: 2222,
            user: "unyo".into(),
            identity: Some(PathBuf::from("/etc/unyo/id")),
            host_key: "ssh-ed25519 AAAA".into(),
            dir: PathBuf::from("/var/lib/unyo/ssh"),
        }
    }

    #[test]
    fn every_word_of_the_remote_line_is_quoted() {
        let line = remote_line(
            &Program::Argv(vec!["echo".into(), "$(touch x)".into(), "it's".into()]),
            Duration::from_millis(1500),
            &target(),
        );
        assert!(line.starts_with("exec /bin/sh -c '"), "{line}");
        assert!(
            line.ends_with(
                r#" 'unyo: the command on `tax-db` exited 255' 'echo' '$(touch x)' 'it'\''s'"#
            ),
            "{line}"
        );
        assert!(line.contains(" unyo-remote '2' "), "{line}");
    }

    #[test]
    fn env_values_are_escaped_bytes_and_bad_names_are_left_out() {
        let env = vec![
            ("A".to_owned(), "x y\n'$`\\".to_owned()),
            ("BAD-NAME".to_owned(), "v".to_owned()),
            ("日本".to_owned(), "v".to_owned()),
            ("J".to_owned(), "税".to_owned()),
        ];
        let block = String::from_utf8(env_block(&env)).expect("ascii");
        assert_eq!(
            block,
            "A=x y\\0012\\0047\\0044\\0140\\0134\nJ=\\0347\\0250\\0216\n\n"
        );
    }

    #[test]
    fn an_exit_255_is_the_command_s_own_only_with_the_marker() {
        let cmd = Command {
            target: Target::Ssh(target()),
            ..crate::exec::tests::shell_command("true".into(), PathBuf::from("/tmp"))
        };
        let mut outcome = crate::exec::tests::outcome(Exit::Code(255));
        outcome.stderr_tail = "oops\nunyo: the command on `tax-db` exited 255\n".into();
        classify(&cmd, &mut outcome);
        assert_eq!(outcome.connection, None);
        assert_eq!(outcome.stderr_tail, "oops\n");

        let mut outcome = crate::exec::tests::outcome(Exit::Code(255));
        outcome.stderr_tail =
            "ssh: connect to host 127.0.0.1 port 2222: Connection refused\n".into();
        classify(&cmd, &mut outcome);
        let failure = outcome.connection.expect("ssh's own");
        assert_eq!(failure.kind, FailureKind::Connect);
        assert_eq!(failure.class(), "connection failed");
        assert_eq!(
            class_of_error(&failure.to_string()),
            Some("connection failed")
        );

        let mut outcome = crate::exec::tests::outcome(Exit::Code(255));
        outcome.stderr_tail = "@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.\n".into();
        classify(&cmd, &mut outcome);
        let failure = outcome.connection.expect("ssh's own");
        assert_eq!(failure.kind, FailureKind::HostKey);
        assert_eq!(
            class_of_error(&failure.to_string()),
            Some("host key changed")
        );

        let mut outcome = crate::exec::tests::outcome(Exit::Code(3));
        classify(&cmd, &mut outcome);
        assert_eq!(outcome.connection, None);
    }
}
