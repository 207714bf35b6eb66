//! Starting a step's process and reaping it: the environment a run's steps start from,
//! prepared once per run ([`Environment`]), and a child reaped through its pidfd ([`Child`]).
//!
//! A step whose working directory is unyo's own and whose program is found on unyo's own
//! `PATH` (the common case: `unyo run` and the daemon work in the root) is started with
//! `posix_spawn` and an `envp` that points at the run's prepared variables, so nothing of the
//! inherited environment is copied for each process. Any other step goes through
//! `std::process::Command`, with the same environment. Either way the child gets `/dev/null`
//! as stdin, two pipes as stdout and stderr, a process group of its own, an empty signal
//! mask and `SIGPIPE` at its default, and it is reaped here, not by the async runtime.
//!
//! It must not decide what goes into the environment (the engine does) nor supervise the
//! process (`process.rs` does).

use std::ffi::{CStr, CString, OsStr};
use std::fmt;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, OnceLock};

use nix::spawn::{
    PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags, posix_spawn, posix_spawnp,
};
use nix::sys::signal::{SigSet, Signal};
use nix::unistd::Pid;
use rustix::process::{WaitId, WaitIdOptions, WaitIdStatus, pidfd_open};
use tokio::io::unix::AsyncFd;
use tokio::net::unix::pipe;

/// The variables every process of a run starts with: unyo's own environment less the
/// variables it must not pass on, plus the run's own. Built once per run (unyo's own part
/// once per process and list of removed names, shared by every run); each attempt adds its
/// own few variables on top (a later variable replaces an earlier one of the same name).
pub struct Environment {
    /// Every variable, `KEY=value`: unyo's own less the removed ones and those the run sets,
    /// then the run's own (one of each name, the later given wins), with the length of each
    /// name, so that a step's own variables are checked against them without scanning.
    vars: Vec<Var>,
    /// A variable could not be passed to a process (a NUL byte): such a run's processes are
    /// started through std, which reports it.
    unusable: bool,
    /// `PATH` is not unyo's own, so a program must be looked up in the process's `PATH`.
    path_changed: bool,
    /// The variables the run added (not inherited), as given: what a step on another
    /// machine is sent.
    added: Vec<(String, String)>,
}

/// One `KEY=value` of an environment and the length of its `KEY`.
struct Var {
    entry: CString,
    key_len: usize,
}

impl Var {
    fn new(entry: CString) -> Var {
        let key_len = key(entry.to_bytes()).len();
        Var { entry, key_len }
    }

    fn key(&self) -> &[u8] {
        self.entry
            .to_bytes()
            .get(..self.key_len)
            .unwrap_or_default()
    }

    fn value(&self) -> &[u8] {
        self.entry
            .to_bytes()
            .get(self.key_len + 1..)
            .unwrap_or_default()
    }
}

/// Names only: values may hold secrets.
impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = self
            .vars
            .iter()
            .map(|v| String::from_utf8_lossy(v.key()).into_owned())
            .collect();
        f.debug_struct("Environment")
            .field("names", &names)
            .finish()
    }
}

impl Default for Environment {
    /// unyo's own environment, as it is.
    fn default() -> Self {
        Self::new(&[], &[])
    }
}

/// unyo's own environment less `remove`, as `KEY=value` (one of each name, the last one
/// of the environment winning): built once for a list of removed names and kept, since a
/// process's own environment does not change (the daemon's list changes only on a reload).
fn inherited(remove: &[String]) -> Arc<Vec<CString>> {
    type Cached = Option<(Vec<String>, Arc<Vec<CString>>)>;
    static CACHE: std::sync::Mutex<Cached> = std::sync::Mutex::new(None);
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((names, vars)) = cache.as_ref()
        && names.as_slice() == remove
    {
        return vars.clone();
    }
    let mut vars: Vec<CString> = Vec::new();
    let mut seen: std::collections::HashMap<Vec<u8>, usize> = std::collections::HashMap::new();
    // What the daemon set for its own malloc (`cli::malloc`) is not the steps'.
    let tuned = std::env::var_os(super::MALLOC_SET_BY_UNYO).is_some();
    for (k, v) in std::env::vars_os() {
        if remove.iter().any(|r| OsStr::new(r) == k)
            || (tuned
                && (k == super::MALLOC_SET_BY_UNYO
                    || super::MALLOC_TUNING.iter().any(|(name, _)| k == *name)))
        {
            continue;
        }
        // An environment entry holds no NUL byte.
        let Ok(entry) = CString::new(entry_of(k.as_bytes(), v.as_bytes())) else {
            continue;
        };
        match seen.get(k.as_bytes()) {
            Some(&at) => {
                if let Some(slot) = vars.get_mut(at) {
                    *slot = entry;
                }
            }
            None => {
                seen.insert(k.as_bytes().to_vec(), vars.len());
                vars.push(entry);
            }
        }
    }
    let vars = Arc::new(vars);
    *cache = Some((remove.to_vec(), vars.clone()));
    vars
}

