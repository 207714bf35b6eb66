//! `unyo import crontab`: the files written, the report, that the result validates and runs
//! the commands as cron would have (environment, `%` input, literal `{{`), refusing to
//! overwrite, `--dry-run`, `--out`, `--system`, and the README's commands.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::helper::{Tree, both, text};

/// A user crontab with one of each thing the importer handles; `{data}` is where the
/// commands write. Line numbers matter to the assertions.
const CRONTAB: &str = r#"# nightly work of the records office
MAILTO=ops@example.org
SHELL=/bin/bash
PATH=/usr/local/bin:/usr/bin:/bin
OUT={data}
GREETING = "hello, world"

30 2 * * * cat > "$OUT/stdin.txt"; echo "$GREETING" > "$OUT/env.txt"%first line%50\% done
@daily printf '\%s|\%s\n' '{{x}}' "a: b #c" > "$OUT/literal.txt" # a comment
@reboot /usr/local/bin/start-agent
61 * * * * echo never
CRON_TZ=Europe/Berlin
@hourly echo 'データ' "it's" > "$OUT/unicode.txt"
@weekly date +\%Y > "$OUT/year.txt"
0 4 * * * echo \{{x}}
"#;

const JOBS: [&str; 4] = ["cat-stdin", "printf-literal", "echo-unicode", "date-year"];

/// A tree with `crontab` at its root and a `data/` folder for the commands' output.
fn tree_with_crontab() -> (Tree, PathBuf) {
    let t = Tree::new();
    let data = t.path("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    t.file(
        "crontab",
        &CRONTAB.replace("{data}", &data.display().to_string()),
    );
    let file = t.path("crontab");
    (t, file)
}

