//! A full disk: reading commands work on it, writing ones say the disk is full and which
//! file system, and a foreground run stopped by it is recorded failed with that cause. A real
//! small tmpfs is mounted for each test (the tests run as root; without root they fail and
//! say so).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helper::{Tree, both, text};

/// A 4 MiB tmpfs mounted in a temp dir, unmounted when dropped.
struct SmallDisk {
    mount: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount() -> SmallDisk {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the full-disk tests mount a tmpfs and need root: run the tests as root \
             (as .ci/run does)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let mount = dir.path().join("disk");
        std::fs::create_dir(&mount).expect("mkdir");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
            .arg(&mount)
            .output()
            .expect("run mount");
        assert!(out.status.success(), "mount a tmpfs: {}", both(&out));
        SmallDisk { mount, _dir: dir }
    }

    /// Fills the file system with zeros until no byte is left.
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.mount.join("zeros")).expect("create");
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let mut byte = [0u8; 1];
        while f.write_all(&byte[..]).is_ok() {
            byte[0] = 0;
        }
        let _ = f.sync_all();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
    }
}

/// A tree whose database and logs are on `disk`.
fn tree_on(disk: &Path) -> Tree {
    let t = Tree::new();
    t.file(
        "unyo.yaml",
        &format!(
            "database: sqlite:{}/var/unyo.db\nlog_dir: {}/log\n",
            disk.display(),
            disk.display()
        ),
    );
    t.job("hello", "steps:\n  a:\n    run: echo hello\n");
    t
}

#[test]
fn a_full_disk_still_lets_operators_read_the_records() {
    let disk = SmallDisk::mount();
    let t = tree_on(&disk.mount);
    let out = t.run(&["run", "hello"]);
    assert!(out.status.success(), "{}", both(&out));
    disk.fill();

    let out = t.run(&["runs"]);
    assert!(out.status.success(), "runs on a full disk: {}", both(&out));
    assert!(text(&out.stdout).contains("hello"), "{}", both(&out));
    let out = t.run(&["show", "1"]);
    assert!(out.status.success(), "show on a full disk: {}", both(&out));
    assert!(text(&out.stdout).contains("succeeded"), "{}", both(&out));
    let out = t.run(&["status"]);
    assert!(
        out.status.success(),
        "status on a full disk: {}",
        both(&out)
    );
    assert!(text(&out.stdout).contains("runs:"), "{}", both(&out));
    for args in [&["logs", "1"][..], &["audit"], &["incidents"], &["slots"]] {
        let out = t.run(args);
        assert!(
            out.status.success(),
            "{args:?} on a full disk: {}",
            both(&out)
        );
    }

    // Writing cannot work: the error says so, and where.
    let out = t.run(&["run", "hello"]);
    assert_eq!(out.status.code(), Some(4), "{}", both(&out));
    let err = text(&out.stderr);
    assert!(err.contains("disk full"), "{err}");
    assert!(
        err.contains(&format!("`{}`", disk.mount.display())),
        "the mount point is named: {err}"
    );
    assert!(!err.contains("error: cannot open database"), "{err}");
}

#[test]
fn a_foreground_run_stopped_by_a_full_disk_is_recorded_failed_with_its_cause() {
    let disk = SmallDisk::mount();
    let t = tree_on(&disk.mount);
    t.job(
        "filler",
        &format!(
            "steps:\n  fill:\n    run: dd if=/dev/zero of={}/zeros bs=64k 2>/dev/null; echo filled\n  \
             after:\n    needs: [fill]\n    run: echo after\n",
            disk.mount.display()
        ),
    );
    let out = t.run(&["run", "filler"]);
    assert_eq!(out.status.code(), Some(4), "{}", both(&out));
    assert!(text(&out.stderr).contains("disk full"), "{}", both(&out));

    let out = t.run(&["show", "1", "--json"]);
    assert!(out.status.success(), "{}", both(&out));
    let run: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(run["status"], "failed", "{run:#}");
    let reason = run["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("disk full: "), "{run:#}");
    assert!(
        reason.contains(&disk.mount.display().to_string()),
        "{reason}"
    );
}
