//! `unyo slots`: what became of each slot of the schedules, newest first; works with no
//! daemon running.

use super::table::Table;
use crate::error::Error;
use crate::model::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only slots of this schedule (its `name:`, else its job's name).
    #[arg(long)]
    pub schedule: Option<String>,
    /// At most this many slots.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i64).range(1..))]
    pub limit: i64,
    /// Print JSON (one array) instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(settings: &Settings, args: Args) -> Result<(), Error> {
    let store = super::open_reader(settings).await?;
    let slots = store
        .list_slots(args.schedule.as_deref(), args.limit)
        .await?;
    if args.json {
        let text = serde_json::to_string_pretty(&slots).unwrap_or_default();
        super::out(&format!("{text}\n"));
        return Ok(());
    }
    if slots.is_empty() {
        super::out("no slots recorded (the daemon records them as schedules fire)\n");
        return Ok(());
    }
    let mut t = Table::new(&["FIRE TIME", "SCHEDULE", "OUTCOME", "RUN", "REASON"]);
    for s in &slots {
        t.row(vec![
            super::local_time(settings, s.fire_time),
            s.schedule.clone(),
            s.outcome.to_string(),
            s.run_id.map_or("-".to_owned(), |r| r.to_string()),
            s.reason.clone().unwrap_or_default(),
        ]);
    }
    super::out(&t.render());
    Ok(())
}
