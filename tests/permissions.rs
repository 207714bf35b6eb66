//! `unyo act permissions` (HR transfers: dry run, apply, verify, undo), `unyo permissions
//! history` and the shipped `hr-transfer` job, on fresh demo environments in temp dirs, with
//! the real `setfacl` and `getfacl`. These tests fail, not skip, without the acl tools:
//! `.ci/run` installs them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::helper::{Tree, both, text, wait_for};

const LIST: &str = "var/city/hr/transfers-2027-04-01.csv";
const DIRECTORY: &str = "var/city/directory.json";
const DEPARTMENTS: [&str; 5] = ["tax", "welfare", "citizens", "planning", "it"];

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "{}", both(out));
}

fn demo() -> Tree {
    let t = Tree::from_repo(&["jobs", "runbooks", "schedules"]);
    let out = t.run(&["demo", "init"]);
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("grants its staff access by ACL"),
        "the demo's folders must get ACLs here: {}",
        both(&out)
    );
    t
}

/// `getfacl -n --omit-header DIR`: fails the test when the acl tools are missing.
fn getfacl(dir: &Path) -> String {
    let out = std::process::Command::new("getfacl")
        .args(["-n", "--omit-header", "--"])
        .arg(dir)
        .output()
        .expect("getfacl must be installed (apt-get install acl; .ci/run does)");
    assert!(
        out.status.success(),
        "getfacl {}: {}",
        dir.display(),
        both(&out)
    );
    text(&out.stdout)
}

/// Every department folder's ACL, as getfacl prints it.
fn acls(t: &Tree) -> BTreeMap<&'static str, String> {
    DEPARTMENTS
        .iter()
        .map(|d| (*d, getfacl(&t.path(&format!("var/city/share/{d}")))))
        .collect()
}

/// The uids with a named-user entry in `acl`, access and default.
fn users(acl: &str) -> (Vec<u32>, Vec<u32>) {
    let mut access = Vec::new();
    let mut default = Vec::new();
    for line in acl.lines() {
        let (set, rest) = match line.strip_prefix("default:") {
            Some(r) => (&mut default, r),
            None => (&mut access, line),
        };
        let f: Vec<&str> = rest.split(':').collect();
        if f.len() >= 3 && f[0] == "user" && !f[1].is_empty() {
            set.push(f[1].parse().expect("numeric uid"));
        }
    }
    (access, default)
}

fn directory(t: &Tree) -> serde_json::Value {
    serde_json::from_str(&read(t, DIRECTORY)).expect("directory json")
}

fn read(t: &Tree, rel: &str) -> String {
    std::fs::read_to_string(t.path(rel)).expect("read")
}

fn person<'a>(dir: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    dir["staff"]
        .as_array()
        .expect("staff")
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no staff {id}"))
}

/// The lines of a transfer list: (staff id, name, from, to, effective).
fn lines(t: &Tree, rel: &str) -> Vec<(String, String, String, String, String)> {
    read(t, rel)
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<String> = l.split(',').map(str::to_owned).collect();
            (
                f[0].clone(),
                f[1].clone(),
                f[2].clone(),
                f[3].clone(),
                f[4].clone(),
            )
        })
        .collect()
}

/// `act permissions --list LIST --directory … --share … [--effective DATE] [--early] MODE…`
/// on the demo's files.
fn act_args(
    t: &Tree,
    list: &str,
    effective: Option<&str>,
    early: bool,
    mode: &[&str],
) -> Vec<String> {
    let mut args = vec![
        "act".to_owned(),
        "permissions".to_owned(),
        "--list".to_owned(),
        t.path(list).display().to_string(),
        "--directory".to_owned(),
        t.path(DIRECTORY).display().to_string(),
        "--share".to_owned(),
        t.path("var/city/share").display().to_string(),
    ];
    if let Some(date) = effective {
        args.extend(["--effective".to_owned(), date.to_owned()]);
    }
    if early {
        args.push("--early".to_owned());
    }
    args.extend(mode.iter().map(|s| (*s).to_owned()));
    args
}

/// The sample list is effective 2027-04-01, after today: taken up early on purpose. An apply
/// runs inside an approved run, as the shipped job gives it.
fn act(t: &Tree, list: &str, mode: &[&str]) -> Output {
    let args = act_args(t, list, Some("2027-04-01"), true, mode);
    if mode.contains(&"--apply") {
        let gate = Approved::new(t);
        return t
            .unyo()
            .env("UNYO_RUN_ID", &gate.id)
            .args(&args)
            .output()
            .expect("run unyo");
    }
    t.unyo().args(&args).output().expect("run unyo")
}

