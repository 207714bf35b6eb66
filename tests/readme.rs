//! The README and the docs tell the truth: their YAML reference validates as one tree, every
//! command of the tour runs on a copy of the shipped definitions, every `unyo` line of a shell
//! block is a command line unyo accepts, and every relative link leads to a file and heading
//! that exist. Blocks are looked up in README.md and every `docs/**/*.md`, wherever they live;
//! a block that fails is named by its file and line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::helper::{Tree, both, wait_for};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md, then every Markdown file under `docs/` in path order: (path from the
/// repository's root, text).
pub(crate) fn doc_files() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(&repo().join("docs"), &mut paths);
    paths.sort();
    paths.insert(0, repo().join("README.md"));
    paths
        .into_iter()
        .map(|p| {
            let text =
                std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let name = p.strip_prefix(repo()).expect("inside the repository");
            (name.display().to_string(), text)
        })
        .collect()
}

/// One fenced block of a doc: its file, the line of its first line, and its text.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    pub file: String,
    pub line: usize,
    pub text: String,
}

impl Block {
    /// `docs/guide/x.md:12`, the place of the block's line `n` (counted from 0).
    pub fn at(&self, n: usize) -> String {
        format!("{}:{}", self.file, self.line + n)
    }
}

/// The fenced blocks of one language in one text, in order.
fn blocks_in(file: &str, text: &str, lang: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut cur: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        match &mut cur {
            None if line.trim() == format!("```{lang}") => {
                cur = Some(Block {
                    file: file.to_owned(),
                    line: i + 2,
                    text: String::new(),
                })
            }
            Some(b) if line.trim() == "```" => {
                out.push(b.clone());
                cur = None;
            }
            Some(b) => {
                b.text.push_str(line);
                b.text.push('\n');
            }
            None => {}
        }
    }
    out
}

/// The fenced blocks of one language in README.md and every doc, in order.
pub(crate) fn blocks(lang: &str) -> Vec<Block> {
    doc_files()
        .iter()
        .flat_map(|(file, text)| blocks_in(file, text, lang))
        .collect()
}

/// The first block of a language that `is` picks, wherever it lives.
pub(crate) fn find_block(lang: &str, what: &str, is: impl Fn(&str) -> bool) -> Block {
    blocks(lang)
        .into_iter()
        .find(|b| is(&b.text))
        .unwrap_or_else(|| panic!("no {lang} block in README.md or docs/ {what}"))
}

#[test]
fn yaml_reference_validates() {
    let find = |start: &str| {
        find_block("yaml", &format!("starting with {start:?}"), |b| {
            b.starts_with(start)
        })
    };
    let (job, runbook, schedules) = (
        find("description: Data extract"),
        find("description: Retry passing"),
        find("calendars:"),
    );
    let t = Tree::new();
    t.file("jobs/monthly-close.yaml", &job.text)
        .file("runbooks/transient.yaml", &runbook.text)
        .file("schedules/city.yaml", &schedules.text);
    let out = t.run(&["validate"]);
    assert!(
        out.status.success(),
        "the blocks at {}, {} and {}: {}",
        job.at(0),
        runbook.at(0),
        schedules.at(0),
        both(&out)
    );
}

/// The docs' `service:` block is the shipped `unyo.yaml`'s (which the shipped-files test
/// validates against the shipped jobs and windows).
#[test]
fn the_service_block_is_the_shipped_one() {
    let block = find_block("yaml", "starting with `service:`", |b| {
        b.starts_with("service:")
    });
    let shipped = std::fs::read_to_string(repo().join("unyo.yaml")).expect("unyo.yaml");
    let at = shipped.find("\nservice:\n").expect("a service block") + 1;
    assert_eq!(
        block.text.trim_end(),
        shipped[at..].trim_end(),
        "{}",
        block.at(0)
    );
}

/// The docs' `# runbooks/transient.yaml` block is the shipped runbook, without the comment
/// that opens the file.
#[test]
fn the_transient_runbook_block_is_the_shipped_one() {
    let block = find_block("yaml", "starting with `# runbooks/transient.yaml`", |b| {
        b.starts_with("# runbooks/transient.yaml\n")
    });
    let shipped =
        std::fs::read_to_string(repo().join("runbooks/transient.yaml")).expect("transient.yaml");
    let body: String = shipped
        .lines()
        .skip_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        block.text["# runbooks/transient.yaml\n".len()..].trim_end(),
        body.trim_end(),
        "{}",
        block.at(0)
    );
}

