//! `unyo desk`: the service desk's requests from the city's staff (依頼, 相談, 問合せ,
//! 障害連絡): open one, list, show with its history, triage, assign, escalate, link to runs
//! and incidents, mark as needing the city's consultation, close with a result. What a
//! change does is decided in `domain::desk`; every change is an event of the request and an
//! entry of the audit trail (refusals included), recorded with the operating-system user.
//! All of it works with no daemon running.

use chrono::{DateTime, NaiveDate, Utc};

use super::table::Table;
use crate::domain::desk::{self, Category, DeskChange, Link, RequestStatus};
use crate::error::Error;
use crate::model::Settings;
use crate::store::{NewRequest, RequestFilter, RequestRow, Store};

fn category(s: &str) -> Result<Category, String> {
    s.parse()
}

fn status(s: &str) -> Result<RequestStatus, String> {
    s.parse()
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Record a request: who asked, their department, how it came in, its category, what
    /// they asked. Its answer is due after its category's deadline (`desk.deadlines`).
    Open {
        /// Who asked (a name as the city writes it).
        #[arg(long)]
        requester: String,
        /// The requester's department, by its code or its title when unyo.yaml lists the
        /// departments (`departments:`); an unknown one is refused.
        #[arg(long)]
        department: String,
        /// How the request came in: phone, mail, counter, form ...
        #[arg(long, default_value = "phone")]
        channel: String,
        /// request (依頼), consultation (相談), inquiry (問合せ) or fault (障害連絡).
        #[arg(long, value_parser = category)]
        category: Category,
        /// What was asked.
        text: String,
    },
    /// List requests: not closed first (`!` marks one past its answer deadline and not
    /// answered), oldest first; `--all` adds the closed ones.
    List {
        /// Closed requests too.
        #[arg(long)]
        all: bool,
        /// Only requests in this state (open, triaged, assigned, escalated, closed).
        #[arg(long, value_parser = status)]
        status: Option<RequestStatus>,
        /// Only requests of this category.
        #[arg(long, value_parser = category)]
        category: Option<Category>,
        /// Only requests of this department (its code or its title).
        #[arg(long)]
        department: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..))]
        limit: i64,
        /// Print JSON (one array) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One request with its history and the runs and incidents linked to it.
    Show {
        id: i64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Classify a request and give its first answer: `--category` corrects the category
    /// (its deadline is computed again from the opening), `--note` is what the requester was
    /// told. The first triage answers the request.
    Triage {
        id: i64,
        #[arg(long, value_parser = category)]
        category: Option<Category>,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Give a request to someone.
    Assign {
        id: i64,
        #[arg(long)]
        to: String,
    },
    /// Hand a request up (a team, a vendor, the city), with why.
    Escalate {
        id: i64,
        #[arg(long)]
        to: String,
        #[arg(long)]
        reason: String,
    },
    /// Link a request to a run or an incident it caused or that serves it (a run belongs to
    /// one request).
    Link {
        id: i64,
        #[arg(
            long,
            conflicts_with = "incident",
            required_unless_present = "incident"
        )]
        run: Option<i64>,
        #[arg(long)]
        incident: Option<i64>,
    },
    /// Mark a request as needing the city's consultation: its estimated cost (yen) or effort
    /// (hours of work) is over `desk.consultation`'s threshold; refused when neither is.
    Consult {
        id: i64,
        /// Estimated cost in yen.
        #[arg(long)]
        cost: Option<u64>,
        /// Estimated effort in hours of work.
        #[arg(long)]
        effort: Option<u64>,
        /// What the consultation is about.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Close a request with its result (it goes into the report). A closed request cannot
    /// be changed; open a new one.
    Close {
        id: i64,
        #[arg(long)]
        result: String,
    },
}

/// Whether `date` is a business day of the city's calendar (weekends, Japanese public
/// holidays, 29 December – 3 January closed), which answer deadlines count in.
fn city_business_day(date: NaiveDate) -> bool {
    use crate::model::{Calendar, DayRule, HolidaySet};
    use chrono::Weekday;
    let city = Calendar {
        name: "city".to_owned(),
        weekends: vec![Weekday::Sat, Weekday::Sun],
        holidays: HolidaySet::Japan,
        closed: vec![DayRule::Yearly {
            from: (12, 29),
            to: (1, 3),
        }],
        open: Vec::new(),
    };
    city.is_business_day(date)
}

/// When a request of `category` opened at `opened` is due.
fn due(settings: &Settings, category: Category, opened: DateTime<Utc>) -> DateTime<Utc> {
    desk::due_at(
        opened,
        settings.desk.deadline(category),
        settings.timezone,
        &city_business_day,
    )
}

/// Whether a request is past its due time and not answered.
pub fn overdue(r: &RequestRow, now: DateTime<Utc>) -> bool {
    desk::overdue(r.answered_at, r.due_at, now)
}