fn history(t: &Tree) -> Vec<serde_json::Value> {
    let out = t.run(&["permissions", "history", "--limit", "1000", "--json"]);
    assert_exit(&out, 0);
    serde_json::from_slice(&out.stdout).expect("history json")
}

fn audit(t: &Tree, action: &str) -> Vec<serde_json::Value> {
    let out = t.run(&["audit", "--json", "--limit", "1000"]);
    assert_exit(&out, 0);
    let all: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("audit json");
    all.into_iter().filter(|e| e["action"] == action).collect()
}

/// Each transferred person's department, groups and folder ACLs are what the list says.
fn assert_transferred(t: &Tree, transfers: &[(String, String, String, String, String)]) {
    let dir = directory(t);
    let acl = acls(t);
    for (id, _, from, to, _) in transfers {
        let p = person(&dir, id);
        assert_eq!(p["department"], to.as_str(), "{id}");
        assert_eq!(
            p["groups"],
            serde_json::json!([format!("dept-{to}")]),
            "{id}"
        );
        let members = |g: &str| {
            dir["groups"][g]
                .as_array()
                .expect("members")
                .iter()
                .any(|m| m == id.as_str())
        };
        assert!(members(&format!("dept-{to}")) && !members(&format!("dept-{from}")));
        let uid = u32::try_from(p["uid"].as_u64().expect("uid")).expect("u32");
        let (to_access, to_default) = users(&acl[to.as_str()]);
        let (from_access, from_default) = users(&acl[from.as_str()]);
        assert!(
            to_access.contains(&uid) && to_default.contains(&uid),
            "{id} on {to}"
        );
        assert!(
            !from_access.contains(&uid) && !from_default.contains(&uid),
            "{id} on {from}"
        );
    }
}

#[test]
fn the_acl_tools_are_installed() {
    // The other tests need them; CI installs them. A missing tool is a failure here.
    for tool in ["setfacl", "getfacl"] {
        let out = std::process::Command::new(tool)
            .arg("--version")
            .output()
            .unwrap_or_else(|e| panic!("{tool} must be installed (apt-get install acl): {e}"));
        assert!(out.status.success(), "{tool}: {}", both(&out));
    }
}

#[test]
fn demo_folders_grant_their_staff_and_the_sample_list_fits_the_directory() {
    let t = demo();
    let dir = directory(&t);
    let acl = acls(&t);
    for s in dir["staff"].as_array().expect("staff") {
        let dept = s["department"].as_str().expect("department");
        let uid = u32::try_from(s["uid"].as_u64().expect("uid")).expect("u32");
        assert_eq!(
            s["id"].as_str().and_then(|i| i[1..].parse::<u32>().ok()),
            Some(uid - 20_000)
        );
        for d in DEPARTMENTS {
            let (access, default) = users(&acl[d]);
            assert_eq!(access.contains(&uid), d == dept, "{uid} on {d}");
            assert_eq!(default.contains(&uid), d == dept, "{uid} default on {d}");
        }
    }
    let list = lines(&t, LIST);
    assert_eq!(list.len(), 12);
    for (id, name, from, to, effective) in &list {
        let p = person(&dir, id);
        assert_eq!(
            (p["name"].as_str(), p["department"].as_str()),
            (Some(name.as_str()), Some(from.as_str()))
        );
        assert_ne!(from, to);
        assert_eq!(effective, "2027-04-01");
    }
}

#[test]
fn a_dry_run_lists_the_diff_and_changes_nothing() {
    let t = demo();
    let before = (read(&t, DIRECTORY), acls(&t));
    let out = act(&t, LIST, &["--dry-run"]);
    assert_exit(&out, 0);
    let shown = text(&out.stdout);
    assert!(
        shown.contains("48 operations to do (24 grants, 24 revokes)"),
        "{shown}"
    );
    for (id, _, from, to, _) in lines(&t, LIST) {
        for want in [
            format!("{id}  revoke  group  dept-{from}"),
            format!("{id}  grant   group  dept-{to}"),
            format!("share/{from}"),
            format!("share/{to}"),
        ] {
            assert!(shown.contains(&want), "{want} in:\n{shown}");
        }
    }
    assert_eq!((read(&t, DIRECTORY), acls(&t)), before);
    assert!(history(&t).is_empty());
}

