//! Secrets: secret parameters (stored and shown as `***`, reaching a step only through its
//! environment, never carried by a queued run), unyo's own secrets (the SMTP password and the
//! webhook URL of `notify:`) kept out of every step's environment while the notifier still
//! uses them, and `unyo import crontab` naming the credentials it copies.

use std::path::Path;
use std::process::{Child, Output, Stdio};

use crate::helper::{Tree, both, text, wait_for};
use crate::notify::{b64, http_server, smtp_server};

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "{}", both(out));
}

/// Files under `dir` (recursively) whose bytes hold `needle`.
fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            found.extend(files_holding(&p, needle));
        } else if let Ok(bytes) = std::fs::read(&p)
            && bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        {
            found.push(p.display().to_string());
        }
    }
    found
}

/// Everything unyo keeps under `var/`: the database, its write-ahead log, every log file.
fn kept_holding(t: &Tree, needle: &str) -> Vec<String> {
    files_holding(&t.path("var"), needle)
}

fn read(t: &Tree, rel: &str) -> String {
    std::fs::read_to_string(t.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A daemon with extra environment variables, stopped on drop.
struct Daemon {
    child: Child,
    log: std::path::PathBuf,
}

impl Daemon {
    fn start(t: &Tree, env: &[(&str, &str)]) -> Daemon {
        let log = t.path("daemon.log");
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_unyo"));
        cmd.env_remove("UNYO_ROOT")
            .env("NO_COLOR", "1")
            .env("UNYO_LOG", "unyo=debug")
            .envs(env.iter().copied())
            .arg("--root")
            .arg(t.root())
            .arg("daemon")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"));
        let d = Daemon {
            child: cmd.spawn().expect("start daemon"),
            log,
        };
        wait_for("the daemon to start", || {
            std::fs::read_to_string(&d.log)
                .unwrap_or_default()
                .contains("unyo daemon")
                .then_some(())
        });
        d
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run_status(t: &Tree, id: i64) -> String {
    t.show(id)["status"].as_str().unwrap_or_default().to_owned()
}

fn wait_ended(t: &Tree, id: i64) -> String {
    wait_for(&format!("run {id} to end"), || {
        let s = run_status(t, id);
        ["succeeded", "failed", "cancelled", "interrupted"]
            .contains(&s.as_str())
            .then_some(s)
    })
}

const SECRET: &str = "hunter2-Qx7v";

/// A job whose step prints its own command line and writes what its environment holds to
/// files of the root (not unyo's).
const LOGIN: &str = r#"adhoc: true
params:
  user: { type: string, required: true }
  db_password: { type: string, required: true }
steps:
  connect:
    env: { PGPASSWORD: "{{params.db_password}}" }
    run: |
      xargs -0 echo argv: < /proc/$$/cmdline
      echo user {{params.user}}
      printf %s "$PGPASSWORD" > "$UNYO_ROOT/env.txt"
      printf %s "$UNYO_PARAM_DB_PASSWORD" > "$UNYO_ROOT/param.txt"
"#;

#[test]
fn a_secret_parameter_is_stored_and_shown_masked_and_reaches_the_step_only_through_its_env() {
    let t = Tree::new();
    t.job("login", LOGIN);
    let password = format!("db_password={SECRET}");
    let out = t
        .unyo()
        .env("UNYO_LOG", "unyo=trace")
        .args(["run", "login", "-p", "user=app", "-p", &password])
        .output()
        .expect("run");
    assert_exit(&out, 0);
    assert!(!both(&out).contains(SECRET), "{}", both(&out));

    // The step has it in its environment...
    assert_eq!(read(&t, "env.txt"), SECRET);
    assert_eq!(read(&t, "param.txt"), SECRET);
    // ...and nowhere else: not in its command line, so not in its log.
    let logs = t.run(&["logs", "1"]);
    assert_exit(&logs, 0);
    assert!(
        text(&logs.stdout).contains("argv: /bin/sh -c"),
        "{}",
        both(&logs)
    );
    assert!(text(&logs.stdout).contains("user app"), "{}", both(&logs));
    assert!(!both(&logs).contains(SECRET), "{}", both(&logs));

    let show = t.run(&["show", "1"]);
    assert!(
        text(&show.stdout).contains("  db_password = ***\n"),
        "{}",
        both(&show)
    );
    assert_eq!(t.show(1)["params"]["db_password"], "***");
    assert_eq!(t.show(1)["params"]["user"], "app");
    for args in [
        &["show", "1"][..],
        &["show", "1", "--json"],
        &["runs", "--json"],
        &["audit", "--json"],
    ] {
        let out = t.run(args);
        assert_exit(&out, 0);
        assert!(!both(&out).contains(SECRET), "{args:?}: {}", both(&out));
    }
    let audit = text(&t.run(&["audit", "--json"]).stdout);
    assert!(audit.contains(r#""db_password": "***""#), "{audit}");

    // A queued run cannot carry it: refused, naming the parameter and what to do instead.
    let out = t.run(&["submit", "login", "-p", "user=app", "-p", &password]);
    assert_exit(&out, 3);
    assert!(
        text(&out.stderr).contains(
            "parameter `db_password` is secret: a queued run cannot carry its value (the \
             database never holds a secret); run the job in the foreground (`unyo run login -p \
             db_password=...`)"
        ),
        "{}",
        both(&out)
    );
    let out = t.run(&[
        "run", "login", "--detach", "-p", "user=app", "-p", &password,
    ]);
    assert_exit(&out, 3);
    assert!(
        text(&out.stderr).contains("parameter `db_password` is secret"),
        "{}",
        both(&out)
    );
    // Nor does a rerun: the value was never stored, so it is asked for again.
    let out = t.run(&["rerun", "1"]);
    assert_exit(&out, 3);
    assert!(
        text(&out.stderr).contains(
            "run 1 was given secret parameter `db_password`, which is never stored: run the job \
             again in the foreground and give it again (`unyo run login -p db_password=...`)"
        ),
        "{}",
        both(&out)
    );
    let audit = text(&t.run(&["audit", "--json"]).stdout);
    assert!(audit.contains("db_password=***"), "{audit}");
    assert!(!audit.contains(SECRET), "{audit}");

    // A run that fails saying the password: its incident's excerpt (which the messages to
    // the desk quote), the notifications and the month's report show `***` or nothing.
    t.file(
        "unyo.yaml",
        "notify:\n  channels:\n    desk:\n      command: { argv: [\"true\"] }\n  desk:\n    - notify: [desk]\n  after_hours:\n    - notify: [desk]\n  emergency:\n    - notify: [desk]\n",
    );
    t.job(
        "login-fails",
        "adhoc: true\nparams:\n  db_password: { required: true }\nsteps:\n  connect:\n    env: { PGPASSWORD: \"{{params.db_password}}\" }\n    run: echo \"authentication failed for password $PGPASSWORD\" >&2; exit 1\n",
    );
    let out = t.run(&["run", "login-fails", "-p", &password]);
    assert_exit(&out, 1);
    let incident = t.run(&["incident", "show", "1"]);
    assert!(
        text(&incident.stdout).contains("authentication failed for password ***"),
        "{}",
        both(&incident)
    );
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    for args in [
        &["incident", "show", "1"][..],
        &["notifications", "--json"],
        &["report", "monthly", "--month", &month, "--format", "json"],
    ] {
        let out = t.run(args);
        assert_exit(&out, 0);
        assert!(!both(&out).contains(SECRET), "{args:?}: {}", both(&out));
    }

    // Not a byte of it in the database file, its write-ahead log or any log file.
    assert_eq!(kept_holding(&t, SECRET), Vec::<String>::new());
}

#[test]
fn a_secret_parameter_outside_env_values_is_refused_with_its_place() {
    let t = Tree::new();
    t.job(
        "leaky",
        "params:\n  api_token: { required: true }\nsteps:\n  call:\n    argv: [curl, -H, \"Authorization: {{params.api_token}}\", \"https://x.example\"]\n  shell:\n    run: ./call.sh {{params.api_token}}\n",
    );
    let out = t.run(&["validate"]);
    assert_exit(&out, 2);
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "jobs/leaky.yaml:5:11: secret parameter `api_token` in `argv`: a secret reaches a \
             step only through its environment (`env: { API_TOKEN: \"{{params.api_token}}\" }`, \
             then `$API_TOKEN`)"
        ),
        "{err}"
    );
    assert!(
        err.contains("jobs/leaky.yaml:7:10: secret parameter `api_token` in `run`"),
        "{err}"
    );
    // `secret: false` says otherwise.
    t.job(
        "leaky",
        "params:\n  api_token: { required: true, secret: false }\nsteps:\n  call:\n    argv: [echo, \"{{params.api_token}}\"]\n",
    );
    assert_exit(&t.run(&["validate"]), 0);
}

#[test]
fn a_queued_secret_comes_from_the_daemons_environment_and_no_other_step_sees_it() {
    let t = Tree::new();
    t.job(
        "call",
        "adhoc: true\nparams:\n  api_token: { required: true, from_env: CITY_API_TOKEN }\nsteps:\n  call:\n    env: { TOKEN: \"{{params.api_token}}\" }\n    run: printf %s \"$TOKEN\" > \"$UNYO_ROOT/token.txt\"; printf %s \"${CITY_API_TOKEN:-unset}\" > \"$UNYO_ROOT/inherited.txt\"; echo \"careless $TOKEN\"\n",
    );
    t.job("nosy", "adhoc: true\nsteps:\n  look:\n    run: env\n");
    let call = t.run(&["submit", "call"]);
    assert_exit(&call, 0);
    let nosy = t.run(&["submit", "nosy"]);
    assert_exit(&nosy, 0);
    let d = Daemon::start(&t, &[("CITY_API_TOKEN", SECRET)]);
    assert_eq!(wait_ended(&t, 1), "succeeded");
    assert_eq!(wait_ended(&t, 2), "succeeded");
    assert_eq!(read(&t, "token.txt"), SECRET);
    // Only through the job's own `env:`: the variable itself is not inherited.
    assert_eq!(read(&t, "inherited.txt"), "unset");
    let logs = t.run(&["logs", "2"]);
    assert!(
        text(&logs.stdout).contains("UNYO_JOB=nosy"),
        "{}",
        both(&logs)
    );
    assert!(!both(&logs).contains(SECRET), "{}", both(&logs));
    // A step that prints it anyway: its output is kept masked, in the database and its log.
    assert_eq!(t.show(1)["attempts"][0]["stdout_tail"], "careless ***\n");
    assert_eq!(
        text(&t.run(&["logs", "1"]).stdout),
        "==> call (attempt 1) <==\ncareless ***\n"
    );
    assert_eq!(kept_holding(&t, SECRET), Vec::<String>::new());
    assert!(!d.log().contains(SECRET), "{}", d.log());
    drop(d);

    // Where the variable is not set, no step starts, and the error says which is missing.
    let out = t
        .unyo()
        .env_remove("CITY_API_TOKEN")
        .args(["run", "call"])
        .output()
        .expect("run");
    assert_exit(&out, 1);
    assert_eq!(
        t.show(3)["attempts"][0]["error"],
        "step `call`: secret parameter `api_token` has no value: `CITY_API_TOKEN` (its \
         `from_env`) is not set in the environment of the unyo process that runs the step"
    );
}

#[test]
fn steps_do_not_inherit_the_smtp_password_or_the_webhook_url_and_the_notifier_still_uses_them() {
    let t = Tree::new();
    let (smtp_port, smtp) = smtp_server(false);
    let (hook_port, hooks, hook_server) = http_server(&[200]);
    let password = "smtp-pw-5fKq";
    let token = "T0/B0/tOkEn-8Zr";
    let url = format!("http://127.0.0.1:{hook_port}/services/{token}");
    t.file(
        "unyo.yaml",
        &format!(
            "notify:\n  language: en\n  channels:\n    mail:\n      email: {{ to: [desk@city.example.jp], from: unyo@ops.example.jp, server: \"127.0.0.1:{smtp_port}\", tls: none, username: ops, password_env: UNYO_TEST_SMTP_PW }}\n    chat:\n      webhook: {{ url_env: UNYO_TEST_HOOK_URL }}\n    dump:\n      command: {{ argv: [sh, -c, \"env > notify-env.txt\"] }}\n  desk:\n    - notify: [mail, chat, dump]\n  emergency:\n    - notify: [mail, chat, dump]\n  after_hours:\n    - notify: [mail, chat, dump]\n"
        ),
    );
    t.job(
        "printenv",
        "adhoc: true\nsteps:\n  show:\n    run: env; exit 1\n    runbook: fix\n",
    );
    // Its runbook's remediation prints its environment too.
    t.file(
        "runbooks/fix.yaml",
        "rules:\n  - match: any\n    remediate: env\n",
    );
    // A foreground run, from a shell that has them set.
    let out = t
        .unyo()
        .env("UNYO_TEST_SMTP_PW", password)
        .env("UNYO_TEST_HOOK_URL", &url)
        .args(["run", "printenv"])
        .output()
        .expect("run");
    assert_exit(&out, 1);
    // A run of the daemon, which has them set.
    assert_exit(&t.run(&["submit", "printenv"]), 0);
    let d = Daemon::start(
        &t,
        &[
            ("UNYO_TEST_SMTP_PW", password),
            ("UNYO_TEST_HOOK_URL", &url),
        ],
    );
    assert_eq!(wait_ended(&t, 2), "failed");
    for run in [1, 2] {
        let logs = t.run(&["logs", &run.to_string()]);
        let got = text(&logs.stdout);
        assert!(got.contains("UNYO_JOB=printenv"), "{}", both(&logs));
        assert!(!got.contains(password) && !got.contains(token), "{got}");
        let tail = t.show(run)["attempts"][0]["stdout_tail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(tail.contains("UNYO_JOB=printenv"), "{tail}");
        assert!(!tail.contains(password) && !tail.contains(token), "{tail}");
        let remedy = t.show(run)["attempts"][0]["remediation"]["stdout_tail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(remedy.contains("UNYO_REMEDIATION=1"), "{remedy}");
        assert!(
            !remedy.contains(password) && !remedy.contains(token),
            "{remedy}"
        );
    }
    assert_eq!(kept_holding(&t, password), Vec::<String>::new());
    assert_eq!(kept_holding(&t, token), Vec::<String>::new());

    // The notifier read both to tell the desk about the failure.
    let mail = smtp.join().expect("smtp server");
    assert_eq!(
        b64(mail.auth.as_deref().expect("AUTH PLAIN")),
        format!("\0ops\0{password}").into_bytes()
    );
    hook_server.join().expect("webhook server");
    let requests = hooks.lock().expect("lock");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].line, format!("POST /services/{token} HTTP/1.1"));
    // A command channel is told the message, not unyo's credentials.
    let dumped = wait_for("the command channel to run", || {
        std::fs::read_to_string(t.path("notify-env.txt"))
            .ok()
            .filter(|e| e.contains("UNYO_NOTIFY_SUBJECT="))
    });
    assert!(
        !dumped.contains(password) && !dumped.contains(token),
        "{dumped}"
    );
    drop(d);
}

#[test]
fn crontab_import_warns_about_the_credentials_it_copies_naming_the_line() {
    let t = Tree::new();
    t.file(
        "crontab",
        "PGPASSWORD=s3cret\n0 1 * * * mysqldump --user=app --password=s3cret city > /b/city.sql\n0 2 * * * mysql -uapp -ps3cret -e 'select 1'\n0 3 * * * curl -fsS https://app:s3cret@api.example.jp/ping\n0 4 * * * tar -czf /b/etc.tgz /etc\n",
    );
    let out = t
        .unyo()
        .args(["import", "crontab"])
        .arg(t.path("crontab"))
        .output()
        .expect("import");
    assert_exit(&out, 0);
    let report = both(&out);
    let lines: Vec<&str> = report
        .lines()
        .filter(|l| l.contains("credential"))
        .collect();
    assert_eq!(lines.len(), 4, "{report}");
    for (n, what) in [
        (1, "`PGPASSWORD` holds a credential"),
        (2, "the command holds a credential (`--password`)"),
        (3, "the command holds a credential (`-p` of a MySQL client)"),
        (
            4,
            "the command holds a credential (a URL with `user:password@`)",
        ),
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&format!("crontab:{n}:")) && l.contains(what)),
            "line {n}: {report}"
        );
    }
    // The warning names the credential, never its value.
    assert!(lines.iter().all(|l| !l.contains("s3cret")), "{report}");
}

#[test]
fn a_secret_key_of_a_parameter_file_is_changed_from_the_environment_and_recorded_masked() {
    let t = Tree::new();
    t.file(
        "var/app/app.yaml",
        "db:\n  host: db1\n  password: old-pw-1\n",
    );
    let file = t.path("var/app/app.yaml").display().to_string();
    let out = t
        .unyo()
        .env("NEW_DB_PASSWORD", SECRET)
        .args(["act", "param-set", "--file", &file, "--key", "db.password"])
        .args(["--value-env", "NEW_DB_PASSWORD", "--reason", "rotation"])
        .output()
        .expect("param-set");
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).ends_with("db.password: change 1: \"***\" -> \"***\"\n"),
        "{}",
        both(&out)
    );
    assert_eq!(
        read(&t, "var/app/app.yaml"),
        format!("db:\n  host: db1\n  password: {SECRET}\n")
    );
    let history = t.run(&["params", "history", "--json"]);
    let h: Vec<serde_json::Value> = serde_json::from_slice(&history.stdout).expect("json");
    assert_eq!(
        (h[0]["before"].clone(), h[0]["after"].clone()),
        ("***".into(), "***".into())
    );
    // Never recorded, so never rolled back.
    let out = t.run(&["params", "rollback", "1"]);
    assert_exit(&out, 3);
    assert!(
        text(&out.stderr).contains("a secret, whose values are never recorded"),
        "{}",
        both(&out)
    );
    for needle in [SECRET, "old-pw-1"] {
        let audit = t.run(&["audit", "--json"]);
        assert!(!both(&audit).contains(needle), "{}", both(&audit));
        assert_eq!(
            files_holding(&t.path("var"), needle)
                .into_iter()
                .filter(|f| !f.ends_with("app.yaml"))
                .collect::<Vec<_>>(),
            Vec::<String>::new()
        );
    }
}