/// The code of the department an operator named (by code or title): refused when unyo.yaml
/// lists the departments and this is none of them, since a misspelt one would be counted
/// apart in the report for good.
fn department_code(settings: &Settings, what: &str, name: &str) -> Result<String, Error> {
    settings
        .departments
        .resolve(name)
        .map_err(|m| Error::Request(format!("{what}: {m}")))
}

fn not_empty(what: &str, text: &str) -> Result<(), Error> {
    if text.trim().is_empty() {
        return Err(Error::Request(format!("{what} must not be empty")));
    }
    Ok(())
}

pub async fn run(settings: &Settings, cmd: Command) -> Result<(), Error> {
    match cmd {
        Command::List {
            all,
            status,
            category,
            department,
            limit,
            json,
        } => {
            let department = department
                .map(|d| department_code(settings, "--department", &d))
                .transpose()?;
            let filter = RequestFilter {
                all,
                status,
                category,
                department,
                limit,
            };
            let store = super::open_reader(settings).await?;
            list(settings, &*store, &filter, json).await
        }
        Command::Show { id, json } => {
            let store = super::open_reader(settings).await?;
            show(settings, &*store, id, json).await
        }
        Command::Open {
            requester,
            department,
            channel,
            category,
            text,
        } => {
            not_empty("--requester", &requester)?;
            not_empty("--department", &department)?;
            let department = department_code(settings, "--department", &department)?;
            not_empty("--channel", &channel)?;
            not_empty("the request's text", &text)?;
            let store = super::open_store(settings).await?;
            let user = crate::domain::host::os_user();
            let at = Utc::now();
            let request = NewRequest {
                at,
                opened_by: user,
                requester,
                department,
                channel,
                category,
                text,
                due_at: due(settings, category, at),
            };
            let id = store.open_request(&request).await?;
            let args = serde_json::json!({
                "requester": request.requester,
                "department": request.department,
                "channel": request.channel,
                "category": category.as_str(),
                "text": request.text,
            });
            let due_at = super::local_time(settings, request.due_at);
            super::audit::record(
                &*store,
                "desk.open",
                format!("request {id}"),
                args,
                Ok(format!("{category}, answer due {due_at}")),
            )
            .await?;
            super::out(&format!(
                "request {id} opened ({category}); answer due {due_at}\n"
            ));
            Ok(())
        }
        change => {
            let store = super::open_store(settings).await?;
            let (id, change, args) = desk_change(settings, &*store, change).await?;
            let user = crate::domain::host::os_user();
            let result = store.change_request(id, &change, &user, Utc::now()).await?;
            let outcome = match &result {
                Ok(row) => Ok(format!("now {}", row.status)),
                Err(why) => Err(why.to_string()),
            };
            super::audit::record(
                &*store,
                change.action(),
                format!("request {id}"),
                args,
                outcome,
            )
            .await?;
            match result {
                Ok(row) => {
                    super::out(&format!("request {} {} by {user}\n", row.id, row.status));
                    Ok(())
                }
                Err(why) => Err(Error::Request(why.to_string())),
            }
        }
    }
}

/// The change a command asks for, with its audit arguments; texts checked first.
async fn desk_change(
    settings: &Settings,
    store: &dyn Store,
    cmd: Command,
) -> Result<(i64, DeskChange, serde_json::Value), Error> {
    Ok(match cmd {
        Command::Triage { id, category, note } => {
            // The new category's deadline counts from the opening; an unknown request is
            // refused (and audited) by the change itself.
            let category = match category {
                Some(c) => match store.get_request(id).await? {
                    Some((r, _)) => Some((c, due(settings, c, r.opened_at))),
                    None => None,
                },
                None => None,
            };
            let args = serde_json::json!({
                "category": category.map(|(c, _)| c.as_str()),
                "note": note,
            });
            (id, DeskChange::Triage { category, note }, args)
        }
        Command::Assign { id, to } => {
            not_empty("--to", &to)?;
            let args = serde_json::json!({ "to": to });
            (id, DeskChange::Assign { to }, args)
        }
        Command::Escalate { id, to, reason } => {
            not_empty("--to", &to)?;
            not_empty("--reason", &reason)?;
            let args = serde_json::json!({ "to": to, "reason": reason });
            (id, DeskChange::Escalate { to, reason }, args)
        }
        Command::Link { id, run, incident } => {
            let (link, args) = match (run, incident) {
                (Some(r), _) => (Link::Run(r), serde_json::json!({ "run": r })),
                (None, Some(i)) => (Link::Incident(i), serde_json::json!({ "incident": i })),
                (None, None) => {
                    return Err(Error::Request("give --run N or --incident N".to_owned()));
                }
            };
            (id, DeskChange::Link(link), args)
        }
        Command::Consult {
            id,
            cost,
            effort,
            note,
        } => {
            let why = desk::consultation(cost, effort, settings.desk.consultation)
                .map_err(Error::Request)?;
            let reason = if note.trim().is_empty() {
                why
            } else {
                format!("{why}: {}", note.trim())
            };
            let args = serde_json::json!({ "cost": cost, "effort_hours": effort, "note": note });
            (id, DeskChange::Consult { reason }, args)
        }
        Command::Close { id, result } => {
            not_empty("--result", &result)?;
            let args = serde_json::json!({ "result": result });
            (id, DeskChange::Close { result }, args)
        }
        Command::Open { .. } | Command::List { .. } | Command::Show { .. } => {
            unreachable!("handled by run")
        }
    })
}

