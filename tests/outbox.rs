//! The notifier and its outbox, with an injected clock (routing by desk hours and holidays,
//! escalation after no acknowledgement, retries and giving up), and with the real daemon
//! (an unreachable webhook does not delay the next job).

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use unyo::incident::notifier::{MAX_TRIES, Notifier};
use unyo::model::Severity;
use unyo::store::{IncidentChange, NewIncident, NotificationStatus, Store, StoreError};

use crate::helper::{Daemon, Setup, Tree, both, db, text, wait_for};

fn tokyo(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Tokyo
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("time")
        .with_timezone(&Utc)
}

/// A root whose channels are commands appending the incident JSON to files.
fn tree() -> Tree {
    let t = Tree::from_repo(&["jobs", "runbooks", "schedules"]);
    let dir = t.root().display().to_string();
    let channel = |name: &str| {
        format!(
            "    {name}:\n      command: {{ argv: [sh, -c, \"mkdir -p {dir}/got-{name}; cat > {dir}/got-{name}/$$.json\"] }}\n"
        )
    };
    t.file(
        "unyo.yaml",
        &format!(
            "notify:\n  language: en\n  desk_hours: {{ calendar: city, from: \"08:30\", to: \"17:30\" }}\n  wake: high\n  channels:\n{}{}{}{}    flaky:\n      command: {{ argv: [sh, -c, \"n=$(cat {dir}/tries 2>/dev/null || echo 0); echo $((n+1)) > {dir}/tries; [ $n -ge 1 ] || {{ echo modem busy >&2; exit 3; }}\"] }}\n    dead:\n      command: {{ argv: [sh, -c, \"echo no line >&2; exit 1\"] }}\n  desk:\n    - notify: [desk]\n    - after: 30m\n      notify: [duty]\n  emergency:\n    - notify: [emergency]\n  after_hours:\n    - notify: [night]\n",
            channel("desk"),
            channel("duty"),
            channel("emergency"),
            channel("night")
        ),
    );
    t
}

struct Env {
    notifier: Notifier,
    store: Arc<dyn Store>,
}

async fn env(t: &Tree) -> Env {
    let s = Setup::new(t, Utc::now()).await;
    Env {
        notifier: Notifier::new(s.settings, s.catalog, s.store.clone()),
        store: s.store,
    }
}

async fn open(
    store: &dyn Store,
    job: &str,
    severity: Severity,
    at: DateTime<Utc>,
) -> Result<i64, StoreError> {
    Ok(store
        .open_incident(&NewIncident {
            at,
            severity,
            job: job.to_owned(),
            run_id: None,
            step: None,
            failure_class: "exit 1".to_owned(),
            summary: format!("`{job}` failed"),
            log_excerpt: "boom".to_owned(),
            rule: None,
            report_deadline: None,
            actor: "unyo".to_owned(),
            occurrences: 1,
        })
        .await?
        .id)
}

/// The `event`, `level` and incident of every message a channel received, in the order of
/// incident id and level (deliveries run at once, so their order is not fixed).
fn received(t: &Tree, channel: &str) -> Vec<(String, u64, i64)> {
    let Ok(dir) = std::fs::read_dir(t.path(&format!("got-{channel}"))) else {
        return Vec::new();
    };
    let mut got: Vec<(String, u64, i64)> = dir
        .map(|e| {
            let text = std::fs::read_to_string(e.expect("entry").path()).expect("read");
            let v: serde_json::Value = serde_json::from_str(&text).expect("json");
            (
                v["event"].as_str().expect("event").to_owned(),
                v["level"].as_u64().expect("level"),
                v["id"].as_i64().expect("id"),
            )
        })
        .collect();
    got.sort_by_key(|(event, level, id)| (*id, *level, event.clone()));
    got
}

