//! What the reports read (a period's facts, read compactly, in one snapshot) and frozen
//! reports, in PostgreSQL. Which frozen row is current and what a freeze does is decided by
//! `domain::freeze`; racing freezes of one report are decided by its unique indexes
//! (`frozen_reports_first`, `UNIQUE (supersedes)`): the loser inserts nothing, reads the
//! winner's row and decides again.

use std::collections::HashMap;

use super::checks::in_snapshot;
use super::findings::finding_row;
use super::incidents::incident_row;
use super::records::{extract_row, param_change_row, permission_change_row};
use super::runs::run_row;
use super::*;
use crate::domain::freeze::{self, FreezeDecision};

/// A frozen report's columns, with the row that superseded it, as a SELECT's start.
macro_rules! select_frozen {
    () => {
        "SELECT id, kind, period, lang, format, data_from, data_to, sha256, frozen_at, \
         frozen_by, supersedes, reason, \
         (SELECT s.id FROM frozen_reports s WHERE s.supersedes = frozen_reports.id) \
         AS superseded_by FROM frozen_reports"
    };
}

/// How often a freeze decides again after a racing freeze of the same report won.
const FREEZE_TRIES: usize = 5;

/// Rows a period's runs are fetched by, from one cursor (a month may hold a million).
macro_rules! runs_page {
    () => {
        10000
    };
}

