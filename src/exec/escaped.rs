//! Processes that left a step's process group (`setsid`, a double fork, `env -i` on top):
//! found and ended when the step ends, so that a step never leaves processes running.
//!
//! A process that runs steps (the daemon, a foreground `unyo run`) makes itself a child
//! subreaper ([`become_subreaper`]): a descendant whose parent dies is re-parented to it
//! instead of to init. Every process this unyo process spawns itself is registered here
//! while it lives (a step's leader with its start time and its `UNYO_RUN_ID`/`UNYO_STEP`;
//! anything else, such as a notification command, as merely ours), so a child of ours that
//! is not registered is an adopted orphan. When a step ends, [`sweep`] looks at the adopted
//! orphans and ends those that are the step's: its environment names the step, or names a
//! step that is no longer running, or (the environment was cleared) no other step still
//! running had started before it. An orphan that may belong to another step still running
//! is left to that step's end. Each one is ended with its descendants, TERM then KILL after
//! the grace, and reaped.
//!
//! Linux only (`/proc`, `PR_SET_CHILD_SUBREAPER`); a process that is not a subreaper never
//! sweeps. The registry is one process-wide mutex, held across a spawn so that a sweep
//! never sees a child of ours before it is registered, and never across an `.await`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{LazyLock, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

/// The variables of a step's environment that name it.
const MARKS: [&str; 2] = ["UNYO_RUN_ID", "UNYO_STEP"];

/// A step of this process whose leader is alive.
#[derive(Debug, Clone)]
struct Step {
    /// The leader's start time, in clock ticks after boot.
    start: u64,
    /// `KEY=value` of its [`MARKS`], as in `/proc/PID/environ`.
    marks: Vec<Vec<u8>>,
}

#[derive(Debug, Default)]
struct Registry {
    steps: HashMap<i32, Step>,
    /// Other children of ours (not steps): never touched.
    others: HashSet<i32>,
}

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(Mutex::default);

fn registry() -> MutexGuard<'static, Registry> {
    // A panic while the lock was held leaves the data consistent (plain inserts/removes).
    REGISTRY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Makes this process a child subreaper, so that the processes a step leaves behind are
/// re-parented to it and can be found. Returns whether it is one.
pub fn become_subreaper() -> bool {
    match nix::sys::prctl::set_child_subreaper(true) {
        Ok(()) => {
            SUBREAPER.store(true, std::sync::atomic::Ordering::Relaxed);
            true
        }
        Err(e) => {
            tracing::warn!(
                "cannot become a child subreaper ({e}): processes that leave a step's group \
                 are not found when the step ends"
            );
            false
        }
    }
}

/// Set once this process made itself a subreaper (it stays one).
static SUBREAPER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn is_subreaper() -> bool {
    SUBREAPER.load(std::sync::atomic::Ordering::Relaxed)
        || nix::sys::prctl::get_child_subreaper().unwrap_or(false)
}

/// This process's id (asked once: unyo never forks without starting another program).
fn me() -> u32 {
    static ME: OnceLock<u32> = OnceLock::new();
    *ME.get_or_init(std::process::id)
}

/// A registered child of ours; dropping it forgets the child.
#[derive(Debug)]
pub struct Registration {
    pid: i32,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut r = registry();
        r.steps.remove(&self.pid);
        r.others.remove(&self.pid);
    }
}

/// Spawns a step's process with `spawn` and registers it with `marks` (`KEY=value` of its
/// [`MARKS`]); the registry is held while spawning, so no sweep can take the new child for an
/// orphan.
pub(crate) fn spawn_step(
    marks: Vec<Vec<u8>>,
    spawn: impl FnOnce() -> std::io::Result<super::spawn::Child>,
) -> std::io::Result<(super::spawn::Child, Option<Registration>)> {
    let mut r = registry();
    // Read before the spawn, it is at most the process's own start time (never later), so a
    // sweep takes an orphan for this step's at least as readily as with the exact time.
    let start = boot_ticks();
    let child = spawn()?;
    let Ok(pid) = i32::try_from(child.id()) else {
        return Ok((child, None));
    };
    r.steps.insert(pid, Step { start, marks });
    Ok((child, Some(Registration { pid })))
}

