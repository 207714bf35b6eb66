//! `unyo report monthly`: the month's job results, service levels, incidents, ad-hoc requests,
//! changes and next month's plan, computed from the database and the definitions
//! (`crate::report`), written to stdout or `--out`.

use std::path::PathBuf;

use crate::error::Error;
use crate::model::{Catalog, Settings};
use crate::report::render::{Format, Lang};
use crate::report::{self, Period};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The monthly job-result and SLA report (月次運用報告書).
    Monthly(MonthlyArgs),
}

#[derive(Debug, clap::Args)]
pub struct MonthlyArgs {
    /// The month, `YYYY-MM` (default: the previous month in the configured time zone).
    #[arg(long, value_name = "YYYY-MM")]
    pub month: Option<String>,
    /// The report's language.
    #[arg(long, value_enum, default_value = "ja")]
    pub lang: Lang,
    /// The report's form.
    #[arg(long, value_enum, default_value = "md")]
    pub format: Format,
    /// Write the report to this file (default: standard output).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

pub async fn run(settings: &Settings, cmd: Command) -> Result<(), Error> {
    match cmd {
        Command::Monthly(args) => monthly(settings, args).await,
    }
}

async fn monthly(settings: &Settings, args: MonthlyArgs) -> Result<(), Error> {
    let (tz, day_start) = (settings.timezone, settings.day_start);
    let period = match &args.month {
        Some(m) => {
            Period::parse(m, tz, day_start).map_err(|e| Error::Request(format!("--month: {e}")))?
        }
        None => Period::previous_of(chrono::Utc::now(), tz, day_start)
            .ok_or_else(|| Error::Request("no previous month".to_owned()))?,
    };
    let catalog = Catalog::load(settings)?;
    let store = super::open_store(settings).await?;
    let facts = store.report_facts(period.from, period.to).await?;
    let previous = match period.previous(tz, day_start) {
        Some(p) => store.report_facts(p.from, p.to).await?,
        None => Default::default(),
    };
    let report = report::monthly(&period, &facts, &previous, &catalog, settings);
    let text = report::render::monthly(&report, args.lang, args.format)
        .map_err(|e| Error::Request(e.to_string()))?;
    match &args.out {
        Some(path) => std::fs::write(path, text).map_err(|source| Error::Io {
            action: format!("write {}", path.display()),
            source,
        })?,
        None => super::out(&text),
    }
    Ok(())
}