fn entry_of(k: &[u8], v: &[u8]) -> Vec<u8> {
    let mut entry = Vec::with_capacity(k.len() + v.len() + 1);
    entry.extend_from_slice(k);
    entry.push(b'=');
    entry.extend_from_slice(v);
    entry
}

impl Environment {
    /// unyo's environment less the variables named in `remove`, plus `add` (a later variable
    /// replaces an earlier one of the same name).
    pub fn new(remove: &[String], add: &[(String, String)]) -> Environment {
        let mut own: Vec<Var> = Vec::with_capacity(add.len());
        let mut unusable = false;
        for (k, v) in add {
            own.retain(|e| e.key() != k.as_bytes());
            match CString::new(entry_of(k.as_bytes(), v.as_bytes())) {
                Ok(c) => own.push(Var::new(c)),
                Err(_) => unusable = true,
            }
        }
        let inherited = inherited(remove);
        let mut vars: Vec<Var> = inherited
            .iter()
            .map(|e| Var::new(e.clone()))
            .filter(|v| !own.iter().any(|o| o.key() == v.key()))
            .collect();
        vars.extend(own);
        let mut env = Environment {
            vars,
            unusable,
            path_changed: false,
            added: add.to_vec(),
        };
        let own_path = std::env::var_os("PATH");
        env.path_changed = env.get("PATH") != own_path.as_ref().map(|p| p.as_bytes());
        env
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.vars
            .iter()
            .find(|v| v.key() == name.as_bytes())
            .map(Var::value)
    }

    /// The variables the run added on top of unyo's own, in order (a later one of the same
    /// name wins).
    pub fn added(&self) -> &[(String, String)] {
        &self.added
    }

    /// The variables as (name, value) pairs.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&OsStr, &OsStr)> {
        self.vars
            .iter()
            .map(|v| (OsStr::from_bytes(v.key()), OsStr::from_bytes(v.value())))
    }
}

fn key(entry: &[u8]) -> &[u8] {
    let end = entry.iter().position(|b| *b == b'=').unwrap_or(entry.len());
    entry.get(..end).unwrap_or(entry)
}

/// What to start: a program with its arguments (argv[0] first), in `workdir`, with `base`
/// plus `extra` as its environment.
pub(super) struct Spawn<'a> {
    pub program: &'a str,
    pub args: &'a [&'a str],
    pub workdir: &'a Path,
    pub base: &'a Environment,
    pub extra: &'a [(String, String)],
    /// A pipe as standard input (for data the caller writes), instead of `/dev/null`.
    pub stdin: bool,
}

/// A started process: its pid (also its process group), the read ends of its stdout and
/// stderr, and its pidfd for reaping.
pub(crate) struct Child {
    pid: u32,
    /// The write end of its standard input, when a pipe was asked for.
    pub stdin: Option<pipe::Sender>,
    pub stdout: Option<pipe::Receiver>,
    pub stderr: Option<pipe::Receiver>,
    /// `None` once the process is reaped.
    pidfd: Option<AsyncFd<OwnedFd>>,
    status: Option<ExitStatus>,
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("pid", &self.pid)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl Child {
    pub fn id(&self) -> u32 {
        self.pid
    }

    /// Waits for the process to exit and reaps it. Cancel-safe: dropping the future loses
    /// nothing.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        loop {
            if let Some(status) = self.status {
                return Ok(status);
            }
            let Some(fd) = &self.pidfd else {
                return Err(io::Error::other("the process was already reaped"));
            };
            let mut ready = fd.readable().await?;
            match reap(fd.get_ref())? {
                Some(status) => {
                    self.status = Some(status);
                    self.pidfd = None;
                }
                None => ready.clear_ready(),
            }
        }
    }
}

impl Drop for Child {
    /// A child dropped before it was reaped is reaped in the background, so it never stays
    /// a zombie (nor looks like an adopted orphan to a sweep).
    fn drop(&mut self) {
        let Some(fd) = self.pidfd.take() else { return };
        if matches!(reap(fd.get_ref()), Ok(Some(_)) | Err(_)) {
            return;
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                loop {
                    let Ok(mut ready) = fd.readable().await else {
                        return;
                    };
                    match reap(fd.get_ref()) {
                        Ok(None) => ready.clear_ready(),
                        _ => return,
                    }
                }
            });
        }
    }
}

/// Reaps the process of `pidfd` if it has exited.
fn reap(pidfd: &OwnedFd) -> io::Result<Option<ExitStatus>> {
    let status = rustix::process::waitid(
        WaitId::PidFd(pidfd.as_fd()),
        WaitIdOptions::EXITED | WaitIdOptions::NOHANG,
    )?;
    Ok(status.map(|s| exit_status(&s)))
}

