//! `unyo proposals`: the improvement proposals (改善提案) the records show for a month, each
//! with its kind, subject, evidence and the suggested action (`crate::report::proposals`,
//! decided by `domain::proposals`); and the proposals of a report, read the same way.

use crate::error::Error;
use crate::model::{Catalog, Settings};
use crate::report::{self, Period, Report};
use crate::store::{ReportFacts, Store};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The month, `YYYY-MM` (default: the month now is in, in the configured time zone; the
    /// proposals look back over `proposals.months` months ending with it).
    #[arg(long, value_name = "YYYY-MM")]
    pub month: Option<String>,
    /// Print the proposals as JSON, each with its figures and the records behind them.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(settings: &Settings, args: Args) -> Result<(), Error> {
    let (tz, day_start) = (settings.timezone, settings.day_start);
    let now = chrono::Utc::now();
    let period = match &args.month {
        Some(m) => {
            Period::parse(m, tz, day_start).map_err(|e| Error::Request(format!("--month: {e}")))?
        }
        None => Period::previous_of(now, tz, day_start)
            .and_then(|p| p.next(tz, day_start))
            .ok_or_else(|| Error::Request("no current month".to_owned()))?,
    };
    let catalog = Catalog::load(settings)?;
    let store = super::open_reader(settings).await?;
    let (mut report, facts) =
        report::compute_with_facts(&*store, &period, &catalog, settings, now).await?;
    add(&*store, &mut report, &period, &facts, &catalog, settings).await?;
    if args.json {
        let list: Vec<_> = report
            .proposals
            .iter()
            .map(|p| {
                serde_json::json!({
                    "kind": p.kind,
                    "subject": p.subject,
                    "evidence": p.evidence_en,
                    "action": p.action_en,
                    "detail": p.detail,
                })
            })
            .collect();
        let text = serde_json::to_string_pretty(&list).unwrap_or_default();
        super::out(&format!("{text}\n"));
        return Ok(());
    }
    let mut text = format!(
        "improvement proposals of {} (looking back over {} months)\n",
        period.label(),
        report::proposals::span(&period, settings).months.len()
    );
    if report.proposals.is_empty() {
        text.push_str("none\n");
        super::out(&text);
        return Ok(());
    }
    // The evidence and the action are long: the last column, wrapped on a terminal.
    let mut table = super::table::Table::new(&["#", "KIND", "SUBJECT", "EVIDENCE; ACTION"]);
    for (i, p) in report.proposals.iter().enumerate() {
        table.row(vec![
            (i + 1).to_string(),
            p.kind.clone(),
            p.subject_en.clone(),
            format!("{} Proposed: {}", p.evidence_en, p.action_en),
        ]);
    }
    text.push_str(&table.render());
    super::out(&text);
    Ok(())
}

/// Adds the proposals of `period` to `report` (built from `facts`, the period's own), from
/// the records of the months looked back over.
pub(super) async fn add(
    store: &dyn Store,
    report: &mut Report,
    period: &Period,
    facts: &ReportFacts,
    catalog: &Catalog,
    settings: &Settings,
) -> Result<(), Error> {
    let span = report::proposals::span(period, settings);
    let from = report::proposals::lookback_from(&span);
    let lookback = store.report_facts(from, period.to, &[]).await?;
    let extra = store.proposal_facts(from, period.to).await?;
    let changes = store.target_changes(period.to).await?;
    report::proposals::add(
        report, &span, &lookback, &extra, &changes, facts, catalog, settings,
    );
    Ok(())
}