#[tokio::test]
async fn desk_hours_route_and_escalation_stops_at_acknowledgement() {
    let t = tree();
    let e = env(&t).await;
    // Wednesday 2026-11-25 10:00 in Tokyo: desk hours.
    let t0 = tokyo(2026, 11, 25, 10, 0);
    let a = open(&*e.store, "backup", Severity::Medium, t0)
        .await
        .expect("open");
    let b = open(&*e.store, "extract", Severity::Medium, t0)
        .await
        .expect("open");
    let sec = chrono::Duration::seconds;
    assert_eq!(e.notifier.tick(t0 + sec(1)).await.expect("tick"), 2);
    assert_eq!(
        received(&t, "desk"),
        [("opened".into(), 1, a), ("opened".into(), 1, b)]
    );
    // Nobody acknowledged `a` in 30 minutes; `b` was acknowledged after 5.
    e.store
        .change_incident(b, &IncidentChange::Acknowledge, "operator", t0 + sec(300))
        .await
        .expect("ack")
        .expect("acked");
    assert_eq!(e.notifier.tick(t0 + sec(29 * 60)).await.expect("tick"), 0);
    assert!(received(&t, "duty").is_empty());
    assert_eq!(
        e.notifier.tick(t0 + sec(30 * 60 + 1)).await.expect("tick"),
        1
    );
    assert_eq!(received(&t, "duty"), [("escalated".into(), 2, a)]);
    // The route has no third level: nothing more, ever.
    assert_eq!(e.notifier.tick(t0 + sec(5 * 3600)).await.expect("tick"), 0);
    let (row, _) = e.store.get_incident(a).await.expect("get").expect("row");
    assert_eq!(row.escalation_level, 2);
    assert_eq!(row.route.as_deref(), Some("desk"));
    assert_eq!(row.next_escalation_at, None);
    // A new occurrence of `a` tells the level it reached.
    open(&*e.store, "backup", Severity::Medium, t0 + sec(6 * 3600))
        .await
        .expect("again");
    e.notifier.tick(t0 + sec(6 * 3600 + 1)).await.expect("tick");
    assert_eq!(
        received(&t, "duty"),
        [("escalated".into(), 2, a), ("recurred".into(), 2, a)]
    );
}

#[tokio::test]
async fn out_of_hours_and_holidays_wake_only_severe_incidents() {
    let t = tree();
    let e = env(&t).await;
    // 2026-11-23 is Labour Thanksgiving Day: 10:00 is out of desk hours.
    let holiday = tokyo(2026, 11, 23, 10, 0);
    let high = open(&*e.store, "backup", Severity::High, holiday)
        .await
        .expect("open");
    let low = open(&*e.store, "report", Severity::Low, holiday)
        .await
        .expect("open");
    // A weekday evening.
    let evening = tokyo(2026, 11, 25, 20, 0);
    let critical = open(&*e.store, "rollover", Severity::Critical, evening)
        .await
        .expect("open");
    // Opened days ago (no daemon ran since): recorded as routed, nobody is woken for it.
    let stale = open(
        &*e.store,
        "archive",
        Severity::Critical,
        evening - chrono::Duration::days(5),
    )
    .await
    .expect("open");
    for at in [holiday, evening] {
        e.notifier
            .tick(at + chrono::Duration::seconds(1))
            .await
            .expect("tick");
    }
    assert_eq!(
        received(&t, "emergency"),
        [("opened".into(), 1, high), ("opened".into(), 1, critical)]
    );
    assert_eq!(received(&t, "night"), [("opened".into(), 1, low)]);
    assert!(received(&t, "desk").is_empty());
    let (row, _) = e
        .store
        .get_incident(stale)
        .await
        .expect("get")
        .expect("row");
    assert!(row.route.is_some());
    assert_eq!(row.next_escalation_at, None);
}