/// The wait status as `waitpid` would give it.
fn exit_status(s: &WaitIdStatus) -> ExitStatus {
    let raw = if let Some(code) = s.exit_status() {
        (code & 0xff) << 8
    } else if let Some(signal) = s.terminating_signal() {
        signal | if s.dumped() { 0x80 } else { 0 }
    } else {
        0
    };
    ExitStatus::from_raw(raw)
}

/// The directory unyo set itself to work in ([`work_in`]), so that a spawn need not ask.
static WORKDIR: OnceLock<std::path::PathBuf> = OnceLock::new();

/// Makes `dir` unyo's working directory for the rest of its life (a process that runs steps
/// works in its root), and remembers it.
pub fn work_in(dir: &Path) -> io::Result<()> {
    std::env::set_current_dir(dir)?;
    let _ = WORKDIR.set(std::env::current_dir()?);
    Ok(())
}

/// Whether `dir` is unyo's working directory.
fn works_in(dir: &Path) -> bool {
    match WORKDIR.get() {
        Some(here) => here == dir,
        None => std::env::current_dir().is_ok_and(|cwd| cwd == dir),
    }
}

/// Starts `spec` (see the module's header for how).
pub(super) fn spawn(spec: &Spawn<'_>) -> io::Result<Child> {
    let fast = !spec.stdin
        && !spec.base.unusable
        && !spec.base.path_changed
        && !spec.extra.iter().any(|(k, _)| k == "PATH")
        && works_in(spec.workdir);
    let (pid, stdin, stdout, stderr) = if fast {
        let (pid, stdout, stderr) = spawn_direct(spec)?;
        (pid, None, stdout, stderr)
    } else {
        spawn_std(spec)?
    };
    // The pid cannot be reused before the process is reaped, which only this does.
    let pidfd = pidfd_open(
        rustix::process::Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX))
            .ok_or_else(|| io::Error::other("no usable process id"))?,
        rustix::process::PidfdFlags::NONBLOCK,
    )?;
    // `AsyncFd::new` is deprecated because a handle whose descriptor can be swapped or closed
    // under it is unsound; an `OwnedFd` owned by the `AsyncFd` cannot be (and the other way,
    // `register`, needs `unsafe`, which this crate keeps out).
    #[allow(deprecated)]
    let pidfd = AsyncFd::new(pidfd)?;
    let stdin = match stdin {
        Some(fd) => {
            use nix::fcntl::{FcntlArg, OFlag, fcntl};
            fcntl(&fd, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(nix_err)?;
            Some(pipe::Sender::from_owned_fd_unchecked(fd)?)
        }
        None => None,
    };
    Ok(Child {
        pid,
        stdin,
        stdout: Some(receiver(stdout)?),
        stderr: Some(receiver(stderr)?),
        pidfd: Some(pidfd),
        status: None,
    })
}

/// The read end of a pipe made here, non-blocking, for the runtime (the checks of
/// `Receiver::from_owned_fd` would ask the kernel what is known already).
fn receiver(fd: OwnedFd) -> io::Result<pipe::Receiver> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    fcntl(&fd, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(nix_err)?;
    pipe::Receiver::from_owned_fd_unchecked(fd)
}

/// `/dev/null`, opened once for every process's stdin.
fn dev_null() -> io::Result<&'static OwnedFd> {
    static NULL: OnceLock<OwnedFd> = OnceLock::new();
    if let Some(fd) = NULL.get() {
        return Ok(fd);
    }
    let file = std::fs::File::open("/dev/null")?;
    Ok(NULL.get_or_init(|| file.into()))
}

