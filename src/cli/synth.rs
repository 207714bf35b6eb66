//! `unyo synth-history` (hidden): fills the database with a synthetic month of history, for
//! developing and benchmarking the monthly report. Not for a real installation.

use crate::error::Error;
use crate::model::{Database, Settings};
use crate::synth::{Spec, SynthError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The month to generate, YYYY-MM (times in the configured time zone).
    #[arg(long, value_name = "YYYY-MM")]
    pub month: String,
    /// Exactly this many runs (the shipped jobs' month needs about 1,700; the rest go to
    /// generated `batch-NNN` jobs).
    #[arg(long, value_name = "N")]
    pub runs: u64,
    /// Seed of the generator: the same month, runs and seed give the same rows.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
}

pub async fn run(settings: &Settings, args: Args) -> Result<(), Error> {
    let month = parse_month(&args.month).ok_or_else(|| {
        Error::Request(format!(
            "--month: `{}` is not a month (YYYY-MM)",
            args.month
        ))
    })?;
    let Database::Sqlite(path) = &settings.database else {
        return Err(Error::Request(
            "synth-history writes only into a SQLite database (set `database: sqlite:PATH`)"
                .to_owned(),
        ));
    };
    let mut spec = Spec::new(month, args.runs, args.seed);
    spec.timezone = settings.timezone;
    spec.day_start = settings.day_start;
    spec.fiscal_year_start = settings.fiscal_year_start;
    spec.root = settings.root.clone();
    spec.data_dir = settings.data_dir.clone();
    spec.log_dir = settings.log_dir.clone();
    let s = crate::synth::generate(path, &spec)
        .await
        .map_err(|e| match e {
            SynthError::Store(e) => Error::Store(e),
            other => Error::Request(other.to_string()),
        })?;
    super::out(&format!(
        "{}: {} runs, {} steps, {} attempts, {} slots, {} incidents in {:.2} s ({})\n",
        args.month,
        s.runs,
        s.steps,
        s.attempts,
        s.slots,
        s.incidents,
        s.seconds,
        path.display()
    ));
    Ok(())
}

fn parse_month(text: &str) -> Option<(i32, u32)> {
    let (y, m) = text.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let (y, m) = (y.parse().ok()?, m.parse().ok()?);
    (1..=12).contains(&m).then_some((y, m))
}
