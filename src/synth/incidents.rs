//! The month's incidents, through the store as the daemon and the operators make them: the
//! failures the runs left, in the order they happened, open incidents (or add occurrences to
//! the unresolved one of the same job and failure class, raising its severity: the store's
//! rule), each new one is notified once by mail on its route; operators acknowledge and
//! resolve them (or leave them open at the month's end); every success of a job with an
//! unresolved incident is noted on it. The attempts that escalated then name their incident.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use super::plan::{OPERATORS, item};
use super::runs::{AuditRow, Failure, Writer};
use super::{HOUR, MIN, MS, Month, Rng, SEC, Us, utc};
use crate::model::Severity;
use crate::store::Delivery;
use crate::store::bulk::HistoryStore;
use crate::store::{
    IncidentChange, NewIncident, NewNotification, NotificationPlan, Pending, StoreError,
};

/// When a report on an incident of each severity is due.
fn deadline(s: Severity) -> Us {
    match s {
        Severity::Critical => 2 * HOUR,
        Severity::High => 24 * HOUR,
        Severity::Medium => 72 * HOUR,
        Severity::Low => 168 * HOUR,
    }
}

/// Something that happens to the incidents, in time order. At one instant a resolution
/// comes first, then a success, then a failure: a failure at the instant its incident was
/// resolved opens a new one, and a success at the instant of a failure or a resolution is
/// not noted on that incident.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Happening {
    Acknowledge {
        id: i64,
        user: &'static str,
    },
    Resolve {
        id: i64,
        user: &'static str,
        cause: &'static str,
        countermeasure: &'static str,
    },
    /// The index of a success (job, ended, run id) in the sorted successes.
    Success(usize),
    /// The index of a failure in the sorted failures.
    Failure(usize),
}

