//! The notification outbox in SQLite: what the notifier has to do, the messages it
//! plans for incidents and approval gates, and each delivery try.

use super::*;
use crate::store::Delivery;

pub(super) fn notification_row(row: &Row<'_>) -> Result<NotificationRow, StoreError> {
    Ok(NotificationRow {
        id: col(row, "id")?,
        incident_id: col(row, "incident_id")?,
        run_id: col(row, "run_id")?,
        step: col(row, "step")?,
        event: col(row, "event")?,
        route: col(row, "route")?,
        level: col(row, "level")?,
        channel: col(row, "channel")?,
        created_at: time(row, "created_at")?,
        status: token(row, "status")?,
        attempts: col(row, "attempts")?,
        next_attempt_at: time(row, "next_attempt_at")?,
        last_error: col(row, "last_error")?,
        receipt: col(row, "receipt")?,
        sent_at: opt_time(row, "sent_at")?,
        reason: col(row, "reason")?,
    })
}

impl Outbox for SqliteStore {
    fn notification_work(&self, now: DateTime<Utc>, limit: i64) -> Pending<NotificationWork> {
        self.read(move |c| {
            let unrouted = all(
                c,
                "reading incidents to notify",
                "SELECT * FROM incidents WHERE route IS NULL ORDER BY id LIMIT ?",
                [limit],
                incident_row,
            )?;
            let recurred = all(
                c,
                "reading occurrences to notify",
                "SELECT e.id AS event_id, i.* FROM incident_events e \
                 JOIN incidents i ON i.id = e.incident_id \
                 WHERE e.kind = 'occurrence' AND e.notified = 0 AND i.route IS NOT NULL \
                 ORDER BY e.id LIMIT ?",
                [limit],
                |r| Ok((col(r, "event_id")?, incident_row(r)?)),
            )?;
            let escalations = all(
                c,
                "reading escalations due",
                "SELECT * FROM incidents WHERE status = 'open' AND next_escalation_at <= ? \
                 ORDER BY next_escalation_at LIMIT ?",
                params![ts(now), limit],
                incident_row,
            )?;
            let gates = all(
                c,
                "reading approval gates waiting",
                "SELECT g.run_id, g.step, r.job, g.requested_at, g.timeout_at, g.announced_at, \
                 g.reminded_at FROM gates g \
                 JOIN steps s ON s.run_id = g.run_id AND s.name = g.step \
                 JOIN runs r ON r.id = g.run_id \
                 WHERE g.decision IS NULL AND s.status = 'waiting_approval' \
                 AND (g.announced_at IS NULL \
                      OR (g.reminded_at IS NULL AND g.timeout_at IS NOT NULL)) \
                 ORDER BY g.requested_at LIMIT ?",
                [limit],
                |r| {
                    Ok(WaitingGate {
                        run_id: col(r, "run_id")?,
                        step: col(r, "step")?,
                        job: col(r, "job")?,
                        requested_at: time(r, "requested_at")?,
                        timeout_at: opt_time(r, "timeout_at")?,
                        announced_at: opt_time(r, "announced_at")?,
                        reminded_at: opt_time(r, "reminded_at")?,
                    })
                },
            )?;
            Ok(NotificationWork {
                unrouted,
                recurred,
                escalations,
                gates,
            })
        })
    }

