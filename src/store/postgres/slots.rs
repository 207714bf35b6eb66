//! Schedule slots, watermarks and the daemons that decide them, in PostgreSQL.

#![allow(unused_variables)]

use super::*;

impl SlotStore for PgStore {
    fn record_slots(
        &self,
        slots: &[NewSlot],
        watermarks: &[(String, DateTime<Utc>)],
    ) -> Pending<Vec<Option<i64>>> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "record_slots on PostgreSQL".to_owned(),
            ))
        })
    }

    fn watermarks(&self) -> Pending<Vec<(String, DateTime<Utc>)>> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "watermarks on PostgreSQL".to_owned(),
            ))
        })
    }

    fn list_slots(&self, schedule: Option<&str>, limit: i64) -> Pending<Vec<SlotRow>> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "list_slots on PostgreSQL".to_owned(),
            ))
        })
    }

    fn register_daemon(
        &self,
        host: &str,
        pid: u32,
        version: &str,
        at: DateTime<Utc>,
    ) -> Pending<i64> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "register_daemon on PostgreSQL".to_owned(),
            ))
        })
    }

    fn heartbeat(&self, daemon_id: i64, at: DateTime<Utc>, stopped: bool) -> Pending<()> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "heartbeat on PostgreSQL".to_owned(),
            ))
        })
    }

    fn daemons(&self, limit: i64) -> Pending<Vec<DaemonRow>> {
        Box::pin(async { Err(StoreError::Unsupported("daemons on PostgreSQL".to_owned())) })
    }
}