pub(super) fn frozen_report_row(r: &PgRow) -> Result<FrozenReport, StoreError> {
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

/// Freezes `n` as `domain::freeze` decides over the current row; `None` when a racing
/// freeze of the same report committed first (nothing written: decide again).
fn try_freeze(pg: &mut Pg, n: &NewFrozenReport) -> Result<Option<Freeze>, Fail> {
    // The current one: the row of this report no other supersedes.
    let current = pg.fetch_optional(
        q(concat!(
            select_frozen!(),
            " WHERE kind = $1 AND period = $2 AND lang = $3 AND format = $4 \
             AND NOT EXISTS (SELECT 1 FROM frozen_reports s \
             WHERE s.supersedes = frozen_reports.id)"
        ))
        .bind(n.kind.clone())
        .bind(n.period.clone())
        .bind(n.lang.clone())
        .bind(n.format.clone()),
    )?;
    let current = current.as_ref().map(frozen_report_row).transpose()?;
    let decided = freeze::freeze(
        current,
        |r| r.sha256.as_str(),
        &n.sha256,
        n.supersede.is_some(),
    );
    let supersedes = match decided {
        FreezeDecision::Insert { supersedes } => supersedes,
        FreezeDecision::Already(current) => return Ok(Some(Freeze::Already(current))),
        FreezeDecision::Differs(current) => return Ok(Some(Freeze::Differs(current))),
        FreezeDecision::NothingToSupersede => return Ok(Some(Freeze::NothingToSupersede)),
    };
    let supersedes_id = supersedes.as_ref().map(|b| b.id);
    // A racing freeze that inserted the first row of this report, or superseded the same
    // row, holds the unique key: this insert waits for its commit, then does nothing.
    let inserted = pg.fetch_optional(
        q(
            "INSERT INTO frozen_reports (kind, period, lang, format, data_from, data_to, \
             sha256, body, frozen_at, frozen_by, supersedes, reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(n.kind.clone())
        .bind(n.period.clone())
        .bind(n.lang.clone())
        .bind(n.format.clone())
        .bind(n.data_from)
        .bind(n.data_to)
        .bind(n.sha256.clone())
        .bind(n.body.clone())
        .bind(n.frozen_at)
        .bind(n.frozen_by.clone())
        .bind(supersedes_id)
        .bind(n.supersede.clone()),
    )?;
    let Some(inserted) = inserted else {
        return Ok(None);
    };
    let new = FrozenReport {
        id: col(&inserted, "id")?,
        kind: n.kind.clone(),
        period: n.period.clone(),
        lang: n.lang.clone(),
        format: n.format.clone(),
        data_from: n.data_from,
        data_to: n.data_to,
        sha256: n.sha256.clone(),
        frozen_at: n.frozen_at,
        frozen_by: n.frozen_by.clone(),
        supersedes: supersedes_id,
        reason: n.supersede.clone(),
        superseded_by: None,
    };
    Ok(Some(match supersedes {
        None => Freeze::Frozen(new),
        Some(old) => Freeze::Superseded {
            old: Box::new(FrozenReport {
                superseded_by: Some(new.id),
                ..old
            }),
            new: Box::new(new),
        },
    }))
}

/// The runs queued in `[from, to)` by `(queued_at, id)`, read compactly: job names and
/// digests interned in the order they first appear. Fetched in pages from one cursor, inside
/// the caller's snapshot.
fn run_facts(
    pg: &mut Pg,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    facts: &mut ReportFacts,
) -> Result<(), Fail> {
    let mut jobs: HashMap<String, u32> = HashMap::new();
    let mut digests: HashMap<String, u32> = HashMap::new();
    let intern = |map: &mut HashMap<String, u32>, names: &mut Vec<String>, text: String| {
        if let Some(&i) = map.get(&text) {
            return i;
        }
        let i = u32::try_from(names.len()).unwrap_or(u32::MAX);
        names.push(text.clone());
        map.insert(text, i);
        i
    };
    pg.execute(
        q("DECLARE unyo_report_runs NO SCROLL CURSOR FOR \
           SELECT id, job, job_digest, trigger, status, queued_at, started_at, ended_at \
           FROM runs WHERE queued_at >= $1 AND queued_at < $2 ORDER BY queued_at, id")
        .bind(from)
        .bind(to),
    )?;
    loop {
        let rows = pg.fetch_all(q(concat!(
            "FETCH FORWARD ",
            runs_page!(),
            " FROM unyo_report_runs"
        )))?;
        for r in &rows {
            let job = intern(&mut jobs, &mut facts.jobs, col(r, "job")?);
            let digest = intern(&mut digests, &mut facts.digests, col(r, "job_digest")?);
            facts.runs.push(RunFact {
                id: col(r, "id")?,
                job,
                digest,
                trigger: token(r, "trigger")?,
                status: token(r, "status")?,
                queued_at: time(r, "queued_at")?,
                started_at: opt_time(r, "started_at")?,
                ended_at: opt_time(r, "ended_at")?,
            });
        }
        if rows.len() < runs_page!() {
            break;
        }
    }
    pg.batch("CLOSE unyo_report_runs")?;
    Ok(())
}

/// The period's slots counted by job, outcome and reason (in that order, names compared
/// byte by byte, no reason first), and every slot of `detail` (the service's backup jobs)
/// whole, in due order, with its run's status.
fn slot_counts(
    pg: &mut Pg,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    detail: &[String],
) -> Result<(Vec<SlotCount>, Vec<JobSlot>), Fail> {
    let rows = pg.fetch_all(
        q("SELECT job, outcome, reason, count(*) AS n FROM slots \
           WHERE due_at >= $1 AND due_at < $2 GROUP BY job, outcome, reason")
        .bind(from)
        .bind(to),
    )?;
    let mut counts = map_all(rows, |r| {
        Ok(SlotCount {
            job: col(r, "job")?,
            outcome: token(r, "outcome")?,
            reason: col(r, "reason")?,
            count: col(r, "n")?,
        })
    })?;
    counts.sort_by(|a, b| {
        (&a.job, a.outcome.as_str(), &a.reason).cmp(&(&b.job, b.outcome.as_str(), &b.reason))
    });
    if detail.is_empty() {
        return Ok((counts, Vec::new()));
    }
    let rows = pg.fetch_all(
        q(
            "SELECT s.job, s.due_at, s.outcome, s.run_id, r.status AS run_status \
             FROM slots s LEFT JOIN runs r ON r.id = s.run_id \
             WHERE s.due_at >= $1 AND s.due_at < $2 AND s.job = ANY($3) \
             ORDER BY s.due_at, s.id",
        )
        .bind(from)
        .bind(to)
        .bind(detail.to_vec()),
    )?;
    let kept = map_all(rows, |r| {
        Ok(JobSlot {
            job: col(r, "job")?,
            due_at: time(r, "due_at")?,
            outcome: token(r, "outcome")?,
            run_id: col(r, "run_id")?,
            run_status: opt_token(r, "run_status")?,
        })
    })?;
    Ok((counts, kept))
}

/// Everything `report_facts` reads, inside one snapshot.
fn proposal_facts(
    pg: &mut Pg,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<ProposalFacts, Fail> {
    // A rule matches a failed attempt only: the notable attempts' partial index.
    let rows = pg.fetch_all(
        q(
            "SELECT a.rule AS rule, r.job AS job, a.step AS step, a.run_id AS run_id, \
             a.started_at AS at \
             FROM attempts a JOIN runs r ON r.id = a.run_id \
             WHERE (a.status NOT IN ('succeeded', 'running') OR a.attempt > 1) \
             AND a.rule IS NOT NULL AND r.queued_at >= $1 AND r.queued_at < $2 \
             ORDER BY a.started_at, a.run_id, a.step COLLATE \"C\", a.attempt",
        )
        .bind(from)
        .bind(to),
    )?;
    let firings = map_all(rows, |r| {
        Ok(RuleFiring {
            rule: col(r, "rule")?,
            job: col(r, "job")?,
            step: col(r, "step")?,
            run_id: col(r, "run_id")?,
            at: col(r, "at")?,
        })
    })?;
    let rows = pg.fetch_all(
        q(
            "SELECT c.target AS target, c.at AS at, c.perfdata AS perfdata \
             FROM check_targets t JOIN check_results c ON c.target = t.target \
             WHERE t.kind = 'hardware' AND c.at >= $1 AND c.at < $2 AND c.perfdata <> '' \
             ORDER BY c.target COLLATE \"C\", c.at, c.id",
        )
        .bind(from)
        .bind(to),
    )?;
    let perf = map_all(rows, |r| {
        Ok(PerfRow {
            target: col(r, "target")?,
            at: col(r, "at")?,
            perfdata: col(r, "perfdata")?,
        })
    })?;
    Ok(ProposalFacts { firings, perf })
}

fn report_facts(
    pg: &mut Pg,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    slot_jobs: &[String],
) -> Result<ReportFacts, Fail> {
    let mut facts = ReportFacts::default();
    run_facts(pg, from, to, &mut facts)?;
    (facts.slots, facts.job_slots) = slot_counts(pg, from, to, slot_jobs)?;
    // From the few notable attempts (a partial index) to their runs, not from a month of
    // runs to all their attempts. A running first attempt counts for nothing yet.
    let rows = pg.fetch_all(
        q(
            "SELECT r.job AS job, a.status AS status, a.signal IS NOT NULL AS signalled, \
             a.attempt > 1 AS retry, count(*) AS n \
             FROM attempts a JOIN runs r ON r.id = a.run_id \
             WHERE (a.status NOT IN ('succeeded', 'running') OR a.attempt > 1) \
             AND r.queued_at >= $1 AND r.queued_at < $2 \
             GROUP BY 1, 2, 3, 4 \
             ORDER BY r.job COLLATE \"C\", a.status COLLATE \"C\", 3, 4",
        )
        .bind(from)
        .bind(to),
    )?;
    facts.attempts = map_all(rows, |r| {
        Ok(AttemptCount {
            job: col(r, "job")?,
            status: token(r, "status")?,
            signalled: col(r, "signalled")?,
            retry: col(r, "retry")?,
            count: col(r, "n")?,
        })
    })?;
    let rows = pg.fetch_all(
        q(
            "SELECT * FROM incidents WHERE (opened_at >= $1 AND opened_at < $2) \
             OR (opened_at < $1 AND (resolved_at IS NULL OR resolved_at >= $1)) ORDER BY id",
        )
        .bind(from)
        .bind(to),
    )?;
    facts.incidents = map_all(rows, incident_row)?;
    let rows = pg.fetch_all(
        q("SELECT * FROM param_changes WHERE at >= $1 AND at < $2 ORDER BY id")
            .bind(from)
            .bind(to),
    )?;
    facts.param_changes = map_all(rows, param_change_row)?;
    let rows = pg.fetch_all(
        q("SELECT * FROM extracts WHERE at >= $1 AND at < $2 ORDER BY id")
            .bind(from)
            .bind(to),
    )?;
    facts.extracts = map_all(rows, extract_row)?;
    let rows = pg.fetch_all(
        q("SELECT * FROM permission_changes WHERE at >= $1 AND at < $2 ORDER BY id")
            .bind(from)
            .bind(to),
    )?;
    facts.permission_changes = map_all(rows, permission_change_row)?;
    let rows = pg.fetch_all(
        q(
            "SELECT * FROM runs WHERE trigger = 'submit' AND queued_at >= $1 \
             AND queued_at < $2 ORDER BY id",
        )
        .bind(from)
        .bind(to),
    )?;
    facts.submitted = map_all(rows, run_row)?;
    // SQLite orders text byte by byte and puts NULL first: so do these.
    let rows = pg.fetch_all(
        q(
            "SELECT job, reason, count(*) AS n FROM runs WHERE status = 'refused' \
             AND queued_at >= $1 AND queued_at < $2 GROUP BY job, reason \
             ORDER BY job COLLATE \"C\", reason COLLATE \"C\" NULLS FIRST",
        )
        .bind(from)
        .bind(to),
    )?;
    facts.refusals = map_all(rows, |r| {
        Ok(RefusalCount {
            job: col(r, "job")?,
            reason: col(r, "reason")?,
            count: col(r, "n")?,
        })
    })?;
    // Through `notifications_incident`: the messages of the period's incidents only.
    let rows = pg.fetch_all(
        q(
            "SELECT n.incident_id AS id, min(n.sent_at) AS sent_at FROM notifications n \
             WHERE n.status = 'sent' AND n.sent_at IS NOT NULL AND n.incident_id IN \
             (SELECT id FROM incidents WHERE (opened_at >= $1 AND opened_at < $2) \
             OR (opened_at < $1 AND (resolved_at IS NULL OR resolved_at >= $1))) \
             GROUP BY n.incident_id ORDER BY n.incident_id",
        )
        .bind(from)
        .bind(to),
    )?;
    facts.first_notified = map_all(rows, |r| Ok((col(r, "id")?, time(r, "sent_at")?)))?;
    let rows = pg.fetch_all(
        q("SELECT * FROM findings WHERE at >= $1 AND at < $2 ORDER BY at, id")
            .bind(from)
            .bind(to),
    )?;
    facts.findings = map_all(rows, finding_row)?;
    Ok(facts)
}

impl ReportStore for PgStore {
    fn freeze_report(&self, report: &NewFrozenReport) -> Pending<Freeze> {
        let n = report.clone();
        self.write("freezing a report", move |pg| {
            for _ in 0..FREEZE_TRIES {
                if let Some(done) = try_freeze(pg, &n)? {
                    return Ok(done);
                }
            }
            Err(Fail::Store(StoreError::Busy {
                action: "freezing a report",
                message: "other freezes of the same report kept winning; try again".to_owned(),
            }))
        })
    }

    fn frozen_report(&self, id: i64) -> Pending<Option<FrozenReport>> {
        self.read("reading a frozen report", move |pg| {
            let row = pg.fetch_optional(q(concat!(select_frozen!(), " WHERE id = $1")).bind(id))?;
            Ok(row.as_ref().map(frozen_report_row).transpose()?)
        })
    }

    fn frozen_reports_by_hash(&self, sha256: &str) -> Pending<Vec<FrozenReport>> {
        let sha256 = sha256.to_owned();
        self.read("reading frozen reports", move |pg| {
            let rows = pg.fetch_all(
                q(concat!(select_frozen!(), " WHERE sha256 = $1 ORDER BY id")).bind(sha256),
            )?;
            map_all(rows, frozen_report_row)
        })
    }

    fn current_frozen_reports(&self, limit: i64) -> Pending<Vec<FrozenReport>> {
        self.read("reading the current frozen reports", move |pg| {
            let rows = pg.fetch_all(
                q(concat!(
                    select_frozen!(),
                    " WHERE NOT EXISTS (SELECT 1 FROM frozen_reports s \
                     WHERE s.supersedes = frozen_reports.id) ORDER BY id DESC LIMIT $1"
                ))
                .bind(limit),
            )?;
            map_all(rows, frozen_report_row)
        })
    }

    fn list_frozen_reports(&self, limit: i64) -> Pending<Vec<FrozenReport>> {
        self.read("reading frozen reports", move |pg| {
            let rows = pg.fetch_all(
                q(concat!(select_frozen!(), " ORDER BY id DESC LIMIT $1")).bind(limit),
            )?;
            map_all(rows, frozen_report_row)
        })
    }

    fn frozen_report_body(&self, id: i64) -> Pending<Option<(FrozenReport, Vec<u8>)>> {
        self.read("reading a frozen report", move |pg| {
            let row = pg.fetch_optional(
                q(
                    "SELECT id, kind, period, lang, format, data_from, data_to, sha256, \
                   frozen_at, frozen_by, supersedes, reason, body, \
                   (SELECT s.id FROM frozen_reports s WHERE s.supersedes = frozen_reports.id) \
                   AS superseded_by FROM frozen_reports WHERE id = $1",
                )
                .bind(id),
            )?;
            Ok(row
                .as_ref()
                .map(|r| Ok::<_, StoreError>((frozen_report_row(r)?, col::<Vec<u8>>(r, "body")?)))
                .transpose()?)
        })
    }

    fn proposal_facts(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Pending<ProposalFacts> {
        self.read("reading what the proposals read", move |pg| {
            in_snapshot(pg, |pg| proposal_facts(pg, from, to))
        })
    }

    fn report_facts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        slot_jobs: &[String],
    ) -> Pending<ReportFacts> {
        let slot_jobs = slot_jobs.to_vec();
        self.read("reading a period's facts", move |pg| {
            in_snapshot(pg, |pg| report_facts(pg, from, to, &slot_jobs))
        })
    }
}
