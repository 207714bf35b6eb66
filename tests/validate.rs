//! `unyo validate` and definition diagnostics: every problem at once, each with its place.

use crate::helper::{Tree, both, refused_definitions, text};

const GOOD_JOB: &str = "steps:\n  a:\n    run: echo a\n  b:\n    needs: [a]\n    argv: [echo, b]\n";

#[test]
fn summary_line_for_a_valid_tree() {
    let t = Tree::new();
    t.job("one", GOOD_JOB)
        .job("two", GOOD_JOB)
        .file(
            "runbooks/rb.yaml",
            "rules:\n  - match: any\n    escalate: { severity: low }\n",
        )
        .file(
            "schedules/s.yaml",
            "schedules:\n  - job: one\n    cron: \"0 1 * * *\"\n",
        );
    let out = t.run(&["validate"]);
    assert!(out.status.success(), "{}", both(&out));
    assert_eq!(text(&out.stdout), "2 jobs, 1 schedule, 1 runbook: ok\n");
}

#[test]
fn root_from_environment() {
    let t = Tree::new();
    t.job("one", GOOD_JOB);
    let mut cmd = assert_cmd::Command::cargo_bin("unyo").expect("binary");
    let out = cmd
        .env("UNYO_ROOT", t.root())
        .arg("validate")
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", both(&out));
    assert_eq!(text(&out.stdout), "1 job, 0 schedules, 0 runbooks: ok\n");
}

/// One tree with one of every kind of problem: all are reported in one go, exit 2.
#[test]
fn reports_every_problem_at_once_with_positions() {
    let t = Tree::new();
    t.job("typo", "steps:\n  a:\n    run: echo\n    timout: 5s\n")
        .job("dup", "steps:\n  a:\n    run: echo\n  a:\n    run: echo\n")
        .job("wrongtype", "steps:\n  a:\n    run: [1, 2]\n")
        .job("nosteps", "description: nothing to do\n")
        .job(
            "graph",
            "params:\n  day: { type: date }\nsteps:\n  a:\n    run: echo {{params.dya}}\n    needs: [c]\n  b:\n    argv: [x]\n    needs: [a, zz]\n    timeout: 5x\n  c:\n    run: echo\n    needs: [b]\n    runbook: retyr\n",
        )
        .job("win", "window: nigth\nsteps:\n  a:\n    run: echo\n")
        .file(
            "runbooks/retry.yaml",
            "rules:\n  - match: { exit_codes: [75] }\n    retry: { max: 2 }\n",
        )
        .file(
            "schedules/s.yaml",
            "calendars:\n  city: { holidays: japan }\nwindows:\n  night: { from: \"22:00\", to: \"06:00\" }\nschedules:\n  - job: typo\n    cron: \"61 * * * *\"\n  - job: nojob\n    cron: \"0 1 * * *\"\n  - job: win\n    cron: \"0 1 * * *\"\n    calendar: cty\n    closed_day: next_business_day\n",
        );
    let out = t.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(out.stdout.is_empty(), "{}", both(&out));
    let err = text(&out.stderr);
    let expected = [
        "error: jobs/dup.yaml:4:3: duplicate key `a`",
        "error: jobs/graph.yaml:5:5: dependency cycle: a -> c -> b -> a",
        "error: jobs/graph.yaml:5:10: template reads unknown parameter `dya` (did you mean `day`?)",
        "error: jobs/graph.yaml:9:12: step `b` needs `zz`, which is not a step of this job",
        "error: jobs/graph.yaml:10:14: `timeout`: bad duration `5x`",
        "error: jobs/graph.yaml:14:14: unknown runbook `retyr` (did you mean `retry`?)",
        "error: jobs/nosteps.yaml:1:1: missing required key `steps`",
        "error: jobs/typo.yaml:4:5: unknown key `timout` (did you mean `timeout`?)",
        "error: jobs/win.yaml:1:9: unknown window `nigth` (did you mean `night`?)",
        "error: jobs/wrongtype.yaml:3:10: wrong type",
        "error: schedules/s.yaml:7:12: invalid cron expression `61 * * * *`: minute `61` out of range 0-59",
        "error: schedules/s.yaml:8:10: unknown job `nojob`",
        "error: schedules/s.yaml:12:15: unknown calendar `cty` (did you mean `city`?)",
    ];
    for e in expected {
        assert!(err.contains(e), "missing {e:?} in:\n{err}");
    }
    assert!(
        !err.contains("unknown job `typo`"),
        "a job whose file did not parse is not reported again as unknown: {err}"
    );
    assert!(err.trim_end().ends_with("13 problems"), "{err}");
}

