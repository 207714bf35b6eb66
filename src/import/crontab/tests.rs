//! Crontab lines, `%` rules, job names, credentials and whole imports.

use super::line::ALIASES;
use super::*;
use crate::domain::cron::parse_cron;

fn entry(line: &str) -> Entry<'_> {
    match parse_line(line, false) {
        Line::Entry(e) => e,
        other => panic!("{line:?}: {other:?}"),
    }
}

#[test]
fn entries_and_fields() {
    let e = entry("30 2 * * 1-5   /usr/local/bin/backup.sh --full  ");
    assert_eq!(e.cron, "30 2 * * 1-5");
    assert_eq!(e.command, "/usr/local/bin/backup.sh --full  ");
    assert_eq!(e.user, None);
    let e = entry("\t*/15\t8-17 * * mon-fri echo  two  spaces");
    assert_eq!(e.cron, "*/15 8-17 * * mon-fri");
    assert_eq!(e.command, "echo  two  spaces");
    assert_eq!(entry("0 0 1,15 jan,jul 0-7 x").cron, "0 0 1,15 jan,jul 0-7");
}

#[test]
fn a_starred_day_field_means_both_day_fields() {
    let start = chrono::DateTime::parse_from_rfc3339("2026-05-31T00:00:00+09:00")
        .expect("time")
        .with_timezone(&chrono_tz::Asia::Tokyo);
    let days = |cron: &str| -> Vec<String> {
        let c = parse_cron(cron).unwrap_or_else(|e| panic!("{cron}: {e}"));
        c.iter_after(start)
            .take(4)
            .map(|t| t.format("%d %a").to_string())
            .collect()
    };
    // Odd days that are Mondays, not odd days or Mondays.
    let e = entry("0 0 */2 * 1 x");
    assert_eq!(e.cron, "0 0 */2 * +1");
    assert_eq!(days(&e.cron), ["01 Mon", "15 Mon", "29 Mon", "13 Mon"]);
    assert_eq!(entry("0 0 1-7 * */2 x").cron, "0 0 1-7 * +*/2");
    // Either field a plain `*`, or neither starting with `*`: as written.
    for plain in ["0 0 */2 * *", "0 0 * * */2", "0 0 1,15 * 1", "0 0 * * 1"] {
        assert_eq!(entry(&format!("{plain} x")).cron, plain);
    }
    assert_eq!(
        days("0 0 1,15 * 1"),
        ["01 Mon", "08 Mon", "15 Mon", "22 Mon"]
    );
}

#[test]
fn every_alias_is_accepted_by_the_cron_parser() {
    let start = chrono::DateTime::parse_from_rfc3339("2026-12-30T22:17:00+09:00")
        .expect("time")
        .with_timezone(&chrono_tz::Asia::Tokyo);
    for (alias, fields) in ALIASES {
        let spelled = parse_cron(fields).unwrap_or_else(|e| panic!("{alias} -> {fields}: {e}"));
        assert_eq!(entry(&format!("{alias} run-it")).cron, fields);
        // Where the parser knows the alias too, both fire at the same times.
        if let Ok(own) = parse_cron(alias) {
            let a: Vec<_> = own.iter_after(start).take(5).collect();
            let b: Vec<_> = spelled.iter_after(start).take(5).collect();
            assert_eq!(a, b, "{alias}");
        }
    }
    assert_eq!(parse_line("@reboot /bin/start", false), Line::Reboot);
    assert!(
        matches!(parse_line("@often x", false), Line::Invalid(m) if m.contains("unknown `@often`"))
    );
}

