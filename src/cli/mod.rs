//! The operator's command line: argument definitions and dispatch, one file per command.
//! Commands print for people on stdout (tables, summaries), progress and errors on stderr,
//! and `--json` where a listing is read by programs.

mod act;
mod approve;
mod audit;
mod auth;
mod business_date;
mod calendar;
mod cancel;
mod check;
mod completions;
mod db;
mod demo;
pub(crate) mod desk;
mod extracts;
mod hold;
mod hosts;
mod import;
pub(crate) mod incident;
pub mod log;
pub mod log_time;
mod logs;
pub mod malloc;
mod next;
mod nodes;
mod notifications;
mod params;
mod permissions;
mod proposals;
mod report;
mod rerun;
mod run;
mod runs;
mod show;
mod slots;
mod status;
mod submit;
mod synth;
mod table;
mod validate;
mod web;

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::error::Error;
use crate::model::Settings;

/// unyo (運用): batch job scheduler and operations runner.
#[derive(Debug, Parser)]
#[command(name = "unyo", version, about, max_term_width = 100)]
pub struct Cli {
    /// Folder holding unyo.yaml, jobs/, runbooks/ and schedules/.
    #[arg(
        long,
        global = true,
        env = "UNYO_ROOT",
        default_value = ".",
        value_name = "DIR"
    )]
    pub root: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the scheduler in the foreground: fire schedules, start queued runs, recover
    /// interrupted ones. Stops on SIGTERM or SIGINT; SIGHUP reloads the definitions.
    ///
    /// It runs the definitions of the root until it is stopped. Each schedule's slots are decided
    /// when they fall due and recorded with their outcome (started, shifted, queued, waiting for a
    /// window, skipped, missed, held); a slot is never lost or decided twice across a restart or a
    /// `kill -9`. Queued runs start within half a second. Runs left `running` by a unyo process
    /// that died are recovered at start and every 30 s. One daemon runs on a database: a second one
    /// exits 3.
    ///
    /// On SIGTERM or SIGINT running runs get `shutdown_grace` (30 s) to finish; then their steps
    /// are stopped and the runs recorded `interrupted`. A second signal ends the grace at once. On
    /// SIGHUP a valid set of definitions replaces the old one whole; an invalid one is refused and
    /// the daemon goes on with the old. `UNYO_LOG=info` logs every run it starts and ends.
    ///
    /// Guide: docs/guide/daemon.md.
    Daemon,
    /// Check every definition file and report all problems at once.
    ///
    /// Unknown and duplicate keys, wrong types, bad durations and cron expressions, a `needs`
    /// naming no step, dependency cycles, unknown runbooks, calendars, windows or jobs, secrets in
    /// command lines: each is reported with file:line:column and a "did you mean" hint where one
    /// fits. Exit 2 when there is any. Nothing runs and the database is not opened.
    ///
    /// Reference: docs/reference/definitions.md.
    Validate,
    /// Print the business date of now (`YYYY-MM-DD`, in the configured time zone, after
    /// `day_start`), as runs started now get it: `cat var/reports/disk-$(unyo business-date).txt`.
    BusinessDate,
    /// List the days of a year in a calendar: business or closed, and why.
    ///
    /// An `open` date is always a business day. Any other day is closed by a `closed` rule, then by
    /// a Japanese public holiday (computed by unyo for 1970–2099, with 振替休日 and 国民の休日), then by a
    /// weekend day; the first reason is shown. The listing ends with the year's counts.
    ///
    /// Reference: docs/reference/schedules.md.
    Calendar(calendar::Args),
    /// Run a job now, in the foreground, and record every step.
    ///
    /// The run starts at once, whatever the job's window, `after` jobs or schedules say. Parameters
    /// (`-p NAME=VALUE`) are typed and checked before anything is recorded. Progress goes to
    /// stderr, a summary table to stdout. Ctrl-C or SIGTERM stops the run: every running step's
    /// process group gets SIGTERM, then SIGKILL after `kill_grace`, and the run is recorded
    /// `cancelled`.
    ///
    /// `--detach` queues the run for the daemon instead and prints its id. `--business-date` runs
    /// the job as on another date (a rehearsal); the date is recorded on the run and in the audit.
    /// Exit 0 when every step succeeded, 1 when the run failed or was cancelled, 5 when it ended
    /// `refused`.
    ///
    /// Reference: docs/reference/jobs.md.
    Run(run::Args),
    /// List recorded runs, newest first.
    Runs(runs::Args),
    /// Show one run: its steps, attempts, timings and exit codes.
    ///
    /// Under each failed attempt that a runbook rule matched: the rule, what was done (remediation,
    /// incident, retry, continue) and the remediation's result. `--json` has the whole record.
    ///
    /// Reference: docs/reference/runbooks.md.
    Show(show::Args),
    /// Print the output of a run's steps.
    Logs(logs::Args),
    /// Print a shell completion script: `unyo completions bash > /etc/bash_completion.d/unyo`.
    Completions(completions::Args),
    /// Print the manual page (roff): `unyo man > /usr/local/share/man/man1/unyo.1`.
    Man,
    /// Queue an ad-hoc run of a job marked `adhoc: true` (now, `--at` a time, or in a
    /// `--window`, by default the job's own), with typed parameters and the requester's
    /// `--reason`.
    ///
    /// Only a job that says `adhoc: true` may be submitted. Parameters are checked first; a refusal
    /// names the parameter and is audited. `--at` (`HH:MM` is the next time the clock shows it) or
    /// `--window` defers the run. A job with `window:` (or `avoid:`) starts no earlier than its
    /// window lets it, and the command says when the run will really start. `--outside-window`
    /// (urgent; needs `--reason`) lets it start outside the window, recorded on the run and in the
    /// audit.
    ///
    /// `--reason` (the requester, the ticket) stays with the run and reaches its steps as
    /// `{{reason}}` and `UNYO_REASON`. A secret parameter cannot be submitted: the job reads it
    /// with `from_env`. It works with the daemon stopped; the daemon starts the run when it comes.
    /// `--wait` follows the run and exits 0 when it succeeded, 1 otherwise.
    ///
    /// Guide: docs/guide/operating.md.
    Submit(submit::Args),
    /// Approve a waiting approval step of a run.
    ///
    /// The run goes on within a second. Who decided, and the comment, are recorded with the step.
    /// With `separate_approver: true` the operator who started the run cannot approve it. A
    /// decision taken while the daemon is stopped is found when it starts.
    ///
    /// Guide: docs/guide/operating.md.
    Approve(approve::ApproveArgs),
    /// Reject a waiting approval step of a run (the step and the run fail).
    ///
    /// The steps that need it are skipped and no incident is opened: it was a decision. The reason
    /// is recorded with the step.
    Reject(approve::RejectArgs),
    /// Run an ended run again (`--from-failed`: keep the steps that succeeded).
    ///
    /// The new run (trigger `rerun`, linked by `rerun_of`) has the same parameters and business
    /// date; the daemon starts it. `--from-failed` keeps the steps that succeeded (recorded
    /// `succeeded`, "kept from run N") and runs the failed step and everything after it. A run that
    /// was given a secret parameter cannot be rerun: give it again to `unyo run`.
    Rerun(rerun::Args),
    /// Pause a job's schedules: its slots are recorded `held` and start nothing.
    ///
    /// Each slot is recorded `held` with who held the job and why, until `unyo release JOB`. Queued
    /// runs and `unyo run` are not affected.
    Hold(hold::HoldArgs),
    /// Resume a held job's schedules.
    Release(hold::ReleaseArgs),
    /// How operations stand: the daemon, running and waiting runs, open incidents, next slots.
    ///
    /// The daemon is alive when its heartbeat (every 10 s, in the database) is recent; otherwise
    /// NOT RUNNING (last seen …). Then: running runs with the steps waiting to retry, queued runs
    /// with why they wait (window, `after:` jobs, not before a time), held jobs, open and
    /// acknowledged incidents (`!` past the report deadline), the runs of the last 24 hours that
    /// ended `refused` with their reasons, and the next slots. It reads the database only, so it
    /// works with the daemon stopped.
    Status(status::Args),
    /// The daemons sharing the database, one line a node: alive or not, last heartbeat,
    /// running runs, labels, and which node plans the schedules.
    ///
    /// A node is alive while it beats (every sixth of `node.timeout` in unyo.yaml, 30 s by
    /// default); SILENT once it has missed its heartbeats for longer; `declared dead` once
    /// another node fenced it (its runs were recovered, and it writes nothing more until it
    /// starts again); `stopped` after a clean stop. With SQLite there is one node.
    Nodes(nodes::Args),
    /// Print one line and exit with a Nagios code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)
    /// for monitors that call plugins: Zabbix, Nagios, JP1.
    ///
    /// CRITICAL when no daemon runs or its heartbeat is older than `--heartbeat-critical`, when
    /// an incident of severity high or critical is open (not acknowledged), or a health-check
    /// target is down. WARNING when the heartbeat is older than `--heartbeat-warning`, a slot
    /// was missed within `--missed-within`, or any other incident is unresolved. UNKNOWN when
    /// the records cannot be read. The line ends with performance data after `|`. Works with
    /// the daemon stopped (it reads the database only).
    ///
    /// Guide: docs/guide/monitoring.md.
    Check(check::Args),
    /// Cancel a run: a queued one at once, a running one within a second (its steps' process
    /// groups are stopped).
    ///
    /// For a running run the request goes into the database, and the process running it (the
    /// daemon, or `unyo run` in another terminal) stops its steps' process groups (SIGTERM, SIGKILL
    /// after `kill_grace`) and records `cancelled`; the command waits for that unless `--no-wait`.
    /// An operator's cancel opens no incident.
    Cancel(cancel::Args),
    /// List the operator actions on record (oldest first).
    ///
    /// The actions: `run`, `run.detach`, `submit`, `approve`, `reject`, `cancel`, `rerun`, `hold`,
    /// `release`, `incident.ack`, `incident.resolve`, `desk.open`, `desk.triage`, `desk.assign`,
    /// `desk.escalate`, `desk.link`, `desk.consult`, `desk.close`, `param.set`, `param.rollback`, `extract`,
    /// `permissions.apply`, `permissions.undo`, `report.freeze`, `db.copy`; each with its time,
    /// operating-system user, host, target, arguments and outcome, refusals included. The table is
    /// append-only: the database refuses to change or delete a row.
    Audit(audit::Args),
    /// List incidents, newest first (`!` marks one past its report deadline).
    ///
    /// An incident is opened when a runbook rule escalates a failed attempt, when a run fails after
    /// its runbook had its say, or when a run is interrupted. While one is unresolved, the same job
    /// failing the same way adds an occurrence (SEEN) to it instead. `unyo incident ack ID` takes
    /// one on; `unyo incident resolve ID --cause TEXT --countermeasure TEXT` closes it.
    ///
    /// Guide: docs/guide/incidents.md.
    Incidents(incident::ListArgs),
    /// Show, acknowledge or resolve one incident.
    #[command(subcommand)]
    Incident(incident::Command),
    /// The service desk: the city's requests (依頼 request, 相談 consultation, 問合せ inquiry,
    /// 障害連絡 fault), from opening to close.
    ///
    /// `desk open` records who asked, their department, the channel, the category and the text;
    /// its answer is due after the category's deadline (`desk.deadlines` in unyo.yaml: fault 1h,
    /// inquiry 1 business day, request 3, consultation 5 by default). `desk list` shows the
    /// requests not closed (`!` past the deadline and not answered); `desk show ID` one with its
    /// history. `triage` (the first answer), `assign`, `escalate`, `link --run N|--incident N`,
    /// `consult --cost YEN|--effort HOURS` (over `desk.consultation`'s thresholds) and `close
    /// --result TEXT` change it: each is an event of the request and an audit entry, refusals
    /// (exit 3) audited too. `unyo submit --request N` links the run it queues.
    ///
    /// Guide: docs/guide/service-desk.md.
    #[command(subcommand)]
    Desk(desk::Command),
    /// The dashboard's users: `web user add NAME --role city|viewer|operator|approver`, `web
    /// user list`, `web user remove NAME`, `web user password NAME`; and `web serve`, the
    /// dashboard served from the database without a daemon.
    ///
    /// A password is read from stdin (its first line) or asked twice on a terminal without
    /// echo, never given as an argument, and stored only as its argon2 hash. Removing a user
    /// or setting their password ends their sessions. Every change is audited
    /// (`web.user.add`, `web.user.remove`, `web.user.password`). Guide: docs/guide/dashboard.md.
    #[command(subcommand)]
    Web(web::Command),
    /// The servers steps reach through `ssh` (`hosts:` in unyo.yaml): list them, or check
    /// that each answers as a step's connection would.
    ///
    /// A step with `host: NAME` runs on that server through the system `ssh`, with unyo's own
    /// known-hosts file holding the pinned `host_key`, `BatchMode=yes`, a shared connection per
    /// host and keepalives. `unyo hosts check` tells a refused connection, a failed
    /// authentication and a changed host key apart, as a step's record does.
    ///
    /// Guide: docs/guide/remote-steps.md.
    #[command(subcommand)]
    Hosts(hosts::Command),
    /// List the notifications sent about incidents (`--failed`: those never delivered).
    ///
    /// Every message is written to the outbox in the database first, then delivered by the daemon,
    /// retried, and its outcome recorded. Each line: what it is about (an incident `#3`, or a
    /// waiting approval `run 12 attend`), the event, the route and contact level (`desk/1`), the
    /// channel, the status (pending, sent, failed, withdrawn), the tries, and the receipt, the last
    /// error or why it was withdrawn.
    ///
    /// Guide: docs/guide/notifications.md.
    Notifications(notifications::Args),
    /// List the coming slots of the schedules, with what the calendar and windows make of
    /// each.
    ///
    /// It reads only the definitions. Each coming slot is `run`, `moved` (to the time in DUE),
    /// `skipped` or `waits` (for its window), with the reason. It knows nothing of the runs of the
    /// moment, so overlap and misfire decisions are not foreseen. The range is from now (or
    /// `--from`) to 7 days later (or `--to`), in the configured time zone.
    ///
    /// Reference: docs/reference/schedules.md.
    Next(next::Args),
    /// List what became of each slot of the schedules, newest first.
    ///
    /// Every slot the daemon decided has a row, also when nothing ran: started, shifted, queued,
    /// waiting_window, skipped_closed_day, skipped_overlap, skipped_window, missed or held, with
    /// the reason and the run it made.
    ///
    /// Guide: docs/guide/daemon.md.
    Slots(slots::Args),
    /// Turn definitions written in another format (a crontab) into jobs and schedules.
    Import(import::Args),
    /// List the data extracts `unyo act extract` wrote, newest first.
    ///
    /// Each with its run, the file, its row count (the header not counted) and SHA-256, the
    /// encoding, columns and parameters, the user and the group.
    ///
    /// Guide: docs/guide/extracts.md.
    Extracts(extracts::Args),
    /// Reports for the client: `report monthly`.
    ///
    /// `report monthly` and `report yearly` compute every figure from the database and the
    /// definitions; `report verify FILE` checks a frozen report years later.
    ///
    /// Guide: docs/guide/reports.md.
    #[command(subcommand)]
    Report(report::Command),
    /// Improvement proposals (改善提案) drawn from the records of a month and the months
    /// before it, each with its evidence and the suggested action.
    ///
    /// Jobs getting slower month over month (the monthly medians of their successful runs, a
    /// fitted slope, and when the trend passes the job's deadline: `end_delay`,
    /// `max_runtime`, `sla:`, its window's end), incidents recurring with the same cause
    /// class (job, step and failure class), service levels at risk or met with a wide margin
    /// (a revision), health checks that flap, runbook rules that fire often (a candidate for
    /// a permanent fix) and disk or data growth against capacity (a hardware check's
    /// performance data). The thresholds are `proposals:` in unyo.yaml. The monthly and
    /// yearly reports carry the same proposals (改善提案).
    ///
    /// Guide: docs/guide/proposals.md.
    Proposals(proposals::Args),
    /// Built-in actions that jobs call as steps: backup, restore, maintenance, param-set,
    /// extract, permissions.
    ///
    /// A job calls them as ordinary `argv` steps: `argv: ["{{unyo}}", act, backup, ...]`
    /// (`{{unyo}}` is the running binary).
    ///
    /// Reference: docs/reference/actions.md.
    #[command(subcommand)]
    Act(act::Command),
    /// Parameter changes made by `unyo act param-set`: history, rollback.
    ///
    /// Guide: docs/guide/parameter-changes.md.
    #[command(subcommand)]
    Params(params::Command),
    /// Grants and revokes made by `unyo act permissions` (HR transfers): history.
    ///
    /// Guide: docs/guide/hr-transfers.md.
    #[command(subcommand)]
    Permissions(permissions::Command),
    /// The database itself: `db copy --to postgres://…` moves the installation's history from
    /// its SQLite file into a new PostgreSQL database.
    ///
    /// Guide: docs/guide/operating.md.
    #[command(subcommand)]
    Db(db::Command),
    /// The demo environment the shipped jobs work on.
    ///
    /// Guide: docs/guide/demo-city.md.
    #[command(subcommand)]
    Demo(demo::Command),
    /// Development and benchmark tool: fill a database without runs with a synthetic month
    /// of history (runs, slots, incidents, extracts, changes) for the monthly report's tests
    /// and benchmarks. Not for a real installation.
    #[command(hide = true)]
    SynthHistory(synth::Args),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<(), Error> {
    // Records and city data are never readable by others, whatever the caller's umask.
    crate::files::restrict_umask();
    // The daemon drives many runs at once and spawns their processes from two threads; a
    // command serves one request and is lighter on one.
    let runtime = match cli.command {
        Command::Daemon => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build(),
        _ => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    }
    .map_err(|source| Error::Io {
        action: "cannot start the async runtime".to_owned(),
        source,
    })?;
    runtime.block_on(dispatch(cli))
}