#[test]
fn runbook_problems_are_reported() {
    let t = Tree::new();
    t.job("a", GOOD_JOB).file(
        "runbooks/bad.yaml",
        "rules:\n  - match: { exit_codes: [\"78-64\", 300], signal: [TREM], stderr: \"(\" }\n    retry: { max: 1, initial: 1x }\n  - match: any\n",
    );
    let err = refused_definitions(&t);
    for e in [
        "bad exit code range `78-64`",
        "exit code 300 is out of range 0-255",
        "unknown signal `TREM`",
        "bad regular expression",
        "`initial`: bad duration `1x`",
        "rule does nothing",
    ] {
        assert!(err.contains(e), "missing {e:?} in:\n{err}");
    }
}

#[test]
fn settings_problems_name_the_settings_file() {
    let t = Tree::new();
    t.job("a", GOOD_JOB)
        .file("unyo.yaml", "timezone: Asia/Tokio\nlog_limt: 1MiB\n");
    let out = t.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        text(&out.stderr)
            .contains("error: unyo.yaml:2:1: unknown key `log_limt` (did you mean `log_limit`?)"),
        "{}",
        both(&out)
    );
}

/// Hostile files end in an error quickly: never a hang, never a panic.
#[test]
fn hostile_input_is_refused() {
    let t = Tree::new();
    // A billion-laughs alias bomb in a place that accepts nested data.
    let mut bomb = String::from(
        "steps:\n  a:\n    run: echo\n    env:\n      X: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for i in 1..10u8 {
        let (prev, cur) = ((b'a' + i - 1) as char, (b'a' + i) as char);
        bomb.push_str(&format!(
            "      {cur}{cur}: &{cur} [{}]\n",
            vec![format!("*{prev}"); 9].join(",")
        ));
    }
    t.job("bomb", &bomb)
        .job(
            "deep",
            &format!("steps: {}{}\n", "[".repeat(100_000), "]".repeat(100_000)),
        )
        .job(
            "deepmap",
            &(0..300)
                .map(|i| format!("{}k{i}:\n", "  ".repeat(i)))
                .collect::<String>(),
        )
        .job(
            "huge",
            &format!("description: \"{}\"\nsteps: {{}}\n", "x".repeat(2_000_000)),
        )
        .job("binary", "\u{0}\u{1}\u{2}steps")
        .job("empty", "");
    std::fs::write(
        t.path("jobs/latin1.yaml"),
        b"description: \xff\xfe\nsteps: {}\n",
    )
    .expect("write");
    let err = refused_definitions(&t);
    for file in [
        "bomb", "deep", "deepmap", "huge", "binary", "empty", "latin1",
    ] {
        assert!(
            err.contains(&format!("jobs/{file}.yaml")),
            "no error for {file}:\n{err}"
        );
    }
    assert!(err.contains("definition files are limited to"), "{err}");
    assert!(err.contains("jobs/empty.yaml: file is empty"), "{err}");
    assert!(err.contains("not valid UTF-8"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn usage_errors_exit_64() {
    let t = Tree::new();
    let out = t.run(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(64), "{}", both(&out));
    let out = t.run(&["--help"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(text(&out.stdout).contains("validate"));
}

/// Several mistyped keys in one file, at every level, are all reported in one run.
#[test]
fn every_unknown_key_of_a_file_at_once() {
    let t = Tree::new();
    t.job(
        "many",
        "descripton: x\nparams:\n  day: { typ: date }\nsteps:\n  a:\n    rnu: echo\n    neds: []\n  b:\n    run: echo\n    timeout: 1s\n    timeout: 2s\n",
    )
    .file(
        "runbooks/rb.yaml",
        "rules:\n  - match: { exit_code: [1] }\n    retry: { maximum: 2 }\n    escalate: { severity: high, who: me }\n",
    )
    .file(
        "schedules/s.yaml",
        "calendars:\n  city: { weekend: [sat] }\nschedules:\n  - job: many\n    cron: \"0 1 * * *\"\n    misfire: { policy: skip, whithin: 1h }\n",
    );
    let err = refused_definitions(&t);
    for e in [
        "jobs/many.yaml:1:1: unknown key `descripton` (did you mean `description`?)",
        "jobs/many.yaml:3:10: unknown key `typ` (did you mean `type`?)",
        "jobs/many.yaml:6:5: unknown key `rnu` (did you mean `run`?)",
        "jobs/many.yaml:7:5: unknown key `neds` (did you mean `needs`?)",
        "jobs/many.yaml:11:5: duplicate key `timeout`",
        "runbooks/rb.yaml:2:14: unknown key `exit_code` (did you mean `exit_codes`?)",
        "runbooks/rb.yaml:3:14: unknown key `maximum`",
        "runbooks/rb.yaml:4:33: unknown key `who`; expected one of: severity",
        "schedules/s.yaml:2:11: unknown key `weekend` (did you mean `weekends`?)",
        "schedules/s.yaml:6:30: unknown key `whithin` (did you mean `within`?)",
    ] {
        assert!(err.contains(e), "missing {e:?} in:\n{err}");
    }
    assert!(err.trim_end().ends_with("10 problems"), "{err}");
}

/// A job's `sla:` is checked like every other key: each bad item named at its place.
#[test]
fn sla_problems_are_reported_at_their_place() {
    let t = Tree::new();
    t.job(
        "backup",
        "sla:\n  complete_by: \"25:00\"\n  success_rate: 120\n  max_duration: 2x\nsteps:\n  a:\n    run: echo\n",
    )
    .job("typo", "sla:\n  complete_bye: \"06:00\"\nsteps:\n  a:\n    run: echo\n")
    .job("empty", "sla: {}\nsteps:\n  a:\n    run: echo\n")
    .job(
        "good",
        "sla: { complete_by: \"06:00\", success_rate: 99.5, max_duration: 2h }\nsteps:\n  a:\n    run: echo\n",
    );
    let said = refused_definitions(&t);
    for want in [
        "jobs/backup.yaml:2:16: sla.complete_by: bad time `25:00`",
        "jobs/backup.yaml:3:17: sla.success_rate 120 is not a percentage",
        "jobs/backup.yaml:4:17: `sla.max_duration`: bad duration `2x`",
        "jobs/typo.yaml:2:3: unknown key `complete_bye`",
        "did you mean `complete_by`",
        "jobs/empty.yaml:1:6: `sla` promises nothing",
    ] {
        assert!(said.contains(want), "{want} in:\n{said}");
    }
    assert!(!said.contains("good.yaml"), "{said}");
}

/// `service:` of unyo.yaml: unknown keys (with a did-you-mean), bad durations and
/// percentages, and names of windows and jobs that do not exist, each at its place.
#[test]
fn service_problems_are_reported_at_their_place() {
    let jobs = |t: &Tree| {
        t.job("probe", GOOD_JOB).job("backup", GOOD_JOB).file(
            "schedules/s.yaml",
            "windows:\n  backup: { from: \"00:00\", to: \"06:00\" }\n",
        );
    };
    let t = Tree::new();
    jobs(&t);
    t.file(
        "unyo.yaml",
        "service:\n  hours: { excpet: [backup] }\n  availablity: { target: 99.5, probe: probe }\n  backups: { jobs: [backup], traget: 100 }\n",
    );
    let out = t.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert_eq!(
        text(&out.stderr),
        "error: unyo.yaml:2:12: unknown key `excpet` (did you mean `except`?)\n\
         error: unyo.yaml:3:3: unknown key `availablity` (did you mean `availability`?)\n\
         error: unyo.yaml:4:30: unknown key `traget` (did you mean `target`?)\n\
         3 problems\n"
    );

    let t = Tree::new();
    jobs(&t);
    t.file(
        "unyo.yaml",
        "service:\n  availability: { target: 100.5, probe: probe }\n  first_notice: 1hour\n  recovery: 0s\n  backups: { jobs: [], target: 0 }\n",
    );
    let said = refused_definitions(&t);
    for want in [
        "error: unyo.yaml:2:27: `service.availability.target`: 100.5 is not a percentage (more than 0, at most 100)",
        "error: unyo.yaml:3:17: `service.first_notice`: bad duration `1hour`",
        "error: unyo.yaml:4:13: `service.recovery` must be longer than zero",
        "error: unyo.yaml:5:32: `service.backups.target`: 0 is not a percentage (more than 0, at most 100)",
        "error: unyo.yaml:5:12: `service.backups`: `jobs` names no job",
    ] {
        assert!(said.contains(want), "{want} in:\n{said}");
    }
    assert!(said.ends_with("5 problems\n"), "{said}");

    let t = Tree::new();
    jobs(&t);
    t.file(
        "unyo.yaml",
        "service:\n  hours: { except: [bakup] }\n  planned_stops: [rollover]\n  availability: { target: 99.5, probe: prbe }\n  backups: { jobs: [backup, nightly] }\n",
    );
    let out = t.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert_eq!(
        text(&out.stderr),
        "error: unyo.yaml:2:21: `service.hours.except`: unknown window `bakup` (did you mean `backup`?)\n\
         error: unyo.yaml:3:19: `service.planned_stops`: unknown job `rollover`\n\
         error: unyo.yaml:4:40: `service.availability.probe`: unknown job `prbe` (did you mean `probe`?)\n\
         error: unyo.yaml:5:29: `service.backups.jobs`: unknown job `nightly`\n\
         4 problems\n"
    );
}

/// Regression: with no `notify:` a failed backup told nobody, and `validate` did not say so.
/// It warns (on stderr) and still passes.
#[test]
fn a_tree_without_notify_is_warned_that_incidents_reach_nobody() {
    let t = Tree::new();
    t.job("one", GOOD_JOB);
    let out = t.run(&["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(text(&out.stdout), "1 job, 0 schedules, 0 runbooks: ok\n");
    assert_eq!(
        text(&out.stderr),
        "warning: unyo.yaml: no `notify:`, so incidents reach nobody: failed runs and missed \
         slots are only recorded, and waiting approvals are not announced\n"
    );
}

/// An empty route is allowed, and named with the severities and hours nobody hears of.
#[test]
fn empty_routes_are_warned_with_the_severities_and_hours_they_leave_unheard() {
    let t = Tree::new();
    t.job("one", GOOD_JOB).file(
        "unyo.yaml",
        "notify:\n  wake: medium\n  desk_hours: { from: \"09:00\", to: \"17:00\" }\n  channels:\n    pager:\n      command: { argv: [/usr/local/bin/page] }\n  desk:\n    - notify: [pager]\n  emergency: []\n  after_hours: []\n",
    );
    let out = t.run(&["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(
        text(&out.stderr),
        "warning: unyo.yaml: `notify.emergency` is empty, so incidents of severity medium, high \
         or critical opened out of desk hours (09:00–17:00 Monday to Friday) reach nobody\n\
         warning: unyo.yaml: `notify.after_hours` is empty, so incidents of severity low opened \
         out of desk hours (09:00–17:00 Monday to Friday) reach nobody\n"
    );
    // Every severity at every hour reaches someone: no warning.
    t.file(
        "unyo.yaml",
        "notify:\n  channels:\n    pager:\n      command: { argv: [/usr/local/bin/page] }\n  desk:\n    - notify: [pager]\n",
    );
    let out = t.run(&["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(text(&out.stderr), "");
}

/// `missed:` of a schedule is checked strictly.
#[test]
fn missed_is_checked() {
    let t = Tree::new();
    t.job("one", GOOD_JOB).file(
        "schedules/s.yaml",
        "schedules:\n  - job: one\n    cron: \"0 1 * * *\"\n    missed: { severity: high, incident: false }\n",
    );
    let out = t.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert_eq!(
        text(&out.stderr),
        "error: schedules/s.yaml:4:13: `missed`: `severity` has no use with `incident: false` \
         (a missed slot is only recorded then)\n1 problem\n"
    );
    t.file(
        "schedules/s.yaml",
        "schedules:\n  - job: one\n    cron: \"0 2 * * *\"\n    missed: { severty: high }\n",
    );
    let out = t.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        text(&out.stderr)
            .contains("schedules/s.yaml:4:15: unknown key `severty` (did you mean `severity`?)"),
        "{}",
        both(&out)
    );
}

/// An unknown key used to stop the whole file: the `needs` naming no step in the same file
/// went unreported until the key was fixed.
#[test]
fn an_unknown_key_does_not_hide_a_dangling_need() {
    let t = Tree::new();
    t.job(
        "nightly",
        "descripton: nightly\nsteps:\n  dump:\n    run: echo\n  verify:\n    needs: [dunp]\n    run: echo\n",
    );
    let out = t.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert_eq!(
        text(&out.stderr),
        "error: jobs/nightly.yaml:1:1: unknown key `descripton` (did you mean `description`?)\n\
         error: jobs/nightly.yaml:6:12: step `verify` needs `dunp`, which is not a step of this job (did you mean `dump`?)\n\
         2 problems\n"
    );
}

#[test]
fn a_cron_error_names_the_field_and_its_range() {
    let t = Tree::new();
    t.job("j", GOOD_JOB).file(
        "schedules/s.yaml",
        "schedules:\n  - job: j\n    cron: \"0 25 * * *\"\n  - job: j\n    name: k\n    cron: \"0 0 * 13 *\"\n",
    );
    let out = t.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert_eq!(
        text(&out.stderr),
        "error: schedules/s.yaml:3:14: invalid cron expression `0 25 * * *`: hour `25` out of range 0-23\n\
         error: schedules/s.yaml:6:18: invalid cron expression `0 0 * 13 *`: month `13` out of range 1-12\n\
         2 problems\n"
    );
}

#[test]
fn a_file_that_is_not_utf8_is_located_by_line_and_column() {
    let t = Tree::new();
    let path = t.root().join("jobs/sjis.yaml");
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    // `# 夜間バッチ` saved as Shift_JIS.
    std::fs::write(
        &path,
        b"steps:\n  a:\n    run: echo\n# \x96\xe9\x8a\xd4\x83\x6f\x83\x62\x83\x60\n",
    )
    .expect("write");
    let out = t.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert_eq!(
        text(&out.stderr),
        "error: jobs/sjis.yaml:4:3: not valid UTF-8 (bytes `\\x96`); save the file as UTF-8 (Shift_JIS and EUC-JP are not read)\n1 problem\n"
    );
}

/// `remediate.timeout: 5x` had no position (the untagged enum lost it), and every job naming
/// the runbook got an "unknown runbook" error on top.
#[test]
fn an_invalid_runbook_field_is_located_once() {
    let t = Tree::new();
    t.file(
        "runbooks/flaky.yaml",
        "rules:\n  - match: any\n    remediate:\n      run: ./fix.sh\n      timeout: 5x\n",
    )
    .job("a", "runbook: flaky\nsteps:\n  s:\n    run: echo\n")
    .job("b", "steps:\n  s:\n    run: echo\n    runbook: flaky\n");
    let out = t.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert_eq!(
        text(&out.stderr),
        "error: runbooks/flaky.yaml:5:16: `timeout`: bad duration `5x` (expected e.g. `30s`, `10m`, `2h`, `1h30m`)\n1 problem\n"
    );
}

/// `runs_on` names labels as `node.labels` does; `node_wait` needs `runs_on`; `node:` in
/// unyo.yaml is checked the same way, each error at its place.
#[test]
fn runs_on_and_node_labels_are_checked_where_written() {
    let t = Tree::new();
    t.job(
        "dump",
        "runs_on: [db, \"Tax DB\"]\nsteps:\n  a:\n    run: echo dump\n",
    )
    .job("copy", "node_wait: 5m\nsteps:\n  a:\n    run: echo copy\n");
    let err = refused_definitions(&t);
    assert!(
        err.contains("jobs/dump.yaml:1:") && err.contains("`Tax DB` is not a label"),
        "{err}"
    );
    assert!(
        err.contains("jobs/copy.yaml:1:") && err.contains("`node_wait` needs `runs_on`"),
        "{err}"
    );
    let t = Tree::new();
    t.job(
        "dump",
        "runs_on: [db]\nnode_wait: 5m\nsteps:\n  a:\n    run: echo dump\n",
    )
    .file(
        "unyo.yaml",
        "node:\n  name: \"tax db\"\n  labels: [db, Files]\n  timeout: 1s\n",
    );
    let out = t.run(&["validate"]);
    let said = both(&out);
    assert_ne!(out.status.code(), Some(0), "{said}");
    assert!(
        said.contains("unyo.yaml:2:") && said.contains("`node.name`"),
        "{said}"
    );
    assert!(said.contains("`Files` is not a label"), "{said}");
    assert!(
        said.contains("`node.timeout` must be at least `2s`"),
        "{said}"
    );
}

/// A step's `runs_on` is checked like a job's, at its place; an approval runs no command, so
/// it names none; a job whose steps name labels may set `node_wait`.
#[test]
fn a_steps_runs_on_is_checked_where_written() {
    let t = Tree::new();
    t.job(
        "backup",
        "steps:\n  dump:\n    runs_on: [db, Files]\n    run: echo dump\n  \
         ok:\n    approval: {}\n    runs_on: [ops]\n    needs: [dump]\n",
    );
    let err = refused_definitions(&t);
    assert!(
        err.contains("jobs/backup.yaml:3:") && err.contains("`Files` is not a label"),
        "{err}"
    );
    assert!(
        err.contains("jobs/backup.yaml:7:")
            && err.contains("step `ok` is an approval: it runs no command, so no `runs_on`"),
        "{err}"
    );
    let t = Tree::new();
    t.job(
        "backup",
        "node_wait: 5m\nsteps:\n  dump:\n    runs_on: [db]\n    run: echo dump\n  \
         copy:\n    runs_on: [files]\n    needs: [dump]\n    run: echo copy\n",
    );
    let out = t.run(&["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
}

/// A job's `title:` (its name in the report) is checked at its place: not blank, one line,
/// short enough for a table's cell; a good one passes.
#[test]
fn job_titles_are_checked_at_their_place() {
    let t = Tree::new();
    t.job("blank", "title: \"  \"\nsteps:\n  a:\n    run: echo\n")
        .job(
            "lines",
            "description: x\ntitle: \"夜間\\nバックアップ\"\nsteps:\n  a:\n    run: echo\n",
        )
        .job(
            "long",
            &format!("title: {}\nsteps:\n  a:\n    run: echo\n", "長".repeat(41)),
        )
        .job("typo", "titel: 夜間\nsteps:\n  a:\n    run: echo\n")
        .job(
            "good",
            "title: 夜間バックアップ\nsteps:\n  a:\n    run: echo\n",
        );
    let said = refused_definitions(&t);
    for want in [
        "jobs/blank.yaml:1:8: `title` is empty",
        "jobs/lines.yaml:2:8: `title` must be one line",
        "jobs/long.yaml:1:8: `title` has 41 characters; at most 40",
        "jobs/typo.yaml:1:1: unknown key `titel` (did you mean `title`?)",
    ] {
        assert!(said.contains(want), "{want} in:\n{said}");
    }
    assert!(!said.contains("good.yaml"), "{said}");
}
