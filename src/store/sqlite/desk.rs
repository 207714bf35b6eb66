//! The service desk's requests and their history, in SQLite.

use super::*;

const REQUEST: &str = "SELECT id, opened_at, opened_by, requester, department, channel, \
     category, text, status, due_at, answered_at, assignee, escalated_to, consultation, \
     closed_at, closed_by, result FROM requests";

fn request_row(r: &Row<'_>) -> Result<RequestRow, StoreError> {
    Ok(RequestRow {
        id: col(r, "id")?,
        opened_at: time(r, "opened_at")?,
        opened_by: col(r, "opened_by")?,
        requester: col(r, "requester")?,
        department: col(r, "department")?,
        channel: col(r, "channel")?,
        category: token(r, "category")?,
        text: col(r, "text")?,
        status: token(r, "status")?,
        due_at: time(r, "due_at")?,
        answered_at: opt_time(r, "answered_at")?,
        assignee: col(r, "assignee")?,
        escalated_to: col(r, "escalated_to")?,
        consultation: col(r, "consultation")?,
        closed_at: opt_time(r, "closed_at")?,
        closed_by: col(r, "closed_by")?,
        result: col(r, "result")?,
    })
}

/// The request `id` as a write reads it: `None` when not recorded, `Err` when unreadable.
fn request_by_id(c: &Connection, id: i64) -> rusqlite::Result<Option<Result<RequestRow, ()>>> {
    let rows = all(
        c,
        "reading a request",
        &format!("{REQUEST} WHERE id = ?"),
        [id],
        request_row,
    );
    match rows {
        Ok(rows) => Ok(rows.into_iter().next().map(Ok)),
        Err(StoreError::Corrupt(_)) => Ok(Some(Err(()))),
        Err(e) => Err(carry(e)),
    }
}