async fn list(
    settings: &Settings,
    store: &dyn Store,
    filter: &RequestFilter,
    json: bool,
) -> Result<(), Error> {
    let rows = store.list_requests(filter).await?;
    let now = Utc::now();
    if json {
        let items: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(r).unwrap_or_default();
                v["overdue"] = serde_json::Value::Bool(overdue(r, now));
                v
            })
            .collect();
        let text = serde_json::to_string_pretty(&items).unwrap_or_default();
        super::out(&format!("{text}\n"));
        return Ok(());
    }
    if rows.is_empty() {
        super::out("no requests recorded\n");
        return Ok(());
    }
    let time = |t: DateTime<Utc>| {
        t.with_timezone(&settings.timezone)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    };
    let mut t = Table::new(&[
        "ID",
        "OPENED",
        "CATEGORY",
        "STATUS",
        "DUE",
        "REQUESTER",
        "DEPARTMENT",
        "ASSIGNEE",
        "TEXT",
    ]);
    for r in &rows {
        let mut status = r.status.to_string();
        if overdue(r, now) {
            status.push('!');
        }
        if r.consultation.is_some() {
            status.push_str(" (consult)");
        }
        t.row(vec![
            r.id.to_string(),
            time(r.opened_at),
            r.category.to_string(),
            status,
            time(r.due_at),
            r.requester.clone(),
            r.department.clone(),
            r.assignee.clone().unwrap_or_else(|| "-".to_owned()),
            r.text.clone(),
        ]);
    }
    let mut text = t.render();
    if rows.iter().any(|r| overdue(r, now)) {
        text.push_str("! = past its answer deadline and not answered\n");
    }
    super::out(&text);
    Ok(())
}

async fn show(settings: &Settings, store: &dyn Store, id: i64, json: bool) -> Result<(), Error> {
    let Some((r, events)) = store.get_request(id).await? else {
        return Err(Error::Request(
            crate::store::no_such_request(id).to_string(),
        ));
    };
    let now = Utc::now();
    if json {
        super::out_with_events(&r, overdue(&r, now), &events);
        return Ok(());
    }
    let time = |t: DateTime<Utc>| super::local_time(settings, t);
    let mut out = format!(
        "request {}  {}  {}{}\n",
        r.id,
        r.category,
        r.status,
        if overdue(&r, now) {
            "  (answer overdue)"
        } else {
            ""
        }
    );
    let department = match settings.departments.title(&r.department) {
        Some(title) => format!("{} {title}", r.department),
        None => r.department.clone(),
    };
    out.push_str(&format!("requester:     {} ({department})\n", r.requester));
    out.push_str(&format!("channel:       {}\n", r.channel));
    out.push_str(&format!("text:          {}\n", r.text));
    out.push_str(&format!(
        "opened:        {} by {}\n",
        time(r.opened_at),
        r.opened_by
    ));
    out.push_str(&format!("answer due:    {}\n", time(r.due_at)));
    if let Some(a) = r.answered_at {
        let in_time = if a <= r.due_at { "in time" } else { "late" };
        out.push_str(&format!("answered:      {} ({in_time})\n", time(a)));
    }
    if let Some(a) = &r.assignee {
        out.push_str(&format!("assignee:      {a}\n"));
    }
    if let Some(e) = &r.escalated_to {
        out.push_str(&format!("escalated to:  {e}\n"));
    }
    if let Some(c) = &r.consultation {
        out.push_str(&format!("consultation:  {c}\n"));
    }
    if let (Some(at), Some(by)) = (r.closed_at, &r.closed_by) {
        out.push_str(&format!("closed:        {} by {by}\n", time(at)));
    }
    if let Some(res) = &r.result {
        out.push_str(&format!("result:        {res}\n"));
    }
    let runs: Vec<String> = events
        .iter()
        .filter_map(|e| e.run_id.map(|r| r.to_string()))
        .collect();
    let incidents: Vec<String> = events
        .iter()
        .filter_map(|e| e.incident_id.map(|i| i.to_string()))
        .collect();
    if !runs.is_empty() {
        out.push_str(&format!("runs:          {}\n", runs.join(", ")));
    }
    if !incidents.is_empty() {
        out.push_str(&format!("incidents:     {}\n", incidents.join(", ")));
    }
    out.push_str("\nhistory:\n");
    let mut t = Table::new(&["TIME", "EVENT", "BY", "TEXT"]);
    for e in &events {
        t.row(vec![
            time(e.at),
            e.kind.clone(),
            e.actor.clone(),
            e.text.clone(),
        ]);
    }
    out.push_str(&t.render());
    super::out(&out);
    Ok(())
}