#[test]
fn apply_makes_groups_and_acls_match_the_list_and_undo_puts_them_back() {
    let t = demo();
    let original = (read(&t, DIRECTORY), acls(&t));
    let list = lines(&t, LIST);
    let inverse = t.path("var/city/hr/inverse-test.json");
    let out = act(
        &t,
        LIST,
        &["--apply", "--inverse", &inverse.display().to_string()],
    );
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("48 applied (24 grants, 24 revokes), 0 skipped, 0 failed"),
        "{}",
        both(&out)
    );
    assert_transferred(&t, &list);
    let inv: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&inverse).expect("inverse")).expect("json");
    assert_eq!(inv["complete"], true);
    assert_eq!(inv["changes"].as_array().map(Vec::len), Some(12));

    // Every grant and revoke is recorded, in one batch.
    let h = history(&t);
    assert_eq!(h.len(), 48);
    let count = |k: &str, v: &str| h.iter().filter(|r| r[k] == v).count();
    assert_eq!((count("op", "grant"), count("op", "revoke")), (24, 24));
    assert_eq!((count("kind", "group"), count("kind", "acl")), (24, 24));
    assert_eq!(count("outcome", "applied"), 48);
    assert_eq!(count("batch", h[0]["batch"].as_str().expect("batch")), 48);
    assert!(
        h.iter().all(|r| r["run_id"] == 1 && r["undo_of"].is_null()),
        "recorded with the run whose approval it ran under"
    );
    let (id, _, from, to, _) = &list[0];
    let out = t.run(&["permissions", "history", "--department", from, "--json"]);
    let by_dept: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert!(by_dept.iter().all(|r| r["department"] == from.as_str()));
    assert!(
        by_dept
            .iter()
            .any(|r| r["staff_id"] == id.as_str() && r["op"] == "revoke")
    );
    assert!(!by_dept.iter().any(|r| r["department"] == to.as_str()));

    // It verifies, and a second apply is a no-op.
    assert_exit(&act(&t, LIST, &["--verify"]), 0);
    let applied = (read(&t, DIRECTORY), acls(&t));
    let out = act(&t, LIST, &["--apply"]);
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("nothing to do"),
        "{}",
        both(&out)
    );
    assert_eq!((read(&t, DIRECTORY), acls(&t)), applied);
    assert_eq!(history(&t).len(), 48);
    let applies = audit(&t, "permissions.apply");
    assert_eq!(applies.len(), 2);
    assert!(applies.iter().all(|a| a["outcome"] == "done"));

    // The undo needs a second operator's approval like the apply: straight from the CLI it
    // is refused, audited, and changes nothing.
    let out = t.run(&[
        "act",
        "permissions",
        "--undo",
        &inverse.display().to_string(),
    ]);
    assert_exit(&out, 3);
    assert!(
        both(&out).contains("unyo submit hr-transfer-undo"),
        "{}",
        both(&out)
    );
    assert_eq!((read(&t, DIRECTORY), acls(&t)), applied);
    // The undo restores the directory byte for byte and every ACL.
    let out = undo(&t, &inverse, None);
    assert_exit(&out, 0);
    assert_eq!((read(&t, DIRECTORY), acls(&t)), original);
    let h = history(&t);
    assert_eq!(h.len(), 96);
    let batch = h[95]["batch"].clone();
    assert_eq!(h.iter().filter(|r| r["undo_of"] == batch).count(), 48);
    assert!(!act(&t, LIST, &["--verify"]).status.success());
    // Not twice.
    let out = undo(&t, &inverse, None);
    assert_exit(&out, 1);
    assert!(both(&out).contains("undone already"), "{}", both(&out));
    assert_eq!((read(&t, DIRECTORY), acls(&t)), original);
    let undos = audit(&t, "permissions.undo");
    let outcomes: Vec<_> = undos.iter().map(|a| a["outcome"].as_str()).collect();
    assert_eq!(outcomes, [Some("refused"), Some("done")]);
}

#[test]
fn undo_refuses_when_the_state_changed_since_and_changes_nothing() {
    let t = demo();
    let list = lines(&t, LIST);
    let inverse = t.path("var/city/hr/inverse-test.json");
    assert_exit(
        &act(
            &t,
            LIST,
            &["--apply", "--inverse", &inverse.display().to_string()],
        ),
        0,
    );
    // Someone removes one moved person's new ACL entry by hand.
    let (id, _, _, to, _) = &list[2];
    let uid = person(&directory(&t), id)["uid"].as_u64().expect("uid");
    let folder = t.path(&format!("var/city/share/{to}"));
    let out = std::process::Command::new("setfacl")
        .arg("-x")
        .arg(format!("u:{uid},d:u:{uid}"))
        .arg(&folder)
        .output()
        .expect("setfacl");
    assert!(out.status.success(), "{}", both(&out));
    let before = (read(&t, DIRECTORY), acls(&t));
    let out = undo(&t, &inverse, None);
    assert_exit(&out, 1);
    let msg = both(&out);
    assert!(msg.contains(&format!("entry 3 ({id} ")), "{msg}");
    assert!(msg.contains("changed since"), "{msg}");
    assert_eq!((read(&t, DIRECTORY), acls(&t)), before);
}

