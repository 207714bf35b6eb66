//! Health checks' results and targets, and the figures monitors read, in PostgreSQL.

#![allow(unused_variables)]

use super::*;

impl CheckStore for PgStore {
    fn record_check(&self, result: &NewCheckResult) -> Pending<CheckRecorded> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "record_check on PostgreSQL".to_owned(),
            ))
        })
    }

    fn targets(&self) -> Pending<Vec<TargetRow>> {
        Box::pin(async { Err(StoreError::Unsupported("targets on PostgreSQL".to_owned())) })
    }

    fn target_changes(&self, to: DateTime<Utc>) -> Pending<Vec<TargetChange>> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "target_changes on PostgreSQL".to_owned(),
            ))
        })
    }

    fn target_recovered(
        &self,
        job: &str,
        target: &str,
        run_id: Option<i64>,
        at: DateTime<Utc>,
    ) -> Pending<Vec<i64>> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "target_recovered on PostgreSQL".to_owned(),
            ))
        })
    }

    fn metric_facts(&self) -> Pending<MetricFacts> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "metric_facts on PostgreSQL".to_owned(),
            ))
        })
    }

    fn runs_since(&self, from_id: i64, limit: i64) -> Pending<RunsSince> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "runs_since on PostgreSQL".to_owned(),
            ))
        })
    }

    fn slots_not_run(&self, after_id: i64) -> Pending<SlotsSince> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "slots_not_run on PostgreSQL".to_owned(),
            ))
        })
    }

    fn missed_since(&self, since: DateTime<Utc>) -> Pending<Vec<(String, i64)>> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "missed_since on PostgreSQL".to_owned(),
            ))
        })
    }
}