#[test]
fn a_schedule_cannot_hold_a_secret_and_needs_from_env_for_a_required_one() {
    let t = Tree::new();
    t.job(
        "sync",
        "params:\n  api_token: { required: true }\nsteps:\n  a:\n    env: { T: \"{{params.api_token}}\" }\n    run: ./sync.sh\n",
    );
    t.file(
        "schedules/s.yaml",
        "schedules:\n  - job: sync\n    cron: \"0 1 * * *\"\n  - job: sync\n    name: sync-2\n    cron: \"0 2 * * *\"\n    params: { api_token: abc }\n",
    );
    let out = t.run(&["validate"]);
    assert_exit(&out, 2);
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "schedules/s.yaml:2:10: job `sync` needs parameter `api_token`; it is secret: declare \
             `from_env` in the job and set that variable for the daemon"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "parameter `api_token` of job `sync` is secret: a definition file is no place"
        ),
        "{err}"
    );
    assert!(!err.contains("abc"), "{err}");
    // With `from_env` the schedule gives nothing and is valid.
    t.job(
        "sync",
        "params:\n  api_token: { required: true, from_env: SYNC_TOKEN }\nsteps:\n  a:\n    env: { T: \"{{params.api_token}}\" }\n    run: ./sync.sh\n",
    );
    t.file(
        "schedules/s.yaml",
        "schedules:\n  - job: sync\n    cron: \"0 1 * * *\"\n",
    );
    assert_exit(&t.run(&["validate"]), 0);
}