#[test]
fn bad_lines_are_named_by_line_and_column_and_nothing_changes() {
    let t = demo();
    let dir = directory(&t);
    let s = |i: usize| &dir["staff"][i];
    let name = |i: usize| s(i)["name"].as_str().expect("name").to_owned();
    let dept = |i: usize| s(i)["department"].as_str().expect("dept").to_owned();
    let other = |i: usize| {
        DEPARTMENTS
            .iter()
            .find(|d| **d != dept(i))
            .expect("another")
            .to_string()
    };
    let third = |i: usize| {
        DEPARTMENTS
            .iter()
            .find(|d| **d != dept(i) && **d != other(i))
            .expect("a third")
            .to_string()
    };
    let list = format!(
        "staff_id,name,from,to,effective\n\
         S0001,{},{},{},2027-04-01\n\
         S9999,誰か,tax,it,2027-04-01\n\
         S0002,別人 太郎,{},{},2027-04-01\n\
         S0003,{},{},{},2027-04-01\n\
         S0004,{},{},police,2027-04-01\n\
         S0005,{},{},{},1 April\n",
        name(0),
        dept(0),
        other(0),
        dept(1),
        other(1),
        name(2),
        other(2),
        third(2),
        name(3),
        dept(3),
        name(4),
        dept(4),
        other(4),
    );
    t.file("var/city/hr/bad.csv", &list);
    let before = (read(&t, DIRECTORY), acls(&t));
    for mode in ["--dry-run", "--apply"] {
        let out = act(&t, "var/city/hr/bad.csv", &[mode]);
        assert_exit(&out, 1);
        let err = text(&out.stderr);
        assert!(err.contains("bad.csv:7:"), "the bad date first: {err}");
    }
    // With the date fixed, every other line is named at its column.
    t.file(
        "var/city/hr/bad.csv",
        &list.replace("1 April", "2027-04-01"),
    );
    let out = act(&t, "var/city/hr/bad.csv", &["--apply"]);
    assert_exit(&out, 1);
    let err = text(&out.stderr);
    let from3 = 7 + name(2).chars().count() + 1;
    for want in [
        "bad.csv:3:1: column `staff_id`: no staff member `S9999`".to_owned(),
        format!("bad.csv:4:7: column `name`: `S0002` is `{}`", name(1)),
        format!(
            "bad.csv:5:{from3}: column `from`: `S0003` is in `{}`",
            dept(2)
        ),
        "column `to`: no department `police`".to_owned(),
        "4 problems in the transfer list; nothing changed".to_owned(),
    ] {
        assert!(err.contains(&want), "{want} in:\n{err}");
    }
    assert_eq!((read(&t, DIRECTORY), acls(&t)), before);
    assert!(history(&t).is_empty());
    assert!(!t.path("var/city/hr").read_dir().expect("hr").any(|e| {
        e.expect("entry")
            .file_name()
            .to_string_lossy()
            .starts_with("inverse")
    }));
    let refused = audit(&t, "permissions.apply");
    assert_eq!(refused.len(), 2);
    assert!(refused.iter().all(|a| a["outcome"] == "refused"));
}

#[test]
fn lines_effective_later_are_pending_and_not_applied() {
    let t = demo();
    let list = lines(&t, LIST);
    let (a, b) = (&list[0], &list[1]);
    t.file(
        "var/city/hr/mixed.csv",
        &format!(
            "\u{feff}staff_id,name,from,to,effective\r\n{},{},{},{},2027-04-01\r\n{},{},{},{},2027-10-01\r\n",
            a.0, a.1, a.2, a.3, b.0, b.1, b.2, b.3
        ),
    );
    let out = act(&t, "var/city/hr/mixed.csv", &["--apply"]);
    assert_exit(&out, 0);
    let shown = text(&out.stdout);
    assert!(
        shown.contains(&format!("pending: line 3 {}", b.0)),
        "{shown}"
    );
    assert!(shown.contains("4 applied"), "{shown}");
    assert_transferred(&t, std::slice::from_ref(a));
    let dir = directory(&t);
    assert_eq!(person(&dir, &b.0)["department"], b.2.as_str());
    assert!(history(&t).iter().all(|r| r["staff_id"] == a.0.as_str()));
    let out = act(&t, "var/city/hr/mixed.csv", &["--verify"]);
    assert_exit(&out, 0);
    assert!(text(&out.stdout).contains("1 pending"), "{}", both(&out));
}

