//! What the reports read (a period's facts, read compactly) and frozen reports in SQLite.
//! Which frozen row is current and what a freeze does is decided by `domain::freeze`.

use super::*;
use crate::domain::freeze::{self, FreezeDecision};

pub(super) fn frozen_report_row(r: &Row<'_>) -> Result<FrozenReport, StoreError> {
    Ok(FrozenReport {
        id: col(r, "id")?,
        kind: col(r, "kind")?,
        period: col(r, "period")?,
        lang: col(r, "lang")?,
        format: col(r, "format")?,
        data_from: time(r, "data_from")?,
        data_to: time(r, "data_to")?,
        sha256: col(r, "sha256")?,
        frozen_at: time(r, "frozen_at")?,
        frozen_by: col(r, "frozen_by")?,
        supersedes: col(r, "supersedes")?,
        reason: col(r, "reason")?,
        superseded_by: col(r, "superseded_by")?,
    })
}

pub(super) const FROZEN_COLUMNS: &str = "id, kind, period, lang, format, data_from, data_to, sha256, \
     frozen_at, frozen_by, supersedes, reason, \
     (SELECT s.id FROM frozen_reports s WHERE s.supersedes = frozen_reports.id) AS superseded_by";

/// The slots due in a period, counted by job, outcome and reason while they are read (a
/// month may hold a million; sorting them to group them cost more than reading them).
/// The period's slots counted by job, outcome and reason, read once; on the way, each slot
/// of `detail` (the service's backup jobs) is kept whole, with its run's status.
pub(super) fn slot_counts(
    c: &Connection,
    from: &str,
    to: &str,
    detail: &[String],
) -> Result<(Vec<SlotCount>, Vec<JobSlot>), StoreError> {
    let action = "reading a period's slots";
    let mut kept: Vec<JobSlot> = Vec::new();
    let mut jobs: Vec<String> = Vec::new();
    let mut job_index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut counts: std::collections::HashMap<(usize, SlotOutcome, Option<String>), i64> =
        std::collections::HashMap::new();
    let mut stmt = c
        .prepare_cached(
            "SELECT job, outcome, reason, due_at, run_id FROM slots \
             WHERE due_at >= ?1 AND due_at < ?2 ORDER BY due_at, id",
        )
        .map_err(query_err(action))?;
    let mut rows = stmt.query([from, to]).map_err(query_err(action))?;
    while let Some(r) = rows.next().map_err(query_err(action))? {
        let text = |i: usize| -> Result<Option<&str>, StoreError> {
            match r.get_ref(i).map_err(query_err(action))? {
                rusqlite::types::ValueRef::Null => Ok(None),
                v => v
                    .as_str()
                    .map(Some)
                    .map_err(|e| StoreError::Corrupt(format!("slots column {i}: {e}"))),
            }
        };
        let job = text(0)?.unwrap_or_default();
        let j = match job_index.get(job) {
            Some(&j) => j,
            None => {
                jobs.push(job.to_owned());
                job_index.insert(job.to_owned(), jobs.len() - 1);
                jobs.len() - 1
            }
        };
        let outcome: SlotOutcome = text(1)?
            .unwrap_or_default()
            .parse()
            .map_err(StoreError::Corrupt)?;
        let reason = text(2)?.map(str::to_owned);
        if detail.iter().any(|d| d == job) {
            let due = text(3)?.unwrap_or_default();
            kept.push(JobSlot {
                job: job.to_owned(),
                due_at: DateTime::parse_from_rfc3339(due)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| StoreError::Corrupt(format!("due_at `{due}`: {e}")))?,
                outcome,
                run_id: r.get(4).map_err(query_err(action))?,
                run_status: None,
            });
        }
        *counts.entry((j, outcome, reason)).or_default() += 1;
    }
    drop(rows);
    let mut status = c
        .prepare_cached("SELECT status FROM runs WHERE id = ?1")
        .map_err(query_err(action))?;
    for slot in &mut kept {
        if let Some(id) = slot.run_id {
            let token: Option<String> = status
                .query_row([id], |r| r.get(0))
                .optional()
                .map_err(query_err(action))?;
            slot.run_status = token
                .map(|t| t.parse().map_err(StoreError::Corrupt))
                .transpose()?;
        }
    }
    let mut out: Vec<SlotCount> = counts
        .into_iter()
        .map(|((j, outcome, reason), count)| SlotCount {
            job: jobs[j].clone(),
            outcome,
            reason,
            count,
        })
        .collect();
    out.sort_by(|a, b| {
        (&a.job, a.outcome.as_str(), &a.reason).cmp(&(&b.job, b.outcome.as_str(), &b.reason))
    });
    Ok((out, kept))
}

