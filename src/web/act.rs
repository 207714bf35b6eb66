//! The dashboard's writes, each the CLI's action with the web user's name (`web:NAME`):
//! acknowledge an incident (`incident.ack`), cancel a run (`cancel`), approve or reject a
//! waiting approval gate (`approve`, `reject`). Each passes `session::authorize` first, then
//! takes the same store call and the same domain decisions as `unyo incident ack`, `unyo
//! cancel`, `unyo approve|reject`, and is audited, done or refused. A write that went
//! through answers with a redirect back to its page (303); a refusal with a page saying why.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::form::{Fields, Form, FromFields};
use super::session::{Session, audit, authorize};
use super::{Dashboard, Lang, lang, page};
use crate::domain::web::{Write, actor};
use crate::model::Job;
use crate::store::{CancelOutcome, IncidentChange};

#[derive(Debug)]
pub(super) struct Plain {
    csrf: String,
}

impl FromFields for Plain {
    fn from_fields(f: &Fields) -> Result<Plain, String> {
        Ok(Plain {
            csrf: f.get("csrf"),
        })
    }
}

#[derive(Debug)]
pub(super) struct Decision {
    csrf: String,
    step: String,
    /// The comment of an approval, the reason of a rejection.
    text: String,
    /// The page the form was on: `/approvals` goes back there, anything else to the run.
    back: String,
}

impl FromFields for Decision {
    fn from_fields(f: &Fields) -> Result<Decision, String> {
        Ok(Decision {
            csrf: f.get("csrf"),
            step: f.required("step")?,
            text: f.get("text"),
            back: f.get("back"),
        })
    }
}

/// A write under way: what the audit records of it and where it goes back to.
struct Act<'a> {
    d: &'a Dashboard,
    lang: Lang,
    s: &'a Session,
    write: Write,
    target: &'a str,
    args: serde_json::Value,
    back: String,
}

impl Act<'_> {
    /// Audits the write's outcome, then answers: back to its page when done, a page saying
    /// why when refused (`refusal`: 409 for a state that does not allow it, 403 for a
    /// person who may not).
    async fn finish(&self, outcome: Result<String, String>, refusal: StatusCode) -> Response {
        let who = self.s.actor();
        let audited = audit(
            self.d,
            &who,
            self.write.action(),
            self.target,
            self.args.clone(),
            &outcome,
        );
        if let Err(e) = audited.await {
            return page::unavailable(self.lang, &e);
        }
        match outcome {
            Ok(_) => Redirect::to(&self.back).into_response(),
            Err(why) => {
                let w = self.lang.words();
                page::message_to(self.lang, Some(self.s.clone()), refusal, w.refused, &why)
            }
        }
    }
}

/// The job's `allowed_users` and `allowed_groups`, as `unyo cancel|approve|reject` applies
/// them to the operating-system user: a web user may act on a restricted job only when
/// `allowed_users` names them (a web user has no operating-system groups).
fn allowed(job: &Job, s: &Session, action: &str) -> Result<(), String> {
    if job.allowed_users.is_empty() && job.allowed_groups.is_empty()
        || job.allowed_users.contains(&s.name)
    {
        return Ok(());
    }
    Err(format!(
        "{} may not {action} `{}`: only the users {} may (allowed_users, allowed_groups in {})",
        s.actor(),
        job.name,
        if job.allowed_users.is_empty() {
            "of its groups".to_owned()
        } else {
            job.allowed_users.join(", ")
        },
        job.file.display()
    ))
}

pub(super) async fn acknowledge(
    State(d): State<Arc<Dashboard>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<Plain>,
) -> Response {
    let lang = lang(&headers);
    let target = format!("incident {id}");
    let s = match authorize(&d, lang, &headers, &f.csrf, Write::Acknowledge, &target).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let act = Act {
        d: &d,
        lang,
        s: &s,
        write: Write::Acknowledge,
        target: &target,
        args: serde_json::json!({}),
        back: "/incidents".to_owned(),
    };
    let result = d
        .store
        .change_incident(
            id,
            &IncidentChange::Acknowledge,
            &s.actor(),
            chrono::Utc::now(),
        )
        .await;
    let outcome = match result {
        Ok(Ok(row)) => Ok(format!("now {}", row.status)),
        Ok(Err(why)) => Err(why.to_string()),
        Err(e) => return page::unavailable(lang, &e),
    };
    act.finish(outcome, StatusCode::CONFLICT).await
}