/// Every YAML block of the docs is YAML, so none misleads by its syntax alone.
#[test]
fn every_yaml_block_parses() {
    let all = blocks("yaml");
    assert!(all.len() >= 10, "{} yaml blocks", all.len());
    for b in all {
        if let Err(e) = serde_saphyr::from_str::<serde_json::Value>(&b.text) {
            panic!(
                "{}: the yaml block does not parse: {e}\n{}",
                b.at(0),
                b.text
            );
        }
    }
}

#[test]
fn tour_commands_run() {
    let t = Tree::from_repo(&["jobs", "runbooks", "schedules", "examples/euc/jobs"]);
    let vars = run_tour(&t, false);
    cancelled_run_of_the_tour(&t, &vars);
}

/// The tour works as written while a daemon runs on the same root too: `unyo cancel 4` used
/// to fail there, the daemon having run (and ended) run 4 already.
#[test]
fn tour_commands_run_with_a_daemon() {
    let t = Tree::from_repo(&["jobs", "runbooks", "schedules", "examples/euc/jobs"]);
    let log = t.path("daemon.log");
    let mut daemon = std::process::Command::new(env!("CARGO_BIN_EXE_unyo"))
        .env_remove("UNYO_ROOT")
        .env("NO_COLOR", "1")
        .arg("--root")
        .arg(t.root())
        .arg("daemon")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("start daemon");
    wait_for("the daemon to start", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("unyo daemon")
            .then_some(())
    });
    let vars = run_tour(&t, true);
    cancelled_run_of_the_tour(&t, &vars);
    let _ = daemon.kill();
    let _ = daemon.wait();
}

/// Runs every `unyo` line of the tour block; `NAME=$(unyo ...)` keeps the command's output
/// as `$NAME` for the lines below. Returns those values. With `daemon`, each line waits
/// first until the daemon has taken every queued run it may start, as it has by the time a
/// person types the next line.
fn run_tour(t: &Tree, daemon: bool) -> HashMap<String, String> {
    let tour = find_block("sh", "with `alias unyo=` (the tour)", |b| {
        b.contains("alias unyo=")
    });
    assert_eq!(tour.file, "README.md", "the tour is the README's");
    let mut vars: HashMap<String, String> = HashMap::new();
    let mut ran = 0;
    for (n, line) in tour.text.lines().enumerate() {
        let at = tour.at(n);
        let cmd = line.split('#').next().unwrap_or("").trim();
        let (var, cmd) = match cmd.split_once("=$(") {
            Some((name, rest)) if !name.contains(' ') => (
                Some(name),
                rest.strip_suffix(')').expect("closing parenthesis"),
            ),
            _ => (None, cmd),
        };
        let Some(args) = cmd.strip_prefix("unyo ") else {
            continue;
        };
        let mut args: Vec<String> = args
            .split_whitespace()
            .map(|a| match a.strip_prefix('$') {
                Some(name) => vars
                    .get(name)
                    .unwrap_or_else(|| panic!("{at}: `{cmd}`: ${name} is not set above"))
                    .clone(),
                None => a.to_owned(),
            })
            .collect();
        if daemon {
            wait_for("the daemon to take the queued runs", || {
                let out = t.run(&["runs", "--status", "queued", "--json"]);
                let list: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
                let now = chrono::Utc::now().to_rfc3339();
                let startable = list
                    .as_array()?
                    .iter()
                    .any(|r| r["not_before"].as_str().is_none_or(|t| t < now.as_str()));
                (!startable).then_some(())
            });
        }
        let mut unyo = t.unyo();
        if args.first().is_some_and(|a| a == "--root") {
            // A tour line with its own root: the same folder inside the copy.
            let sub = t.path(&args[1]);
            args.drain(..2);
            unyo = assert_cmd::Command::cargo_bin("unyo").expect("binary");
            unyo.arg("--root").arg(sub);
        }
        let out = unyo.args(&args).output().expect("run");
        assert!(out.status.success(), "{at}: `{cmd}`: {}", both(&out));
        if let Some(name) = var {
            let value = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            vars.insert(name.to_owned(), value);
        }
        ran += 1;
    }
    assert!(ran >= 8, "{}: the tour has {ran} commands", tour.at(0));
    vars
}