/// A folder of fake acl tools: `getfacl` is the real one, `setfacl` answers as a file system
/// without ACL support does.
fn unsupported_tools(t: &Tree) -> PathBuf {
    let bin = t.path("fakebin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let real = which("getfacl");
    std::os::unix::fs::symlink(real, bin.join("getfacl")).expect("symlink");
    let script = bin.join("setfacl");
    std::fs::write(
        &script,
        "#!/bin/sh\n[ \"$1\" = --version ] && exit 0\necho \"setfacl: $4: Operation not supported\" >&2\nexit 1\n",
    )
    .expect("script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    bin
}

fn which(tool: &str) -> PathBuf {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{tool} must be installed"))
}

#[test]
fn without_acls_groups_still_change_and_acl_operations_are_skipped() {
    for unsupported in [false, true] {
        let t = demo();
        let original = (read(&t, DIRECTORY), acls(&t));
        let path = if unsupported {
            unsupported_tools(&t)
        } else {
            t.path("empty-path")
        };
        let inverse = t.path("var/city/hr/inverse-test.json");
        let gate = Approved::new(&t);
        let out = t
            .unyo()
            .env("PATH", &path)
            .env("UNYO_RUN_ID", &gate.id)
            .args(act_args(
                &t,
                LIST,
                Some("2027-04-01"),
                true,
                &["--apply", "--inverse", &inverse.display().to_string()],
            ))
            .output()
            .expect("run");
        assert_exit(&out, 0);
        let shown = text(&out.stdout);
        let why = if unsupported {
            "Operation not supported"
        } else {
            "the acl tools are not installed"
        };
        assert!(
            shown.contains("24 applied (12 grants, 12 revokes), 24 skipped"),
            "{shown}"
        );
        assert!(
            shown.contains("acl operations skipped: ") && shown.contains(why),
            "{shown}"
        );
        let h = history(&t);
        let acl: Vec<_> = h.iter().filter(|r| r["kind"] == "acl").collect();
        assert_eq!(acl.len(), 24);
        assert!(
            acl.iter().all(|r| r["outcome"] == "skipped"
                && r["reason"].as_str().is_some_and(|r| r.contains(why)))
        );
        assert_eq!(acls(&t), original.1, "no ACL changed");
        let dir = directory(&t);
        for (id, _, _, to, _) in lines(&t, LIST) {
            assert_eq!(person(&dir, &id)["department"], to.as_str());
        }
        // The undo puts the groups back and leaves the ACLs it never changed alone.
        let out = undo(&t, &inverse, Some(path.as_ref()));
        assert_exit(&out, 0);
        assert_eq!((read(&t, DIRECTORY), acls(&t)), original);
    }
}

/// The id the next run will get.
fn next_run_id(t: &Tree) -> i64 {
    let out = t.run(&["runs", "--json", "--limit", "1000"]);
    let runs: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    runs.iter()
        .filter_map(|r| r["id"].as_i64())
        .max()
        .unwrap_or(0)
        + 1
}

/// A running run whose approval step a second operator (`nobody`) approved: the context an
/// apply or an undo needs (`UNYO_RUN_ID`), as the shipped jobs give it. Its last step keeps
/// it running until it is dropped (Ctrl-C: the run is cancelled).
struct Approved {
    child: std::process::Child,
    id: String,
}

impl Approved {
    fn new(t: &Tree) -> Approved {
        t.job(
            "approved",
            "adhoc: true\nsteps:\n  approval:\n    approval: { message: test }\n  hold:\n    \
             needs: [approval]\n    run: sleep 600\n",
        );
        let id = next_run_id(t).to_string();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_unyo"))
            .env_remove("UNYO_ROOT")
            .arg("--root")
            .arg(t.root())
            .args(["run", "approved"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("unyo run approved");
        let status = |step: &str| {
            let out = t.run(&["show", &id, "--json"]);
            let r: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
            crate::helper::step(&r, step)["status"]
                .as_str()
                .map(str::to_owned)
        };
        wait_for("the approval step to wait", || {
            (status("approval")? == "waiting_approval").then_some(())
        });
        open_to_nobody(t);
        let out = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_unyo"))
            .env_remove("UNYO_ROOT")
            .arg("--root")
            .arg(t.root())
            .args(["approve", &id, "approval"])
            .output()
            .expect("setpriv");
        assert!(out.status.success(), "{}", both(&out));
        wait_for("the run to go on", || {
            (status("hold")? == "running").then_some(())
        });
        Approved { child, id }
    }
}

impl Drop for Approved {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("pid"));
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
        let _ = self.child.wait();
    }
}

/// Undoes an apply the only way allowed: the shipped `hr-transfer-undo` job, its approval
/// step approved by a second operator (`nobody`). Returns the run's exit status, with the
/// run's output and every step's log as stdout. `path` replaces the PATH of the run.
fn undo(t: &Tree, inverse: &Path, path: Option<&Path>) -> Output {
    let run_id = next_run_id(t);
    let mut cmd = t.unyo();
    if let Some(path) = path {
        cmd.env("PATH", path);
    }
    cmd.args(["run", "hr-transfer-undo", "-p"])
        .arg(format!("inverse={}", inverse.display()));
    let handle = std::thread::spawn(move || cmd.output().expect("run"));
    let id = run_id.to_string();
    let waiting = wait_for("the undo to wait for approval or end", || {
        if handle.is_finished() {
            return Some(false);
        }
        let out = t.run(&["show", &id, "--json"]);
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        (crate::helper::step(&r, "approval")["status"] == "waiting_approval").then_some(true)
    });
    if waiting {
        open_to_nobody(t);
        let out = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_unyo"))
            .env_remove("UNYO_ROOT")
            .arg("--root")
            .arg(t.root())
            .args(["approve", &id, "approval", "--comment", "undo checked"])
            .output()
            .expect("setpriv");
        assert!(out.status.success(), "{}", both(&out));
    }
    let mut out = handle.join().expect("join");
    let logs = t.run(&["logs", &id]);
    out.stdout.extend_from_slice(&logs.stdout);
    out
}

fn open_to_nobody(t: &Tree) {
    for p in [t.path("var"), t.root().to_path_buf()] {
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .expect("chmod");
    }
    for f in std::fs::read_dir(t.path("var")).expect("var") {
        let f = f.expect("entry").path();
        if f.is_file() {
            std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o666))
                .expect("chmod");
        }
    }
}

