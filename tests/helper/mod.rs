//! Shared test helpers: a definition tree in a temp dir, the real `unyo` binary pointed at it,
//! a real `unyo daemon` on it (`Daemon`, stopped on drop), the library's own set-up on it
//! with a settable clock (`Setup`: settings, definitions, store), and checks on processes
//! and the recorded database.

#![allow(dead_code)]

pub mod pg;
pub mod sshd;

use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use chrono::{DateTime, Utc};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use unyo::domain::clock::ManualClock;
use unyo::model::{Catalog, Settings};
use unyo::store::Store;

/// Upper bound for anything a test waits for; only catches hangs.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A definition root in a temp dir.
pub struct Tree {
    pub dir: tempfile::TempDir,
}

impl Tree {
    pub fn new() -> Tree {
        Tree {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file under the root, creating folders.
    pub fn file(&self, rel: &str, text: &str) -> &Tree {
        let path = self.root().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
        self
    }

    /// `jobs/NAME.yaml`.
    pub fn job(&self, name: &str, text: &str) -> &Tree {
        self.file(&format!("jobs/{name}.yaml"), text)
    }

    /// The `unyo` binary with `--root` set to this tree.
    pub fn unyo(&self) -> Command {
        let mut c = Command::cargo_bin("unyo").expect("binary");
        c.env_remove("UNYO_ROOT")
            .env("NO_COLOR", "1")
            .arg("--root")
            .arg(self.root())
            .timeout(PATIENCE);
        c
    }

    /// Runs `unyo ARGS` and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.unyo().args(args).output().expect("run unyo")
    }

    /// `unyo show RUN --json` parsed.
    pub fn show(&self, run: i64) -> serde_json::Value {
        let out = self.run(&["show", &run.to_string(), "--json"]);
        assert!(out.status.success(), "show failed: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("show json")
    }

    /// A tree holding copies of these folders of the repository (their YAML files).
    pub fn from_repo(dirs: &[&str]) -> Tree {
        let t = Tree::new();
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        for dir in dirs {
            for e in std::fs::read_dir(repo.join(dir)).expect("dir") {
                let p = e.expect("entry").path();
                let name = p.file_name().expect("name").to_string_lossy().into_owned();
                t.file(
                    &format!("{dir}/{name}"),
                    &std::fs::read_to_string(&p).expect("read"),
                );
            }
        }
        t
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }
}

/// `unyo validate` on definitions that must be refused: exits 2; what it printed on stderr.
pub fn refused_definitions(t: &Tree) -> String {
    let out = t.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    text(&out.stderr)
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// stdout and stderr together, for assertion messages.
pub fn both(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// The step of a `show --json` document by name.
pub fn step<'a>(run: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    run["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name} in {run:#}"))
}

/// The attempts of a step in a `show --json` document.
pub fn attempts<'a>(run: &'a serde_json::Value, name: &str) -> Vec<&'a serde_json::Value> {
    run["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .filter(|a| a["step"] == name)
        .collect()
}

/// Polls `check` until it returns Some, or panics after PATIENCE.
pub fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Live (non-zombie) processes whose process group is `pgid`.
pub fn live_group_members(pgid: i64) -> Vec<i64> {
    let mut pids = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for e in entries.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i64>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...; comm may hold spaces, so split after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 2 && fields[0] != "Z" && fields[2].parse::<i64>().ok() == Some(pgid) {
            pids.push(pid);
        }
    }
    pids
}

/// The unyo binary under test as steps see it (`UNYO_BIN`, `{{unyo}}`): its resolved path.
pub fn unyo_bin() -> String {
    let bin = assert_cmd::cargo::cargo_bin("unyo");
    bin.canonicalize().unwrap_or(bin).display().to_string()
}

/// A `unyo daemon` process on a tree, its stderr in its own log file; killed when dropped.
pub struct Daemon {
    child: Option<Child>,
    log: PathBuf,
}

impl Daemon {
    /// Starts `unyo daemon` on `t` and waits for its start line.
    pub fn start(t: &Tree) -> Daemon {
        Daemon::start_with(t, |_| {})
    }