/// The run the tour cancels is recorded cancelled, before it ever started.
fn cancelled_run_of_the_tour(t: &Tree, vars: &HashMap<String, String>) {
    let id: i64 = vars
        .get("run")
        .and_then(|v| v.parse().ok())
        .expect("the tour keeps the id of the run it cancels in $run");
    let run = t.show(id);
    assert_eq!(run["status"], "cancelled", "{run}");
    assert!(run["started_at"].is_null(), "{run}");
}

/// The docs' sample report runs as written on a copy of the shipped definitions, and the
/// page it writes is a whole report of that month.
#[test]
fn the_sample_report_renders() {
    let t = Tree::from_repo(&["jobs", "runbooks", "schedules", "queries"]);
    t.file(
        "unyo.yaml",
        &std::fs::read_to_string(repo().join("unyo.yaml")).expect("unyo.yaml"),
    );
    let block = find_block("sh", "with `synth-history` (the sample report)", |b| {
        b.contains("synth-history")
    });
    let sample = &block.text;
    let scratch = "/tmp/unyo-sample";
    assert!(
        sample.starts_with(&format!("mkdir -p {scratch} && cp -r jobs")),
        "{}",
        block.at(0)
    );
    let mut ran = 0;
    let mut last = String::new();
    for (n, line) in sample.lines().enumerate() {
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
        assert!(
            out.status.success(),
            "{}: `{line}`: {}",
            block.at(n),
            both(&out)
        );
        last = crate::helper::text(&out.stdout);
        ran += 1;
    }
    assert_eq!(ran, 3, "{}: {sample}", block.at(0));
    let html = std::fs::read_to_string(t.path("report-2026-10.html")).expect("the page");
    assert!(html.contains("令和8年(2026年)10月分"), "{html}");
    assert_eq!(html.matches("<svg").count(), 2, "two charts");
    assert!(
        last.starts_with("# Monthly operations report, October 2026"),
        "{last}"
    );
    assert!(last.contains("nightly-backup"), "{last}");
}

/// Issue 13 item 15: the morning check read `disk-$(date +%F).txt`, the machine's date,
/// which on a UTC server is the day before Tokyo's from 00:00 to 09:00. The README's line
/// (now in the docs) finds the report the shipped `disk-report` job wrote, on a machine in UTC or in any zone.
#[test]
fn the_morning_disk_report_line_finds_the_report_on_a_utc_machine() {
    let t = Tree::from_repo(&["jobs", "runbooks", "schedules"]);
    let out = t.run(&["run", "disk-report", "-p", "min_free_percent=0"]);
    assert!(out.status.success(), "{}", both(&out));
    let (at, line) = blocks("sh")
        .iter()
        .flat_map(|b| {
            b.text
                .lines()
                .enumerate()
                .map(|(n, l)| (b.at(n), l.to_owned()))
                .collect::<Vec<_>>()
        })
        .find(|(_, l)| l.contains("var/reports/disk-"))
        .expect("the disk report line");
    let cmd = line
        .split(" #")
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    assert!(
        !cmd.contains("date "),
        "{at}: the machine's date is not the business date: {cmd}"
    );
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_unyo"));
    let path = format!(
        "{}:{}",
        bin.parent().expect("bin dir").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for zone in ["UTC", "Pacific/Pago_Pago"] {
        let out = std::process::Command::new("sh")
            .args(["-c", &cmd])
            .current_dir(t.root())
            .env_remove("UNYO_ROOT")
            .env("TZ", zone)
            .env("PATH", &path)
            .output()
            .expect("sh");
        assert!(
            out.status.success(),
            "{at}: `{cmd}` with TZ={zone}: {}",
            both(&out)
        );
        assert!(
            crate::helper::text(&out.stdout).starts_with("disk report for business date "),
            "{}",
            both(&out)
        );
    }
}

/// Regression: the README's test command was `cargo test --locked`, said to need "only a
/// Rust toolchain", and failed 12 tests on a machine without acl, chromium, fonts-noto-cjk and
/// poppler-utils. The test command is `./test.sh`, which CI runs too, and on a machine where a
/// package is missing it names the one line to run instead of failing tests one by one.
#[test]
fn the_test_command_installs_or_names_what_the_tests_need() {
    let repo = repo();
    let two = find_block("sh", "with `-- daemon` (the two commands)", |b| {
        b.contains("-- daemon")
    });
    assert_eq!(two.file, "README.md", "the two commands are the README's");
    let commands: Vec<&str> = two
        .text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(commands, ["cargo run --release -- daemon", "./test.sh"]);
    for (file, text) in doc_files() {
        assert!(!text.contains("only a Rust toolchain"), "{file}");
    }
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
        "node",
        "npm",
        "pdftotext",
        "prometheus",
        "promtool",
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

/// The anchors of a Markdown text's headings, as GitHub makes them: lower case, letters,
/// digits, `-` and `_` kept (Japanese too), spaces made `-`, the rest dropped; a heading
/// seen before gets `-1`, `-2`, ...
fn anchors(text: &str) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
            continue;
        }
        let Some(title) = line.strip_prefix('#') else {
            continue;
        };
        if fenced {
            continue;
        }
        let title = title.trim_start_matches('#');
        if !title.starts_with(' ') {
            continue;
        }
        let slug: String = title
            .trim()
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                '-' | '_' => Some(c),
                c if c.is_alphanumeric() => Some(c),
                _ => None,
            })
            .collect();
        let n = seen.entry(slug.clone()).or_insert(0);
        out.push(if *n == 0 {
            slug.clone()
        } else {
            format!("{slug}-{n}")
        });
        *n += 1;
    }
    out
}