/// The runs of a period, read by column position (a month may hold a million): job names
/// and digests interned.
pub(super) fn run_facts(
    c: &Connection,
    from: &str,
    to: &str,
    facts: &mut ReportFacts,
) -> Result<(), StoreError> {
    let action = "reading a period's runs";
    let mut jobs: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    let mut digests: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    let intern =
        |map: &mut std::collections::HashMap<String, u32>, names: &mut Vec<String>, text: &str| {
            if let Some(&i) = map.get(text) {
                return i;
            }
            let i = u32::try_from(names.len()).unwrap_or(u32::MAX);
            map.insert(text.to_owned(), i);
            names.push(text.to_owned());
            i
        };
    let instant = |text: &str, what: &str| {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| StoreError::Corrupt(format!("{what} `{text}`: {e}")))
    };
    let mut stmt = c
        .prepare_cached(
            "SELECT id, job, job_digest, trigger, status, queued_at, started_at, ended_at \
             FROM runs WHERE queued_at >= ?1 AND queued_at < ?2 ORDER BY queued_at, id",
        )
        .map_err(query_err(action))?;
    let mut rows = stmt.query([from, to]).map_err(query_err(action))?;
    while let Some(r) = rows.next().map_err(query_err(action))? {
        let text = |i: usize| -> Result<Option<&str>, StoreError> {
            match r.get_ref(i).map_err(query_err(action))? {
                rusqlite::types::ValueRef::Null => Ok(None),
                v => v
                    .as_str()
                    .map(Some)
                    .map_err(|e| StoreError::Corrupt(format!("runs column {i}: {e}"))),
            }
        };
        let need = |i: usize| -> Result<&str, StoreError> {
            text(i)?.ok_or_else(|| StoreError::Corrupt(format!("runs column {i} is NULL")))
        };
        let job = intern(&mut jobs, &mut facts.jobs, need(1)?);
        let digest = intern(&mut digests, &mut facts.digests, need(2)?);
        facts.runs.push(RunFact {
            id: r.get(0).map_err(query_err(action))?,
            job,
            digest,
            trigger: need(3)?.parse().map_err(StoreError::Corrupt)?,
            status: need(4)?.parse().map_err(StoreError::Corrupt)?,
            queued_at: instant(need(5)?, "queued_at")?,
            started_at: text(6)?.map(|t| instant(t, "started_at")).transpose()?,
            ended_at: text(7)?.map(|t| instant(t, "ended_at")).transpose()?,
        });
    }
    Ok(())
}