#[tokio::test]
async fn failed_deliveries_are_retried_then_given_up() {
    let t = tree();
    std::fs::write(
        t.path("unyo.yaml"),
        std::fs::read_to_string(t.path("unyo.yaml"))
            .expect("read")
            .replace("    - notify: [desk]\n", "    - notify: [flaky, dead]\n"),
    )
    .expect("write");
    let e = env(&t).await;
    let t0 = tokyo(2026, 11, 25, 10, 0);
    open(&*e.store, "backup", Severity::Medium, t0)
        .await
        .expect("open");
    e.notifier.tick(t0).await.expect("tick");
    let rows = e.store.list_notifications(false, 10).await.expect("list");
    assert!(
        rows.iter()
            .all(|n| n.status == NotificationStatus::Pending && n.attempts == 1)
    );
    let flaky = rows.iter().find(|n| n.channel == "flaky").expect("flaky");
    assert_eq!(
        flaky.last_error.as_deref(),
        Some("command flaky: exit 3: modem busy")
    );
    assert_eq!((flaky.next_attempt_at - t0).num_seconds(), 30);
    // Not yet due: nothing is tried.
    assert_eq!(
        e.notifier
            .tick(t0 + chrono::Duration::seconds(10))
            .await
            .expect("tick"),
        0
    );
    // The retry works for `flaky`; `dead` keeps failing until it is given up.
    let mut now = t0;
    for _ in 0..MAX_TRIES {
        now += chrono::Duration::hours(1);
        e.notifier.tick(now).await.expect("tick");
    }
    let rows = e.store.list_notifications(false, 10).await.expect("list");
    let flaky = rows.iter().find(|n| n.channel == "flaky").expect("flaky");
    assert_eq!(flaky.status, NotificationStatus::Sent);
    assert_eq!(flaky.attempts, 2);
    let dead = rows.iter().find(|n| n.channel == "dead").expect("dead");
    assert_eq!(dead.status, NotificationStatus::Failed);
    assert_eq!(dead.attempts, MAX_TRIES);
    drop(e);
    let out = t.run(&["notifications", "--failed"]);
    assert!(out.status.success(), "{}", both(&out));
    let listed = text(&out.stdout);
    assert!(
        listed.contains("dead") && !listed.contains("flaky"),
        "{listed}"
    );
    assert!(listed.contains("command dead: exit 1: no"), "{listed}");
    let out = t.run(&["notifications", "--failed", "--json"]);
    let failed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(failed[0]["last_error"], "command dead: exit 1: no line");
}

