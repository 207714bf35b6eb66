//! The service desk's requests and their history, in PostgreSQL. A change locks its
//! request's row, so two operators changing one request at once apply one after the other.

use super::*;

fn request_row(r: &PgRow) -> Result<RequestRow, StoreError> {
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

fn request_by_id(
    pg: &mut Pg,
    id: i64,
    lock: bool,
) -> Result<Option<Result<RequestRow, StoreError>>, Fail> {
    let sql = if lock {
        q("SELECT * FROM requests WHERE id = $1 FOR UPDATE")
    } else {
        q("SELECT * FROM requests WHERE id = $1")
    };
    Ok(pg.fetch_optional(sql.bind(id))?.as_ref().map(request_row))
}

fn log(
    pg: &mut Pg,
    id: i64,
    at: DateTime<Utc>,
    actor: &str,
    kind: &str,
    text: &str,
    link: Option<DeskLink>,
) -> Result<(), Fail> {
    let (run, incident) = match link {
        Some(DeskLink::Run(r)) => (Some(r), None),
        Some(DeskLink::Incident(i)) => (None, Some(i)),
        None => (None, None),
    };
    pg.execute(
        q(
            "INSERT INTO request_events (request_id, at, actor, kind, text, run_id, incident_id) \
           VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(at)
        .bind(actor.to_owned())
        .bind(kind.to_owned())
        .bind(text.to_owned())
        .bind(run)
        .bind(incident),
    )?;
    Ok(())
}

/// Why a link cannot be made, from the records (see the SQLite store's).
fn link_refusal(pg: &mut Pg, id: i64, link: DeskLink) -> Result<Option<DeskRefusal>, Fail> {
    let (what, target, exists) = match link {
        DeskLink::Run(r) => ("run", r, q("SELECT 1 AS one FROM runs WHERE id = $1")),
        DeskLink::Incident(i) => (
            "incident",
            i,
            q("SELECT 1 AS one FROM incidents WHERE id = $1"),
        ),
    };
    if pg.fetch_optional(exists.bind(target))?.is_none() {
        return Ok(Some(DeskRefusal::NoTarget { what, target }));
    }
    let holder = match link {
        DeskLink::Run(r) => {
            pg.fetch_optional(q("SELECT request_id FROM request_events WHERE run_id = $1").bind(r))?
        }
        DeskLink::Incident(i) => pg.fetch_optional(
            q("SELECT request_id FROM request_events WHERE request_id = $1 AND incident_id = $2")
                .bind(id)
                .bind(i),
        )?,
    };
    let holder: Option<i64> = holder.map(|r| col(&r, "request_id")).transpose()?;
    Ok(match (holder, link) {
        (Some(h), DeskLink::Run(run)) if h != id => Some(DeskRefusal::RunTaken { run, request: h }),
        (Some(_), _) => Some(DeskRefusal::Linked { id, what, target }),
        (None, _) => None,
    })
}

impl DeskStore for PgStore {
    fn open_request(&self, request: &NewRequest) -> Pending<i64> {
        let r = request.clone();
        self.write("recording a request", move |pg| {
            let row = pg.fetch_one(
                q(
                    "INSERT INTO requests (opened_at, opened_by, requester, department, channel, \
                   category, text, due_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                )
                .bind(r.at)
                .bind(r.opened_by.clone())
                .bind(r.requester.clone())
                .bind(r.department.clone())
                .bind(r.channel.clone())
                .bind(r.category.as_str())
                .bind(r.text.clone())
                .bind(r.due_at),
            )?;
            let id: i64 = col(&row, "id")?;
            let text = format!(
                "{} from {} ({}) by {}",
                r.category, r.requester, r.department, r.channel
            );
            log(pg, id, r.at, &r.opened_by, "opened", &text, None)?;
            Ok(id)
        })
    }

    fn list_requests(&self, filter: &RequestFilter) -> Pending<Vec<RequestRow>> {
        let f = filter.clone();
        self.read("listing requests", move |pg| {
            let rows = pg.fetch_all(
                q("SELECT * FROM requests WHERE ($1 OR status <> 'closed') \
                   AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR category = $3) \
                   AND ($4::text IS NULL OR department = $4) \
                   ORDER BY status = 'closed', id LIMIT $5")
                .bind(f.all || f.status == Some(RequestStatus::Closed))
                .bind(f.status.map(RequestStatus::as_str))
                .bind(f.category.map(Category::as_str))
                .bind(f.department)
                .bind(f.limit),
            )?;
            map_all(rows, request_row)
        })
    }

    fn get_request(&self, id: i64) -> Pending<Option<(RequestRow, Vec<RequestEvent>)>> {
        self.read("reading a request", move |pg| {
            let Some(row) = request_by_id(pg, id, false)? else {
                return Ok(None);
            };
            let row = row?;
            let events = pg.fetch_all(
                q(
                    "SELECT at, actor, kind, text, run_id, incident_id FROM request_events \
                   WHERE request_id = $1 ORDER BY id",
                )
                .bind(id),
            )?;
            let events = map_all(events, |r| {
                Ok(RequestEvent {
                    at: time(r, "at")?,
                    actor: col(r, "actor")?,
                    kind: col(r, "kind")?,
                    text: col(r, "text")?,
                    run_id: col(r, "run_id")?,
                    incident_id: col(r, "incident_id")?,
                })
            })?;
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
        self.write("changing a request", move |pg| {
            let row = match request_by_id(pg, id, true)? {
                None => None,
                Some(Err(_)) => return Ok(Err(DeskRefusal::Unreadable { id })),
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
                && let Some(refused) = link_refusal(pg, id, l)?
            {
                return Ok(Err(refused));
            }
            pg.execute(
                q(
                    "UPDATE requests SET status = $1, answered_at = CASE WHEN $2 THEN \
                   COALESCE(answered_at, $3) ELSE answered_at END WHERE id = $4",
                )
                .bind(done.status.as_str())
                .bind(done.answers)
                .bind(at)
                .bind(id),
            )?;
            if let Some((category, due)) = done.category {
                pg.execute(
                    q("UPDATE requests SET category = $1, due_at = $2 WHERE id = $3")
                        .bind(category.as_str())
                        .bind(due)
                        .bind(id),
                )?;
            }
            match &change {
                DeskChange::Assign { to } => {
                    pg.execute(
                        q("UPDATE requests SET assignee = $1 WHERE id = $2")
                            .bind(to.clone())
                            .bind(id),
                    )?;
                }
                DeskChange::Escalate { to, .. } => {
                    pg.execute(
                        q("UPDATE requests SET escalated_to = $1 WHERE id = $2")
                            .bind(to.clone())
                            .bind(id),
                    )?;
                }
                DeskChange::Consult { reason } => {
                    pg.execute(
                        q("UPDATE requests SET consultation = $1 WHERE id = $2")
                            .bind(reason.clone())
                            .bind(id),
                    )?;
                }
                DeskChange::Close { result } => {
                    pg.execute(
                        q(
                            "UPDATE requests SET closed_at = $1, closed_by = $2, result = $3 \
                           WHERE id = $4",
                        )
                        .bind(at)
                        .bind(actor.clone())
                        .bind(result.clone())
                        .bind(id),
                    )?;
                }
                DeskChange::Triage { .. } | DeskChange::Link(_) => {}
            }
            log(pg, id, at, &actor, done.event, &done.text, link)?;
            Ok(request_by_id(pg, id, false)?
                .and_then(Result::ok)
                .ok_or(DeskRefusal::Unreadable { id }))
        })
    }

    fn desk_facts(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Pending<DeskFacts> {
        self.read("reading the desk's requests for a report", move |pg| {
            let rows = pg.fetch_all(
                q("SELECT * FROM requests WHERE opened_at < $1 \
                   AND (closed_at IS NULL OR closed_at >= $2) ORDER BY id")
                .bind(to)
                .bind(from),
            )?;
            let requests = map_all(rows, request_row)?;
            let rows = pg.fetch_all(
                q(
                    "SELECT e.run_id, e.request_id FROM request_events e JOIN requests q \
                   ON q.id = e.request_id WHERE e.run_id IS NOT NULL AND q.opened_at < $1 \
                   AND (q.closed_at IS NULL OR q.closed_at >= $2) ORDER BY e.run_id",
                )
                .bind(to)
                .bind(from),
            )?;
            let runs = map_all(rows, |r| Ok((col(r, "run_id")?, col(r, "request_id")?)))?;
            Ok(DeskFacts { requests, runs })
        })
    }
}
