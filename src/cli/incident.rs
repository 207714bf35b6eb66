//! `unyo incidents` and `unyo incident show|ack|resolve`: the incidents unyo opened, and the
//! operator's side of their life. Every change records the operating-system user; all of it
//! works with no daemon running.

use chrono::{DateTime, Utc};

use super::table::Table;
use crate::error::Error;
use crate::model::Settings;
use crate::store::{IncidentChange, IncidentRow, IncidentStatus};

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only incidents in this state (open, acknowledged, resolved).
    #[arg(long, value_parser = |s: &str| s.parse::<IncidentStatus>())]
    pub status: Option<IncidentStatus>,
    /// At most this many incidents.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i64).range(1..))]
    pub limit: i64,
    /// Print JSON (one array) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// One incident with its history.
    Show {
        id: i64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Take an open incident on: escalation stops.
    ///
    /// The user and time are recorded. An incident acknowledged or resolved already is refused
    /// (exit 3). Its messages still pending for contact level 2 and up are withdrawn.
    Ack { id: i64 },
    /// Close an incident with its cause and countermeasure (both go into the reports).
    ///
    /// Both texts are required and must not be empty. Resolving an open incident records the same
    /// user and time as its acknowledgement. A resolved incident cannot be resolved again. Its
    /// pending messages are withdrawn.
    Resolve {
        id: i64,
        /// What caused the failure.
        #[arg(long)]
        cause: String,
        /// What was done, or will be done, so that it does not happen again.
        #[arg(long)]
        countermeasure: String,
    },
}

/// Whether an unresolved incident is past its report deadline.
pub fn overdue(i: &IncidentRow, now: DateTime<Utc>) -> bool {
    i.status != IncidentStatus::Resolved && i.report_deadline.is_some_and(|d| d < now)
}

pub async fn list(settings: &Settings, args: ListArgs) -> Result<(), Error> {
    let store = super::open_reader(settings).await?;
    let rows = store.list_incidents(args.status, args.limit).await?;
    let now = Utc::now();
    if args.json {
        let items: Vec<serde_json::Value> = rows
            .iter()
            .map(|i| {
                let mut v = serde_json::to_value(i).unwrap_or_default();
                v["overdue"] = serde_json::Value::Bool(overdue(i, now));
                v
            })
            .collect();
        let text = serde_json::to_string_pretty(&items).unwrap_or_default();
        super::out(&format!("{text}\n"));
        return Ok(());
    }
    if rows.is_empty() {
        super::out("no incidents recorded\n");
        return Ok(());
    }
    let mut t = Table::new(&[
        "ID", "OPENED", "SEVERITY", "STATUS", "JOB", "SEEN", "SUMMARY",
    ]);
    for i in &rows {
        let mut status = i.status.to_string();
        if overdue(i, now) {
            status.push('!');
        }
        t.row(vec![
            i.id.to_string(),
            i.opened_at
                .with_timezone(&settings.timezone)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            i.severity.to_string(),
            status,
            i.job.clone(),
            i.occurrences.to_string(),
            i.summary.clone(),
        ]);
    }
    let mut text = t.render();
    if rows.iter().any(|i| overdue(i, now)) {
        text.push_str("! = past its report deadline and not resolved\n");
    }
    super::out(&text);
    Ok(())
}