/// Now, in the clock of a process's start time in `/proc/PID/stat`: clock ticks after boot
/// (suspended time included). Saves reading `/proc` for every step.
fn boot_ticks() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    let ticks = rustix::param::clock_ticks_per_second().max(1);
    let secs = u64::try_from(now.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(now.tv_nsec).unwrap_or(0);
    secs * ticks + nanos * ticks / 1_000_000_000
}

/// The `KEY=value` marks of a step's environment that name it, for [`spawn_step`].
pub(crate) fn marks_of(get: impl Fn(&str) -> Option<Vec<u8>>) -> Vec<Vec<u8>> {
    MARKS
        .iter()
        .filter_map(|k| {
            let mut mark = format!("{k}=").into_bytes();
            mark.extend(get(k)?);
            Some(mark)
        })
        .collect()
}

/// Spawns a child of ours that is not a step (a notification command) and registers it, so
/// that no sweep ever signals or reaps it.
pub fn spawn_own(
    command: &mut tokio::process::Command,
) -> std::io::Result<(tokio::process::Child, Option<Registration>)> {
    let mut r = registry();
    let child = command.spawn()?;
    let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) else {
        return Ok((child, None));
    };
    r.others.insert(pid);
    Ok((child, Some(Registration { pid })))
}

/// One line of `/proc/PID/stat`, the fields used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Proc {
    pid: i32,
    state: char,
    ppid: i32,
    pgid: i32,
    start: u64,
}

impl Proc {
    fn dead(&self) -> bool {
        self.state == 'Z' || self.state == 'X'
    }
}

/// `pid (comm) state ppid pgrp session ... starttime(22) ...`; comm may hold spaces and
/// parentheses.
fn parse_stat(pid: i32, stat: &str) -> Option<Proc> {
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut f = rest.split_ascii_whitespace();
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    let pgid = f.next()?.parse().ok()?;
    // Field 22 of the line, the 20th after the state.
    let start = f.nth(16)?.parse().ok()?;
    Some(Proc {
        pid,
        state,
        ppid,
        pgid,
        start,
    })
}

/// Reads a small file of `/proc` (a `stat` line, a `children` list) into `buf` with one
/// `open` and as few `read`s as it takes, without asking for its size (always 0 there).
fn read_small<'a>(path: &std::path::Path, buf: &'a mut [u8]) -> Option<&'a str> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).ok()?;
    let mut len = 0;
    while len < buf.len() {
        match file.read(buf.get_mut(len..)?) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    std::str::from_utf8(buf.get(..len)?).ok()
}

fn read_proc(pid: i32) -> Option<Proc> {
    // A `stat` line is well under 1 KiB (the command name is at most 64 bytes).
    let mut buf = [0u8; 1024];
    let path = std::path::PathBuf::from(format!("/proc/{pid}/stat"));
    parse_stat(pid, read_small(&path, &mut buf)?)
}

/// Every process in `/proc`.
fn scan() -> Vec<Proc> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(read_proc)
        .collect()
}

