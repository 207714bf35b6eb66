//! The notification outbox, in PostgreSQL.

#![allow(unused_variables)]

use super::*;

impl Outbox for PgStore {
    fn notification_work(&self, now: DateTime<Utc>, limit: i64) -> Pending<NotificationWork> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "notification_work on PostgreSQL".to_owned(),
            ))
        })
    }

    fn plan_notifications(&self, plan: &NotificationPlan) -> Pending<bool> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "plan_notifications on PostgreSQL".to_owned(),
            ))
        })
    }

    fn plan_gate_notice(&self, notice: &GateNotice) -> Pending<bool> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "plan_gate_notice on PostgreSQL".to_owned(),
            ))
        })
    }

    fn due_notifications(&self, now: DateTime<Utc>, limit: i64) -> Pending<Vec<NotificationRow>> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "due_notifications on PostgreSQL".to_owned(),
            ))
        })
    }

    fn notification_tried(
        &self,
        id: i64,
        result: Delivery,
        at: DateTime<Utc>,
        retry_at: Option<DateTime<Utc>>,
    ) -> Pending<()> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "notification_tried on PostgreSQL".to_owned(),
            ))
        })
    }

    fn list_notifications(&self, failed: bool, limit: i64) -> Pending<Vec<NotificationRow>> {
        Box::pin(async {
            Err(StoreError::Unsupported(
                "list_notifications on PostgreSQL".to_owned(),
            ))
        })
    }
}