    fn plan_notifications(&self, plan: &NotificationPlan) -> Pending<bool> {
        let p = plan.clone();
        self.write("writing notifications", move |c| {
            let at = ts(p.at);
            let changed = c
                .prepare_cached(
                    "UPDATE incidents SET route = ?, escalation_level = ?, \
                     next_escalation_at = ? WHERE id = ? AND (NOT ? OR status = 'open')",
                )?
                .execute(params![
                    p.route,
                    p.level,
                    p.next_escalation_at.map(ts),
                    p.incident_id,
                    p.only_if_open
                ])?;
            if let Some(e) = p.event_id {
                c.prepare_cached("UPDATE incident_events SET notified = 1 WHERE id = ?")?
                    .execute([e])?;
            }
            if changed == 0 {
                return Ok(false);
            }
            let mut add = c.prepare_cached(
                "INSERT INTO notifications (incident_id, event, route, level, channel, \
                 created_at, status, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
            )?;
            for m in &p.messages {
                add.execute(params![
                    p.incident_id,
                    m.event,
                    p.route,
                    m.level,
                    m.channel,
                    at,
                    at
                ])?;
            }
            Ok(true)
        })
    }

    fn plan_gate_notice(&self, notice: &GateNotice) -> Pending<bool> {
        let n = notice.clone();
        self.write("writing an approval notice", move |c| {
            let at = ts(n.at);
            let changed = c
                .prepare_cached(
                    "UPDATE gates SET \
                     announced_at = CASE WHEN ? THEN COALESCE(announced_at, ?) ELSE announced_at END, \
                     reminded_at = CASE WHEN ? THEN COALESCE(reminded_at, ?) ELSE reminded_at END \
                     WHERE run_id = ? AND step = ? AND decision IS NULL \
                     AND EXISTS (SELECT 1 FROM steps s WHERE s.run_id = gates.run_id \
                                 AND s.name = gates.step AND s.status = 'waiting_approval')",
                )?
                .execute(params![n.announce, at, n.remind, at, n.run_id, n.step])?;
            if changed == 0 {
                return Ok(false);
            }
            let mut add = c.prepare_cached(
                "INSERT INTO notifications (run_id, step, event, route, level, channel, \
                 created_at, status, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
            )?;
            for m in &n.messages {
                add.execute(params![
                    n.run_id, n.step, m.event, n.route, m.level, m.channel, at, at
                ])?;
            }
            Ok(true)
        })
    }

    fn due_notifications(&self, now: DateTime<Utc>, limit: i64) -> Pending<Vec<NotificationRow>> {
        self.read(move |c| {
            all(
                c,
                "reading notifications due",
                "SELECT * FROM notifications WHERE status = 'pending' AND next_attempt_at <= ? \
                 ORDER BY next_attempt_at, id LIMIT ?",
                params![ts(now), limit],
                notification_row,
            )
        })
    }

    fn notification_tried(
        &self,
        id: i64,
        result: Delivery,
        at: DateTime<Utc>,
        retry_at: Option<DateTime<Utc>>,
    ) -> Pending<()> {
        self.write("recording a delivery", move |c| {
            let at = ts(at);
            match &result {
                Delivery::Sent(receipt) => c
                    .prepare_cached(
                        "UPDATE notifications SET status = 'sent', attempts = attempts + 1, \
                         receipt = ?, sent_at = ?, last_error = NULL WHERE id = ?",
                    )?
                    .execute(params![receipt, at, id])?,
                Delivery::Failed(why) => c
                    .prepare_cached(
                        // A message withdrawn meanwhile stays withdrawn, never tried again.
                        "UPDATE notifications SET attempts = attempts + 1, last_error = ?, \
                         status = CASE WHEN status = 'withdrawn' THEN status \
                         WHEN ? IS NULL THEN 'failed' ELSE 'pending' END, \
                         next_attempt_at = COALESCE(?, next_attempt_at) WHERE id = ?",
                    )?
                    .execute(params![why, retry_at.map(ts), retry_at.map(ts), id])?,
            };
            Ok(())
        })
    }

    fn list_notifications(&self, failed: bool, limit: i64) -> Pending<Vec<NotificationRow>> {
        self.read(move |c| {
            all(
                c,
                "listing notifications",
                "SELECT * FROM notifications WHERE (NOT ?1 OR status = 'failed') \
                 ORDER BY id DESC LIMIT ?2",
                params![failed, limit],
                notification_row,
            )
        })
    }
}
