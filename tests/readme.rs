//! The README tells the truth: its YAML reference validates as one tree, and every command of
//! its tour runs on a copy of the shipped definitions.

use std::path::PathBuf;

use crate::helper::{Tree, both};

fn readme() -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md")
}

/// The fenced blocks of one language, in order.
fn blocks(text: &str, lang: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        match &mut cur {
            None if line.trim() == format!("```{lang}") => cur = Some(String::new()),
            Some(b) if line.trim() == "```" => {
                out.push(std::mem::take(b));
                cur = None;
            }
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
            None => {}
        }
    }
    out
}

#[test]
fn yaml_reference_validates() {
    let yaml = blocks(&readme(), "yaml");
    let find = |start: &str| {
        yaml.iter()
            .find(|b| b.starts_with(start))
            .unwrap_or_else(|| panic!("no yaml block starting with {start:?}"))
            .clone()
    };
    let t = Tree::new();
    t.file(
        "jobs/monthly-close.yaml",
        &find("description: Data extract"),
    )
    .file(
        "runbooks/transient.yaml",
        &find("description: Retry passing"),
    )
    .file("schedules/city.yaml", &find("calendars:"));
    let out = t.run(&["validate"]);
    assert!(out.status.success(), "{}", both(&out));
}

/// The README's `service:` block is the shipped `unyo.yaml`'s (which the shipped-files test
/// validates against the shipped jobs and windows).
#[test]
fn the_service_block_is_the_shipped_one() {
    let block = blocks(&readme(), "yaml")
        .into_iter()
        .find(|b| b.starts_with("service:"))
        .expect("a yaml block starting with `service:`");
    let shipped = std::fs::read_to_string(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("unyo.yaml"),
    )
    .expect("unyo.yaml");
    let at = shipped.find("\nservice:\n").expect("a service block") + 1;
    assert_eq!(block.trim_end(), shipped[at..].trim_end());
}

#[test]
fn tour_commands_run() {
    let t = Tree::from_repo(&["jobs", "runbooks", "schedules", "examples/euc/jobs"]);
    let sh = blocks(&readme(), "sh");
    let tour = sh
        .iter()
        .find(|b| b.contains("alias unyo="))
        .expect("tour block");
    let mut ran = 0;
    for line in tour.lines() {
        let cmd = line.split('#').next().unwrap_or("").trim();
        let Some(args) = cmd.strip_prefix("unyo ") else {
            continue;
        };
        let mut args: Vec<String> = args.split_whitespace().map(str::to_owned).collect();
        let mut unyo = t.unyo();
        if args.first().is_some_and(|a| a == "--root") {
            // A tour line with its own root: the same folder inside the copy.
            let sub = t.path(&args[1]);
            args.drain(..2);
            unyo = assert_cmd::Command::cargo_bin("unyo").expect("binary");
            unyo.arg("--root").arg(sub);
        }
        let out = unyo.args(&args).output().expect("run");
        assert!(out.status.success(), "`{cmd}`: {}", both(&out));
        ran += 1;
    }
    assert!(ran >= 8, "the tour has {ran} commands");
}

/// The README's sample report runs as written on a copy of the shipped definitions, and the
/// page it writes is a whole report of that month.
#[test]
fn the_sample_report_renders() {
    let t = Tree::from_repo(&["jobs", "runbooks", "schedules", "queries"]);
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    t.file(
        "unyo.yaml",
        &std::fs::read_to_string(repo.join("unyo.yaml")).expect("unyo.yaml"),
    );
    let sh = blocks(&readme(), "sh");
    let sample = sh
        .iter()
        .find(|b| b.contains("synth-history"))
        .expect("sample block");
    let scratch = "/tmp/unyo-sample";
    assert!(sample.starts_with(&format!("mkdir -p {scratch} && cp -r jobs")));
    let mut ran = 0;
    let mut last = String::new();
    for line in sample.lines() {
        let Some(args) = line.trim().strip_prefix("unyo ") else {
            continue;
        };
        let root = t.root().display().to_string();
        let args: Vec<String> = args
            .replace(scratch, &root)
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let out = assert_cmd::Command::cargo_bin("unyo")
            .expect("binary")
            .env_remove("UNYO_ROOT")
            .args(&args)
            .output()
            .expect("run");
        assert!(out.status.success(), "`{line}`: {}", both(&out));
        last = crate::helper::text(&out.stdout);
        ran += 1;
    }
    assert_eq!(ran, 3, "{sample}");
    let html = std::fs::read_to_string(t.path("report-2026-10.html")).expect("the page");
    assert!(html.contains("令和8年(2026年)10月分"), "{html}");
    assert_eq!(html.matches("<svg").count(), 2, "two charts");
    assert!(
        last.starts_with("# Monthly operations report, October 2026"),
        "{last}"
    );
    assert!(last.contains("nightly-backup"), "{last}");
}

/// Regression: the README's test command was `cargo test --locked`, said to need "only a
/// Rust toolchain", and failed 12 tests on a machine without acl, chromium, fonts-noto-cjk and
/// poppler-utils. The test command is `./test.sh`, which CI runs too, and on a machine where a
/// package is missing it names the one line to run instead of failing tests one by one.
#[test]
fn the_test_command_installs_or_names_what_the_tests_need() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let two = blocks(&readme(), "sh")
        .into_iter()
        .find(|b| b.contains("-- daemon"))
        .expect("the block of the two commands");
    let commands: Vec<&str> = two
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(commands, ["cargo run --release -- daemon", "./test.sh"]);
    assert!(!readme().contains("only a Rust toolchain"));
    let ci = std::fs::read_to_string(repo.join(".ci/run")).expect(".ci/run");
    assert!(
        ci.lines().any(|l| l.trim() == "./test.sh"),
        ".ci/run does not run the README's test command:\n{ci}"
    );

    // A machine without `pdfinfo` (poppler-utils): a PATH holding every other program the
    // script looks for. As root the script would install the package, so it runs as `nobody`.
    let bin = tempfile::tempdir().expect("temp dir");
    let tools = [
        "bash",
        "dirname",
        "id",
        "fc-list",
        "grep",
        "ls",
        "psql",
        "setfacl",
        "getfacl",
        "chromium",
        "pdftotext",
        "pg_ctlcluster",
        "env",
        "setpriv",
    ];
    for tool in tools {
        let found = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .expect("sh");
        let path = String::from_utf8_lossy(&found.stdout).trim().to_owned();
        assert!(!path.is_empty(), "`{tool}` is not installed: run ./test.sh");
        std::os::unix::fs::symlink(&path, bin.path().join(tool)).expect("symlink");
    }
    let script = tempfile::tempdir().expect("temp dir");
    std::fs::copy(repo.join("test.sh"), script.path().join("test.sh")).expect("copy");
    for dir in [bin.path(), script.path()] {
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
    }
    let root = nix::unistd::Uid::effective().is_root();
    let mut cmd =
        std::process::Command::new(bin.path().join(if root { "setpriv" } else { "bash" }));
    if root {
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "bash"]);
    }
    let out = cmd
        .arg(script.path().join("test.sh"))
        .env_clear()
        .env("PATH", bin.path())
        .output()
        .expect("run test.sh");
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("apt-get update && apt-get install -y poppler-utils\n"),
        "{err}"
    );
}