/// The children of this process, from `/proc/self/task/*/children` (`all_threads`), or of
/// its main thread only, which is where the kernel re-parents an orphan to a subreaper (the
/// first live thread of the group: the main thread runs as long as unyo does); `None` when
/// the kernel does not list them (or a list is too long to read here at once: the caller
/// then reads the whole process table).
fn own_children(all_threads: bool) -> Option<Vec<i32>> {
    const LIST: usize = 4096;
    let mut pids = Vec::new();
    let mut buf = [0u8; LIST];
    let mut add = |text: &str| -> Option<()> {
        if text.len() == LIST {
            return None;
        }
        pids.extend(
            text.split_ascii_whitespace()
                .filter_map(|p| p.parse::<i32>().ok()),
        );
        Some(())
    };
    if all_threads {
        for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
            add(read_small(&task.path().join("children"), &mut buf)?)?;
        }
    } else {
        // Opened once and read again from its start each time: the kernel lists the
        // children anew on every read, and a sweep after every step saves the path walk.
        static MAIN: OnceLock<Option<std::fs::File>> = OnceLock::new();
        let file = MAIN
            .get_or_init(|| std::fs::File::open(format!("/proc/self/task/{}/children", me())).ok())
            .as_ref()?;
        add(read_at_start(file, &mut buf)?)?;
    }
    Some(pids)
}

/// Reads a `/proc` file from its start into `buf`, as [`read_small`] does.
fn read_at_start<'a>(file: &std::fs::File, buf: &'a mut [u8]) -> Option<&'a str> {
    use std::os::unix::fs::FileExt;
    let mut len = 0;
    while len < buf.len() {
        match file.read_at(buf.get_mut(len..)?, u64::try_from(len).ok()?) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    std::str::from_utf8(buf.get(..len)?).ok()
}

/// Whether `/proc/PID/environ` holds every one of `marks`; `None` when it cannot be read.
fn environ_has(pid: i32, marks: &[Vec<u8>]) -> Option<bool> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let vars: BTreeSet<&[u8]> = environ.split(|b| *b == 0).collect();
    Some(marks.iter().all(|m| vars.contains(m.as_slice())))
}

/// Whether the environment names any step at all.
fn has_any_mark(pid: i32) -> bool {
    std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
        env.split(|b| *b == 0)
            .any(|v| v.starts_with(MARKS[0].as_bytes()) && v.get(MARKS[0].len()) == Some(&b'='))
    })
}

/// What a sweep decided: the processes to end (orphans and their descendants) and the dead
/// orphans to reap.
#[derive(Debug, Default, PartialEq, Eq)]
struct Plan {
    end: Vec<Proc>,
    reap: Vec<i32>,
}

/// Decides which adopted orphans of `me` are ended now. `ending` is the leader of the step
/// that just ended (its registration still present), or `None` for a sweep between steps.
fn plan(me: i32, procs: &[Proc], reg: &Registry, ending: Option<i32>) -> Plan {
    let ours = |p: &Proc| reg.steps.contains_key(&p.pid) || reg.others.contains(&p.pid);
    let ending_step = ending.and_then(|pid| reg.steps.get(&pid));
    let live: Vec<&Step> = reg
        .steps
        .iter()
        .filter(|(pid, _)| Some(**pid) != ending)
        .map(|(_, s)| s)
        .collect();
    let mut plan = Plan::default();
    let mut roots = Vec::new();
    for p in procs
        .iter()
        .filter(|p| p.ppid == me && p.pid != me && !ours(p))
    {
        if p.dead() {
            plan.reap.push(p.pid);
            continue;
        }
        let own = ending_step
            .filter(|s| !s.marks.is_empty())
            .and_then(|s| environ_has(p.pid, &s.marks))
            .unwrap_or(false);
        let another = live
            .iter()
            .any(|s| !s.marks.is_empty() && environ_has(p.pid, &s.marks) == Some(true));
        let take = if own {
            true
        } else if another {
            false
        } else if has_any_mark(p.pid) {
            // It names a step, and no step running now.
            true
        } else {
            // Its environment was cleared: it may be the orphan of any step that was
            // running when it started. Ended once none of them runs any more.
            !live.iter().any(|s| s.start <= p.start)
        };
        if take {
            roots.push(p.pid);
        }
    }
    // The orphans with all their descendants.
    let mut children: HashMap<i32, Vec<&Proc>> = HashMap::new();
    for p in procs {
        children.entry(p.ppid).or_default().push(p);
    }
    let mut seen = HashSet::new();
    while let Some(pid) = roots.pop() {
        if pid == me || !seen.insert(pid) {
            continue;
        }
        if let Some(p) = procs.iter().find(|p| p.pid == pid)
            && !p.dead()
        {
            plan.end.push(*p);
        }
        if let Some(kids) = children.get(&pid) {
            roots.extend(kids.iter().filter(|k| !ours(k)).map(|k| k.pid));
        }
    }
    plan.end.sort_by_key(|p| p.pid);
    plan
}

