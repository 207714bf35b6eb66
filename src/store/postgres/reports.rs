//! What the reports read, and frozen reports, in PostgreSQL.

#![allow(unused_variables)]

use super::*;

impl ReportStore for PgStore {
    fn freeze_report(&self, report: &NewFrozenReport) -> Pending<Freeze> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "freeze_report on PostgreSQL".to_owned(),
            ))
        })
    }

    fn frozen_report(&self, id: i64) -> Pending<Option<FrozenReport>> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "frozen_report on PostgreSQL".to_owned(),
            ))
        })
    }

    fn frozen_reports_by_hash(&self, sha256: &str) -> Pending<Vec<FrozenReport>> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "frozen_reports_by_hash on PostgreSQL".to_owned(),
            ))
        })
    }

    fn report_facts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        slot_jobs: &[String],
    ) -> Pending<ReportFacts> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "report_facts on PostgreSQL".to_owned(),
            ))
        })
    }
}