impl Writer<'_> {
    /// Incidents from the failures, in the order they happened, with their history,
    /// notification, acknowledgement and resolution.
    pub async fn incidents<S: HistoryStore>(&mut self, store: &S) -> Result<(), StoreError> {
        let mut failures = std::mem::take(&mut self.failures);
        failures.sort_by_key(|f| (f.at, f.run_id));
        let mut successes = std::mem::take(&mut self.successes);
        successes.sort_unstable_by_key(|&(job, t, run)| (t, job, run));
        let mut timeline: BinaryHeap<Reverse<(Us, Happening)>> = BinaryHeap::new();
        for (i, f) in failures.iter().enumerate() {
            timeline.push(Reverse((f.at, Happening::Failure(i))));
        }
        // Unresolved incidents per job, so that only successes of such jobs reach the store;
        // the severity each incident was opened with.
        let mut unresolved: BTreeMap<u32, Vec<i64>> = BTreeMap::new();
        let mut opened: BTreeMap<i64, (u32, Severity)> = BTreeMap::new();
        let mut next_success = 0;
        // (attempt id, incident id, new, text before, text after)
        let mut actions = Vec::new();
        let mut later: Vec<Pending<()>> = Vec::new();
        let mut noted: Vec<Pending<Vec<i64>>> = Vec::new();
        loop {
            // The successes up to the next happening, in their place.
            let until = timeline.peek().map(|Reverse((t, h))| (*t, h.clone()));
            while let Some(&(job, t, run)) = successes.get(next_success) {
                let due = match &until {
                    Some((u, h)) => (t, Happening::Success(next_success)) < (*u, h.clone()),
                    None => true,
                };
                if !due {
                    break;
                }
                next_success += 1;
                if unresolved.get(&job).is_some_and(|ids| !ids.is_empty()) {
                    let name = &self.plan.jobs[job as usize].name;
                    noted.push(store.job_recovered(name, run, utc(t + 400), false));
                }
            }
            let Some(Reverse((t, h))) = timeline.pop() else {
                break;
            };
            match h {
                Happening::Acknowledge { id, user } => {
                    self.change(store, id, &IncidentChange::Acknowledge, user, t)
                        .await?;
                }
                Happening::Resolve {
                    id,
                    user,
                    cause,
                    countermeasure,
                } => {
                    let change = IncidentChange::Resolve {
                        cause: cause.to_owned(),
                        countermeasure: countermeasure.to_owned(),
                    };
                    self.change(store, id, &change, user, t).await?;
                    if let Some(ids) = opened.get(&id).and_then(|(job, _)| unresolved.get_mut(job))
                    {
                        ids.retain(|i| *i != id);
                    }
                }
                Happening::Success(_) => {}
                Happening::Failure(i) => {
                    let f = &failures[i];
                    let o = store
                        .open_incident(&NewIncident {
                            at: utc(f.at),
                            severity: f.severity,
                            job: self.plan.jobs[f.job as usize].name.clone(),
                            run_id: Some(f.run_id),
                            step: f.step.clone(),
                            failure_class: f.class.clone(),
                            summary: f.summary.clone(),
                            log_excerpt: f.excerpt.clone(),
                            rule: f.rule.clone(),
                            report_deadline: Some(utc(f.at + deadline(f.severity))),
                            actor: "unyo".to_owned(),
                            occurrences: 1,
                        })
                        .await?;
                    self.summary.incident_events += 1;
                    if let Some((attempt, before, after)) = &f.attempt {
                        actions.push((*attempt, o.id, o.new, before.clone(), after.clone()));
                    }
                    if !o.new {
                        continue;
                    }
                    self.summary.incidents += 1;
                    opened.insert(o.id, (f.job, f.severity));
                    unresolved.entry(f.job).or_default().push(o.id);
                    later.push(self.notify(store, o.id, f).await?);
                    let n = self.summary.incidents - 1;
                    for h in self.decide(f, o.id, n) {
                        timeline.push(Reverse(h));
                    }
                }
            }
        }
        for note in noted {
            self.summary.incident_events += note.await?.len() as u64;
        }
        for (attempt, id, new, before, after) in actions {
            let severity = opened.get(&id).map_or(Severity::Medium, |o| o.1);
            let text = format!(
                "{before}incident #{id} ({severity}{}){after}",
                if new { "" } else { ", one more occurrence" }
            );
            later.push(store.set_attempt_action(attempt, &text));
        }
        for w in later {
            w.await?;
        }
        Ok(())
    }

    /// Whether and when operators acknowledge and resolve the `n`th incident, opened by `f`
    /// as `id`; their audit entries.
    fn decide(&mut self, f: &Failure, id: i64, n: u64) -> Vec<(Us, Happening)> {
        let mut rng = Rng::for_item(self.plan.seed, item::INCIDENT, n);
        let dl = f.at + deadline(f.severity);
        let desk = desk_hours(self.m, f.at);
        let ack = if rng.chance(0.9) {
            let wait = if desk {
                rng.range(3 * 60, 45 * 60)
            } else {
                rng.range(15 * 60, 180 * 60)
            } * SEC;
            Some((f.at + wait, *rng.pick(&OPERATORS)))
        } else {
            None
        };
        let resolved = if rng.chance(0.85) {
            let from = ack.map_or(f.at, |(t, _)| t);
            let late = rng.chance(0.15);
            let t = if late {
                dl + rng.range(30 * 60, 30 * 3600) * SEC
            } else {
                let room = (dl - from).max(10 * MIN);
                from + rng.range(10 * 60, (room / SEC).min(48 * 3600)) * SEC
            };
            let (cause, cm) = *rng.pick(cause_texts(&f.class));
            let who = ack.map_or_else(|| *rng.pick(&OPERATORS), |(_, u)| u);
            Some((t.max(from + MIN), who, cause, cm))
        } else {
            None
        };
        // Nothing happens after the month.
        let ack = ack.filter(|(t, _)| *t < self.m.end);
        let resolved = resolved.filter(|(t, ..)| *t < self.m.end);
        let mut out = Vec::new();
        if let Some((t, u)) = ack.filter(|(t, _)| resolved.is_none_or(|(r, ..)| *t < r)) {
            out.push((t, Happening::Acknowledge { id, user: u }));
            self.audit.push(AuditRow {
                at: t + 5 * MS,
                user: u.to_owned(),
                action: "incident.ack",
                target: format!("incident {id}"),
                args: serde_json::json!({}),
                outcome: "done",
                detail: "now acknowledged".to_owned(),
            });
        }
        if let Some((t, u, cause, cm)) = resolved {
            out.push((
                t,
                Happening::Resolve {
                    id,
                    user: u,
                    cause,
                    countermeasure: cm,
                },
            ));
            self.audit.push(AuditRow {
                at: t + 5 * MS,
                user: u.to_owned(),
                action: "incident.resolve",
                target: format!("incident {id}"),
                args: serde_json::json!({ "cause": cause, "countermeasure": cm }),
                outcome: "done",
                detail: "now resolved".to_owned(),
            });
        }
        out
    }

    /// An operator's acknowledgement or resolution.
    async fn change<S: HistoryStore>(
        &mut self,
        store: &S,
        id: i64,
        change: &IncidentChange,
        user: &str,
        t: Us,
    ) -> Result<(), StoreError> {
        store
            .change_incident(id, change, user, utc(t))
            .await?
            .map_err(|refused| StoreError::Corrupt(refused.to_string()))?;
        self.summary.incident_events += 1;
        Ok(())
    }

    /// The new incident's one message, by mail on the route of the hour it opened, sent
    /// 1.3 s after it opened. Returns the pending record of the delivery.
    async fn notify<S: HistoryStore>(
        &self,
        store: &S,
        id: i64,
        f: &Failure,
    ) -> Result<Pending<()>, StoreError> {
        let route = if desk_hours(self.m, f.at) {
            "desk"
        } else {
            "emergency"
        };
        let at = f.at + 80 * MS;
        store
            .plan_notifications(&NotificationPlan {
                incident_id: id,
                route: route.to_owned(),
                level: 1,
                next_escalation_at: None,
                event_id: None,
                only_if_open: false,
                messages: vec![NewNotification {
                    event: "opened".to_owned(),
                    level: 1,
                    channel: "mail".to_owned(),
                }],
                at: utc(at),
            })
            .await?;
        let sent = f.at + 1_300 * MS;
        let due = store.due_notifications(utc(sent), i64::MAX).await?;
        let Some(message) = due.iter().find(|n| n.incident_id == Some(id)) else {
            return Err(StoreError::Corrupt(format!(
                "the message about incident {id} is not in the outbox"
            )));
        };
        let receipt = format!(
            "250 2.0.0 Ok: queued as {:08X}",
            (f.run_id as u64).wrapping_mul(2_654_435_761) as u32
        );
        Ok(store.notification_tried(message.id, Delivery::Sent(receipt), utc(sent), None))
    }
}

