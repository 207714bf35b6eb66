//! `unyo extracts`: the data extracts `unyo act extract` wrote, newest first: when, from
//! which run and job, how many rows, the file and its SHA-256.

use super::table::Table;
use crate::error::Error;
use crate::model::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// At most this many (the most recent).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..))]
    pub limit: i64,
    /// Print JSON (one array) instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(settings: &Settings, args: Args) -> Result<(), Error> {
    let store = super::open_reader(settings).await?;
    let rows = store.list_extracts(args.limit).await?;
    if args.json {
        let text = serde_json::to_string_pretty(&rows).unwrap_or_default();
        super::out(&format!("{text}\n"));
        return Ok(());
    }
    if rows.is_empty() {
        super::out("no extracts recorded\n");
        return Ok(());
    }
    let mut t = Table::new(&[
        "ID", "TIME", "RUN", "JOB", "ROWS", "ENCODING", "USER", "SHA256", "FILE",
    ]);
    for r in rows {
        t.row(vec![
            r.id.to_string(),
            super::local_time(settings, r.at),
            r.run_id.map(|i| i.to_string()).unwrap_or_default(),
            r.job.unwrap_or_default(),
            r.rows.to_string(),
            r.encoding,
            r.user,
            r.sha256,
            r.out_file,
        ]);
    }
    super::out(&t.render());
    Ok(())
}