/// Ends the adopted orphans that belong to the step whose leader was `ending` (or, with
/// `None`, to no step still running), with their descendants: SIGTERM, SIGKILL after
/// `grace`, then reaps them. Returns how many processes were ended. Does nothing in a
/// process that is not a subreaper.
pub async fn sweep(ending: Option<u32>, grace: Duration) -> usize {
    if !is_subreaper() {
        return 0;
    }
    let ending = ending.and_then(|p| i32::try_from(p).ok());
    // The common case, cheaply and in this thread (a small read of `/proc`, no hand-over to
    // another thread on the way from one step's end to the next one's start): every child
    // of ours is registered, so nothing was adopted and the process table need not be read.
    // At a step's end only the main thread's children are listed: an adopted orphan is
    // there. A sweep for no step in particular lists every thread's.
    if let Some(children) = own_children(ending.is_none()) {
        let reg = registry();
        if children
            .iter()
            .all(|p| reg.steps.contains_key(p) || reg.others.contains(p))
        {
            return 0;
        }
    }
    let planned = tokio::task::spawn_blocking(move || {
        let me = i32::try_from(me()).unwrap_or(i32::MAX);
        let procs = scan();
        // Taken after the scan: a child visible in it was registered before the spawn
        // released the lock.
        let reg = registry();
        let plan = plan(me, &procs, &reg, ending);
        drop(reg);
        reap(&plan.reap);
        plan.end
    })
    .await
    .unwrap_or_default();
    if planned.is_empty() {
        return 0;
    }
    tracing::warn!(
        pids = ?planned.iter().map(|p| p.pid).collect::<Vec<_>>(),
        "ending processes that left a step's process group"
    );
    let alive = |p: &Proc| read_proc(p.pid).is_some_and(|now| now.start == p.start && !now.dead());
    let own_group = nix::unistd::getpgrp().as_raw();
    let send = |signal: Signal| {
        for p in planned.iter().filter(|p| alive(p)) {
            if p.pgid == p.pid && p.pgid > 1 && p.pgid != own_group {
                let _ = killpg(Pid::from_raw(p.pgid), signal);
            }
            match kill(Pid::from_raw(p.pid), signal) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(e) => tracing::warn!(pid = p.pid, "cannot signal an escaped process: {e}"),
            }
        }
    };
    send(Signal::SIGTERM);
    let deadline = tokio::time::Instant::now() + grace;
    while planned.iter().any(alive) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if planned.iter().any(alive) {
        send(Signal::SIGKILL);
        let settle = tokio::time::Instant::now() + Duration::from_secs(2);
        while planned.iter().any(alive) && tokio::time::Instant::now() < settle {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // They and the descendants re-parented to us as they died are zombies of ours now.
    let _ = tokio::task::spawn_blocking(|| {
        let me = i32::try_from(me()).unwrap_or(i32::MAX);
        let procs = scan();
        let reg = registry();
        let dead: Vec<i32> = procs
            .iter()
            .filter(|p| p.ppid == me && p.dead())
            .filter(|p| !reg.steps.contains_key(&p.pid) && !reg.others.contains(&p.pid))
            .map(|p| p.pid)
            .collect();
        drop(reg);
        reap(&dead);
    })
    .await;
    planned.len()
}

/// Reaps dead adopted orphans, each by its pid (never `waitpid(-1)`, which could take the
/// status of a child another part of unyo waits for).
fn reap(pids: &[i32]) {
    for pid in pids {
        let _ = waitpid(Pid::from_raw(*pid), Some(WaitPidFlag::WNOHANG));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A step's start is read from the boot clock before the spawn instead of from
    /// `/proc`: never later than the process's own start time there, and at most a tick
    /// or two earlier.
    #[test]
    fn a_start_read_from_the_boot_clock_is_never_after_the_process_start() {
        let before = boot_ticks();
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("sleep");
        let after = boot_ticks();
        let pid = i32::try_from(child.id()).expect("pid");
        let start = read_proc(pid).expect("its stat").start;
        let _ = child.kill();
        let _ = child.wait();
        assert!(before <= start, "{before} > {start}");
        assert!(start <= after + 1, "{start} > {after} + 1");
    }

    fn p(pid: i32, ppid: i32, start: u64) -> Proc {
        Proc {
            pid,
            state: 'S',
            ppid,
            pgid: pid,
            start,
        }
    }

    #[test]
    fn stat_lines_parse() {
        let line = "4242 (a (b) c) S 17 4240 4240 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 \
                    1000 10";
        assert_eq!(
            parse_stat(4242, line),
            Some(Proc {
                pid: 4242,
                state: 'S',
                ppid: 17,
                pgid: 4240,
                start: 98765
            })
        );
        assert_eq!(parse_stat(1, "garbage"), None);
    }

    /// Pids far above any real one, so that `/proc/PID/environ` cannot be read and only
    /// the times decide.
    #[test]
    fn an_orphan_without_marks_waits_for_every_step_that_was_running_when_it_started() {
        let me = 10;
        let mut reg = Registry::default();
        reg.steps.insert(
            900_000_001,
            Step {
                start: 100,
                marks: Vec::new(),
            },
        );
        reg.steps.insert(
            900_000_002,
            Step {
                start: 200,
                marks: Vec::new(),
            },
        );
        reg.others.insert(900_000_003);
        let procs = [
            p(900_000_001, me, 100),
            p(900_000_002, me, 200),
            p(900_000_003, me, 250),
            // An orphan started after both steps, and its child.
            p(900_000_010, me, 300),
            p(900_000_011, 900_000_010, 301),
            // An orphan started between them.
            p(900_000_020, me, 150),
            // Not ours.
            p(900_000_030, 1, 150),
        ];
        // The first step ends: the second one was running when both orphans started...
        let first = plan(me, &procs, &reg, Some(900_000_001));
        let ended: Vec<i32> = first.end.iter().map(|p| p.pid).collect();
        assert_eq!(ended, vec![900_000_020], "the second step started after it");
        // ...the second one ends while the first still runs: the orphan of 300 may be the
        // first one's.
        let second = plan(me, &procs, &reg, Some(900_000_002));
        assert!(second.end.is_empty(), "{second:?}");
        // Nothing runs any more: every orphan and its child, never our own children.
        reg.steps.clear();
        let procs: Vec<Proc> = procs.iter().copied().skip(2).collect();
        let last = plan(me, &procs, &reg, None);
        let ended: Vec<i32> = last.end.iter().map(|p| p.pid).collect();
        assert_eq!(ended, vec![900_000_010, 900_000_011, 900_000_020]);
    }

    #[test]
    fn dead_orphans_are_reaped_and_our_own_children_never() {
        let me = 10;
        let mut reg = Registry::default();
        reg.others.insert(900_000_003);
        let mut zombie = p(900_000_004, me, 5);
        zombie.state = 'Z';
        let mut own_zombie = p(900_000_003, me, 5);
        own_zombie.state = 'Z';
        let planned = plan(me, &[zombie, own_zombie], &reg, None);
        assert_eq!(planned.reap, vec![900_000_004]);
        assert!(planned.end.is_empty());
    }
}
