//! Run (`/runs/{id}`): a run's status and times, its parameters, its steps, and each
//! attempt with its exit, duration and output tails as recorded (the tails the database
//! keeps, not the log file). An unknown run is a 404 page.
//!
//! While the run is queued or running, the page shows the last [`TAIL_LINES`] lines of each
//! running attempt's log file as it grows, and reloads itself every [`REFRESH`] seconds
//! (`<meta http-equiv="refresh">`: the pages run no script), unless a step waits for an
//! approval (a reload would lose the comment being typed). A log written on another node is
//! said to be there, as `unyo logs` says it.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::sync::Arc;

use super::page::{self, Frame, Write, between, local, local_or_dash};
use super::{Dashboard, lang, session};
use crate::store::{AttemptRow, RunDetail};
use crate::store::{RunStatus, StepStatus};

#[derive(Debug)]
struct Step {
    name: String,
    status: String,
    attempts: i64,
    started: String,
    ended: String,
    duration: String,
    reason: String,
}

/// Lines of a running attempt's log shown.
const TAIL_LINES: usize = 40;
/// The end of the log read to find them.
const TAIL_BYTES: u64 = 16 * 1024;
/// Seconds between reloads of a live run's page.
const REFRESH: u32 = 5;

/// A running attempt's log as it grows.
#[derive(Debug)]
struct Live {
    step: String,
    number: i64,
    path: String,
    /// Its last lines, or why they cannot be read here.
    tail: Result<String, String>,
    /// The node it runs on when not this one.
    node: Option<String>,
}

#[derive(Debug)]
struct Attempt {
    step: String,
    number: i64,
    status: String,
    exit: String,
    started: String,
    duration: String,
    stdout: String,
    stderr: String,
    /// Still running: its output is in the live tail, not yet in the database.
    live: bool,
    /// The runbook's decision on its failure: the rule that matched, what was done and the
    /// remediation's result, as `unyo show` prints them.
    runbook: Option<Runbook>,
}

#[derive(Debug)]
struct Runbook {
    rule: String,
    done: String,
    remediation: Option<String>,
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    frame: Frame,
    id: i64,
    /// Queued or running: it can be cancelled.
    live: bool,
    /// The steps waiting for an approval: each with the decision taken already, if any
    /// (the run goes on within a second of it).
    gates: Vec<(String, String)>,
    cancel: Write,
    approve: Write,
    job: String,
    status: String,
    reason: String,
    trigger: String,
    requested_by: String,
    business_date: String,
    params: Vec<(String, String)>,
    queued: String,
    started: String,
    ended: String,
    duration: String,
    node: String,
    steps: Vec<Step>,
    attempts: Vec<Attempt>,
    tails: Vec<Live>,
}

pub(super) async fn page(
    State(d): State<Arc<Dashboard>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let lang = lang(&headers);
    let w = lang.words();
    let who = session::current(&d, &headers).await;
    let found = match id.parse::<i64>() {
        Ok(id) => d.store.get_run(id).await,
        Err(_) => Ok(None),
    };
    match found {
        Ok(Some(detail)) => {
            let tz = d.definitions().settings.timezone;
            let mut decided = Vec::new();
            for s in &detail.steps {
                if s.status != StepStatus::WaitingApproval {
                    continue;
                }
                let taken = match d.store.gate(detail.run.id, &s.name).await {
                    Ok(g) => g.and_then(|g| match (g.decision, g.decided_by) {
                        (Some(what), Some(by)) => Some(format!("{what} by {by}")),
                        _ => None,
                    }),
                    Err(e) => return page::unavailable(lang, &e),
                };
                decided.push((s.name.clone(), taken.unwrap_or_default()));
            }
            let running: Vec<AttemptRow> = detail
                .attempts
                .iter()
                .filter(|a| a.ended_at.is_none())
                .cloned()
                .collect();
            let mut view = view(detail, decided, lang, tz, who);
            for a in running {
                view.tails.push(live(a).await);
            }
            if view.live && view.gates.is_empty() {
                view.frame.refresh = Some(REFRESH);
            }
            page::render(&view, StatusCode::OK)
        }
        Ok(None) => page::message(lang, StatusCode::NOT_FOUND, w.not_found, w.no_such_run),
        Err(e) => page::unavailable(lang, &e),
    }
}

fn view(
    d: RunDetail,
    gates: Vec<(String, String)>,
    lang: super::Lang,
    tz: chrono_tz::Tz,
    who: Option<session::Session>,
) -> RunPage {
    let r = d.run;
    let params = match r.params {
        serde_json::Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect(),
        serde_json::Value::Null => Vec::new(),
        other => vec![(String::new(), other.to_string())],
    };
    RunPage {
        frame: Frame::of(lang, &format!("{} #{}", lang.words().run, r.id), who),
        id: r.id,
        live: matches!(r.status, RunStatus::Queued | RunStatus::Running),
        gates,
        cancel: Write::Cancel,
        approve: Write::Approve,
        job: r.job,
        status: r.status.to_string(),
        reason: r.reason.unwrap_or_default(),
        trigger: r.trigger.to_string(),
        requested_by: r.requested_by,
        business_date: r.business_date.format("%Y-%m-%d").to_string(),
        params,
        queued: local(r.queued_at, tz),
        started: local_or_dash(r.started_at, tz),
        ended: local_or_dash(r.ended_at, tz),
        duration: between(r.started_at, r.ended_at),
        node: r.owner.unwrap_or(r.host),
        steps: d
            .steps
            .into_iter()
            .map(|s| Step {
                status: s.status.to_string(),
                attempts: s.attempts,
                started: local_or_dash(s.started_at, tz),
                ended: local_or_dash(s.ended_at, tz),
                duration: between(s.started_at, s.ended_at),
                reason: s.reason.unwrap_or_default(),
                name: s.name,
            })
            .collect(),
        attempts: d.attempts.into_iter().map(|a| attempt(a, tz)).collect(),
        tails: Vec::new(),
    }
}