impl ReportStore for SqliteStore {
    fn freeze_report(&self, report: &NewFrozenReport) -> Pending<Freeze> {
        let n = report.clone();
        self.write("freezing a report", move |c| {
            // The current one: the row of this report no other supersedes.
            let current = c
                .prepare_cached(&format!(
                    "SELECT {FROZEN_COLUMNS} FROM frozen_reports \
                     WHERE kind = ?1 AND period = ?2 AND lang = ?3 AND format = ?4 \
                     AND NOT EXISTS (SELECT 1 FROM frozen_reports s \
                     WHERE s.supersedes = frozen_reports.id)"
                ))?
                .query_row(params![n.kind, n.period, n.lang, n.format], |r| {
                    Ok(frozen_report_row(r))
                })
                .optional()?
                .transpose()
                .map_err(carry)?;
            let decided = freeze::freeze(
                current,
                |r| r.sha256.as_str(),
                &n.sha256,
                n.supersede.is_some(),
            );
            let supersedes = match decided {
                FreezeDecision::Insert { supersedes } => supersedes,
                FreezeDecision::Already(current) => return Ok(Freeze::Already(current)),
                FreezeDecision::Differs(current) => return Ok(Freeze::Differs(current)),
                FreezeDecision::NothingToSupersede => return Ok(Freeze::NothingToSupersede),
            };
            let supersedes_id = supersedes.as_ref().map(|b| b.id);
            c.prepare_cached(
                "INSERT INTO frozen_reports (kind, period, lang, format, data_from, data_to, \
                 sha256, body, frozen_at, frozen_by, supersedes, reason) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                n.kind,
                n.period,
                n.lang,
                n.format,
                ts(n.data_from),
                ts(n.data_to),
                n.sha256,
                n.body,
                ts(n.frozen_at),
                n.frozen_by,
                supersedes_id,
                n.supersede
            ])?;
            let new = FrozenReport {
                id: c.last_insert_rowid(),
                kind: n.kind,
                period: n.period,
                lang: n.lang,
                format: n.format,
                data_from: n.data_from,
                data_to: n.data_to,
                sha256: n.sha256,
                frozen_at: n.frozen_at,
                frozen_by: n.frozen_by,
                supersedes: supersedes_id,
                reason: n.supersede,
                superseded_by: None,
            };
            Ok(match supersedes {
                None => Freeze::Frozen(new),
                Some(old) => Freeze::Superseded {
                    old: Box::new(FrozenReport {
                        superseded_by: Some(new.id),
                        ..old
                    }),
                    new: Box::new(new),
                },
            })
        })
    }

    fn frozen_report(&self, id: i64) -> Pending<Option<FrozenReport>> {
        self.read(move |c| {
            Ok(all(
                c,
                "reading a frozen report",
                &format!("SELECT {FROZEN_COLUMNS} FROM frozen_reports WHERE id = ?1"),
                [id],
                frozen_report_row,
            )?
            .into_iter()
            .next())
        })
    }

    fn frozen_reports_by_hash(&self, sha256: &str) -> Pending<Vec<FrozenReport>> {
        let sha256 = sha256.to_owned();
        self.read(move |c| {
            all(
                c,
                "reading frozen reports",
                &format!(
                    "SELECT {FROZEN_COLUMNS} FROM frozen_reports WHERE sha256 = ?1 ORDER BY id"
                ),
                [&sha256],
                frozen_report_row,
            )
        })
    }

    fn current_frozen_reports(&self, limit: i64) -> Pending<Vec<FrozenReport>> {
        self.read(move |c| {
            all(
                c,
                "reading the current frozen reports",
                &format!(
                    "SELECT {FROZEN_COLUMNS} FROM frozen_reports WHERE NOT EXISTS \
                     (SELECT 1 FROM frozen_reports s WHERE s.supersedes = frozen_reports.id) \
                     ORDER BY id DESC LIMIT ?1"
                ),
                [limit],
                frozen_report_row,
            )
        })
    }

    fn list_frozen_reports(&self, limit: i64) -> Pending<Vec<FrozenReport>> {
        self.read(move |c| {
            all(
                c,
                "reading frozen reports",
                &format!("SELECT {FROZEN_COLUMNS} FROM frozen_reports ORDER BY id DESC LIMIT ?1"),
                [limit],
                frozen_report_row,
            )
        })
    }

    fn frozen_report_body(&self, id: i64) -> Pending<Option<(FrozenReport, Vec<u8>)>> {
        self.read(move |c| {
            Ok(all(
                c,
                "reading a frozen report",
                &format!("SELECT {FROZEN_COLUMNS}, body FROM frozen_reports WHERE id = ?1"),
                [id],
                |r| Ok((frozen_report_row(r)?, col::<Vec<u8>>(r, "body")?)),
            )?
            .into_iter()
            .next())
        })
    }

    fn proposal_facts(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Pending<ProposalFacts> {
        self.read(move |c| {
            let (from, to) = (ts(from), ts(to));
            let firings = all(
                c,
                "reading the attempts runbook rules matched",
                // A rule matches a failed attempt only: the notable attempts' partial index.
                "SELECT a.rule AS rule, r.job AS job, a.step AS step, a.run_id AS run_id, \
                 a.started_at AS at \
                 FROM attempts a CROSS JOIN runs r ON r.id = a.run_id \
                 WHERE (a.status NOT IN ('succeeded', 'running') OR a.attempt > 1) \
                 AND a.rule IS NOT NULL AND r.queued_at >= ?1 AND r.queued_at < ?2 \
                 ORDER BY a.started_at, a.run_id, a.step, a.attempt",
                [&from, &to],
                |r| {
                    Ok(RuleFiring {
                        rule: col(r, "rule")?,
                        job: col(r, "job")?,
                        step: col(r, "step")?,
                        run_id: col(r, "run_id")?,
                        at: time(r, "at")?,
                    })
                },
            )?;
            let perf = all(
                c,
                "reading the hardware checks' performance data",
                "SELECT c.target AS target, c.at AS at, c.perfdata AS perfdata \
                 FROM check_targets t CROSS JOIN check_results c ON c.target = t.target \
                 WHERE t.kind = 'hardware' AND c.at >= ?1 AND c.at < ?2 AND c.perfdata <> '' \
                 ORDER BY c.target, c.at, c.id",
                [&from, &to],
                |r| {
                    Ok(PerfRow {
                        target: col(r, "target")?,
                        at: time(r, "at")?,
                        perfdata: col(r, "perfdata")?,
                    })
                },
            )?;
            Ok(ProposalFacts { firings, perf })
        })
    }

    fn report_facts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        slot_jobs: &[String],
    ) -> Pending<ReportFacts> {
        let slot_jobs = slot_jobs.to_vec();
        self.read(move |c| {
            let (from, to) = (ts(from), ts(to));
            let mut facts = ReportFacts::default();
            run_facts(c, &from, &to, &mut facts)?;
            (facts.slots, facts.job_slots) = slot_counts(c, &from, &to, &slot_jobs)?;
            facts.attempts = all(
                c,
                "reading a period's attempts",
                // From the few notable attempts (a partial index) to their runs, not from
                // a month of runs to all their attempts. A running first attempt counts
                // for nothing yet.
                "SELECT r.job AS job, a.status AS status, a.signal IS NOT NULL AS signalled, \
                 a.attempt > 1 AS retry, count(*) AS n \
                 FROM attempts a CROSS JOIN runs r ON r.id = a.run_id \
                 WHERE (a.status NOT IN ('succeeded', 'running') OR a.attempt > 1) \
                 AND r.queued_at >= ?1 AND r.queued_at < ?2 \
                 GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
                [&from, &to],
                |r| {
                    Ok(AttemptCount {
                        job: col(r, "job")?,
                        status: token(r, "status")?,
                        signalled: col(r, "signalled")?,
                        retry: col(r, "retry")?,
                        count: col(r, "n")?,
                    })
                },
            )?;
            facts.incidents = all(
                c,
                "reading a period's incidents",
                "SELECT * FROM incidents WHERE (opened_at >= ?1 AND opened_at < ?2) \
                 OR (opened_at < ?1 AND (resolved_at IS NULL OR resolved_at >= ?1)) ORDER BY id",
                [&from, &to],
                incident_row,
            )?;
            facts.param_changes = all(
                c,
                "reading a period's parameter changes",
                "SELECT * FROM param_changes WHERE at >= ?1 AND at < ?2 ORDER BY id",
                [&from, &to],
                param_change_row,
            )?;
            facts.extracts = all(
                c,
                "reading a period's extracts",
                "SELECT * FROM extracts WHERE at >= ?1 AND at < ?2 ORDER BY id",
                [&from, &to],
                extract_row,
            )?;
            facts.permission_changes = all(
                c,
                "reading a period's permission changes",
                "SELECT * FROM permission_changes WHERE at >= ?1 AND at < ?2 ORDER BY id",
                [&from, &to],
                permission_change_row,
            )?;
            facts.submitted = all(
                c,
                "reading a period's submitted runs",
                "SELECT * FROM runs WHERE trigger = 'submit' AND queued_at >= ?1 \
                 AND queued_at < ?2 ORDER BY id",
                [&from, &to],
                run_row,
            )?;
            facts.refusals = all(
                c,
                "reading a period's refused runs",
                "SELECT job, reason, count(*) AS n FROM runs WHERE status = 'refused' \
                 AND queued_at >= ?1 AND queued_at < ?2 GROUP BY job, reason ORDER BY job, reason",
                [&from, &to],
                |r| {
                    Ok(RefusalCount {
                        job: col(r, "job")?,
                        reason: col(r, "reason")?,
                        count: col(r, "n")?,
                    })
                },
            )?;
            // Through `notifications_incident`: the messages of the period's incidents only.
            facts.first_notified = all(
                c,
                "reading first notifications",
                "SELECT n.incident_id AS id, min(n.sent_at) AS sent_at FROM notifications n \
                 WHERE n.status = 'sent' AND n.sent_at IS NOT NULL AND n.incident_id IN \
                 (SELECT id FROM incidents WHERE (opened_at >= ?1 AND opened_at < ?2) \
                 OR (opened_at < ?1 AND (resolved_at IS NULL OR resolved_at >= ?1))) \
                 GROUP BY n.incident_id ORDER BY n.incident_id",
                [&from, &to],
                |r| Ok((col(r, "id")?, time(r, "sent_at")?)),
            )?;
            facts.findings = all(
                c,
                "reading a period's findings",
                "SELECT * FROM findings WHERE at >= ?1 AND at < ?2 ORDER BY at, id",
                [&from, &to],
                super::findings::finding_row,
            )?;
            Ok(facts)
        })
    }
}
