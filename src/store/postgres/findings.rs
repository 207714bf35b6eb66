//! Monitoring findings, slot due times and recent durations, in PostgreSQL.

#![allow(unused_variables)]

use super::*;

impl MonitorStore for PgStore {
    fn slot_due_at(&self, run_id: i64) -> Pending<Option<DateTime<Utc>>> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "slot_due_at on PostgreSQL".to_owned(),
            ))
        })
    }

    fn recent_durations(&self, job: &str, before: i64, limit: i64) -> Pending<Vec<DurationSample>> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "recent_durations on PostgreSQL".to_owned(),
            ))
        })
    }

    fn record_finding(&self, f: &NewFinding) -> Pending<bool> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "record_finding on PostgreSQL".to_owned(),
            ))
        })
    }

    fn set_finding_incident(&self, run_id: i64, kind: &str, incident_id: i64) -> Pending<()> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "set_finding_incident on PostgreSQL".to_owned(),
            ))
        })
    }

    fn run_findings(&self, run_id: i64) -> Pending<Vec<FindingRow>> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "run_findings on PostgreSQL".to_owned(),
            ))
        })
    }

    fn list_findings(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Pending<Vec<FindingRow>> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "list_findings on PostgreSQL".to_owned(),
            ))
        })
    }
}