pub(super) async fn cancel(
    State(d): State<Arc<Dashboard>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<Plain>,
) -> Response {
    let lang = lang(&headers);
    let target = format!("run {id}");
    let s = match authorize(&d, lang, &headers, &f.csrf, Write::Cancel, &target).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let act = Act {
        d: &d,
        lang,
        s: &s,
        write: Write::Cancel,
        target: &target,
        args: serde_json::json!({}),
        back: format!("/runs/{id}"),
    };
    let run = match d.store.get_run(id).await {
        Ok(r) => r,
        Err(e) => return page::unavailable(lang, &e),
    };
    if let Some(r) = &run
        && let Some(job) = d.definitions().catalog.jobs.get(&r.run.job)
        && let Err(why) = allowed(job, &s, "cancel")
    {
        let refused = Err(why);
        return act.finish(refused, StatusCode::FORBIDDEN).await;
    }
    let outcome = match d
        .store
        .request_cancel(id, &s.actor(), chrono::Utc::now())
        .await
    {
        Ok(CancelOutcome::Cancelled) => Ok("cancelled before it started".to_owned()),
        Ok(CancelOutcome::Requested { .. }) => Ok("stop requested".to_owned()),
        Ok(CancelOutcome::Ended(status)) => Err(format!("run {id} has ended already ({status})")),
        Ok(CancelOutcome::Unknown) => Err(crate::store::no_such_run(id).to_string()),
        Err(e) => return page::unavailable(lang, &e),
    };
    act.finish(outcome, StatusCode::CONFLICT).await
}

pub(super) async fn approve(
    state: State<Arc<Dashboard>>,
    id: Path<i64>,
    headers: HeaderMap,
    form: Form<Decision>,
) -> Response {
    decide(state, id, headers, form, true).await
}

pub(super) async fn reject(
    state: State<Arc<Dashboard>>,
    id: Path<i64>,
    headers: HeaderMap,
    form: Form<Decision>,
) -> Response {
    decide(state, id, headers, form, false).await
}

async fn decide(
    State(d): State<Arc<Dashboard>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<Decision>,
    approve: bool,
) -> Response {
    let lang = lang(&headers);
    let write = if approve {
        Write::Approve
    } else {
        Write::Reject
    };
    let target = format!("run {id} step {}", f.step);
    let s = match authorize(&d, lang, &headers, &f.csrf, write, &target).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let act = Act {
        d: &d,
        lang,
        s: &s,
        write,
        target: &target,
        args: serde_json::json!({ if approve { "comment" } else { "reason" }: f.text }),
        // Only a page of ours: a form cannot send the user elsewhere.
        back: if f.back == "/approvals" {
            f.back.clone()
        } else {
            format!("/runs/{id}")
        },
    };
    if !approve && f.text.trim().is_empty() {
        let refused = Err("a rejection needs its reason".to_owned());
        return act.finish(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let detail = match d.store.get_run(id).await {
        Ok(Some(detail)) => detail,
        Ok(None) => {
            let refused = Err(crate::store::no_such_run(id).to_string());
            return act.finish(refused, StatusCode::NOT_FOUND).await;
        }
        Err(e) => return page::unavailable(lang, &e),
    };
    if let Some(job) = d.definitions().catalog.jobs.get(&detail.run.job) {
        let person = s.actor();
        let decided = allowed(job, &s, write.action()).and_then(|()| {
            crate::domain::gate::separate_approver(
                job.separate_approver,
                approve,
                id,
                &detail.run.requested_by,
                &[&person, &s.name],
            )
        });
        if let Err(why) = decided {
            return act.finish(Err(why), StatusCode::FORBIDDEN).await;
        }
    }
    let outcome = match d
        .store
        .decide_gate(
            id,
            &f.step,
            approve,
            &actor(&s.name),
            &f.text,
            chrono::Utc::now(),
        )
        .await
    {
        Ok(Ok(())) => Ok(if approve { "approved" } else { "rejected" }.to_owned()),
        Ok(Err(why)) => Err(why.to_string()),
        Err(e) => return page::unavailable(lang, &e),
    };
    act.finish(outcome, StatusCode::CONFLICT).await
}
