//! Processes left behind by a unyo process that died: finding them by the variables every
//! step gets in its environment, and ending their process groups.
//!
//! Linux only (`/proc`); elsewhere nothing is found.

use std::collections::BTreeSet;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// A live process: its pid and process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Found {
    pub pid: i32,
    pub pgid: i32,
}

/// State, process group and start time (clock ticks after boot) from a `/proc/<pid>/stat`
/// line: `pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
/// utime stime cutime cstime priority nice threads itrealvalue starttime ...`, where comm may
/// hold spaces and parentheses.
fn stat_fields(stat: &str) -> Option<(char, i32, u64)> {
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let pgrp = fields.get(2)?.parse().ok()?;
    // starttime is field 22 of the line; `rest` starts at field 3.
    let start = fields.get(19)?.parse().ok()?;
    Some((state, pgrp, start))
}

/// When a live (not zombie) process started, in clock ticks after boot; `None` when there
/// is no such process. With the pid it names one process even after pids wrap around.
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (state, _, start) = stat_fields(&stat)?;
    (state != 'Z' && state != 'X').then_some(start)
}

/// Live processes whose environment holds every `(key, value)` pair. Processes of other
/// users cannot be read and are not found.
pub fn with_env(pairs: &[(&str, &str)]) -> Vec<Found> {
    let wanted: Vec<Vec<u8>> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}").into_bytes())
        .collect();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let vars: BTreeSet<&[u8]> = environ.split(|b| *b == 0).collect();
        if !wanted.iter().all(|w| vars.contains(w.as_slice())) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some((state, pgid, _)) = stat_fields(&stat)
            && state != 'Z'
            && state != 'X'
            && let Ok(pid) = i32::try_from(pid)
        {
            found.push(Found { pid, pgid });
        }
    }
    found.sort();
    found
}

/// Ends the given processes and their process groups: SIGTERM, then SIGKILL to whatever is
/// left after `grace`. Returns how many processes were still alive at the start.
pub async fn terminate(found: &[Found], grace: Duration) -> usize {
    let alive = |f: &Found| u32::try_from(f.pid).ok().and_then(process_start).is_some();
    let targets: Vec<Found> = found.iter().copied().filter(alive).collect();
    if targets.is_empty() {
        return 0;
    }
    let send = |signal: Signal| {
        for f in &targets {
            // A group of our own would be us: never signal it.
            if f.pgid > 1 && f.pgid != nix::unistd::getpgrp().as_raw() {
                let _ = killpg(Pid::from_raw(f.pgid), signal);
            }
            match kill(Pid::from_raw(f.pid), signal) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(e) => tracing::warn!(pid = f.pid, "cannot signal a left-over process: {e}"),
            }
        }
    };
    send(Signal::SIGTERM);
    let deadline = tokio::time::Instant::now() + grace;
    while tokio::time::Instant::now() < deadline {
        if !targets.iter().any(alive) {
            return targets.len();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    send(Signal::SIGKILL);
    targets.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    #[test]
    fn stat_fields_read_past_odd_names() {
        let line = "4242 (a (b) c) S 1 4240 4240 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 \
                    1000 10 18446744073709551615";
        assert_eq!(stat_fields(line), Some(('S', 4240, 98765)));
        assert_eq!(stat_fields("garbage"), None);
    }

    #[test]
    fn own_process_has_a_start_time() {
        assert!(process_start(std::process::id()).is_some());
        assert_eq!(process_start(u32::MAX), None);
    }

    #[tokio::test]
    async fn finds_and_ends_processes_by_environment() {
        let marker = format!("orphan-test-{}", std::process::id());
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 300 & sleep 300"])
            .env("UNYO_TEST_MARKER", &marker)
            .process_group(0)
            .spawn()
            .expect("spawn");
        let wanted = [("UNYO_TEST_MARKER", marker.as_str())];
        let mut found = Vec::new();
        for _ in 0..100 {
            found = with_env(&wanted);
            if found.len() >= 3 {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(found.len(), 3, "sh and two sleeps: {found:?}");
        assert!(found.iter().all(|f| f.pgid == child.id() as i32));
        assert_eq!(terminate(&found, Duration::from_secs(5)).await, 3);
        let _ = child.wait();
        for _ in 0..100 {
            if with_env(&wanted).is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(with_env(&wanted).is_empty(), "{:?}", with_env(&wanted));
    }
}
