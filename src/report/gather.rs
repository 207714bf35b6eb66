//! Reads what a report of a period needs from the store and computes it: the facts of the
//! period and of the one before (for the trends), the health checks and the service desk.
//! `unyo report` and the dashboard's city view both call this, so the city reads the very
//! figures the report prints.

use chrono::{DateTime, Utc};

use super::{Period, Report};
use crate::model::{Catalog, Settings};
use crate::store::{ReportFacts, Store, StoreError};

/// The jobs whose every slot a report looks at: the service's backup jobs, and the jobs
/// promising `complete_by` (a missed slot breaks it).
pub fn slot_jobs(settings: &Settings, catalog: &Catalog) -> Vec<String> {
    let mut slot_jobs: Vec<String> = settings
        .service
        .iter()
        .flat_map(|s| s.backups.iter().flat_map(|b| &b.jobs))
        .map(|j| j.value.clone())
        .chain(
            catalog
                .jobs
                .iter()
                .filter(|(_, j)| j.sla.as_ref().is_some_and(|s| s.complete_by.is_some()))
                .map(|(name, _)| name.clone()),
        )
        .collect();
    slot_jobs.sort();
    slot_jobs.dedup();
    slot_jobs
}

/// The report of `period` as of `now` (preliminary while the period runs).
pub async fn compute(
    store: &dyn Store,
    period: &Period,
    catalog: &Catalog,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Report, StoreError> {
    Ok(compute_with_facts(store, period, catalog, settings, now)
        .await?
        .0)
}

/// [`compute`], with the period's facts it was computed from (for what is added to it
/// later: the improvement proposals).
pub async fn compute_with_facts(
    store: &dyn Store,
    period: &Period,
    catalog: &Catalog,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<(Report, ReportFacts), StoreError> {
    let (tz, day_start) = (settings.timezone, settings.day_start);
    let facts = store
        .report_facts(period.from, period.to, &slot_jobs(settings, catalog))
        .await?;
    let previous = match period.previous(tz, day_start) {
        Some(p) => store.report_facts(p.from, p.to, &[]).await?,
        None => Default::default(),
    };
    let mut report = super::build(period, &facts, &previous, catalog, settings, now);
    let targets = store.targets().await?;
    if !targets.is_empty() {
        let changes = store.target_changes(period.to).await?;
        super::add_checks(&mut report, period, &targets, &changes, &facts, settings);
    }
    let desk = store.desk_facts(period.from, period.to).await?;
    super::add_desk(&mut report, period, &desk, settings, now);
    Ok((report, facts))
}