/// The `[text](target)` links of a Markdown text outside fenced blocks and code spans, with
/// their line numbers.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Code spans may hold `](`: only the text between them counts.
        for (k, part) in line.split('`').enumerate() {
            if k % 2 == 1 {
                continue;
            }
            let mut rest = part;
            while let Some(at) = rest.find("](") {
                let tail = &rest[at + 2..];
                let Some(end) = tail.find(')') else { break };
                out.push((i + 1, tail[..end].to_owned()));
                rest = &tail[end..];
            }
        }
    }
    out
}

/// Every relative link of README.md, the docs and the migrations' README leads to a file
/// or folder that exists, and a `#anchor` to a heading of that file.
#[test]
fn every_relative_link_resolves() {
    let mut files = doc_files();
    for extra in ["migrations/sqlite/README.md", "ARCHITECTURE.md"] {
        let text = std::fs::read_to_string(repo().join(extra)).expect(extra);
        files.push((extra.to_owned(), text));
    }
    let mut checked = 0;
    let mut broken = Vec::new();
    for (file, text) in &files {
        for (line, target) in links(text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let dest = if path.is_empty() {
                repo().join(file)
            } else {
                repo().join(file).parent().expect("a folder").join(path)
            };
            checked += 1;
            if !dest.exists() {
                broken.push(format!("{file}:{line}: `{target}`: no {}", dest.display()));
                continue;
            }
            if anchor.is_empty() {
                continue;
            }
            let is_md = dest.extension().is_some_and(|e| e == "md");
            let heads = if is_md {
                anchors(&std::fs::read_to_string(&dest).expect("a linked file"))
            } else {
                Vec::new()
            };
            if !heads.iter().any(|h| h == anchor) {
                broken.push(format!(
                    "{file}:{line}: `{target}`: no heading `#{anchor}` in {}",
                    dest.display()
                ));
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
    assert!(checked >= 50, "{checked} links checked");
}

#[test]
fn anchors_are_made_as_github_makes_them() {
    let text = "# unyo (運用)\n## Runbooks (`runbooks/*.yaml`)\n```\n# not a heading\n```\n### Data extracts (EUC)\n## Data extracts (EUC)\n#hashtag\n";
    assert_eq!(
        anchors(text),
        [
            "unyo-運用",
            "runbooks-runbooksyaml",
            "data-extracts-euc",
            "data-extracts-euc-1"
        ]
    );
}

/// Splits a shell line into words: quotes group, a `#` outside quotes starts a comment,
/// `>` or `|` ends the command.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.get_or_insert_default().push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                cur.get_or_insert_default();
            }
            (None, '#') if cur.is_none() => break,
            (None, '>' | '|') => break,
            (None, c) if c.is_whitespace() => out.extend(cur.take()),
            (None, c) => cur.get_or_insert_default().push(c),
        }
    }
    out.extend(cur);
    out
}