    /// [`Daemon::start`] with the command changed first (its environment, say).
    pub fn start_with(t: &Tree, change: impl FnOnce(&mut std::process::Command)) -> Daemon {
        let log = t.path(&format!("daemon-{}.log", unique()));
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_unyo"));
        command
            .env_remove("UNYO_ROOT")
            .env("NO_COLOR", "1")
            .env("UNYO_LOG", "unyo=info")
            .arg("--root")
            .arg(t.root())
            .arg("daemon")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(t.path("daemon.out")).expect("out"))
            .stderr(std::fs::File::create(&log).expect("log"));
        change(&mut command);
        let child = command.spawn().expect("start daemon");
        let d = Daemon {
            child: Some(child),
            log,
        };
        wait_for("the daemon to start", || {
            d.log().contains("unyo daemon").then_some(())
        });
        d
    }

    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.child.as_ref().expect("child").id() as i32)
    }

    pub fn signal(&self, s: Signal) {
        kill(self.pid(), s).expect("signal");
    }

    /// What the daemon wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the daemon to exit and returns its exit code.
    pub fn wait(mut self) -> Option<i32> {
        let mut child = self.child.take().expect("child");
        let status = wait_for("the daemon to exit", || child.try_wait().expect("wait"));
        status.code()
    }

    /// SIGTERM, then its exit code once it has stopped.
    pub fn stop(self) -> Option<i32> {
        self.signal(Signal::SIGTERM);
        self.wait()
    }

    /// SIGKILL, as a crash would.
    pub fn crash(mut self) {
        let mut child = self.child.take().expect("child");
        child.kill().expect("kill -9");
        child.wait().expect("reap");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A number no other call in this process returns (for file names).
pub fn unique() -> u128 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    nanos * 1000 + u128::from(n % 1000)
}

/// A connection to the tree's database, as another process would open it.
pub fn db(t: &Tree) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(t.path("var/unyo.db")).expect("open db");
    c.busy_timeout(Duration::from_secs(10)).expect("busy");
    c
}

/// The first column of every row of `sql`.
pub fn query<T: rusqlite::types::FromSql>(t: &Tree, sql: &str) -> Vec<T> {
    let c = db(t);
    let mut s = c.prepare(sql).expect("prepare");
    s.query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// The one value `sql` selects.
pub fn one<T: rusqlite::types::FromSql>(t: &Tree, sql: &str) -> T {
    db(t).query_row(sql, [], |r| r.get(0)).expect(sql)
}

/// The library set up on a tree as the daemon sets itself up, with a clock the test sets.
pub struct Setup {
    pub settings: Settings,
    pub catalog: Arc<Catalog>,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
}

impl Setup {
    /// The tree's settings and definitions, its store (created and migrated), and a clock
    /// standing at `at`.
    pub async fn new(t: &Tree, at: DateTime<Utc>) -> Setup {
        let settings = Settings::load(t.root()).expect("settings");
        let catalog = Arc::new(Catalog::load(&settings).expect("catalog"));
        let store: Arc<dyn Store> = Arc::from(unyo::store::open(&settings).await.expect("store"));
        Setup {
            settings,
            catalog,
            store,
            clock: ManualClock::new(at),
        }
    }
}

/// Parameter values that would run `touch pwned` (or change the command) if a value ever
/// became shell code: quotes, substitutions, separators, newlines, globs, options, escapes
/// and non-ASCII. Every test of injection, local or remote, takes them all.
pub const HOSTILE: &[&str] = &[
    "; touch pwned",
    "$(touch pwned)",
    "`touch pwned`",
    "' ; touch pwned ; '",
    "\" ; touch pwned ; \"",
    "a\ntouch pwned",
    "|| touch pwned",
    "${IFS}touch${IFS}pwned",
    "*",
    "back\\slash \\0101 \\n %s %b",
    "trailing newlines\n\n",
    "-n",
    "日本語 ✓",
];
