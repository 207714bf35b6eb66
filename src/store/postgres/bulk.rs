//! History written after the fact (synthetic history), in one transaction, in PostgreSQL.

#![allow(unused_variables)]

use super::*;
use crate::store::bulk::{HistoryStore, PastAttempt, PastRun, PastWriter};

impl HistoryStore for PgStore {
    fn write_history<T: Send + 'static>(
        &self,
        action: &'static str,
        write: impl FnOnce(&mut dyn PastWriter) -> Result<T, StoreError> + Send + 'static,
    ) -> Pending<T> {
        Box::pin(async { Err(StoreError::Unsupported("write_history on PostgreSQL".to_owned())) })
    }

    fn set_attempt_action(&self, attempt_id: i64, action: &str) -> Pending<()> {
        Box::pin(async { Err(StoreError::Unsupported("set_attempt_action on PostgreSQL".to_owned())) })
    }

    fn count_runs(&self) -> Pending<i64> {
        Box::pin(async { Err(StoreError::Unsupported("count_runs on PostgreSQL".to_owned())) })
    }

}
