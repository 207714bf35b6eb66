//! Settings: defaults, redaction, notify routes and channels, every bad setting reported.

use super::channel::{is_env_name, parse_server};
use super::*;

#[test]
fn redacts_passwords() {
    assert_eq!(
        redact_url("postgres://unyo:s3cret@db:5432/ops"),
        "postgres://unyo:***@db:5432/ops"
    );
    assert_eq!(redact_url("postgres://db/ops"), "postgres://db/ops");
    let d = Database::Postgres("postgres://u:pw@h/d".into());
    assert!(!format!("{d:?}{d}").contains("pw"));
}

#[test]
fn a_password_in_the_query_of_a_database_url_is_redacted_too() {
    assert_eq!(
        redact_url("postgres://unyo@db/ops?sslmode=require&password=s3cret"),
        "postgres://unyo@db/ops?sslmode=require&password=***"
    );
    let d = Database::Postgres("postgres://u@h/d?PASSWORD=pw".into());
    assert!(!format!("{d:?}{d}").contains("pw"), "{d}");
}

#[test]
fn defaults_without_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Settings::load(dir.path()).expect("defaults");
    assert_eq!(s.database, Database::Sqlite(dir.path().join("var/unyo.db")));
    assert_eq!(s.timezone, chrono_tz::Asia::Tokyo);
    assert_eq!(s.log_dir, dir.path().join("var/log"));
}

fn load_notify(yaml: &str) -> Result<Notify, String> {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(SETTINGS_FILE), yaml).expect("write");
    match Settings::load(dir.path()) {
        Ok(s) => s.notify.ok_or_else(|| "no notify".to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

const CHANNELS: &str = "notify:\n  channels:\n    mail:\n      email: { to: [desk@city.example.jp, \"Duty <duty@city.example.jp>\"], from: unyo@ops.example.jp, server: smtp.city.example.jp, username: ops, password_env: UNYO_SMTP_PASSWORD }\n    chat:\n      webhook: { url: \"https://hooks.example.jp/services/T0/B0/tOkEn\" }\n    phone:\n      command: { argv: [/usr/local/bin/page, --to, duty] }\n";

#[test]
fn notify_defaults_fill_the_other_routes() {
    let n = load_notify(&format!(
        "{CHANNELS}  desk:\n    - notify: [mail, chat]\n    - after: 30m\n      notify: [phone]\n"
    ))
    .expect("valid");
    assert_eq!(n.language, Language::Ja);
    assert_eq!(n.wake, Severity::High);
    assert_eq!(n.desk_hours.from.to_string(), "08:30:00");
    assert_eq!(n.desk_hours.to.to_string(), "17:30:00");
    assert!(n.desk_hours.calendar.is_none());
    assert_eq!(n.desk.len(), 2);
    assert_eq!(n.desk[1].after, Duration::from_secs(1800));
    assert_eq!(n.emergency, n.desk);
    assert_eq!(
        n.after_hours,
        vec![Level {
            after: Duration::ZERO,
            notify: vec!["mail".into(), "chat".into()]
        }]
    );
    let Some(ChannelKind::Email(mail)) = n.channel("mail").map(|c| &c.kind) else {
        panic!("mail is an email channel");
    };
    assert_eq!(mail.to.len(), 2);
    assert_eq!(
        (mail.host.as_str(), mail.port),
        ("smtp.city.example.jp", 587)
    );
    assert_eq!(mail.tls, SmtpTls::Starttls);
    let Some(ChannelKind::Command(cmd)) = n.channel("phone").map(|c| &c.kind) else {
        panic!("phone is a command channel");
    };
    assert_eq!(cmd.timeout, DEFAULT_COMMAND_TIMEOUT);
    assert_eq!(cmd.argv, ["/usr/local/bin/page", "--to", "duty"]);
}

#[test]
fn secrets_stay_out_of_debug() {
    let n = load_notify(&format!("{CHANNELS}  desk:\n    - notify: [chat]\n")).expect("valid");
    let shown = format!("{n:?}");
    assert!(!shown.contains("tOkEn"), "{shown}");
    assert!(!shown.contains("/services"), "{shown}");
    assert!(shown.contains("Url(https://hooks.example.jp)"), "{shown}");
    assert!(shown.contains("UNYO_SMTP_PASSWORD"), "{shown}");
    assert_eq!(
        url_origin("https://user:pw@hooks.example.jp:8443/x/y?token=z"),
        "https://hooks.example.jp:8443"
    );
    assert_eq!(url_origin("not a url"), "(not a URL)");
}

#[test]
fn desk_hours_calendar_is_checked_against_schedules() {
    let n = load_notify(&format!(
        "{CHANNELS}  desk_hours: {{ calendar: ctiy }}\n  desk:\n    - notify: [mail]\n"
    ))
    .expect("valid");
    assert_eq!(n.check_calendar(&["ctiy".into()]), None);
    assert_eq!(
        n.check_calendar(&["city".into(), "office".into()])
            .as_deref(),
        Some("`notify.desk_hours`: unknown calendar `ctiy` (did you mean `city`?)")
    );
    let none = load_notify(&format!("{CHANNELS}  desk:\n    - notify: [mail]\n")).expect("valid");
    assert_eq!(none.check_calendar(&[]), None);
}

#[test]
fn notify_needs_desk_levels_and_sane_hours() {
    let e = load_notify(&format!(
        "{CHANNELS}  desk_hours: {{ from: \"18:00\", to: \"09:00\" }}\n"
    ))
    .expect_err("invalid");
    assert!(
        e.contains("unyo.yaml:2:3: `notify`: missing required key `desk`"),
        "{e}"
    );
    assert!(e.contains("`from` must be before `to`"), "{e}");
    assert!(e.contains("2 problems"), "{e}");
}

#[test]
fn plain_smtp_only_to_this_machine() {
    for (server, ok) in [
        ("127.0.0.1:2525", true),
        ("[::1]:25", true),
        ("localhost", true),
        ("smtp.example.jp:25", false),
        ("10.0.0.5", false),
    ] {
        let yaml = format!(
            "notify:\n  channels:\n    m:\n      email: {{ to: [a@b.jp], from: c@d.jp, server: \"{server}\", tls: none }}\n  desk:\n    - notify: [m]\n"
        );
        assert_eq!(load_notify(&yaml).is_ok(), ok, "{server}");
    }
    assert_eq!(parse_server("[::1]:25"), Ok(("::1".into(), Some(25))));
    assert_eq!(parse_server("::1"), Ok(("::1".into(), None)));
    assert!(parse_server("host:0").is_err());
    assert!(parse_server("host:port").is_err());
    assert!(parse_server("").is_err());
    assert!(is_env_name("UNYO_SMTP_PASSWORD") && !is_env_name("1X") && !is_env_name("A-B"));
}

#[test]
fn reports_every_bad_setting() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join(SETTINGS_FILE),
        "timezone: Mars/Olympus\nday_start: '25:00'\nfiscal_year_start: 13\n",
    )
    .expect("write");
    let err = Settings::load(dir.path()).expect_err("invalid");
    let text = err.to_string();
    assert_eq!(err.len(), 3, "{text}");
    assert!(
        text.contains("unyo.yaml:1:11: unknown time zone `Mars/Olympus`"),
        "{text}"
    );
    assert!(text.contains("unyo.yaml:2:"), "{text}");
}