#[test]
fn the_hr_transfer_job_waits_for_a_second_operator_then_applies_and_verifies() {
    let t = demo();
    let original = (read(&t, DIRECTORY), acls(&t));
    let list = lines(&t, LIST);
    let mut cmd = t.unyo();
    cmd.args([
        "run",
        "hr-transfer",
        "-p",
        "effective=2027-04-01",
        "-p",
        "early=true",
    ]);
    let handle = std::thread::spawn(move || cmd.output().expect("run"));
    wait_for("the approval step to wait", || {
        let out = t.run(&["show", "1", "--json"]);
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        (crate::helper::step(&r, "approval")["status"] == "waiting_approval").then_some(())
    });
    // The dry run showed the diff and changed nothing.
    let logs = t.run(&["logs", "1", "--step", "dry-run"]);
    assert!(
        text(&logs.stdout).contains("48 operations to do"),
        "{}",
        both(&logs)
    );
    assert_eq!((read(&t, DIRECTORY), acls(&t)), original);
    // The operator who started it may not approve it; another may.
    let out = t.run(&["approve", "1", "approval"]);
    assert_exit(&out, 3);
    open_to_nobody(&t);
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_unyo"))
        .env_remove("UNYO_ROOT")
        .arg("--root")
        .arg(t.root())
        .args(["approve", "1", "approval", "--comment", "HR list checked"])
        .output()
        .expect("setpriv");
    assert!(out.status.success(), "{}", both(&out));
    let run = handle.join().expect("join");
    assert_exit(&run, 0);
    let r = t.show(1);
    for step in ["dry-run", "approval", "apply", "verify"] {
        assert_eq!(
            crate::helper::step(&r, step)["status"],
            "succeeded",
            "{step}"
        );
    }
    let verify = t.run(&["logs", "1", "--step", "verify"]);
    assert!(
        text(&verify.stdout).contains("verified: 12 transfer(s)"),
        "{}",
        both(&verify)
    );
    assert_transferred(&t, &list);
    let h = history(&t);
    assert_eq!(h.len(), 48);
    assert!(h.iter().all(|r| r["run_id"] == 1));
    // Its inverse undoes it.
    let inverse = t.path("var/city/hr/inverse-1.json");
    assert!(inverse.is_file());
    let out = undo(&t, &inverse, None);
    assert_exit(&out, 0);
    assert_eq!((read(&t, DIRECTORY), acls(&t)), original);
}

