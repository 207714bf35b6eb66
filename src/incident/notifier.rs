//! The notifier: the daemon's task that tells people about incidents.
//!
//! Each tick it routes new incidents (desk hours, emergency or after hours, per `notify:`),
//! writes their first level's messages to the outbox, adds messages for new occurrences and
//! for escalations that are due (an open incident nobody acknowledged in time goes to the
//! next level), and then tries every outbox message that is due, recording each try. A
//! failed try is retried with growing delays and given up after [`MAX_TRIES`].
//!
//! It runs in its own task and only ever waits on its own deliveries, so a dead webhook or
//! mail server slows down nothing but notifications. Every decision takes `now` from the
//! caller, so escalation is tested with an injected clock. Escalation state (the level
//! reached and when the next one is due) is in the database and survives a restart.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::model::{Catalog, Notify, Settings};
use crate::notify::{
    APPROVAL_REMINDER, APPROVAL_WAITING, ApprovalNote, Event, IncidentNote, Route, Templates, route,
};
use crate::store::Delivery;
use crate::store::{
    GateNotice, IncidentRow, NewNotification, NotificationPlan, NotificationRow, Store, StoreError,
    WaitingGate,
};

/// Tries before a message is given up (about an hour and a half of retrying).
pub const MAX_TRIES: i64 = 8;

/// An incident older than this when it is first routed (notifications were not configured,
/// or no daemon ran for a day) is recorded as routed without waking anyone.
const STALE: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// Messages tried at once.
const PARALLEL_DELIVERIES: usize = 8;

/// Delay before try number `tries + 1`: 30 s, doubling, at most 30 min.
pub fn retry_delay(tries: i64) -> Duration {
    let secs = 30u64.saturating_mul(1 << tries.clamp(0, 6));
    Duration::from_secs(secs.min(1800))
}

/// Tells people about incidents.
pub struct Notifier {
    settings: Settings,
    catalog: Arc<Catalog>,
    store: Arc<dyn Store>,
    templates: Option<Templates>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").finish_non_exhaustive()
    }
}

impl Notifier {
    pub fn new(settings: Settings, catalog: Arc<Catalog>, store: Arc<dyn Store>) -> Notifier {
        let templates = settings.notify.as_ref().map(Templates::new);
        Notifier {
            settings,
            catalog,
            store,
            templates,
        }
    }

    fn notify(&self) -> Option<&Notify> {
        self.settings.notify.as_ref()
    }

    /// The route an incident took (or takes, when it is routed now).
    fn route_of<'a>(&'a self, notify: &'a Notify, i: &IncidentRow) -> Route<'a> {
        let calendar = notify
            .desk_hours
            .calendar
            .as_ref()
            .and_then(|c| self.catalog.calendars.get(&c.value));
        let chosen = route(
            notify,
            calendar,
            i.severity,
            i.opened_at,
            self.settings.timezone,
        );
        match i.route.as_deref() {
            Some("desk") => Route {
                name: "desk",
                levels: &notify.desk,
                ..chosen
            },
            Some("emergency") => Route {
                name: "emergency",
                levels: &notify.emergency,
                ..chosen
            },
            Some("after_hours") => Route {
                name: "after_hours",
                levels: &notify.after_hours,
                ..chosen
            },
            _ => chosen,
        }
    }