/// The last lines of a running attempt's log file, read off the request's task.
async fn live(a: AttemptRow) -> Live {
    let node = a
        .command
        .get("node")
        .and_then(|n| n.as_str())
        .map(str::to_owned);
    let path = a.log_path.clone();
    let read = tokio::task::spawn_blocking(move || tail(std::path::Path::new(&path)))
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
    let tail = match read {
        Ok(t) => Ok(t),
        // Not written yet: the step has printed nothing.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && node.is_none() => Ok(String::new()),
        Err(e) => Err(e.to_string()),
    };
    Live {
        step: a.step,
        number: a.attempt,
        path: a.log_path,
        tail,
        node,
    }
}

/// The last [`TAIL_LINES`] whole lines of the file (a line cut by the read's start left out).
fn tail(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let start = len.saturating_sub(TAIL_BYTES);
    f.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    f.take(TAIL_BYTES).read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let text = if start > 0 {
        text.split_once('\n').map_or("", |(_, rest)| rest)
    } else {
        &text
    };
    let lines: Vec<&str> = text.lines().collect();
    Ok(lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n"))
}

fn attempt(a: AttemptRow, tz: chrono_tz::Tz) -> Attempt {
    let exit = match (a.exit_code, a.signal, &a.error) {
        (Some(c), _, _) => c.to_string(),
        (None, Some(s), _) => format!("signal {s}"),
        (None, None, Some(e)) => e.clone(),
        (None, None, None) => "—".to_owned(),
    };
    Attempt {
        number: a.attempt,
        status: a.status.to_string(),
        exit,
        started: local(a.started_at, tz),
        duration: between(Some(a.started_at), a.ended_at),
        stdout: a.stdout_tail,
        stderr: a.stderr_tail,
        live: a.ended_at.is_none(),
        runbook: a.rule.map(|rule| Runbook {
            rule,
            done: a.action.unwrap_or_else(|| "—".to_owned()),
            remediation: a
                .remediation
                .as_ref()
                .map(|r| r["result"].as_str().unwrap_or("—").to_owned()),
        }),
        step: a.step,
    }
}

#[cfg(test)]
mod tests {
    use super::{TAIL_BYTES, TAIL_LINES, live, tail};
    use crate::store::{AttemptRow, AttemptStatus};

    fn running(log: &std::path::Path, command: serde_json::Value) -> AttemptRow {
        AttemptRow {
            id: 1,
            step: "extract".into(),
            attempt: 1,
            status: AttemptStatus::Running,
            command,
            log_path: log.display().to_string(),
            pid: None,
            started_at: chrono::Utc::now(),
            ended_at: None,
            exit_code: None,
            signal: None,
            error: None,
            stdout_tail: String::new(),
            stderr_tail: String::new(),
            log_bytes: 0,
            log_dropped: 0,
            rule: None,
            action: None,
            remediation: None,
        }
    }

    #[tokio::test]
    async fn a_log_on_another_node_is_said_to_be_there() {
        let dir = tempfile::tempdir().expect("dir");
        let missing = dir.path().join("run-7/extract.log");
        let there = live(running(&missing, serde_json::json!({ "node": "batch2" }))).await;
        assert_eq!(there.node.as_deref(), Some("batch2"));
        assert!(there.tail.is_err(), "{there:?}");
        // Here, and nothing written yet: no output so far, not an error.
        let here = live(running(&missing, serde_json::json!({}))).await;
        assert_eq!(here.tail, Ok(String::new()));
        std::fs::write(dir.path().join("out.log"), "a\nb\n").expect("write");
        let read = live(running(&dir.path().join("out.log"), serde_json::json!({}))).await;
        assert_eq!(read.tail, Ok("a\nb".to_owned()));
    }

    #[test]
    fn the_tail_is_the_last_whole_lines() {
        let dir = tempfile::tempdir().expect("dir");
        let log = dir.path().join("step.log");
        std::fs::write(&log, "one\ntwo\nthree").expect("write");
        assert_eq!(tail(&log).expect("tail"), "one\ntwo\nthree");
        let many: String = (1..=500).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&log, &many).expect("write");
        let got = tail(&log).expect("tail");
        assert_eq!(got.lines().count(), TAIL_LINES);
        assert_eq!(got.lines().last(), Some("line 500"));
        // A line longer than the part read: only whole lines after its cut are kept.
        let long = format!(
            "{}\nend\n",
            "x".repeat(usize::try_from(TAIL_BYTES).expect("size") * 2)
        );
        std::fs::write(&log, long).expect("write");
        assert_eq!(tail(&log).expect("tail"), "end");
        assert!(tail(&dir.path().join("missing.log")).is_err());
    }
}