/// Cause and countermeasure, as operators write them, per failure class.
fn cause_texts(class: &str) -> &'static [(&'static str, &'static str)] {
    match class {
        "timeout" => &[
            (
                "バックアップ先NASの応答遅延により時間内に終わらなかった",
                "NAS側の重複排除処理の時間帯を02:00以降に移した",
            ),
            (
                "共有フォルダのファイル数増加でアーカイブ作成が長引いた",
                "古い年度のフォルダを別ボリュームへ移し、タイムアウトを見直した",
            ),
        ],
        "interrupted" => &[(
            "運用サーバの計画外再起動(カーネル更新の自動適用)",
            "自動更新を停止し、更新は月例保守の時間帯に手動で行う",
        )],
        "killed by SIGKILL" => &[(
            "メモリ不足によりOOM killerが処理を停止した",
            "ジョブの並列度を4から2に下げ、サーバのメモリ増設を申請した",
        )],
        "exit 75" => &[(
            "連携先データベースのロック競合が続いた",
            "他システムの夜間バッチと実行時刻が重ならないよう調整した",
        )],
        _ => &[
            (
                "連携元システムからの入力ファイルの到着が遅れた",
                "連携元に送信時刻を30分早めるよう依頼し、到着確認の手順を追加した",
            ),
            (
                "ログ領域の増加により空き容量がしきい値を下回った",
                "古いログを削除し、保持期間を90日から60日に変更した",
            ),
            (
                "入力データに想定外の文字コードが含まれていた",
                "連携元で文字コードの検査を追加してもらい、受入れ側でも検査する",
            ),
            (
                "データ領域の権限設定が保守作業で変更されていた",
                "権限を戻し、保守作業の手順書に権限確認を追加した",
            ),
        ],
    }
}

/// Whether `t` is in desk hours: weekdays (business days) 08:30-17:30.
fn desk_hours(m: &Month, t: Us) -> bool {
    let d = m.local_date(t);
    let mins = m.local_minutes(t);
    super::plan::city_calendar().is_business_day(d) && (8 * 60 + 30..17 * 60 + 30).contains(&mins)
}