#[test]
fn an_unreachable_webhook_does_not_delay_the_next_job() {
    // A peer that accepts the connection and never answers: each try waits for the
    // network timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = silent.local_addr().expect("addr").port();
    let t = Tree::new();
    t.file(
        "unyo.yaml",
        &format!(
            "notify:\n  channels:\n    chat:\n      webhook: {{ url: \"http://127.0.0.1:{port}/hooks/secret-token\" }}\n  desk:\n    - notify: [chat]\n  after_hours:\n    - notify: [chat]\n  emergency:\n    - notify: [chat]\n"
        ),
    );
    t.job("broken", "steps:\n  a:\n    run: exit 2\n");
    t.job("tick", "steps:\n  a:\n    run: echo tick\n");
    t.file(
        "schedules/s.yaml",
        "schedules:\n  - job: tick\n    cron: \"* * * * * *\"\n    overlap: allow\n",
    );
    let daemon = Daemon::start(&t);
    let out = t.run(&["run", "broken", "--detach"]);
    assert!(out.status.success(), "{}", both(&out));
    let db = || db(&t);
    // The notifier is stuck on the silent webhook (held open, never answered) until its
    // network timeout...
    let _held = wait_for("a delivery in progress", || {
        let (accepted, _) = silent.accept().ok()?;
        Some(accepted)
    });
    let since = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    // ...while the schedule goes on: slots of `tick` fire and their runs succeed before the
    // try has ended.
    wait_for("three runs of `tick` while the webhook hangs", || {
        let n: i64 = db()
            .query_row(
                "SELECT count(*) FROM slots s JOIN runs r ON r.id = s.run_id \
                 WHERE s.fire_time >= ? AND r.status = 'succeeded'",
                [&since],
                |r| r.get(0),
            )
            .ok()?;
        (n >= 3).then_some(())
    });
    let tried: i64 = db()
        .query_row(
            "SELECT count(*) FROM notifications WHERE attempts > 0 OR last_error IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .expect("query");
    assert_eq!(tried, 0, "the webhook's try ended before the runs did");
    // The try ends as a failure to be retried, without the URL's secret.
    let error: String = wait_for("the failed try", || {
        db().query_row(
            "SELECT last_error FROM notifications WHERE last_error IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .ok()
    });
    assert!(error.starts_with("webhook chat:"), "{error}");
    assert!(!error.contains("secret-token"), "{error}");
    assert_eq!(daemon.stop(), Some(0), "daemon exit");
}

#[test]
fn a_failed_run_reaches_the_contact_through_the_daemon() {
    let t = Tree::new();
    let dir = t.root().display().to_string();
    t.file(
        "unyo.yaml",
        &format!(
            "notify:\n  language: ja\n  channels:\n    pager:\n      command: {{ argv: [sh, -c, \"cat > {dir}/page.json; printf '%s' \\\"$UNYO_NOTIFY_SUBJECT\\\" > {dir}/subject.txt\"] }}\n  desk:\n    - notify: [pager]\n  after_hours:\n    - notify: [pager]\n  emergency:\n    - notify: [pager]\n"
        ),
    );
    t.job(
        "nightly-backup",
        "steps:\n  dump:\n    run: echo 'disk full' >&2; exit 5\n",
    );
    let daemon = Daemon::start(&t);
    let out = t.run(&["run", "nightly-backup"]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let page: serde_json::Value = wait_for("the page", || {
        let text = std::fs::read_to_string(t.path("page.json")).ok()?;
        serde_json::from_str(&text).ok()
    });
    assert_eq!(page["job"], "nightly-backup");
    assert_eq!(page["event"], "opened");
    assert_eq!(page["failure_class"], "exit 5");
    assert!(
        page["log_excerpt"]
            .as_str()
            .is_some_and(|e| e.contains("disk full"))
    );
    let subject = wait_for("the subject", || {
        std::fs::read_to_string(t.path("subject.txt"))
            .ok()
            .filter(|s| !s.is_empty())
    });
    assert!(
        subject.contains("nightly-backup") && subject.contains("インシデント #1"),
        "{subject}"
    );
    let out = t.run(&["notifications", "--json"]);
    let sent: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(sent[0]["status"], "sent");
    assert_eq!(sent[0]["channel"], "pager");
    assert_eq!(daemon.stop(), Some(0), "daemon exit");
}

/// Regression: an escalated e-mail kept being retried after `unyo incident ack`. The
/// acknowledgement withdraws the pending messages of later levels, with the reason, and the
/// SMTP peer hears nothing more.
#[tokio::test]
async fn acknowledgement_stops_the_escalated_email_and_its_retries() {
    // Every recipient is refused: each try of the mail fails and is retried.
    let (port, sessions) = crate::notify::smtp_peer(true);
    let t = Tree::new();
    t.file(
        "unyo.yaml",
        &format!(
            "notify:\n  language: en\n  channels:\n    desk:\n      command: {{ argv: [sh, -c, \"cat > /dev/null\"] }}\n    duty-mail:\n      email: {{ to: [duty@city.example.jp], from: unyo@ops.example.jp, server: \"127.0.0.1:{port}\", tls: none }}\n  desk:\n    - notify: [desk]\n    - after: 30m\n      notify: [duty-mail]\n"
        ),
    );
    let e = env(&t).await;
    // Wednesday 2026-11-25 10:00 in Tokyo: desk hours.
    let t0 = tokyo(2026, 11, 25, 10, 0);
    let min = chrono::Duration::minutes;
    let id = open(&*e.store, "nightly-backup", Severity::High, t0)
        .await
        .expect("open");
    assert_eq!(e.notifier.tick(t0).await.expect("tick"), 1, "level 1");
    // Nobody acknowledged in 30 minutes: the mail to level 2 is tried and refused.
    assert_eq!(e.notifier.tick(t0 + min(31)).await.expect("tick"), 1);
    wait_for("the first SMTP session", || {
        (sessions.lock().expect("lock").len() == 1).then_some(())
    });
    let rows = e.store.list_notifications(false, 10).await.expect("list");
    let mail = rows
        .iter()
        .find(|n| n.channel == "duty-mail")
        .expect("the mail");
    assert_eq!(mail.status, NotificationStatus::Pending);
    assert_eq!(mail.attempts, 1);
    assert_eq!(mail.event, "escalated");

    let out = t.run(&["incident", "ack", &id.to_string()]);
    assert!(out.status.success(), "{}", both(&out));
    // Long past every retry time: nothing is tried, nobody is mailed again.
    for h in 1..=3 {
        assert_eq!(
            e.notifier
                .tick(t0 + chrono::Duration::hours(h))
                .await
                .expect("tick"),
            0
        );
    }
    assert_eq!(sessions.lock().expect("lock").len(), 1);
    let rows = e.store.list_notifications(false, 10).await.expect("list");
    let mail = rows
        .iter()
        .find(|n| n.channel == "duty-mail")
        .expect("the mail");
    assert_eq!(mail.status, NotificationStatus::Withdrawn);
    assert_eq!(mail.attempts, 1);
    let reason = mail.reason.as_deref().unwrap_or_default();
    assert!(
        reason.starts_with(&format!("incident {id} was acknowledged by ")),
        "{reason}"
    );
    // The first level was sent, and stays so.
    let desk = rows.iter().find(|n| n.channel == "desk").expect("desk");
    assert_eq!(desk.status, NotificationStatus::Sent);
    drop(e);
    let out = t.run(&["notifications"]);
    assert!(out.status.success(), "{}", both(&out));
    let listed = text(&out.stdout);
    assert!(
        listed
            .lines()
            .any(|l| l.contains("duty-mail") && l.contains("withdrawn")),
        "{listed}"
    );
    assert!(listed.contains("acknowledged by"), "{listed}");
}

/// Regression: the after-hours message promised that the next contact would be told when
/// nobody acknowledges, though that route has a single level. The message says so only when
/// its route has a next level.
#[tokio::test]
async fn only_a_route_with_a_next_level_promises_the_next_contact() {
    let t = tree();
    let dir = t.root().display().to_string();
    // The message text, as the contacts read it.
    std::fs::write(
        t.path("unyo.yaml"),
        std::fs::read_to_string(t.path("unyo.yaml")).expect("read").replace(
            &format!("cat > {dir}/got-night/$$.json"),
            &format!("cat > {dir}/got-night/$$.json; printf '%s' \\\"$UNYO_NOTIFY_TEXT\\\" > {dir}/night.txt"),
        ).replace(
            &format!("cat > {dir}/got-desk/$$.json"),
            &format!("cat > {dir}/got-desk/$$.json; printf '%s' \\\"$UNYO_NOTIFY_TEXT\\\" > {dir}/desk.txt"),
        ),
    )
    .expect("write");
    let e = env(&t).await;
    // A low incident on a weekday evening takes `after_hours` (one level); a medium one in
    // desk hours takes `desk` (two levels).
    let evening = tokyo(2026, 11, 25, 20, 0);
    open(&*e.store, "report", Severity::Low, evening)
        .await
        .expect("open");
    e.notifier.tick(evening).await.expect("tick");
    let morning = tokyo(2026, 11, 26, 10, 0);
    open(&*e.store, "backup", Severity::Medium, morning)
        .await
        .expect("open");
    e.notifier.tick(morning).await.expect("tick");
    let night = std::fs::read_to_string(t.path("night.txt")).expect("after-hours text");
    let desk = std::fs::read_to_string(t.path("desk.txt")).expect("desk text");
    assert!(!night.contains("notified next"), "{night}");
    assert!(
        night.contains("Once someone is working on it, acknowledge the incident.\n--"),
        "{night}"
    );
    assert!(
        desk.contains("If nobody acknowledges it, the contacts of level 2 are notified next.\n"),
        "{desk}"
    );
}

/// Regression: an approval step waited silently. Its gate is announced to the desk route when
/// the wait begins and again before its timeout (at 80 % of it), through a real channel; a
/// waiting gate is not an incident, and a decided one is not reminded.
#[test]
fn a_waiting_approval_is_announced_and_reminded_before_its_timeout() {
    let t = Tree::new();
    let dir = t.root().display().to_string();
    t.file(
        "unyo.yaml",
        &format!(
            "notify:\n  language: en\n  channels:\n    desk:\n      command: {{ argv: [sh, -c, \"mkdir -p {dir}/got; cat > {dir}/got/$$.json; printf '%s' \\\"$UNYO_NOTIFY_SUBJECT\\\" > {dir}/got/$$.subject\"] }}\n  desk:\n    - notify: [desk]\n    - after: 1h\n      notify: [desk]\n  emergency: []\n  after_hours: []\n"
        ),
    );
    t.job(
        "rollover",
        "steps:\n  attend:\n    approval: { message: \"switch the fiscal year?\" }\n    timeout: 12s\n  switch:\n    needs: [attend]\n    run: echo switched\n",
    );
    let daemon = Daemon::start(&t);
    let db = || db(&t);
    let notices = |run: i64| -> Vec<(String, String)> {
        let c = db();
        let mut s = c
            .prepare(
                "SELECT event, status FROM notifications WHERE run_id = ? AND step = 'attend' \
                 ORDER BY id",
            )
            .expect("prepare");
        s.query_map([run], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    let detach = || -> i64 {
        let out = t.run(&["run", "rollover", "--detach"]);
        assert!(out.status.success(), "{}", both(&out));
        text(&out.stdout).trim().parse().expect("run id")
    };

    // Approved after the first notice: no reminder follows.
    let first = detach();
    wait_for("the first run's notice to be sent", || {
        (notices(first) == [("approval_waiting".to_owned(), "sent".to_owned())]).then_some(())
    });
    let out = t.run(&["approve", &first.to_string(), "attend"]);
    assert!(out.status.success(), "{}", both(&out));
    wait_for("the first run to succeed", || {
        let status: String = db()
            .query_row("SELECT status FROM runs WHERE id = ?", [first], |r| {
                r.get(0)
            })
            .ok()?;
        (status == "succeeded").then_some(())
    });

    // Left waiting: the reminder comes before the timeout.
    let second = detach();
    wait_for("the second run's reminder to be sent", || {
        (notices(second)
            == [
                ("approval_waiting".to_owned(), "sent".to_owned()),
                ("approval_reminder".to_owned(), "sent".to_owned()),
            ])
        .then_some(())
    });
    // Nothing about the wait was an incident (the timeout, later, is one).
    let reminded_at: String = db()
        .query_row(
            "SELECT created_at FROM notifications WHERE run_id = ? AND event = 'approval_reminder'",
            [second],
            |r| r.get(0),
        )
        .expect("reminder");
    let timeout_at: String = db()
        .query_row(
            "SELECT timeout_at FROM gates WHERE run_id = ?",
            [second],
            |r| r.get(0),
        )
        .expect("gate");
    assert!(reminded_at < timeout_at, "{reminded_at} {timeout_at}");
    let incidents_before: i64 = db()
        .query_row(
            "SELECT count(*) FROM incidents WHERE opened_at <= ?",
            [&reminded_at],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(incidents_before, 0);
    assert_eq!(
        notices(first),
        [("approval_waiting".to_owned(), "sent".to_owned())],
        "a decided gate is not reminded"
    );

    // What the desk received: the gate as JSON, and a subject naming it.
    let mut got: Vec<(serde_json::Value, String)> = std::fs::read_dir(t.path("got"))
        .expect("got")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .map(|e| {
            let json = std::fs::read_to_string(e.path()).expect("json");
            let subject =
                std::fs::read_to_string(e.path().with_extension("subject")).expect("subject");
            (serde_json::from_str(&json).expect("json"), subject)
        })
        .collect();
    got.sort_by_key(|(v, _)| (v["run_id"].as_i64(), v["reminder"].as_bool()));
    assert_eq!(got.len(), 3, "{got:#?}");
    let (reminder, subject) = &got[2];
    assert_eq!(reminder["event"], "approval_reminder");
    assert_eq!(reminder["run_id"], second);
    assert_eq!(reminder["step"], "attend");
    assert_eq!(reminder["job"], "rollover");
    assert_eq!(reminder["message"], "switch the fiscal year?");
    assert_eq!(reminder["approve"], format!("unyo approve {second} attend"));
    assert!(
        subject.starts_with("[unyo][approval due in ")
            && subject.ends_with(&format!("] rollover: step attend (run {second})")),
        "{subject}"
    );
    assert_eq!(
        got[1].1,
        format!("[unyo][approval waiting] rollover: step attend (run {second})")
    );

    // `unyo notifications` shows them, by run and step.
    let out = t.run(&["notifications"]);
    let listed = text(&out.stdout);
    assert!(
        listed
            .lines()
            .any(|l| l.contains(&format!("run {second} attend"))
                && l.contains("approval_reminder")
                && l.contains("sent")),
        "{listed}"
    );
    assert_eq!(daemon.stop(), Some(0), "daemon exit");
}

/// A notice of a waiting approval that could not be delivered yet is withdrawn when the
/// approval is decided: nobody is asked to approve what was approved already. The gate of a
/// foreground `unyo run` is announced too (the notifier reads the database).
#[tokio::test]
async fn a_decided_approval_withdraws_its_pending_notices() {
    let t = tree();
    std::fs::write(
        t.path("unyo.yaml"),
        std::fs::read_to_string(t.path("unyo.yaml"))
            .expect("read")
            .replace("    - notify: [desk]\n", "    - notify: [dead]\n"),
    )
    .expect("write");
    t.job(
        "gated",
        "steps:\n  attend:\n    approval: { message: go? }\n    timeout: 1h\n  after:\n    needs: [attend]\n    run: echo done\n",
    );
    let mut run = std::process::Command::new(env!("CARGO_BIN_EXE_unyo"))
        .env_remove("UNYO_ROOT")
        .arg("--root")
        .arg(t.root())
        .args(["run", "gated"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run");
    let db = || rusqlite::Connection::open(t.path("var/unyo.db")).ok();
    wait_for("the gate", || {
        db()?
            .query_row("SELECT count(*) FROM gates", [], |r| r.get::<_, i64>(0))
            .ok()
            .filter(|n| *n == 1)
    });
    let e = env(&t).await;
    let now = Utc::now();
    // The notice is written and tried; the channel fails, so it waits for its retry.
    assert_eq!(e.notifier.tick(now).await.expect("tick"), 1);
    let rows = e.store.list_notifications(false, 10).await.expect("list");
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0].event, "approval_waiting");
    assert_eq!(
        (rows[0].run_id, rows[0].step.as_deref()),
        (Some(1), Some("attend"))
    );
    assert_eq!(rows[0].incident_id, None);
    assert_eq!(rows[0].status, NotificationStatus::Pending);

    let out = t.run(&["approve", "1", "attend"]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(run.wait().expect("run ends").success());
    // Past its retry time and the reminder's: nothing is tried or written.
    assert_eq!(
        e.notifier
            .tick(now + chrono::Duration::minutes(55))
            .await
            .expect("tick"),
        0
    );
    let rows = e.store.list_notifications(false, 10).await.expect("list");
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0].status, NotificationStatus::Withdrawn);
    let reason = rows[0].reason.as_deref().unwrap_or_default();
    assert!(
        reason.starts_with("step `attend` of run 1 was approved by "),
        "{reason}"
    );
}