#[test]
fn blank_comment_and_invalid_lines() {
    for blank in ["", "   ", "\t", "# comment", "   # 0 * * * * x"] {
        assert_eq!(parse_line(blank, false), Line::Blank, "{blank:?}");
    }
    for (bad, why) in [
        ("0 * * *", "expected five time fields"),
        ("0 * * * *", "expected five time fields"),
        ("0 * * * *    ", "expected five time fields"),
        ("61 * * * * x", "invalid cron expression `61 * * * *`"),
        ("x y z a b cmd", "invalid cron expression"),
        ("@daily", "expected five time fields"),
        ("FOO", "expected five time fields"),
    ] {
        match parse_line(bad, false) {
            Line::Invalid(m) => assert!(m.contains(why), "{bad:?}: {m}"),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
}

#[test]
fn environment_lines() {
    let env = |l| match parse_line(l, false) {
        Line::Env { name, value } => (name, value),
        other => panic!("{l:?}: {other:?}"),
    };
    assert_eq!(
        env("PATH=/usr/bin:/bin"),
        ("PATH".into(), "/usr/bin:/bin".into())
    );
    assert_eq!(env("  NAME = \"a b\"  "), ("NAME".into(), "a b".into()));
    assert_eq!(env("Q='it is'"), ("Q".into(), "it is".into()));
    assert_eq!(env("\"ODD NAME\"=x"), ("ODD NAME".into(), "x".into()));
    assert_eq!(env("EMPTY="), ("EMPTY".into(), String::new()));
    assert_eq!(env("MIXED=\"a'"), ("MIXED".into(), "\"a'".into()));
    assert_eq!(env("ONE=\""), ("ONE".into(), "\"".into()));
    assert_eq!(env("EQ=a=b"), ("EQ".into(), "a=b".into()));
    // An entry whose command holds `=` is not an environment line.
    assert!(matches!(
        parse_line("0 * * * * A=1 run", false),
        Line::Entry(_)
    ));
    assert!(matches!(
        parse_line("@daily A=1 run", false),
        Line::Entry(_)
    ));
}

#[test]
fn system_lines_have_a_user() {
    match parse_line("17 * * * * root cd / && run-parts /etc/cron.hourly", true) {
        Line::Entry(e) => {
            assert_eq!(e.user, Some("root"));
            assert_eq!(e.command, "cd / && run-parts /etc/cron.hourly");
        }
        other => panic!("{other:?}"),
    }
    match parse_line("@daily www-data /srv/purge", true) {
        Line::Entry(e) => assert_eq!((e.user, e.command), (Some("www-data"), "/srv/purge")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        parse_line("0 1 * * * root", true),
        Line::Invalid(_)
    ));
}

#[test]
fn percent_and_input() {
    assert_eq!(split_percent("echo hi"), ("echo hi".into(), None));
    assert_eq!(
        split_percent(r"date +\%Y-\%m"),
        ("date +%Y-%m".into(), None)
    );
    assert_eq!(
        split_percent("mail -s x ops%Hello%World"),
        ("mail -s x ops".into(), Some("Hello\nWorld\n".into()))
    );
    assert_eq!(
        split_percent("cat%a%%b%"),
        ("cat".into(), Some("a\n\nb\n".into()))
    );
    assert_eq!(split_percent("cat%"), ("cat".into(), Some(String::new())));
    // In the input `\%` is `%` and other backslashes stay.
    assert_eq!(
        split_percent(r"cat%50\% done\n%x\"),
        ("cat".into(), Some("50% done\\n\nx\\\n".into()))
    );
    // `\\%`: the backslash pair stays in the command and the `%` still splits.
    assert_eq!(
        split_percent(r"echo a\\%in"),
        (r"echo a\\".into(), Some("in\n".into()))
    );
    assert_eq!(split_percent(r"echo \x"), (r"echo \x".into(), None));
}

#[test]
fn run_lines_feed_input() {
    assert_eq!(run_line("echo hi", "", None), "echo hi");
    assert_eq!(
        run_line("mail -s 'x y' ops", "Hello\nit's me\n", None),
        r"printf '%s\n' 'Hello' 'it'\''s me' | /bin/sh -c 'mail -s '\''x y'\'' ops'"
    );
    assert_eq!(
        run_line("cat", "\\", None),
        r"printf '%s' '\' | /bin/sh -c 'cat'"
    );
}

#[test]
fn run_lines_keep_the_crontab_shell() {
    assert_eq!(
        run_line("echo ${HOSTNAME,,}", "", Some("/bin/bash")),
        "/bin/bash -c 'echo ${HOSTNAME,,}'"
    );
    assert_eq!(
        run_line("cat", "in\n", Some("/usr/bin/zsh")),
        r"printf '%s\n' 'in' | /usr/bin/zsh -c 'cat'"
    );
    assert_eq!(
        run_line("x", "", Some("/opt/my shell")),
        r"'/opt/my shell' -c 'x'"
    );
}

#[test]
fn credentials_on_a_command_line_are_named_not_shown() {
    assert_eq!(
        credentials("mysqldump --user=app --password=hunter2 db"),
        ["`--password`"]
    );
    assert_eq!(
        credentials("mysql -uapp -phunter2 db"),
        ["`-p` of a MySQL client"]
    );
    assert_eq!(
        credentials("PGPASSWORD=hunter2 pg_dump city"),
        ["`PGPASSWORD=`"]
    );
    assert_eq!(
        credentials("curl https://app:hunter2@example.jp/x"),
        ["a URL with `user:password@`"]
    );
    assert!(credentials("tar -czf /b/x.tgz -p /data").is_empty());
    assert!(credentials("backup --password-file /etc/pw").is_empty());
    assert!(credentials("curl https://example.jp/a:b@c").is_empty());
}

#[test]
fn job_names() {
    for (cmd, name) in [
        ("/usr/local/bin/backup.sh --full", "backup-full"),
        ("/usr/local/bin/backup.sh", "backup"),
        (
            "cd /srv/app && ./bin/Rotate_Logs > /dev/null 2>&1",
            "rotate-logs",
        ),
        ("cd /srv;nightly", "nightly"),
        ("LANG=C nice -n 10 /opt/report", "report"),
        ("[ -x /usr/bin/foo ] && foo", "foo"),
        ("\"/opt/my tool/run\" x", "run"),
        ("データ処理", "job"),
        (&"a".repeat(60), &"a".repeat(40)),
        // The real program past a guard, not `test`.
        (
            "test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )",
            "run-parts-report-cron-daily",
        ),
        ("sleep 30; /opt/bin/sync-ledger", "sync-ledger"),
        // Arguments that are plain words; paths by their last part.
        (
            "find /var/log/app -name '*.gz' -mtime +30 -delete",
            "find-app",
        ),
        (
            "python3 -u /opt/app/manage.py clearsessions",
            "manage-clearsessions",
        ),
        ("/bin/bash -c 'cd /srv && ./purge.sh --old'", "purge-old"),
        ("sudo -u www-data php /srv/www/cron.php", "cron"),
        // With nothing else, the file the output goes to; never `/dev/null`.
        ("date >> /tmp/heartbeat.log", "date-heartbeat"),
        ("date > \"$OUT/stamp.txt\" # keep it", "date-stamp"),
        ("[[ ${OUT,,} == *x* ]] && { /opt/tidy; }", "tidy"),
        ("date > /dev/null", "date"),
        ("date 2> /tmp/errors.log", "date"),
        // Never a credential: options about secrets, and the value after a short option.
        ("mysqldump -u root -pS3cret city", "mysqldump"),
        (
            "/opt/sync --password hunter2 --token=abc ledger",
            "sync-ledger",
        ),
        (
            "curl -s -H 'Authorization: x' https://example.org/ping",
            "curl-ping",
        ),
    ] {
        assert_eq!(job_name(cmd), name, "{cmd}");
    }
    let mut taken = HashSet::new();
    let got: Vec<String> = ["x", "x", "x-2", "x"]
        .iter()
        .map(|b| unique((*b).to_owned(), &mut taken))
        .collect();
    assert_eq!(got, ["x", "x-2", "x-2-2", "x-3"]);
}

#[test]
fn detects_a_user_column() {
    let users: HashSet<String> = ["root", "www-data"].iter().map(|s| s.to_string()).collect();
    let system =
        b"SHELL=/bin/sh\n17 * * * * root cd / && run-parts x\n@daily www-data /srv/purge\n";
    assert!(system_format_hint(system, None, &users).is_some_and(|h| h.contains("line 2")));
    let user = b"17 * * * * root-report\n0 1 * * * root x\n";
    assert_eq!(system_format_hint(user, None, &users), None);
    let only_www = b"0 1 * * * www-data x\n";
    assert_eq!(system_format_hint(only_www, None, &users), None);
    assert!(system_format_hint(b"", Some(Path::new("/etc/crontab")), &users).is_some());
}

fn opts(system: bool) -> Options<'static> {
    Options {
        source: "crontab",
        stem: "crontab",
        system,
        default_timezone: "Asia/Tokyo",
    }
}

#[test]
fn environment_applies_to_later_entries_only() {
    let text = b"0 1 * * * first\nA=1\nCRON_TZ=Europe/Berlin\n0 2 * * * second\nA=2\nB = \"x {{y}}\"\n0 3 * * * second\n";
    let imp = import(text, &opts(false));
    assert_eq!(imp.entries, 3);
    let file = |p: &str| {
        imp.files
            .iter()
            .find(|f| f.path == Path::new(p))
            .unwrap_or_else(|| panic!("no {p}: {:?}", imp.files))
            .text
            .clone()
    };
    assert!(!file("jobs/first.yaml").contains("env:"));
    assert!(file("jobs/second.yaml").contains("env:\n  \"A\": \"1\"\nsteps:"));
    assert!(
        file("jobs/second-2.yaml").contains("env:\n  \"A\": \"2\"\n  \"B\": \"x \\\\{{y}}\"\n")
    );
    let sched = file("schedules/crontab.yaml");
    assert!(sched.contains("  - job: \"first\"\n    cron: \"0 1 * * *\"\n  - job: \"second\""));
    assert_eq!(sched.matches("timezone: \"Europe/Berlin\"").count(), 2);
}

#[test]
fn report_lines() {
    let text = "MAILTO=ops@example.org\nMAILTO=\"\"\nSHELL=/bin/bash\nSHELL=/bin/sh\nCRON_TZ=Mars/Base\nBAD-NAME=1\nUNYO_X=1\n@reboot start\n0 * * *\n";
    let mut bytes = text.as_bytes().to_vec();
    bytes.extend_from_slice(b"\xff\xfe\n0 1 * * * x\n0 5 */2 * 1 y\n");
    let imp = import(&bytes, &opts(false));
    let lines: Vec<(Option<usize>, &str)> = imp
        .notes
        .iter()
        .map(|n| (n.line, n.text.as_str()))
        .collect();
    let has = |line: usize, part: &str| {
        assert!(
            lines
                .iter()
                .any(|(l, t)| *l == Some(line) && t.contains(part)),
            "no {line}: {part} in {lines:#?}"
        );
    };
    has(
        1,
        "MAILTO=ops@example.org not carried over: unyo reports failures through incidents, not mail",
    );
    assert!(
        !lines.iter().any(|(l, _)| *l == Some(2)),
        "empty MAILTO is silent"
    );
    has(
        3,
        "SHELL=/bin/bash: the entries below run their command with `/bin/bash -c`",
    );
    assert!(!lines.iter().any(|(l, _)| *l == Some(4)));
    has(5, "CRON_TZ=Mars/Base is not a time zone");
    has(6, "BAD-NAME= not carried over");
    has(7, "names starting with `UNYO_`");
    has(8, "@reboot not carried over");
    has(9, "expected five time fields");
    has(10, "not UTF-8");
    has(
        12,
        "`y`: a day field starting with `*` means cron fired on days matching both",
    );
    assert!(!lines.iter().any(|(l, _)| *l == Some(11)));
    assert_eq!(imp.entries, 2);
    assert!(
        lines
            .iter()
            .any(|(l, t)| l.is_none() && t.contains("`Asia/Tokyo`"))
    );
}

#[test]
fn comment_lines_name_the_entry_below() {
    for (comment, name) in [
        ("# Nightly backup", Some("nightly-backup")),
        (
            "  ## Rotate logs (see ticket #12) ",
            Some("rotate-logs-see-ticket-12"),
        ),
        (
            "# Send the monthly usage statistics to the planning department of the city",
            Some("send-the-monthly-usage-statistics-to-the"),
        ),
        ("# 毎晩のバックアップ", None),
        ("# 住民税 batch", Some("batch")),
        ("# 7時", None),
        ("# 0 5 * * * /old/job", None),
        ("# MAILTO=x", None),
        ("# m h  dom mon dow   command", None),
        ("#", None),
    ] {
        assert_eq!(comment_name(comment, false).as_deref(), name, "{comment}");
    }
    assert_eq!(
        comment_title("# 毎晩のバックアップ", false).as_deref(),
        Some("毎晩のバックアップ")
    );
    assert_eq!(comment_title("# 0 5 * * * /old/job", false), None);
}

#[test]
fn nothing_to_carry_over_writes_nothing() {
    let imp = import(b"# only\n@reboot x\nMAILTO=a\n", &opts(false));
    assert_eq!(imp.entries, 0);
    assert!(imp.files.is_empty());
}

#[test]
fn generated_files_read_back() {
    let text = "0 1 * * * echo 'a: b' \"#c\" {{x}} データ \\%%in: 'put'%\n";
    let imp = import(text.as_bytes(), &opts(false));
    assert_eq!(imp.entries, 1, "{:?}", imp.notes);
    let job: crate::spec::JobSpec = serde_saphyr::from_str(&imp.files[0].text).expect("job parses");
    let run = job.steps["main"].value.run.as_ref().expect("run");
    let expected = run_line("echo 'a: b' \"#c\" {{x}} データ %", "in: 'put'\n", None);
    assert_eq!(
        Ok(run.value.as_str()),
        literal_template(&expected, true).as_deref()
    );
    let sched: crate::spec::ScheduleFileSpec =
        serde_saphyr::from_str(&imp.files[1].text).expect("schedule parses");
    assert_eq!(sched.schedules[0].value.cron.value, "0 1 * * *");
}