fn log(
    c: &Connection,
    id: i64,
    at: &str,
    actor: &str,
    kind: &str,
    text: &str,
    link: Option<DeskLink>,
) -> rusqlite::Result<()> {
    let (run, incident) = match link {
        Some(DeskLink::Run(r)) => (Some(r), None),
        Some(DeskLink::Incident(i)) => (None, Some(i)),
        None => (None, None),
    };
    c.prepare_cached(
        "INSERT INTO request_events (request_id, at, actor, kind, text, run_id, incident_id) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![id, at, actor, kind, text, run, incident])?;
    Ok(())
}

/// Why a link cannot be made, from the records: its target is not recorded, a run is
/// another request's, or this link exists already.
fn link_refusal(c: &Connection, id: i64, link: DeskLink) -> rusqlite::Result<Option<DeskRefusal>> {
    let (what, table, target) = match link {
        DeskLink::Run(r) => ("run", "runs", r),
        DeskLink::Incident(i) => ("incident", "incidents", i),
    };
    let exists: bool = c
        .prepare_cached(&format!(
            "SELECT EXISTS (SELECT 1 FROM {table} WHERE id = ?)"
        ))?
        .query_row([target], |r| r.get(0))?;
    if !exists {
        return Ok(Some(DeskRefusal::NoTarget { what, target }));
    }
    let holder: Option<i64> = match link {
        DeskLink::Run(r) => c
            .prepare_cached("SELECT request_id FROM request_events WHERE run_id = ?")?
            .query_row([r], |r| r.get(0))
            .optional()?,
        DeskLink::Incident(i) => c
            .prepare_cached(
                "SELECT request_id FROM request_events WHERE request_id = ? AND incident_id = ?",
            )?
            .query_row([id, i], |r| r.get(0))
            .optional()?,
    };
    Ok(match (holder, link) {
        (Some(h), DeskLink::Run(run)) if h != id => Some(DeskRefusal::RunTaken { run, request: h }),
        (Some(_), _) => Some(DeskRefusal::Linked { id, what, target }),
        (None, _) => None,
    })
}

impl DeskStore for SqliteStore {
    fn open_request(&self, request: &NewRequest) -> Pending<i64> {
        let r = request.clone();
        self.write("recording a request", move |c| {
            let at = ts(r.at);
            let id: i64 = c
                .prepare_cached(
                    "INSERT INTO requests (opened_at, opened_by, requester, department, channel, \
                     category, text, due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                )?
                .query_row(
                    params![
                        at,
                        r.opened_by,
                        r.requester,
                        r.department,
                        r.channel,
                        r.category.as_str(),
                        r.text,
                        ts(r.due_at)
                    ],
                    |row| row.get(0),
                )?;
            let text = format!(
                "{} from {} ({}) by {}",
                r.category, r.requester, r.department, r.channel
            );
            log(c, id, &at, &r.opened_by, "opened", &text, None)?;
            Ok(id)
        })
    }

    fn list_requests(&self, filter: &RequestFilter) -> Pending<Vec<RequestRow>> {
        let f = filter.clone();
        self.read(move |c| {
            all(
                c,
                "listing requests",
                &format!(
                    "{REQUEST} WHERE (? OR status <> 'closed') AND (? IS NULL OR status = ?) \
                     AND (? IS NULL OR category = ?) AND (? IS NULL OR department = ?) \
                     ORDER BY status = 'closed', id LIMIT ?"
                ),
                params![
                    f.all || f.status == Some(RequestStatus::Closed),
                    f.status.map(RequestStatus::as_str),
                    f.status.map(RequestStatus::as_str),
                    f.category.map(Category::as_str),
                    f.category.map(Category::as_str),
                    f.department,
                    f.department,
                    f.limit
                ],
                request_row,
            )
        })
    }

    fn get_request(&self, id: i64) -> Pending<Option<(RequestRow, Vec<RequestEvent>)>> {
        self.read(move |c| {
            let Some(row) = all(
                c,
                "reading a request",
                &format!("{REQUEST} WHERE id = ?"),
                [id],
                request_row,
            )?
            .into_iter()
            .next() else {
                return Ok(None);
            };
            let events = all(
                c,
                "reading a request's history",
                "SELECT at, actor, kind, text, run_id, incident_id FROM request_events \
                 WHERE request_id = ? ORDER BY id",
                [id],
                |r| {
                    Ok(RequestEvent {
                        at: time(r, "at")?,
                        actor: col(r, "actor")?,
                        kind: col(r, "kind")?,
                        text: col(r, "text")?,
                        run_id: col(r, "run_id")?,
                        incident_id: col(r, "incident_id")?,
                    })
                },
            )?;
            Ok(Some((row, events)))
        })
    }

    fn change_request(
        &self,
        id: i64,
        change: &DeskChange,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Pending<Result<RequestRow, DeskRefusal>> {
        let (change, actor) = (change.clone(), actor.to_owned());
        self.write("changing a request", move |c| {
            let row = match request_by_id(c, id)? {
                None => None,
                Some(Err(())) => return Ok(Err(DeskRefusal::Unreadable { id })),
                Some(Ok(row)) => Some(row),
            };
            let current = row.as_ref().map(|r| crate::domain::desk::Current {
                status: r.status,
                category: r.category,
                answered: r.answered_at.is_some(),
                consultation: r.consultation.clone(),
                closed_by: r.closed_by.clone(),
            });
            let done = match crate::domain::desk::change(id, current.as_ref(), &change) {
                Ok(done) => done,
                Err(refused) => return Ok(Err(refused)),
            };
            let link = match &change {
                DeskChange::Link(l) => Some(*l),
                _ => None,
            };
            if let Some(l) = link
                && let Some(refused) = link_refusal(c, id, l)?
            {
                return Ok(Err(refused));
            }
            let at = ts(at);
            c.prepare_cached(
                "UPDATE requests SET status = ?, answered_at = CASE WHEN ? THEN \
                 COALESCE(answered_at, ?) ELSE answered_at END WHERE id = ?",
            )?
            .execute(params![done.status.as_str(), done.answers, at, id])?;
            if let Some((category, due)) = done.category {
                c.prepare_cached("UPDATE requests SET category = ?, due_at = ? WHERE id = ?")?
                    .execute(params![category.as_str(), ts(due), id])?;
            }
            match &change {
                DeskChange::Assign { to } => {
                    c.prepare_cached("UPDATE requests SET assignee = ? WHERE id = ?")?
                        .execute(params![to, id])?;
                }
                DeskChange::Escalate { to, .. } => {
                    c.prepare_cached("UPDATE requests SET escalated_to = ? WHERE id = ?")?
                        .execute(params![to, id])?;
                }
                DeskChange::Consult { reason } => {
                    c.prepare_cached("UPDATE requests SET consultation = ? WHERE id = ?")?
                        .execute(params![reason, id])?;
                }
                DeskChange::Close { result } => {
                    c.prepare_cached(
                        "UPDATE requests SET closed_at = ?, closed_by = ?, result = ? WHERE id = ?",
                    )?
                    .execute(params![at, actor, result, id])?;
                }
                DeskChange::Triage { .. } | DeskChange::Link(_) => {}
            }
            log(c, id, &at, &actor, done.event, &done.text, link)?;
            Ok(request_by_id(c, id)?
                .and_then(Result::ok)
                .ok_or(DeskRefusal::Unreadable { id }))
        })
    }

    fn desk_facts(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Pending<DeskFacts> {
        self.read(move |c| {
            let requests = all(
                c,
                "reading the desk's requests for a report",
                &format!(
                    "{REQUEST} WHERE opened_at < ? AND (closed_at IS NULL OR closed_at >= ?) \
                     ORDER BY id"
                ),
                params![ts(to), ts(from)],
                request_row,
            )?;
            let runs = all(
                c,
                "reading the runs of requests",
                "SELECT e.run_id, e.request_id FROM request_events e JOIN requests q \
                 ON q.id = e.request_id WHERE e.run_id IS NOT NULL AND q.opened_at < ? \
                 AND (q.closed_at IS NULL OR q.closed_at >= ?) ORDER BY e.run_id",
                params![ts(to), ts(from)],
                |r| Ok((col(r, "run_id")?, col(r, "request_id")?)),
            )?;
            Ok(DeskFacts { requests, runs })
        })
    }
}