/// An apply killed halfway (after the directory and two ACL changes) leaves an inverse that
/// undoes what it did, and only that.
#[test]
fn an_apply_killed_halfway_is_undone_by_its_inverse() {
    let t = demo();
    let original = (read(&t, DIRECTORY), acls(&t));
    let bin = t.path("crashbin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    std::os::unix::fs::symlink(which("getfacl"), bin.join("getfacl")).expect("symlink");
    let count = t.path("setfacl-calls");
    // The third change kills unyo (its parent) before it is made. Only shell built-ins: PATH
    // holds nothing else.
    std::fs::write(
        bin.join("setfacl"),
        format!(
            "#!/bin/sh\n[ \"$1\" = --version ] && exec {real} --version\n\
             n=0; [ -f {count} ] && read n < {count}; n=$((n + 1)); echo $n > {count}\n\
             [ $n -ge 3 ] && kill -KILL $PPID && exit 1\nexec {real} \"$@\"\n",
            real = which("setfacl").display(),
            count = count.display()
        ),
    )
    .expect("script");
    std::fs::set_permissions(
        bin.join("setfacl"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let inverse = t.path("var/city/hr/inverse-crash.json");
    let gate = Approved::new(&t);
    let out = t
        .unyo()
        .env("PATH", &bin)
        .env("UNYO_RUN_ID", &gate.id)
        .args(act_args(
            &t,
            LIST,
            Some("2027-04-01"),
            true,
            &["--apply", "--inverse", &inverse.display().to_string()],
        ))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), None, "killed: {}", both(&out));
    assert_ne!(read(&t, DIRECTORY), original.0, "the directory was written");
    assert_ne!(acls(&t), original.1, "two ACL changes were made");
    let inv: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&inverse).expect("inverse")).expect("json");
    assert_eq!(inv["complete"], false);
    let out = undo(&t, &inverse, None);
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("the apply never made it"),
        "{}",
        both(&out)
    );
    assert_eq!((read(&t, DIRECTORY), acls(&t)), original);
}

/// Regression: a list effective on 2027-04-01 was applied on 2026-12-05 without a word. Lines
/// effective after the business date are applied only when the operator says `--early`; the
/// dry run says so, the apply without it refuses (audited) and changes nothing.
#[test]
fn a_list_effective_later_is_not_applied_before_its_date_without_early() {
    let t = demo();
    let original = (read(&t, DIRECTORY), acls(&t));
    let base = |mode: &str| act_args(&t, LIST, Some("2027-04-01"), false, &[mode]);
    let on = |args: Vec<String>| {
        t.unyo()
            .env("UNYO_BUSINESS_DATE", "2026-12-05")
            .args(args)
            .output()
            .expect("run")
    };
    let out = on(base("--dry-run"));
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains(
            "early: 12 lines effective 2027-04-01 (after the business date 2026-12-05) would \
             take effect before their date; the apply needs --early"
        ),
        "{}",
        both(&out)
    );
    let out = on(base("--apply"));
    assert_exit(&out, 5);
    assert!(
        both(&out).contains("12 lines effective 2027-04-01 (after the business date 2026-12-05)"),
        "{}",
        both(&out)
    );
    assert!(both(&out).contains("--early"), "{}", both(&out));
    assert_eq!((read(&t, DIRECTORY), acls(&t)), original);
    let refused = audit(&t, "permissions.apply");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["outcome"], "refused");
    // Without --effective, the business date takes nothing up: every line stays pending.
    let out = t
        .unyo()
        .env("UNYO_BUSINESS_DATE", "2026-12-05")
        .args(act_args(&t, LIST, None, false, &["--apply"]))
        .output()
        .expect("run");
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("nothing to do")
            && text(&out.stdout).contains("pending: line 13"),
        "{}",
        both(&out)
    );
    assert_eq!((read(&t, DIRECTORY), acls(&t)), original);
    // On its date the same apply goes through without --early (in an approved run).
    let gate = Approved::new(&t);
    let out = t
        .unyo()
        .env("UNYO_RUN_ID", &gate.id)
        .env("UNYO_BUSINESS_DATE", "2027-04-01")
        .args(base("--apply"))
        .output()
        .expect("run");
    assert_exit(&out, 0);
    assert!(!text(&out.stdout).contains("early"), "{}", both(&out));
    assert_transferred(&t, &lines(&t, LIST));
}

/// The shipped job run with a later `effective` and without `early=true` ends refused at its
/// dry run, before anyone is asked to approve: no incident, nothing changed.
#[test]
fn the_hr_transfer_job_refuses_a_later_list_before_asking_for_approval() {
    let t = demo();
    let original = (read(&t, DIRECTORY), acls(&t));
    let out = t
        .unyo()
        .args(["run", "hr-transfer", "-p", "effective=2099-04-01"])
        .output()
        .expect("run");
    assert_exit(&out, 5);
    let r = t.show(1);
    assert_eq!(r["status"], "refused", "{r}");
    assert_eq!(crate::helper::step(&r, "dry-run")["status"], "refused");
    assert_eq!(crate::helper::step(&r, "approval")["status"], "skipped");
    assert!(
        r["reason"]
            .as_str()
            .is_some_and(|x| x.contains("12 lines effective 2027-04-01")),
        "{r}"
    );
    let incidents = t.run(&["incidents", "--json"]);
    assert_eq!(text(&incidents.stdout).trim(), "[]", "{}", both(&incidents));
    assert_eq!((read(&t, DIRECTORY), acls(&t)), original);
}

