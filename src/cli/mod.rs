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
mod completions;
mod demo;
mod extracts;
mod hold;
mod import;
pub(crate) mod incident;
pub mod log_time;
mod logs;
mod next;
mod notifications;
mod params;
mod permissions;
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
    Daemon,
    /// Check every definition file and report all problems at once.
    Validate,
    /// Print the business date of now (`YYYY-MM-DD`, in the configured time zone, after
    /// `day_start`), as runs started now get it: `cat var/reports/disk-$(unyo business-date).txt`.
    BusinessDate,
    /// List the days of a year in a calendar: business or closed, and why.
    Calendar(calendar::Args),
    /// Run a job now, in the foreground, and record every step.
    Run(run::Args),
    /// List recorded runs, newest first.
    Runs(runs::Args),
    /// Show one run: its steps, attempts, timings and exit codes.
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
    Submit(submit::Args),
    /// Approve a waiting approval step of a run.
    Approve(approve::ApproveArgs),
    /// Reject a waiting approval step of a run (the step and the run fail).
    Reject(approve::RejectArgs),
    /// Run an ended run again (`--from-failed`: keep the steps that succeeded).
    Rerun(rerun::Args),
    /// Pause a job's schedules: its slots are recorded `held` and start nothing.
    Hold(hold::HoldArgs),
    /// Resume a held job's schedules.
    Release(hold::ReleaseArgs),
    /// How operations stand: the daemon, running and waiting runs, open incidents, next slots.
    Status(status::Args),
    /// Cancel a run: a queued one at once, a running one within a second (its steps' process
    /// groups are stopped).
    Cancel(cancel::Args),
    /// List the operator actions on record (oldest first).
    Audit(audit::Args),
    /// List incidents, newest first (`!` marks one past its report deadline).
    Incidents(incident::ListArgs),
    /// Show, acknowledge or resolve one incident.
    #[command(subcommand)]
    Incident(incident::Command),
    /// List the notifications sent about incidents (`--failed`: those never delivered).
    Notifications(notifications::Args),
    /// List the coming slots of the schedules, with what the calendar and windows make of
    /// each.
    Next(next::Args),
    /// List what became of each slot of the schedules, newest first.
    Slots(slots::Args),
    /// Turn definitions written in another format (a crontab) into jobs and schedules.
    Import(import::Args),
    /// List the data extracts `unyo act extract` wrote, newest first.
    Extracts(extracts::Args),
    /// Reports for the client: `report monthly`.
    #[command(subcommand)]
    Report(report::Command),
    /// Built-in actions that jobs call as steps: backup, restore, maintenance, param-set,
    /// extract, permissions.
    #[command(subcommand)]
    Act(act::Command),
    /// Parameter changes made by `unyo act param-set`: history, rollback.
    #[command(subcommand)]
    Params(params::Command),
    /// Grants and revokes made by `unyo act permissions` (HR transfers): history.
    #[command(subcommand)]
    Permissions(permissions::Command),
    /// The demo environment the shipped jobs work on.
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
    match cli.command {
        Command::Daemon => crate::daemon::run(settings).await,
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
        Command::Hold(args) => hold::hold(&settings, args).await,
        Command::Rerun(args) => rerun::run(&settings, args).await,
        Command::Submit(args) => submit::run(&settings, args).await,
        Command::Approve(args) => approve::approve(&settings, args).await,
        Command::Reject(args) => approve::reject(&settings, args).await,
        Command::Release(args) => hold::release(&settings, args).await,
        Command::Completions(_) | Command::Man | Command::Act(_) => Ok(()),
        Command::Notifications(args) => notifications::run(&settings, args).await,
        Command::Incident(cmd) => incident::run(&settings, cmd).await,
        Command::Slots(args) => slots::run(&settings, args).await,
        Command::Import(args) => import::run(&settings, args),
        Command::Demo(cmd) => demo::run(&settings, cmd),
        Command::Params(cmd) => params::run(&settings, cmd).await,
        Command::Extracts(args) => extracts::run(&settings, args).await,
        Command::Report(cmd) => report::run(&settings, cmd).await,
        Command::Permissions(cmd) => permissions::run(&settings, cmd).await,
        Command::SynthHistory(args) => synth::run(&settings, args).await,
    }
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
