//! Incidents and their history, in PostgreSQL.

#![allow(unused_variables)]

use super::*;

impl IncidentStore for PgStore {
    fn open_incident(&self, n: &NewIncident) -> Pending<IncidentOpened> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "open_incident on PostgreSQL".to_owned(),
            ))
        })
    }

    fn list_incidents(
        &self,
        status: Option<IncidentStatus>,
        limit: i64,
    ) -> Pending<Vec<IncidentRow>> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "list_incidents on PostgreSQL".to_owned(),
            ))
        })
    }

    fn get_incident(&self, id: i64) -> Pending<Option<(IncidentRow, Vec<IncidentEvent>)>> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "get_incident on PostgreSQL".to_owned(),
            ))
        })
    }

    fn change_incident(
        &self,
        id: i64,
        change: &IncidentChange,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Pending<Result<IncidentRow, IncidentRefusal>> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "change_incident on PostgreSQL".to_owned(),
            ))
        })
    }

    fn job_recovered(
        &self,
        job: &str,
        run_id: i64,
        at: DateTime<Utc>,
        resolve: bool,
    ) -> Pending<Vec<i64>> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "job_recovered on PostgreSQL".to_owned(),
            ))
        })
    }
}