fn load_yaml(yaml: &str) -> Result<Settings, String> {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(SETTINGS_FILE), yaml).expect("write");
    Settings::load(dir.path()).map_err(|d| d.to_string())
}

#[test]
fn desk_deadlines_and_thresholds_are_read_and_bad_ones_named_with_their_place() {
    use crate::domain::desk::{Category, Deadline};
    let s = load_yaml(
        "desk:\n  deadlines:\n    fault: 30m\n    request: 2 business days\n  consultation:\n    cost: 50000\n    effort: 8h\n",
    )
    .expect("valid");
    assert_eq!(
        s.desk.deadline(Category::Fault),
        Deadline::Clock(std::time::Duration::from_secs(1800))
    );
    assert_eq!(
        s.desk.deadline(Category::Request),
        Deadline::BusinessDays(2)
    );
    assert_eq!(
        s.desk.deadline(Category::Inquiry),
        Deadline::BusinessDays(1)
    );
    assert_eq!(s.desk.consultation.cost, 50_000);
    assert_eq!(s.desk.consultation.effort_hours, 8);

    let e = load_yaml("desk:\n  deadlines:\n    complaint: 1h\n    fault: soon\n")
        .expect_err("refused");
    assert!(
        e.contains("unyo.yaml:3:16") && e.contains("unknown category `complaint`"),
        "{e}"
    );
    assert!(
        e.contains("unyo.yaml:4:12") && e.contains("`desk.deadlines.fault`: bad deadline `soon`"),
        "{e}"
    );
    let e = load_yaml("desk:\n  deadlines:\n    fualt: 1h\n").expect_err("refused");
    assert!(e.contains("(did you mean `fault`?)"), "{e}");
    let e = load_yaml("desk:\n  consultation:\n    costs: 1\n").expect_err("refused");
    assert!(e.contains("unyo.yaml:3:5") && e.contains("`costs`"), "{e}");
}

#[test]
fn departments_are_read_with_their_titles_and_bad_ones_named_with_their_place() {
    let s =
        load_yaml("departments:\n  tax: { title: 税務課 }\n  welfare:\n    title: \" 福祉課 \"\n")
            .expect("valid");
    assert_eq!(s.departments.title("tax"), Some("税務課"));
    assert_eq!(s.departments.title("welfare"), Some("福祉課"));
    assert_eq!(s.departments.title("soumu"), None);
    // An operator names a department by its code or its title; anything else is refused
    // with the nearest code and the list.
    assert_eq!(s.departments.resolve("tax"), Ok("tax".to_owned()));
    assert_eq!(s.departments.resolve("福祉課"), Ok("welfare".to_owned()));
    let e = s.departments.resolve("welfar").expect_err("unknown");
    assert_eq!(
        e,
        "unknown department `welfar` (did you mean `welfare`?); the departments of unyo.yaml \
         are: tax (税務課), welfare (福祉課)"
    );
    // Without `departments:` any department is taken as written.
    let none = load_yaml("demo: false\n").expect("valid");
    assert_eq!(none.departments.resolve("総務課"), Ok("総務課".to_owned()));

    let e = load_yaml(
        "departments:\n  Tax Office: { title: 税務課 }\n  soumu: { title: \"\" }\n  kikaku: { title: 政策企画課 }\n  planning: { title: 政策企画課 }\n  long: { title: \"あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれ\" }\n",
    )
    .expect_err("refused");
    for want in [
        "unyo.yaml:2:15: department `Tax Office`: a code is lowercase letters",
        "unyo.yaml:3:19: department `soumu`: `title` is empty",
        "unyo.yaml:5:22: department `planning`: `title` 政策企画課 is the title of `kikaku` too",
        "unyo.yaml:6:18: department `long`: `title` has 42 characters; at most 40",
    ] {
        assert!(e.contains(want), "missing {want:?} in:\n{e}");
    }
    let e = load_yaml("departments:\n  x: { titel: a }\n").expect_err("refused");
    assert!(
        e.contains("unyo.yaml:2:8: unknown key `titel` (did you mean `title`?)"),
        "{e}"
    );
}