/// Every `unyo` line of every shell block of the docs is a command line unyo accepts: its
/// commands, options and values parse (`--help` after them, so nothing runs). An operator
/// copying a line from the docs never meets `unknown argument`. Placeholders (`RUN`, `$run`)
/// stand for a run id.
#[test]
fn every_unyo_line_of_a_shell_block_parses() {
    let mut checked = 0;
    for block in blocks("sh") {
        let lines: Vec<&str> = block.text.lines().collect();
        let mut n = 0;
        while n < lines.len() {
            let first = n;
            let mut line = lines[n].to_owned();
            while line.trim_end().ends_with('\\') && n + 1 < lines.len() {
                line = format!(
                    "{} {}",
                    line.trim_end().trim_end_matches('\\'),
                    lines[n + 1]
                );
                n += 1;
            }
            n += 1;
            let mut ws = words(&line);
            // `NAME=$(unyo ...)` and `UNYO_LOG=info unyo ...`
            if let Some(w) = ws.first_mut()
                && let Some((_, rest)) = w.split_once("=$(")
            {
                *w = rest.to_owned();
                if let Some(last) = ws.last_mut() {
                    *last = last.trim_end_matches(')').to_owned();
                }
            }
            while ws
                .first()
                .is_some_and(|w| w.contains('=') && !w.starts_with('-'))
            {
                ws.remove(0);
            }
            if ws.first().is_none_or(|w| w != "unyo") {
                continue;
            }
            let args: Vec<String> = ws[1..]
                .iter()
                .map(|w| {
                    let placeholder = w.starts_with('$')
                        || (w.len() > 1 && w.chars().all(|c| c.is_ascii_uppercase() || c == '_'));
                    if placeholder {
                        "1".to_owned()
                    } else {
                        w.clone()
                    }
                })
                .collect();
            let out = assert_cmd::Command::cargo_bin("unyo")
                .expect("binary")
                .env_remove("UNYO_ROOT")
                .args(&args)
                .arg("--help")
                .output()
                .expect("run");
            assert!(
                out.status.success(),
                "{}: `{}` is not a command line unyo accepts: {}",
                block.at(first),
                line.trim(),
                both(&out)
            );
            checked += 1;
        }
    }
    assert!(checked >= 60, "{checked} unyo lines checked");
}

/// `unyo man` carries each command's own explanation (its `long_about`), on a page of its
/// own, and every doc it points to exists.
#[test]
fn the_manual_page_carries_each_command_and_its_docs_exist() {
    let out = assert_cmd::Command::cargo_bin("unyo")
        .expect("binary")
        .env_remove("UNYO_ROOT")
        .arg("man")
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", both(&out));
    let page = crate::helper::text(&out.stdout);
    for title in [
        ".TH unyo 1",
        ".TH unyo-daemon 1",
        ".TH unyo-submit 1",
        ".TH unyo-incident-ack 1",
    ] {
        assert!(page.contains(title), "no `{title}` in the manual page");
    }
    assert!(
        !page.contains(".TH unyo-synth-history"),
        "a hidden command has no page"
    );
    // The daemon's explanation, not only its one-line summary.
    assert!(page.contains("shutdown_grace"), "{page}");
    // roff writes `-` as `\-`.
    let page = page.replace("\\-", "-");
    let named: Vec<&str> = page
        .split(|c: char| c.is_whitespace() || c == '`' || c == '(' || c == ')')
        .map(|w| w.trim_end_matches(['.', ',', ';']))
        .filter(|w| w.starts_with("docs/") && w.ends_with(".md"))
        .collect();
    assert!(named.len() >= 20, "{} docs named", named.len());
    for doc in named {
        assert!(
            repo().join(doc).is_file(),
            "the manual page names {doc}, which does not exist"
        );
    }
}

/// The README's sample month is unyo's own output: each of its two excerpts is, line for
/// line, in a golden file the report tests compare their output with.
#[test]
fn the_sample_month_is_the_reports_own_text() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let start = readme.find("## A sample month").expect("the section");
    // Its two Markdown blocks (they hold `## ` headings of their own).
    let section = &readme[start..];
    let excerpts: Vec<&str> = section
        .split("```markdown\n")
        .skip(1)
        .take(2)
        .map(|b| b.split("\n```").next().expect("closed"))
        .collect();
    assert_eq!(excerpts.len(), 2, "{section}");
    for (excerpt, golden) in excerpts
        .iter()
        .zip(["report-2026-10.ja.md", "proposals-2026-10.ja.md"])
    {
        let want =
            std::fs::read_to_string(repo().join("tests/golden").join(golden)).expect("golden file");
        assert!(
            want.contains(excerpt),
            "README's excerpt is not in tests/golden/{golden}:\n{excerpt}"
        );
    }
}