fn nix_err(e: nix::errno::Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// `posix_spawn` with the run's prepared variables and this attempt's on top.
fn spawn_direct(spec: &Spawn<'_>) -> io::Result<(u32, OwnedFd, OwnedFd)> {
    let null = dev_null()?;
    let (out_r, out_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(nix_err)?;
    let (err_r, err_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(nix_err)?;

    let mut actions = PosixSpawnFileActions::init().map_err(nix_err)?;
    actions.add_dup2(raw(null), 0).map_err(nix_err)?;
    actions.add_dup2(raw(&out_w), 1).map_err(nix_err)?;
    actions.add_dup2(raw(&err_w), 2).map_err(nix_err)?;
    let mut attr = PosixSpawnAttr::init().map_err(nix_err)?;
    attr.set_flags(
        PosixSpawnFlags::POSIX_SPAWN_SETPGROUP
            | PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK
            | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF,
    )
    .map_err(nix_err)?;
    attr.set_pgroup(Pid::from_raw(0)).map_err(nix_err)?;
    attr.set_sigmask(&SigSet::empty()).map_err(nix_err)?;
    let mut defaults = SigSet::empty();
    defaults.add(Signal::SIGPIPE);
    attr.set_sigdefault(&defaults).map_err(nix_err)?;

    let program = CString::new(spec.program)?;
    let args = spec
        .args
        .iter()
        .map(|a| CString::new(*a))
        .collect::<Result<Vec<_>, _>>()?;
    let extra = spec
        .extra
        .iter()
        .enumerate()
        // A later variable of the same name wins.
        .filter(|(i, (k, _))| !spec.extra.iter().skip(i + 1).any(|(l, _)| l == k))
        .map(|(_, (k, v))| CString::new(format!("{k}={v}")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut envp: Vec<&CStr> = Vec::with_capacity(spec.base.vars.len() + extra.len() + 1);
    envp.extend(
        spec.base
            .vars
            .iter()
            .filter(|v| {
                !spec
                    .extra
                    .iter()
                    .any(|(name, _)| name.as_bytes() == v.key())
            })
            .map(|v| v.entry.as_c_str()),
    );
    envp.extend(extra.iter().map(CString::as_c_str));

    let pid = if spec.program.contains('/') {
        posix_spawn(program.as_c_str(), &actions, &attr, &args, &envp)
    } else {
        posix_spawnp(&program, &actions, &attr, &args, &envp)
    }
    .map_err(nix_err)?;
    drop((out_w, err_w));
    let pid = u32::try_from(pid.as_raw()).map_err(|_| io::Error::other("no usable process id"))?;
    Ok((pid, out_r, err_r))
}

fn raw(fd: &OwnedFd) -> std::os::fd::RawFd {
    use std::os::fd::AsRawFd;
    fd.as_raw_fd()
}

/// The same through `std::process::Command` (a working directory of its own, a `PATH` that
/// is not unyo's, or a pipe as standard input).
fn spawn_std(spec: &Spawn<'_>) -> io::Result<(u32, Option<OwnedFd>, OwnedFd, OwnedFd)> {
    let mut command = std::process::Command::new(spec.program);
    command
        .args(spec.args.iter().skip(1))
        .env_clear()
        .envs(spec.base.pairs())
        .envs(spec.extra.iter().map(|(k, v)| (k, v)))
        .current_dir(spec.workdir)
        .process_group(0)
        .stdin(if spec.stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn()?;
    let stdin = child.stdin.take().map(OwnedFd::from);
    let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(io::Error::other("the process has no output pipes"));
    };
    // The std handle is dropped without waiting: the pidfd reaps the process.
    Ok((child.id(), stdin, OwnedFd::from(out), OwnedFd::from(err)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(env: &Environment) -> Vec<String> {
        env.vars
            .iter()
            .map(|v| String::from_utf8_lossy(v.key()).into_owned())
            .collect()
    }

    #[test]
    fn the_run_environment_drops_the_removed_and_a_later_variable_wins() {
        let inherited: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
        let Some(gone) = inherited.first().cloned() else {
            return;
        };
        let env = Environment::new(
            std::slice::from_ref(&gone),
            &[
                ("UNYO_A".to_owned(), "1".to_owned()),
                ("UNYO_A".to_owned(), "2".to_owned()),
            ],
        );
        assert_eq!(env.get("UNYO_A"), Some(&b"2"[..]));
        assert_eq!(env.get(&gone), None, "`{gone}` was removed");
        let names = names(&env);
        assert_eq!(names.iter().filter(|n| *n == "UNYO_A").count(), 1);
        assert_eq!(names.len(), inherited.len(), "{names:?}");
        assert!(!env.path_changed);
        assert!(!env.unusable);
    }

    #[test]
    fn a_nul_byte_or_another_path_sends_the_run_through_std() {
        let nul = Environment::new(&[], &[("UNYO_X".to_owned(), "a\0b".to_owned())]);
        assert!(nul.unusable);
        let path = Environment::new(&[], &[("PATH".to_owned(), "/nowhere".to_owned())]);
        assert!(path.path_changed);
        assert_eq!(path.get("PATH"), Some(&b"/nowhere"[..]));
    }

    #[test]
    fn a_debug_print_names_variables_without_their_values() {
        let env = Environment::new(&[], &[("UNYO_SECRET_ISH".to_owned(), "hunter2".to_owned())]);
        let shown = format!("{env:?}");
        assert!(shown.contains("UNYO_SECRET_ISH"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn a_key_is_what_comes_before_the_first_equals_sign() {
        assert_eq!(key(b"A=b=c"), b"A");
        let var = Var::new(CString::new("A=b=c").expect("no NUL"));
        assert_eq!(var.key(), b"A");
        assert_eq!(var.value(), b"b=c");
    }
}