/// A refused `unyo run` is audited (who tried what) with its secret masked, whatever made it
/// refused: a bad value of another parameter, an unknown parameter, `--detach` of a secret.
#[test]
fn a_refused_run_is_audited_with_its_secret_masked() {
    let t = Tree::new();
    t.job(
        "login",
        "params:\n  db_password: {}\n  mode: { type: enum, values: [full, quick] }\nsteps:\n  \
         s:\n    env: { PW: \"{{params.db_password}}\" }\n    run: 'true'\n",
    );
    let secret = "Refused-Secret-4711";
    for extra in [
        vec!["-p", "mode=everything"],
        vec!["-p", "nope=1"],
        vec!["--detach"],
    ] {
        let mut args = vec!["run", "login", "-p"];
        let pw = format!("db_password={secret}");
        args.push(&pw);
        args.extend(extra.iter().copied());
        let out = t.run(&args);
        assert_exit(&out, 3);
        assert!(!both(&out).contains(secret), "{}", both(&out));
    }
    let audit = t.run(&["audit", "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&audit.stdout).expect("json");
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows.iter().all(|r| r["outcome"] == "refused"), "{rows:?}");
    assert!(!text(&audit.stdout).contains(secret));
    assert!(
        text(&audit.stdout).contains("db_password=***"),
        "{}",
        text(&audit.stdout)
    );
    assert!(files_holding(&t.path("var"), secret).is_empty());
}