pub async fn run(settings: &Settings, cmd: Command) -> Result<(), Error> {
    if let Command::Show { id, json } = cmd {
        let store = super::open_reader(settings).await?;
        return show(settings, &*store, id, json).await;
    }
    let store = super::open_store(settings).await?;
    let user = crate::domain::host::os_user();
    let (id, change) = match cmd {
        Command::Show { .. } => return Ok(()),
        Command::Ack { id } => (id, IncidentChange::Acknowledge),
        Command::Resolve {
            id,
            cause,
            countermeasure,
        } => {
            if cause.trim().is_empty() || countermeasure.trim().is_empty() {
                return Err(Error::Request(
                    "--cause and --countermeasure must not be empty: they go into the report"
                        .to_owned(),
                ));
            }
            (
                id,
                IncidentChange::Resolve {
                    cause,
                    countermeasure,
                },
            )
        }
    };
    let (action, args) = match &change {
        IncidentChange::Acknowledge => ("incident.ack", serde_json::json!({})),
        IncidentChange::Resolve {
            cause,
            countermeasure,
        } => (
            "incident.resolve",
            serde_json::json!({ "cause": cause, "countermeasure": countermeasure }),
        ),
    };
    let result = store
        .change_incident(id, &change, &user, Utc::now())
        .await?;
    let outcome = match &result {
        Ok(row) => Ok(format!("now {}", row.status)),
        Err(why) => Err(why.to_string()),
    };
    super::audit::record(&*store, action, format!("incident {id}"), args, outcome).await?;
    match result {
        Ok(row) => {
            super::out(&format!("incident {} {} by {user}\n", row.id, row.status));
            Ok(())
        }
        Err(why) => Err(Error::Request(why.to_string())),
    }
}

async fn show(
    settings: &Settings,
    store: &dyn crate::store::Store,
    id: i64,
    json: bool,
) -> Result<(), Error> {
    let Some((i, events)) = store.get_incident(id).await? else {
        return Err(Error::Request(
            crate::store::no_such_incident(id).to_string(),
        ));
    };
    let now = Utc::now();
    if json {
        super::out_with_events(&i, overdue(&i, now), &events);
        return Ok(());
    }
    let time = |t: DateTime<Utc>| super::local_time(settings, t);
    let mut out = format!(
        "incident {}  {}  {}{}\n",
        i.id,
        i.severity,
        i.status,
        if overdue(&i, now) {
            "  (report overdue)"
        } else {
            ""
        }
    );
    out.push_str(&format!("summary:        {}\n", i.summary));
    out.push_str(&format!("job:            {}", i.job));
    if let Some(r) = i.run_id {
        out.push_str(&format!("  run {r}"));
    }
    if let Some(s) = &i.step {
        out.push_str(&format!("  step `{s}`"));
    }
    out.push('\n');
    out.push_str(&format!("failure class:  {}\n", i.failure_class));
    if let Some(r) = &i.rule {
        out.push_str(&format!("runbook rule:   {r}\n"));
    }
    out.push_str(&format!(
        "opened:         {}  (seen {} time{}, last {})\n",
        time(i.opened_at),
        i.occurrences,
        if i.occurrences == 1 { "" } else { "s" },
        time(i.last_seen_at)
    ));
    if let Some(d) = i.report_deadline {
        out.push_str(&format!("report due:     {}\n", time(d)));
    }
    if let (Some(by), Some(at)) = (&i.acknowledged_by, i.acknowledged_at) {
        out.push_str(&format!("acknowledged:   {} by {by}\n", time(at)));
    }
    if let (Some(by), Some(at)) = (&i.resolved_by, i.resolved_at) {
        out.push_str(&format!("resolved:       {} by {by}\n", time(at)));
    }
    if let Some(c) = &i.cause {
        out.push_str(&format!("cause:          {c}\n"));
    }
    if let Some(c) = &i.countermeasure {
        out.push_str(&format!("countermeasure: {c}\n"));
    }
    if !i.log_excerpt.is_empty() {
        out.push_str("log excerpt:\n");
        for line in i.log_excerpt.lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out.push_str("\nhistory:\n");
    let mut t = Table::new(&["TIME", "EVENT", "BY", "RUN", "TEXT"]);
    for e in &events {
        t.row(vec![
            time(e.at),
            e.kind.clone(),
            e.actor.clone(),
            e.run_id.map_or("-".to_owned(), |r| r.to_string()),
            e.text.clone(),
        ]);
    }
    out.push_str(&t.render());
    super::out(&out);
    Ok(())
}
