//! The operator's command line: argument definitions and dispatch, one file per command.
//! Commands print for people on stdout (tables, summaries), progress and errors on stderr,
//! and `--json` where a listing is read by programs.

mod import;
mod logs;
mod run;
mod runs;
mod show;
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
    /// Check every definition file and report all problems at once.
    Validate,
    /// Run a job now, in the foreground, and record every step.
    Run(run::Args),
    /// List recorded runs, newest first.
    Runs(runs::Args),
    /// Show one run: its steps, attempts, timings and exit codes.
    Show(show::Args),
    /// Print the output of a run's steps.
    Logs(logs::Args),
    /// Turn definitions written in another format (a crontab) into jobs and schedules.
    Import(import::Args),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            action: "cannot start the async runtime".to_owned(),
            source,
        })?;
    runtime.block_on(dispatch(cli))
}

async fn dispatch(cli: Cli) -> Result<(), Error> {
    let settings = Settings::load(&cli.root)?;
    match cli.command {
        Command::Validate => validate::run(&settings),
        Command::Run(args) => run::run(&settings, args).await,
        Command::Runs(args) => runs::run(&settings, args).await,
        Command::Show(args) => show::run(&settings, args).await,
        Command::Logs(args) => logs::run(&settings, args).await,
        Command::Import(args) => import::run(&settings, args),
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
    Ok(std::sync::Arc::from(crate::store::open(settings).await?))
}

/// A time in the configured zone, for tables.
pub(crate) fn local_time(settings: &Settings, t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&settings.timezone)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}
