//! `unyo show RUN`: one run with its steps, attempts and what the monitoring found about it
//! (lateness, stuck steps, slowdowns); works with no daemon running.

use super::table::Table;
use crate::engine;
use crate::error::Error;
use crate::model::Settings;
use crate::model::values::format_duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run id (see `unyo runs`).
    pub run: i64,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(settings: &Settings, args: Args) -> Result<(), Error> {
    let store = super::open_reader(settings).await?;
    let Some(d) = store.get_run(args.run).await? else {
        return Err(Error::Request(
            crate::store::no_such_run(args.run).to_string(),
        ));
    };
    let findings = store.run_findings(args.run).await?;
    if args.json {
        let mut value = serde_json::to_value(&d).unwrap_or_default();
        if let Some(o) = value.as_object_mut() {
            o.insert(
                "findings".to_owned(),
                serde_json::to_value(&findings).unwrap_or_default(),
            );
        }
        let text = serde_json::to_string_pretty(&value).unwrap_or_default();
        super::out(&format!("{text}\n"));
        return Ok(());
    }
    let r = &d.run;
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or("-".to_owned(), |t| super::local_time(settings, t))
    };
    let mut out = String::new();
    out.push_str(&format!("run {}  job `{}`  {}\n", r.id, r.job, r.status));
    if let Some(reason) = &r.reason {
        out.push_str(&format!("reason:        {reason}\n"));
    }
    out.push_str(&format!(
        "trigger:       {} by {} on {}\n",
        r.trigger, r.requested_by, r.host
    ));
    out.push_str(&format!(
        "business date: {} (fiscal year {}){}\n",
        r.business_date,
        r.fiscal_year,
        if r.business_date_given {
            ", given by the operator (--business-date), not the clock's"
        } else {
            ""
        }
    ));
    if let Some(why) = &r.outside_window {
        out.push_str(&format!("outside window: allowed ({why})\n"));
    }
    out.push_str(&format!(
        "started:       {}\nended:         {}\n",
        time(r.started_at),
        time(r.ended_at)
    ));
    if let Some(obj) = r.params.as_object().filter(|o| !o.is_empty()) {
        out.push_str("params:\n");
        for (k, v) in obj {
            out.push_str(&format!("  {k} = {}\n", v.as_str().unwrap_or_default()));
        }
    }
    out.push('\n');
    out.push_str(&super::run::summary_table(&d));
    for s in d.steps.iter().filter(|s| s.reason.is_some()) {
        out.push_str(&format!(
            "  {}: {}\n",
            s.name,
            s.reason.as_deref().unwrap_or_default()
        ));
        if let Some(at) = s.retry_at {
            out.push_str(&format!(
                "  {}: next attempt at {}\n",
                s.name,
                super::local_time(settings, at)
            ));
        }
    }
    // Steps handed over to other nodes (`runs_on`): where each ran, or what it waits for.
    let placed = |a: &crate::store::AttemptRow| {
        a.command
            .get("node")
            .and_then(|n| n.as_str())
            .map(str::to_owned)
            .or_else(|| {
                let labels: Vec<&str> = a
                    .command
                    .get("runs_on")?
                    .as_array()?
                    .iter()
                    .filter_map(|l| l.as_str())
                    .collect();
                Some(if a.status == crate::store::AttemptStatus::Running {
                    format!("(waiting for a node labelled {})", labels.join(", "))
                } else {
                    format!("(no node labelled {} took it)", labels.join(", "))
                })
            })
    };
    let nodes = d.attempts.iter().any(|a| placed(a).is_some());
    for a in d
        .attempts
        .iter()
        .filter(|a| a.status == crate::store::AttemptStatus::Running)
    {
        if let Some(p) = placed(a).filter(|p| p.starts_with('(')) {
            out.push_str(&format!("  {}: {}\n", a.step, p.trim_matches(['(', ')'])));
        }
    }
    out.push_str("\nattempts:\n");
    let mut head = vec!["STEP", "#", "STATUS", "STARTED", "DURATION", "PID", "LOG"];
    if nodes {
        head.insert(5, "NODE");
    }
    let mut t = Table::new(&head);
    for a in &d.attempts {
        let mut row = vec![
            a.step.clone(),
            a.attempt.to_string(),
            a.status.to_string(),
            super::local_time(settings, a.started_at),
            engine::elapsed(Some(a.started_at), a.ended_at).map_or("-".to_owned(), format_duration),
            a.pid.map_or("-".to_owned(), |p| p.to_string()),
            if a.log_bytes > 0 {
                a.log_path.clone()
            } else {
                "(no output)".to_owned()
            },
        ];
        if nodes {
            row.insert(5, placed(a).unwrap_or_else(|| "-".to_owned()));
        }
        t.row(row);
    }
    out.push_str(&t.render());
    for a in d.attempts.iter().filter(|a| {
        a.error.is_some()
            || a.rule.is_some()
            || (!a.stderr_tail.is_empty() && a.exit_code != Some(0))
    }) {
        out.push_str(&format!("\n{} attempt {}:\n", a.step, a.attempt));
        if let Some(e) = &a.error {
            out.push_str(&format!("  error: {e}\n"));
        }
        if let Some(rule) = &a.rule {
            out.push_str(&format!("  runbook rule: {rule}\n"));
            out.push_str(&format!(
                "  done:         {}\n",
                a.action.as_deref().unwrap_or("-")
            ));
        }
        if let Some(rem) = &a.remediation {
            out.push_str(&format!(
                "  remediation:  {}\n",
                rem["result"].as_str().unwrap_or("-")
            ));
        }
        if !a.stderr_tail.is_empty() {
            out.push_str("  stderr (last lines):\n");
            for line in a
                .stderr_tail
                .lines()
                .rev()
                .take(10)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
            {
                out.push_str(&format!("    {line}\n"));
            }
        }
    }
    if !findings.is_empty() {
        // Lateness, stuck steps and slowdowns, each with its evidence (see `monitor`).
        out.push_str("\nfindings:\n");
        for f in &findings {
            out.push_str(&format!(
                "  {}  {}  {}{}\n",
                f.kind,
                super::local_time(settings, f.at),
                f.detail,
                f.incident_id
                    .map_or(String::new(), |i| format!(" (incident {i})"))
            ));
        }
    }
    super::out(&out);
    Ok(())
}