/// Regression: `unyo act permissions --undo` bypassed `separate_approver`. An undo runs only
/// as a step of a running run whose approval step another operator approved; a run id that
/// is not such a run is refused too, and nothing changes.
#[test]
fn undo_needs_the_same_approval_as_apply() {
    let t = demo();
    let inverse = t.path("var/city/hr/inverse-test.json");
    assert_exit(
        &act(
            &t,
            LIST,
            &["--apply", "--inverse", &inverse.display().to_string()],
        ),
        0,
    );
    let applied = (read(&t, DIRECTORY), acls(&t));
    for run_id in [None, Some("999")] {
        let mut cmd = t.unyo();
        if let Some(id) = run_id {
            cmd.env("UNYO_RUN_ID", id);
        }
        let out = cmd
            .args(["act", "permissions", "--undo"])
            .arg(&inverse)
            .output()
            .expect("run");
        assert_exit(&out, 3);
        assert!(
            both(&out).contains("needs the same approval"),
            "{}",
            both(&out)
        );
        assert_eq!((read(&t, DIRECTORY), acls(&t)), applied);
    }
    // The dry run shows what would be put back and changes nothing.
    let out = t.run(&[
        "act",
        "permissions",
        "--undo",
        &inverse.display().to_string(),
        "--dry-run",
    ]);
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("12 transfers put back, 48 operations; nothing is changed"),
        "{}",
        both(&out)
    );
    assert_eq!((read(&t, DIRECTORY), acls(&t)), applied);
    // The operator who asked for the undo may not approve it.
    let mut cmd = t.unyo();
    cmd.args(["run", "hr-transfer-undo", "-p"])
        .arg(format!("inverse={}", inverse.display()));
    let handle = std::thread::spawn(move || cmd.output().expect("run"));
    wait_for("the undo's approval step to wait", || {
        let out = t.run(&["show", "2", "--json"]);
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        (crate::helper::step(&r, "approval")["status"] == "waiting_approval").then_some(())
    });
    let out = t.run(&["approve", "2", "approval"]);
    assert_exit(&out, 3);
    assert!(both(&out).contains("separate_approver"), "{}", both(&out));
    assert_exit(&t.run(&["reject", "2", "approval", "--reason", "test"]), 0);
    let out = handle.join().expect("join");
    assert_ne!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!((read(&t, DIRECTORY), acls(&t)), applied);
}

/// An apply changes access like an undo and needs the same approval: straight from the command
/// line, or in a run nobody else approved, it is refused (audited) and changes nothing.
#[test]
fn an_apply_from_the_command_line_needs_an_approved_run() {
    let t = demo();
    let original = (read(&t, DIRECTORY), acls(&t));
    let args = act_args(&t, LIST, Some("2027-04-01"), true, &["--apply"]);
    let out = t.unyo().args(&args).output().expect("run");
    assert_exit(&out, 3);
    assert!(
        both(&out).contains("needs a second operator's approval: `unyo submit hr-transfer"),
        "{}",
        both(&out)
    );
    // A run of its own requester, approved by nobody: refused too.
    t.job("mine", "adhoc: true\nsteps:\n  hold:\n    run: sleep 600\n");
    let mut own = std::process::Command::new(env!("CARGO_BIN_EXE_unyo"))
        .env_remove("UNYO_ROOT")
        .arg("--root")
        .arg(t.root())
        .args(["run", "mine"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run mine");
    wait_for("run 1 to run", || {
        let r: serde_json::Value =
            serde_json::from_slice(&t.run(&["show", "1", "--json"]).stdout).ok()?;
        (r["status"] == "running").then_some(())
    });
    let out = t
        .unyo()
        .env("UNYO_RUN_ID", "1")
        .args(&args)
        .output()
        .expect("run");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(own.id()).expect("pid"));
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
    let _ = own.wait();
    assert_exit(&out, 3);
    assert!(
        both(&out).contains("has no approval step approved by an operator other than"),
        "{}",
        both(&out)
    );
    assert_eq!((read(&t, DIRECTORY), acls(&t)), original);
    let applies = audit(&t, "permissions.apply");
    let outcomes: Vec<_> = applies.iter().map(|a| a["outcome"].as_str()).collect();
    assert_eq!(outcomes, [Some("refused"), Some("refused")]);
}