    /// One pass at `now`: plan what is due, then try what is due. Returns how many messages
    /// were tried.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let Some(notify) = self.notify() else {
            return Ok(0);
        };
        let work = self.store.notification_work(now, 100).await?;
        for i in &work.unrouted {
            let r = self.route_of(notify, i);
            let next = r
                .due(1)
                .and_then(|d| chrono::Duration::from_std(d).ok())
                .map(|d| i.opened_at + d)
                .filter(|_| now - i.opened_at <= STALE);
            self.store
                .plan_notifications(&NotificationPlan {
                    incident_id: i.id,
                    route: r.name.to_owned(),
                    level: 1,
                    next_escalation_at: next,
                    event_id: None,
                    only_if_open: false,
                    messages: if now - i.opened_at > STALE {
                        Vec::new()
                    } else {
                        messages(&r, 0, Event::Opened)
                    },
                    at: now,
                })
                .await?;
        }
        for (event_id, i) in &work.recurred {
            let r = self.route_of(notify, i);
            let level = usize::try_from(i.escalation_level.max(1) - 1).unwrap_or(0);
            let messages = if i.status == crate::store::IncidentStatus::Resolved {
                Vec::new()
            } else {
                messages(&r, level, Event::Recurred)
            };
            self.store
                .plan_notifications(&NotificationPlan {
                    incident_id: i.id,
                    route: r.name.to_owned(),
                    level: i.escalation_level.max(1),
                    next_escalation_at: i.next_escalation_at,
                    event_id: Some(*event_id),
                    only_if_open: false,
                    messages,
                    at: now,
                })
                .await?;
        }
        for i in &work.escalations {
            let r = self.route_of(notify, i);
            // `escalation_level` is 1-based: the next level's index is that number.
            let index = usize::try_from(i.escalation_level.max(1)).unwrap_or(usize::MAX);
            let next = r
                .due(index + 1)
                .and_then(|d| chrono::Duration::from_std(d).ok())
                .map(|d| i.opened_at + d);
            let msgs = messages(&r, index, Event::Escalated);
            let level = if msgs.is_empty() {
                i.escalation_level
            } else {
                i.escalation_level + 1
            };
            let planned = self
                .store
                .plan_notifications(&NotificationPlan {
                    incident_id: i.id,
                    route: r.name.to_owned(),
                    level,
                    next_escalation_at: next.filter(|_| !msgs.is_empty()),
                    event_id: None,
                    only_if_open: true,
                    messages: msgs,
                    at: now,
                })
                .await?;
            if planned {
                tracing::warn!(
                    incident = i.id,
                    level,
                    "incident not acknowledged: escalated to level {level} of `{}`",
                    r.name
                );
            }
        }
        for g in &work.gates {
            self.gate_notice(notify, g, now).await?;
        }
        let due = self.store.due_notifications(now, 50).await?;
        let mut tried = 0;
        for batch in due.chunks(PARALLEL_DELIVERIES) {
            let results = futures_join(batch.iter().map(|n| self.deliver(notify, n, now))).await;
            for (n, result) in batch.iter().zip(results) {
                let retry_at = (result.is_err() && n.attempts + 1 < MAX_TRIES).then(|| {
                    now + chrono::Duration::from_std(retry_delay(n.attempts)).unwrap_or_default()
                });
                match &result {
                    Ok(receipt) => tracing::info!(
                        notification = n.id,
                        incident = n.incident_id,
                        run = n.run_id,
                        "sent to {}: {receipt}",
                        n.channel
                    ),
                    Err(why) if retry_at.is_some() => tracing::warn!(
                        notification = n.id,
                        incident = n.incident_id,
                        run = n.run_id,
                        "not delivered, will try again: {why}"
                    ),
                    Err(why) => tracing::error!(
                        notification = n.id,
                        incident = n.incident_id,
                        run = n.run_id,
                        "not delivered after {MAX_TRIES} tries, given up: {why}"
                    ),
                }
                let delivery = match result {
                    Ok(receipt) => Delivery::Sent(receipt),
                    Err(why) => Delivery::Failed(why),
                };
                self.store
                    .notification_tried(n.id, delivery, now, retry_at)
                    .await?;
                tried += 1;
            }
        }
        Ok(tried)
    }

    /// One try of one outbox message.
    async fn deliver(
        &self,
        notify: &Notify,
        n: &NotificationRow,
        now: DateTime<Utc>,
    ) -> Result<String, String> {
        let Some(channel) = notify.channel(&n.channel) else {
            return Err(format!(
                "channel `{}` is no longer configured under `notify.channels`",
                n.channel
            ));
        };
        let Some(templates) = &self.templates else {
            return Err("no `notify:` settings".to_owned());
        };
        let Some(incident_id) = n.incident_id else {
            return self.deliver_approval(channel, templates, n, now).await;
        };
        let (incident, _) = match self.store.get_incident(incident_id).await {
            Ok(Some(found)) => found,
            Ok(None) => return Err(format!("incident {incident_id} is not recorded")),
            Err(e) => return Err(e.to_string()),
        };
        let event = match n.event.as_str() {
            "escalated" => Event::Escalated,
            "recurred" => Event::Recurred,
            _ => Event::Opened,
        };
        let mut note = note(&self.settings, &incident, event, n.level, now);
        // Only a route with a level after this one has someone to tell next.
        let levels = self.route_of(notify, &incident).levels.len();
        note.next_level = u32::try_from(n.level)
            .ok()
            .filter(|l| usize::try_from(*l).is_ok_and(|l| l < levels))
            .map(|l| l + 1);
        let msg = templates.render(&note);
        crate::notify::deliver(channel, &msg, &note).await
    }

    /// Writes the notices of a waiting approval gate that are due: its first notice at once,
    /// and a reminder once [`REMIND_AT`] of its time to the timeout has passed. Both go to the
    /// first level of the `desk` route, at any hour: approvals are given at the desk, and a
    /// waiting gate is not a failure that wakes anyone.
    async fn gate_notice(
        &self,
        notify: &Notify,
        g: &WaitingGate,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let remind_at = g.timeout_at.map(|t| reminder_time(g.requested_at, t));
        let due_reminder = g.reminded_at.is_none()
            && remind_at.is_some_and(|r| now >= r)
            && g.timeout_at.is_some_and(|t| now < t);
        let (announce, remind, event) = if g.announced_at.is_none() {
            // Announced late (no daemon ran at the start of the wait) past the reminder time:
            // one notice, the reminder, says it all.
            if due_reminder {
                (true, true, APPROVAL_REMINDER)
            } else {
                (true, false, APPROVAL_WAITING)
            }
        } else if due_reminder {
            (false, true, APPROVAL_REMINDER)
        } else {
            return Ok(());
        };
        let messages = notify
            .desk
            .first()
            .map(|level| {
                level
                    .notify
                    .iter()
                    .map(|channel| NewNotification {
                        event: event.to_owned(),
                        level: 1,
                        channel: channel.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let planned = self
            .store
            .plan_gate_notice(&GateNotice {
                run_id: g.run_id,
                step: g.step.clone(),
                route: "desk".to_owned(),
                announce,
                remind,
                messages,
                at: now,
            })
            .await?;
        if planned {
            tracing::info!(
                run = g.run_id,
                step = %g.step,
                "approval of `{}` waiting: {} written to the outbox",
                g.job,
                if remind { "reminder" } else { "notice" }
            );
        }
        Ok(())
    }

    /// One try of a notice of an approval gate.
    async fn deliver_approval(
        &self,
        channel: &crate::model::Channel,
        templates: &Templates,
        n: &NotificationRow,
        now: DateTime<Utc>,
    ) -> Result<String, String> {
        let (Some(run_id), Some(step)) = (n.run_id, n.step.as_deref()) else {
            return Err("the message names neither an incident nor an approval step".to_owned());
        };
        let gate = match self.store.gate(run_id, step).await {
            Ok(Some(g)) => g,
            Ok(None) => return Err(format!("run {run_id} has no approval step `{step}`")),
            Err(e) => return Err(e.to_string()),
        };
        let run = match self.store.get_run(run_id).await {
            Ok(Some(r)) => r.run,
            Ok(None) => return Err(format!("run {run_id} is not recorded")),
            Err(e) => return Err(e.to_string()),
        };
        let message = self
            .catalog
            .jobs
            .get(&run.job)
            .and_then(|j| j.steps.iter().find(|s| s.name == step))
            .and_then(|s| match &s.action {
                crate::model::Action::Approval { message } => message.clone(),
                _ => None,
            });
        let tz = self.settings.timezone;
        let reminder = n.event == APPROVAL_REMINDER;
        let note = ApprovalNote {
            event: n.event.clone(),
            reminder,
            job: run.job.clone(),
            run_id,
            step: step.to_owned(),
            message,
            business_date: run.business_date.to_string(),
            requested_at: gate.requested_at,
            requested_at_local: crate::notify::local_time(gate.requested_at, tz),
            timeout_at: gate.timeout_at,
            timeout_at_local: gate.timeout_at.map(|t| crate::notify::local_time(t, tz)),
            minutes_left: gate
                .timeout_at
                .filter(|_| reminder)
                .map(|t| u64::try_from((t - now).num_minutes()).unwrap_or(0)),
            approve: format!("unyo approve {run_id} {step}"),
            reject: format!("unyo reject {run_id} {step}"),
            host: crate::domain::host::hostname(),
        };
        let msg = templates.render_approval(&note);
        crate::notify::deliver_approval(channel, &msg, &note).await
    }
}

/// How far into an approval's wait its reminder goes out: at 80 % of the time between the
/// start of the wait and the timeout (for the rollover's 12 h, 2 h 24 min before the end).
pub const REMIND_AT: f64 = 0.8;

/// When the reminder of a gate waiting since `requested` with timeout `timeout` is due.
pub fn reminder_time(requested: DateTime<Utc>, timeout: DateTime<Utc>) -> DateTime<Utc> {
    let wait = (timeout - requested).num_milliseconds().max(0);
    // 80 % of the wait, in whole milliseconds (no float in the time arithmetic beyond this).
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    let lead = ((wait as f64) * REMIND_AT) as i64;
    requested + chrono::Duration::milliseconds(lead)
}

/// The messages for level `index` (0-based) of a route: one per channel.
fn messages(r: &Route<'_>, index: usize, event: Event) -> Vec<NewNotification> {
    let Some(level) = r.levels.get(index) else {
        return Vec::new();
    };
    level
        .notify
        .iter()
        .map(|channel| NewNotification {
            event: event.as_str().to_owned(),
            level: i64::try_from(index + 1).unwrap_or(i64::MAX),
            channel: channel.clone(),
        })
        .collect()
}

/// The incident as messages see it.
pub fn note(
    settings: &Settings,
    i: &IncidentRow,
    event: Event,
    level: i64,
    now: DateTime<Utc>,
) -> IncidentNote {
    let tz = settings.timezone;
    IncidentNote {
        id: i.id,
        severity: i.severity,
        job: i.job.clone(),
        run_id: i.run_id,
        step: i.step.clone(),
        failure_class: i.failure_class.clone(),
        summary: i.summary.clone(),
        log_excerpt: i.log_excerpt.clone(),
        opened_at: i.opened_at,
        opened_at_local: crate::notify::local_time(i.opened_at, tz),
        status: i.status.to_string(),
        occurrences: u32::try_from(i.occurrences).unwrap_or(u32::MAX),
        rule: i.rule.clone(),
        report_deadline: i.report_deadline.map(|d| crate::notify::local_time(d, tz)),
        host: crate::domain::host::hostname(),
        event,
        level: u32::try_from(level).unwrap_or(1),
        unacknowledged_minutes: (event == Event::Escalated)
            .then(|| u64::try_from((now - i.opened_at).num_minutes()).unwrap_or(0)),
        next_level: None,
    }
}

/// Awaits every future of an iterator, concurrently, in order.
async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let futures: Vec<_> = futures.map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    let mut pending: Vec<(usize, std::pin::Pin<Box<F>>)> =
        futures.into_iter().enumerate().collect();
    std::future::poll_fn(|cx| {
        pending.retain_mut(|(i, f)| match f.as_mut().poll(cx) {
            std::task::Poll::Ready(out) => {
                outputs[*i] = Some(out);
                false
            }
            std::task::Poll::Pending => true,
        });
        if pending.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_approval_is_reminded_at_four_fifths_of_its_wait() {
        let t0 = DateTime::parse_from_rfc3339("2027-03-31T21:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        // The rollover's 12 h: 2 h 24 min before the end.
        assert_eq!(
            reminder_time(t0, t0 + chrono::Duration::hours(12)),
            t0 + chrono::Duration::minutes(9 * 60 + 36)
        );
        assert_eq!(
            reminder_time(t0, t0 + chrono::Duration::seconds(10)),
            t0 + chrono::Duration::seconds(8)
        );
        // A timeout in the past (a clock step) reminds at once.
        assert_eq!(reminder_time(t0, t0 - chrono::Duration::seconds(5)), t0);
    }

    #[test]
    fn retries_back_off_to_half_an_hour() {
        assert_eq!(retry_delay(0), Duration::from_secs(30));
        assert_eq!(retry_delay(1), Duration::from_secs(60));
        assert_eq!(retry_delay(5), Duration::from_secs(960));
        assert_eq!(retry_delay(6), Duration::from_secs(1800));
        assert_eq!(retry_delay(60), Duration::from_secs(1800));
    }
}