/// The commands that run steps work in the root (an absolute path: nothing they read is
/// relative to where the operator stood): a step with no `workdir` runs there, and a process
/// started in unyo's own working directory is started with the run's prepared environment,
/// without copying unyo's for each process (`exec::Environment`).
fn enter_root(settings: &Settings) -> Result<(), Error> {
    crate::exec::work_in(&settings.root).map_err(|source| Error::Io {
        action: format!("cannot work in the root `{}`", settings.root.display()),
        source,
    })
}

async fn dispatch(cli: Cli) -> Result<(), Error> {
    // These need no settings: they work anywhere.
    match cli.command {
        Command::Completions(args) => return completions::completions(args),
        Command::Man => return completions::man(),
        Command::Act(cmd) => return act::run(cmd, &cli.root).await,
        _ => {}
    }
    let settings = Settings::load(&cli.root)?;
    protect(&settings)?;
    log_time::set_zone(settings.timezone);
    if matches!(cli.command, Command::Daemon | Command::Run(_)) {
        enter_root(&settings)?;
    }
    match cli.command {
        Command::Daemon => {
            let starting = crate::daemon::begin(settings)?;
            if starting.settings().demo {
                demo::ensure_environment(starting.settings()).await;
            }
            starting.run(crate::domain::clock::system()).await
        }
        Command::Validate => validate::run(&settings),
        Command::Calendar(args) => calendar::run(&settings, args),
        Command::BusinessDate => business_date::run(&settings),
        Command::Run(args) => run::run(&settings, args).await,
        Command::Runs(args) => runs::run(&settings, args).await,
        Command::Show(args) => show::run(&settings, args).await,
        Command::Logs(args) => logs::run(&settings, args).await,
        Command::Next(args) => next::run(&settings, args),
        Command::Incidents(args) => incident::list(&settings, args).await,
        Command::Audit(args) => audit::run(&settings, args).await,
        Command::Cancel(args) => cancel::run(&settings, args).await,
        Command::Status(args) => status::run(&settings, args).await,
        Command::Nodes(args) => nodes::run(&settings, args).await,
        Command::Check(args) => check::run(&settings, args).await,
        Command::Hold(args) => hold::hold(&settings, args).await,
        Command::Rerun(args) => rerun::run(&settings, args).await,
        Command::Submit(args) => submit::run(&settings, args).await,
        Command::Approve(args) => approve::approve(&settings, args).await,
        Command::Reject(args) => approve::reject(&settings, args).await,
        Command::Release(args) => hold::release(&settings, args).await,
        Command::Completions(_) | Command::Man | Command::Act(_) => Ok(()),
        Command::Notifications(args) => notifications::run(&settings, args).await,
        Command::Incident(cmd) => incident::run(&settings, cmd).await,
        Command::Desk(cmd) => desk::run(&settings, cmd).await,
        Command::Web(cmd) => web::run(&settings, cmd).await,
        Command::Hosts(cmd) => hosts::run(&settings, cmd).await,
        Command::Slots(args) => slots::run(&settings, args).await,
        Command::Import(args) => import::run(&settings, args),
        Command::Db(cmd) => db::run(&settings, cmd).await,
        Command::Demo(cmd) => demo::run(&settings, cmd),
        Command::Params(cmd) => params::run(&settings, cmd).await,
        Command::Extracts(args) => extracts::run(&settings, args).await,
        Command::Report(cmd) => report::run(&settings, cmd).await,
        Command::Proposals(args) => proposals::run(&settings, args).await,
        Command::Permissions(cmd) => permissions::run(&settings, cmd).await,
        Command::SynthHistory(args) => synth::run(&settings, args).await,
    }
}

