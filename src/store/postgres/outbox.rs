//! The notification outbox in PostgreSQL: what the notifier has to do, the messages it
//! plans for incidents and approval gates, and each delivery try.
//!
//! Messages are added only while what they are about still needs them, decided in the
//! statement that locks it (the incident's row; the gate's row and its step's), so that an
//! acknowledgement, a decision or a step's end in another process either comes first and
//! is seen, or comes after and withdraws what was added.

use super::incidents::incident_row;
use super::*;

pub(super) fn notification_row(row: &PgRow) -> Result<NotificationRow, StoreError> {
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

fn waiting_gate(r: &PgRow) -> Result<WaitingGate, StoreError> {
    Ok(WaitingGate {
        run_id: col(r, "run_id")?,
        step: col(r, "step")?,
        job: col(r, "job")?,
        requested_at: time(r, "requested_at")?,
        timeout_at: opt_time(r, "timeout_at")?,
        announced_at: opt_time(r, "announced_at")?,
        reminded_at: opt_time(r, "reminded_at")?,
    })
}

impl Outbox for PgStore {
    fn notification_work(&self, now: DateTime<Utc>, limit: i64) -> Pending<NotificationWork> {
        self.read("reading what to notify", move |pg| {
            let unrouted = pg.fetch_all(
                q("SELECT * FROM incidents WHERE route IS NULL ORDER BY id LIMIT $1").bind(limit),
            )?;
            let recurred = pg.fetch_all(
                q("SELECT e.id AS event_id, i.* FROM incident_events e \
                   JOIN incidents i ON i.id = e.incident_id \
                   WHERE e.kind = 'occurrence' AND NOT e.notified AND i.route IS NOT NULL \
                   ORDER BY e.id LIMIT $1")
                .bind(limit),
            )?;
            let escalations = pg.fetch_all(
                q(
                    "SELECT * FROM incidents WHERE status = 'open' AND next_escalation_at <= $1 \
                     ORDER BY next_escalation_at, id LIMIT $2",
                )
                .bind(now)
                .bind(limit),
            )?;
            let gates = pg.fetch_all(
                q(
                    "SELECT g.run_id, g.step, r.job, g.requested_at, g.timeout_at, \
                     g.announced_at, g.reminded_at FROM gates g \
                     JOIN steps s ON s.run_id = g.run_id AND s.name = g.step \
                     JOIN runs r ON r.id = g.run_id \
                     WHERE g.decision IS NULL AND s.status = 'waiting_approval' \
                     AND (g.announced_at IS NULL \
                          OR (g.reminded_at IS NULL AND g.timeout_at IS NOT NULL)) \
                     ORDER BY g.requested_at, g.run_id, g.step LIMIT $1",
                )
                .bind(limit),
            )?;
            Ok(NotificationWork {
                unrouted: map_all(unrouted, incident_row)?,
                recurred: map_all(recurred, |r| Ok((col(r, "event_id")?, incident_row(r)?)))?,
                escalations: map_all(escalations, incident_row)?,
                gates: map_all(gates, waiting_gate)?,
            })
        })
    }

    fn plan_notifications(&self, plan: &NotificationPlan) -> Pending<bool> {
        let p = plan.clone();
        self.write("writing notifications", move |pg| {
            // One statement decides and locks: an acknowledgement in another process either
            // committed before it (then `only_if_open` writes nothing) or waits for this
            // transaction and withdraws the messages added here.
            let changed = pg.execute(
                q("UPDATE incidents SET route = $1, escalation_level = $2, \
                   next_escalation_at = $3 WHERE id = $4 AND (NOT $5 OR status = 'open')")
                .bind(p.route.clone())
                .bind(p.level)
                .bind(p.next_escalation_at)
                .bind(p.incident_id)
                .bind(p.only_if_open),
            )?;
            if let Some(e) = p.event_id {
                pg.execute(q("UPDATE incident_events SET notified = TRUE WHERE id = $1").bind(e))?;
            }
            if changed == 0 {
                return Ok(false);
            }
            for m in &p.messages {
                pg.execute(
                    q(
                        "INSERT INTO notifications (incident_id, event, route, level, channel, \
                         created_at, status, next_attempt_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $6)",
                    )
                    .bind(p.incident_id)
                    .bind(m.event.clone())
                    .bind(p.route.clone())
                    .bind(m.level)
                    .bind(m.channel.clone())
                    .bind(p.at),
                )?;
            }
            Ok(true)
        })
    }

    fn plan_gate_notice(&self, notice: &GateNotice) -> Pending<bool> {
        let n = notice.clone();
        self.write("writing an approval notice", move |pg| {
            // The gate's row, then its step's, locked while still waiting: a decision or the
            // step's end in another process either committed before (nothing is written) or
            // waits for this transaction and withdraws the notices added here.
            let waiting = pg.fetch_optional(
                q("SELECT 1 AS waiting FROM gates g \
                   JOIN steps s ON s.run_id = g.run_id AND s.name = g.step \
                   WHERE g.run_id = $1 AND g.step = $2 AND g.decision IS NULL \
                   AND s.status = 'waiting_approval' \
                   FOR UPDATE OF g FOR SHARE OF s")
                .bind(n.run_id)
                .bind(n.step.clone()),
            )?;
            if waiting.is_none() {
                return Ok(false);
            }
            pg.execute(
                q("UPDATE gates SET \
                   announced_at = CASE WHEN $1 THEN COALESCE(announced_at, $3) \
                                  ELSE announced_at END, \
                   reminded_at = CASE WHEN $2 THEN COALESCE(reminded_at, $3) \
                                 ELSE reminded_at END \
                   WHERE run_id = $4 AND step = $5")
                .bind(n.announce)
                .bind(n.remind)
                .bind(n.at)
                .bind(n.run_id)
                .bind(n.step.clone()),
            )?;
            for m in &n.messages {
                pg.execute(
                    q(
                        "INSERT INTO notifications (run_id, step, event, route, level, channel, \
                         created_at, status, next_attempt_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $7)",
                    )
                    .bind(n.run_id)
                    .bind(n.step.clone())
                    .bind(m.event.clone())
                    .bind(n.route.clone())
                    .bind(m.level)
                    .bind(m.channel.clone())
                    .bind(n.at),
                )?;
            }
            Ok(true)
        })
    }

    fn due_notifications(&self, now: DateTime<Utc>, limit: i64) -> Pending<Vec<NotificationRow>> {
        self.read("reading notifications due", move |pg| {
            let rows = pg.fetch_all(
                q("SELECT * FROM notifications WHERE status = 'pending' AND next_attempt_at <= $1 \
                   ORDER BY next_attempt_at, id LIMIT $2")
                .bind(now)
                .bind(limit),
            )?;
            map_all(rows, notification_row)
        })
    }

    fn notification_tried(
        &self,
        id: i64,
        result: Delivery,
        at: DateTime<Utc>,
        retry_at: Option<DateTime<Utc>>,
    ) -> Pending<()> {
        self.write("recording a delivery", move |pg| {
            match result {
                Delivery::Sent(receipt) => pg.execute(
                    q(
                        "UPDATE notifications SET status = 'sent', attempts = attempts + 1, \
                       receipt = $1, sent_at = $2, last_error = NULL WHERE id = $3",
                    )
                    .bind(receipt)
                    .bind(at)
                    .bind(id),
                )?,
                // A message withdrawn meanwhile stays withdrawn, never tried again.
                Delivery::Failed(why) => pg.execute(
                    q(
                        "UPDATE notifications SET attempts = attempts + 1, last_error = $1, \
                       status = CASE WHEN status = 'withdrawn' THEN status \
                       WHEN $2::timestamptz IS NULL THEN 'failed' ELSE 'pending' END, \
                       next_attempt_at = COALESCE($2, next_attempt_at) WHERE id = $3",
                    )
                    .bind(why)
                    .bind(retry_at)
                    .bind(id),
                )?,
            };
            Ok(())
        })
    }

    fn list_notifications(&self, failed: bool, limit: i64) -> Pending<Vec<NotificationRow>> {
        self.read("listing notifications", move |pg| {
            let rows = pg.fetch_all(
                q(
                    "SELECT * FROM notifications WHERE (NOT $1 OR status = 'failed') \
                     ORDER BY id DESC LIMIT $2",
                )
                .bind(failed)
                .bind(limit),
            )?;
            map_all(rows, notification_row)
        })
    }
}