fn import(t: &Tree, file: &Path, extra: &[&str]) -> Output {
    t.unyo()
        .args(["import", "crontab"])
        .arg(file)
        .args(extra)
        .output()
        .expect("run unyo")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file under `jobs/` and `schedules/` with its contents.
fn snapshot(root: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    for dir in ["jobs", "schedules"] {
        if let Ok(entries) = std::fs::read_dir(root.join(dir)) {
            for e in entries.flatten() {
                files.push((e.path(), read(&e.path())));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn imports_validates_and_runs_as_cron_would() {
    let (t, file) = tree_with_crontab();
    let out = import(&t, &file, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let stdout = text(&out.stdout);
    let f = file.display();

    for job in JOBS {
        let path = t.path(&format!("jobs/{job}.yaml"));
        assert!(
            stdout.contains(&format!("wrote {}\n", path.display())),
            "{job}: {}",
            both(&out)
        );
        assert!(path.is_file(), "{job}");
    }
    assert!(stdout.contains(&format!(
        "wrote {}\n",
        t.path("schedules/crontab.yaml").display()
    )));
    let lines: Vec<&str> = stdout.lines().collect();
    for expected in [
        "carried over: 4 entries".to_owned(),
        format!(
            "{f}:2: MAILTO=ops@example.org not carried over: unyo reports failures through incidents, not mail"
        ),
        format!(
            "{f}:3: SHELL=/bin/bash: the entries below run their command with `/bin/bash -c`, written into their `run:` line (unyo runs `run:` lines with /bin/sh)"
        ),
        format!(
            "{f}:8: `cat-stdin`: the text after `%` is fed to the command's standard input with printf"
        ),
        format!(
            "{f}:9: `printf-literal`: in `run:`, `{{{{` is written `\\{{{{` so that it stays literal text, not a template"
        ),
        format!(
            "{f}:10: @reboot not carried over: unyo schedules have no start-up trigger; run the command from whatever starts unyo"
        ),
        format!(
            "{f}:11: invalid cron expression `61 * * * *`: minute `61` out of range 0-59; line skipped"
        ),
        format!(
            "{f}:15: entry not carried over: a backslash right before `{{{{` cannot stay literal in a unyo template"
        ),
        "validate: 4 jobs, 4 schedules, 0 runbooks: ok".to_owned(),
    ] {
        assert!(
            lines.contains(&expected.as_str()),
            "missing {expected:?} in\n{stdout}"
        );
    }
    // Nothing else is reported about lines that were carried over as they were.
    for quiet in [4, 5, 6, 12, 13, 14] {
        assert!(
            !stdout.contains(&format!("{f}:{quiet}:")),
            "line {quiet} reported:\n{stdout}"
        );
    }

    let cat = read(&t.path("jobs/cat-stdin.yaml"));
    assert!(
        cat.starts_with(&format!(
            "# {f} line 8: 30 2 * * * cat > \"$OUT/stdin.txt\";"
        )),
        "{cat}"
    );
    assert!(
        cat.contains("description: \"imported from crontab line 8\"\n"),
        "{cat}"
    );
    assert!(
        cat.contains("  \"PATH\": \"/usr/local/bin:/usr/bin:/bin\"\n"),
        "{cat}"
    );
    assert!(!cat.contains("MAILTO"), "{cat}");
    assert!(!cat.contains("\"SHELL\""), "{cat}");
    assert!(!cat.contains("timeout:"), "{cat}");

    let schedules = read(&t.path("schedules/crontab.yaml"));
    for entry in [
        "  - job: \"cat-stdin\"\n    cron: \"30 2 * * *\"\n  - job: \"printf-literal\"\n    cron: \"0 0 * * *\"\n",
        "  - job: \"echo-unicode\"\n    cron: \"0 * * * *\"\n    timezone: \"Europe/Berlin\"\n",
        "  - job: \"date-year\"\n    cron: \"0 0 * * 0\"\n    timezone: \"Europe/Berlin\"\n",
    ] {
        assert!(
            schedules.contains(entry),
            "missing {entry:?} in\n{schedules}"
        );
    }

    let out = t.run(&["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(text(&out.stdout), "4 jobs, 4 schedules, 0 runbooks: ok\n");

    for job in JOBS {
        let out = t.run(&["run", job]);
        assert_eq!(out.status.code(), Some(0), "{job}: {}", both(&out));
    }
    let data = |name: &str| read(&t.path(&format!("data/{name}")));
    assert_eq!(data("stdin.txt"), "first line\n50% done\n");
    assert_eq!(data("env.txt"), "hello, world\n");
    assert_eq!(data("literal.txt"), "{{x}}|a: b #c\n");
    assert_eq!(data("unicode.txt"), "データ it's\n");
    let year = data("year.txt");
    assert!(
        year.len() == 5 && year.trim_end().chars().all(|c| c.is_ascii_digit()),
        "{year:?}"
    );
}

/// Commands holding YAML and template syntax, quotes, control characters and unicode reach
/// the shell exactly as written.
#[test]
fn awkward_commands_round_trip() {
    let t = Tree::new();
    let data = t.path("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let payloads = [
        "key: value # not a comment",
        "\"double\" and back\\slash and \\n",
        "{{ braces }} }} {{#if x}} {{> p}}",
        "tab\there, escape \u{1b}[0m, del \u{7f}",
        "データ ✓ 🚀 — \u{2028}",
        "- [a, b]: {c: d} &anchor *alias !tag",
    ];
    let mut crontab = String::new();
    for (i, p) in payloads.iter().enumerate() {
        crontab.push_str(&format!(
            "0 1 * * * printf '\\%s' '{p}' > '{}/{i}.txt'\n",
            data.display()
        ));
    }
    t.file("awkward.cron", &crontab);
    let out = import(&t, &t.path("awkward.cron"), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(text(&out.stdout).contains(&format!("carried over: {} entries", payloads.len())));
    assert!(t.path("schedules/awkward.yaml").is_file());
    let names = [
        "printf", "printf-2", "printf-3", "printf-4", "printf-5", "printf-6",
    ];
    for name in names {
        let out = t.run(&["run", name]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", both(&out));
    }
    for (i, p) in payloads.iter().enumerate() {
        assert_eq!(read(&data.join(format!("{i}.txt"))), *p, "payload {i}");
    }
}

#[test]
fn refuses_to_overwrite_and_changes_nothing() {
    let (t, file) = tree_with_crontab();
    let out = import(&t, &file, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    // One target gone, the others in place: still nothing is written.
    std::fs::remove_file(t.path("jobs/echo-unicode.yaml")).expect("rm");
    t.job(
        "cat-stdin",
        "steps:\n  main:\n    run: echo edited by hand\n",
    );
    let before = snapshot(t.root());

    let out = import(&t, &file, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("`{}`", t.path("jobs/cat-stdin.yaml").display()))
            && err.contains(&format!("`{}`", t.path("schedules/crontab.yaml").display()))
            && err.contains("nothing written (--force overwrites)"),
        "{}",
        both(&out)
    );
    assert!(!err.contains("jobs/echo-unicode.yaml"), "{err}");
    assert!(out.stdout.is_empty(), "{}", both(&out));
    assert_eq!(snapshot(t.root()), before);
    assert!(!t.path("jobs/echo-unicode.yaml").exists());

    let out = import(&t, &file, &["--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(t.path("jobs/echo-unicode.yaml").is_file());
    assert!(read(&t.path("jobs/cat-stdin.yaml")).contains("imported from crontab line 8"));
}

#[test]
fn dry_run_writes_nothing() {
    let (t, file) = tree_with_crontab();
    let out = import(&t, &file, &["--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "would write {}:\n# {} line 8:",
            t.path("jobs/cat-stdin.yaml").display(),
            file.display()
        )),
        "{stdout}"
    );
    assert!(stdout.contains("carried over: 4 entries\n"), "{stdout}");
    assert!(!stdout.contains("wrote "), "{stdout}");
    assert!(!t.path("jobs").exists() && !t.path("schedules").exists());
}

#[test]
fn out_folder_other_than_the_root() {
    let (t, file) = tree_with_crontab();
    let elsewhere = tempfile::tempdir().expect("temp dir");
    // A relative `--out` is relative to the current directory, like any path argument.
    let out = t
        .unyo()
        .current_dir(elsewhere.path())
        .args(["import", "crontab"])
        .arg(&file)
        .args(["--out", "imported"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let dir = elsewhere.path().join("imported");
    assert!(
        text(&out.stdout).contains("wrote imported/jobs/cat-stdin.yaml\n"),
        "{}",
        both(&out)
    );
    assert!(text(&out.stdout).contains("validate: 4 jobs, 4 schedules, 0 runbooks: ok"));
    assert!(dir.join("jobs/cat-stdin.yaml").is_file());
    assert!(dir.join("schedules/crontab.yaml").is_file());
    assert!(!t.path("jobs").exists());

    // Definitions already in the folder stay and are validated with the imported ones.
    t.job("existing", "steps:\n  main:\n    run: echo already here\n");
    let out = import(&t, &file, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(text(&out.stdout).contains("validate: 5 jobs, 4 schedules, 0 runbooks: ok"));
}

#[test]
fn system_crontab_needs_the_flag() {
    let t = Tree::new();
    t.file(
        "system",
        "SHELL=/bin/sh\nPATH=/usr/sbin:/usr/bin:/sbin:/bin\n17 *\t* * *\troot    cd / && run-parts --report /etc/cron.hourly\n@daily nobody /srv/app/purge --days 30\n",
    );
    let file = t.path("system");
    let out = import(&t, &file, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("looks like a system crontab with a user column")
            && text(&out.stderr).contains("--system"),
        "{}",
        both(&out)
    );
    assert!(!t.path("jobs").exists());

    let out = import(&t, &file, &["--system"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let stdout = text(&out.stdout);
    let f = file.display();
    assert!(stdout.contains(&format!(
        "{f}:3: `run-parts-report-cron-hourly` ran as user `root`; unyo runs every job as the user that runs unyo"
    )));
    assert!(stdout.contains(&format!("{f}:4: `purge-days` ran as user `nobody`")));
    let job = read(&t.path("jobs/purge-days.yaml"));
    assert!(
        job.contains("description: \"imported from crontab line 4 (ran as user `nobody`)\"")
            && job.contains("run: \"/srv/app/purge --days 30\""),
        "{job}"
    );
    assert!(
        !stdout.contains("SHELL"),
        "/bin/sh is what unyo uses: {stdout}"
    );
}

/// The import itself is fine, but the folder it went into does not validate: the files stay
/// written, the problems are printed and the exit code says so.
#[test]
fn a_folder_that_does_not_validate_is_exit_2() {
    let (t, file) = tree_with_crontab();
    t.job(
        "other",
        "name: cat-stdin\nsteps:\n  main:\n    run: echo clash\n",
    );
    let out = import(&t, &file, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        text(&out.stdout).contains("carried over: 4 entries\n"),
        "{}",
        both(&out)
    );
    assert!(
        text(&out.stdout).contains("validate: the folder does not validate; the problems follow\n"),
        "{}",
        both(&out)
    );
    assert!(
        text(&out.stderr).contains("job `cat-stdin` is also defined in"),
        "{}",
        both(&out)
    );
    assert!(t.path("jobs/cat-stdin.yaml").is_file());
}

#[test]
fn nothing_to_import_or_unreadable_is_exit_3() {
    let t = Tree::new();
    t.file(
        "empty",
        "# nothing\nMAILTO=ops@example.org\n@reboot /bin/start\n",
    );
    let out = import(&t, &t.path("empty"), &[]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(text(&out.stdout).contains("carried over: 0 entries\n"));
    assert!(
        text(&out.stderr).contains("has no entries to import"),
        "{}",
        both(&out)
    );
    assert!(!t.path("jobs").exists() && !t.path("schedules").exists());

    let out = import(&t, &t.path("missing"), &[]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("cannot read crontab"),
        "{}",
        both(&out)
    );
}

#[test]
fn reads_standard_input() {
    let t = Tree::new();
    let out = t
        .unyo()
        .args(["import", "crontab", "-"])
        .write_stdin("*/5 * * * * /opt/poll\n")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(t.path("jobs/poll.yaml").is_file());
    assert!(read(&t.path("jobs/poll.yaml")).starts_with("# stdin line 1: */5 * * * * /opt/poll\n"));
    assert!(t.path("schedules/imported.yaml").is_file());
}

/// The docs' import commands run as written.
#[test]
fn readme_commands_run() {
    let found = crate::readme::find_block("sh", "with `unyo import crontab`", |b| {
        b.contains("unyo import crontab")
    });
    let block = &found.text;
    let t = Tree::new();
    t.file(
        "my.crontab",
        "MAILTO=ops@example.org\n30 2 * * * /usr/local/bin/backup.sh\n",
    )
    .file(
        "root.crontab",
        "0 3 * * * root /usr/sbin/logrotate /etc/logrotate.conf\n",
    );
    let mut ran = 0;
    for line in block.lines() {
        let cmd = line.split('#').next().unwrap_or("").trim();
        let Some(args) = cmd.strip_prefix("unyo ") else {
            continue;
        };
        let out = t
            .unyo()
            .current_dir(t.root())
            .args(args.split_whitespace())
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}: `{cmd}`: {}",
            found.at(0),
            both(&out)
        );
        ran += 1;
    }
    assert!(ran >= 3, "{}: {ran} commands", found.at(0));
}

/// A crontab as operators write them: jobs used to be named after the first word of the
/// command (`date`, `test`, `find`) and `SHELL=` was dropped. Now the comment right above an
/// entry names it (a Japanese one is its description, the command its name), else the real
/// program and its arguments do, and the entries run with the crontab's shell.
#[test]
fn a_realistic_crontab_gets_meaningful_names_and_keeps_its_shell() {
    let t = Tree::new();
    let data = t.path("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let bin = t.path("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let backup = bin.join("backup.sh");
    std::fs::write(&backup, "#!/bin/sh\necho \"$@\" >> \"$OUT/backup.txt\"\n").expect("write");
    std::fs::set_permissions(&backup, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let crontab = format!(
        r#"# Edit this file to introduce tasks to be run by cron.
# m h  dom mon dow   command
MAILTO=ops@example.org
SHELL=/bin/bash
PATH={bin}:/usr/bin:/bin
OUT={data}

# Nightly backup of the registry
30 2 * * * backup.sh --full > /dev/null 2>&1
# 週次のフルバックアップ
0 3 * * 0 backup.sh --full
15 3 * * * backup.sh --incremental
25 6 * * * test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )
0 4 * * * find /var/log/app -name '*.gz' -mtime +30 -delete
# 0 5 * * * /old/disabled-job
*/5 * * * * date >> "$OUT/heartbeat.log"
0 7 * * * [[ ${{OUT,,}} == *data* ]] && echo bash > "$OUT/shell.txt"
"#,
        bin = bin.display(),
        data = data.display()
    );
    t.file("ops.crontab", &crontab);
    let file = t.path("ops.crontab");
    let out = import(&t, &file, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let stdout = text(&out.stdout);
    let names = [
        "nightly-backup-of-the-registry",
        "backup-full",
        "backup-incremental",
        "run-parts-report-cron-daily",
        "find-app",
        "date-heartbeat",
        "echo-bash",
    ];
    for name in names {
        assert!(
            stdout.contains(&format!(
                "wrote {}\n",
                t.path(&format!("jobs/{name}.yaml")).display()
            )),
            "{name}: {stdout}"
        );
    }
    assert_eq!(
        std::fs::read_dir(t.path("jobs")).expect("jobs").count(),
        names.len(),
        "{stdout}"
    );
    let f = file.display();
    for expected in [
        format!(
            "{f}:4: SHELL=/bin/bash: the entries below run their command with `/bin/bash -c`, written into their `run:` line (unyo runs `run:` lines with /bin/sh)"
        ),
        format!("{f}:9: `nightly-backup-of-the-registry`: named after the comment on line 8"),
        format!(
            "{f}:11: `backup-full`: named after its command: the comment on line 10 gives no name in letters a-z (it is the job's description)"
        ),
        format!(
            "{f}: job names: 1 from the comment line right above the entry, 6 from the program the command runs and its first plain arguments (past `test ... ||`, `cd DIR &&`, wrappers and interpreters)"
        ),
        "validate: 7 jobs, 7 schedules, 0 runbooks: ok".to_owned(),
    ] {
        assert!(
            stdout.lines().any(|l| l == expected),
            "missing {expected:?} in\n{stdout}"
        );
    }
    // The header and the commented-out entry name nothing and are reported about nothing.
    assert!(!stdout.contains(&format!("{f}:16:")), "{stdout}");
    let weekly = read(&t.path("jobs/backup-full.yaml"));
    assert!(
        weekly
            .contains("description: \"週次のフルバックアップ (imported from crontab line 11)\"\n"),
        "{weekly}"
    );
    assert!(
        weekly.contains("    run: \"/bin/bash -c 'backup.sh --full'\"\n"),
        "{weekly}"
    );
    assert!(!weekly.contains("MAILTO"), "{weekly}");
    let nightly = read(&t.path("jobs/nightly-backup-of-the-registry.yaml"));
    assert!(
        nightly.contains(
            "description: \"Nightly backup of the registry (imported from crontab line 9)\"\n"
        ),
        "{nightly}"
    );
    // The jobs run as cron ran them: with bash (`[[` and `${VAR,,}` are not /bin/sh).
    for job in ["echo-bash", "backup-incremental", "date-heartbeat"] {
        let out = t.run(&["run", job]);
        assert_eq!(out.status.code(), Some(0), "{job}: {}", both(&out));
    }
    assert_eq!(read(&data.join("shell.txt")), "bash\n");
    assert_eq!(read(&data.join("backup.txt")), "--incremental\n");
    assert!(!read(&data.join("heartbeat.log")).is_empty());
}