/// Prints a record (an incident, a request) as `show --json` does: its fields, whether it is
/// overdue, and its events.
fn out_with_events(record: &impl serde::Serialize, overdue: bool, events: &impl serde::Serialize) {
    let mut v = serde_json::to_value(record).unwrap_or_default();
    v["overdue"] = serde_json::Value::Bool(overdue);
    v["events"] = serde_json::to_value(events).unwrap_or_default();
    let text = serde_json::to_string_pretty(&v).unwrap_or_default();
    out(&format!("{text}\n"));
}

/// Writes to stdout; a closed pipe (`unyo runs | head`) ends the process quietly.
pub(crate) fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(4);
    }
}

/// Opens the database for a command.
pub(crate) async fn open_store(
    settings: &Settings,
) -> Result<std::sync::Arc<dyn crate::store::Store>, Error> {
    let store = std::sync::Arc::from(crate::store::open(settings).await?);
    protect(settings)?;
    Ok(store)
}

/// The data folder, the log folder and the database files: nothing for others, and the
/// settings' group with the set-group-id bit on the folders (see `files`). Files made before
/// (a database created under a 022 mask) are closed to others the next time unyo runs.
pub(crate) fn protect(settings: &Settings) -> Result<(), Error> {
    let gid = settings.group.as_ref().map(|(_, gid)| *gid);
    let mut paths = vec![settings.data_dir.clone(), settings.log_dir.clone()];
    if let crate::model::Database::Sqlite(db) = &settings.database {
        paths.extend(db.parent().map(std::path::Path::to_path_buf));
        paths.extend(crate::files::database_files(db));
    }
    for p in paths {
        crate::files::protect(&p, gid).map_err(|e| Error::Io {
            action: format!("cannot make {} private", e.path.display()),
            source: e.source,
        })?;
    }
    Ok(())
}

/// Opens the database for a command that only reads: read-only where it can, so that
/// reading works on a full disk.
pub(crate) async fn open_reader(
    settings: &Settings,
) -> Result<std::sync::Arc<dyn crate::store::Store>, Error> {
    Ok(std::sync::Arc::from(
        crate::store::open_read(settings).await?,
    ))
}

/// A time in the configured zone, for tables.
pub(crate) fn local_time(settings: &Settings, t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&settings.timezone)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}
