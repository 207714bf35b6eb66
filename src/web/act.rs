//! The dashboard's writes, each the CLI's action with the web user's name (`web:NAME`):
//! acknowledge or resolve an incident (`incident.ack`, `incident.resolve`), cancel a run
//! (`cancel`), approve or reject a waiting approval gate (`approve`, `reject`), hold or
//! release a job (`hold`, `release`), submit an ad-hoc run (`submit`). Each passes
//! `session::authorize` first, then takes the same store call and the same domain decisions
//! as `unyo incident ack|resolve`, `unyo cancel`, `unyo approve|reject`, `unyo
//! hold|release`, `unyo submit` (`engine::submit`), and is audited, done or refused. A write that went
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

#[derive(Debug)]
pub(super) struct Resolution {
    csrf: String,
    cause: String,
    countermeasure: String,
}

impl FromFields for Resolution {
    fn from_fields(f: &Fields) -> Result<Resolution, String> {
        Ok(Resolution {
            csrf: f.get("csrf"),
            cause: f.get("cause"),
            countermeasure: f.get("countermeasure"),
        })
    }
}

/// `unyo incident resolve ID --cause --countermeasure`, from the incident's page.
pub(super) async fn resolve(
    State(d): State<Arc<Dashboard>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<Resolution>,
) -> Response {
    let lang = lang(&headers);
    let target = format!("incident {id}");
    let s = match authorize(&d, lang, &headers, &f.csrf, Write::Resolve, &target).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let act = Act {
        d: &d,
        lang,
        s: &s,
        write: Write::Resolve,
        target: &target,
        args: serde_json::json!({ "cause": f.cause, "countermeasure": f.countermeasure }),
        back: format!("/incidents/{id}"),
    };
    if f.cause.trim().is_empty() || f.countermeasure.trim().is_empty() {
        let refused = Err(
            "the cause and the countermeasure must not be empty: they go into the report"
                .to_owned(),
        );
        return act.finish(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let change = IncidentChange::Resolve {
        cause: f.cause.clone(),
        countermeasure: f.countermeasure.clone(),
    };
    let outcome = match d
        .store
        .change_incident(id, &change, &s.actor(), chrono::Utc::now())
        .await
    {
        Ok(Ok(row)) => Ok(format!("now {}", row.status)),
        Ok(Err(why)) => Err(why.to_string()),
        Err(e) => return page::unavailable(lang, &e),
    };
    act.finish(outcome, StatusCode::CONFLICT).await
}

#[derive(Debug)]
pub(super) struct Holding {
    csrf: String,
    job: String,
    reason: String,
}

impl FromFields for Holding {
    fn from_fields(f: &Fields) -> Result<Holding, String> {
        Ok(Holding {
            csrf: f.get("csrf"),
            job: f.required("job")?,
            reason: f.get("reason"),
        })
    }
}

/// `unyo hold JOB --reason`, from the Holds page.
pub(super) async fn hold(
    State(d): State<Arc<Dashboard>>,
    headers: HeaderMap,
    Form(f): Form<Holding>,
) -> Response {
    let lang = lang(&headers);
    let target = format!("job {}", f.job);
    let s = match authorize(&d, lang, &headers, &f.csrf, Write::Hold, &target).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let act = Act {
        d: &d,
        lang,
        s: &s,
        write: Write::Hold,
        target: &target,
        args: serde_json::json!({ "reason": f.reason }),
        back: "/holds".to_owned(),
    };
    let catalog = d.definitions().catalog.clone();
    let Some(job) = catalog.jobs.get(&f.job) else {
        let hint = crate::spec::diag::hint(&f.job, catalog.jobs.keys().map(String::as_str));
        let refused = Err(format!("unknown job `{}`{hint}", f.job));
        return act.finish(refused, StatusCode::NOT_FOUND).await;
    };
    if let Err(why) = allowed(job, &s, "hold") {
        return act.finish(Err(why), StatusCode::FORBIDDEN).await;
    }
    let outcome = match d
        .store
        .hold(&f.job, &s.actor(), chrono::Utc::now(), f.reason.trim())
        .await
    {
        Ok(true) => Ok("held".to_owned()),
        Ok(false) => Err(format!("`{}` is held already", f.job)),
        Err(e) => return page::unavailable(lang, &e),
    };
    act.finish(outcome, StatusCode::CONFLICT).await
}

/// `unyo release JOB`, from the Holds page. A job no longer defined can still be released.
pub(super) async fn release(
    State(d): State<Arc<Dashboard>>,
    headers: HeaderMap,
    Form(f): Form<Holding>,
) -> Response {
    let lang = lang(&headers);
    let target = format!("job {}", f.job);
    let s = match authorize(&d, lang, &headers, &f.csrf, Write::Release, &target).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let act = Act {
        d: &d,
        lang,
        s: &s,
        write: Write::Release,
        target: &target,
        args: serde_json::json!({}),
        back: "/holds".to_owned(),
    };
    if let Some(job) = d.definitions().catalog.jobs.get(&f.job)
        && let Err(why) = allowed(job, &s, "release")
    {
        return act.finish(Err(why), StatusCode::FORBIDDEN).await;
    }
    let outcome = match d.store.release(&f.job).await {
        Ok(true) => Ok("released".to_owned()),
        Ok(false) => Err(format!("`{}` is not held", f.job)),
        Err(e) => return page::unavailable(lang, &e),
    };
    act.finish(outcome, StatusCode::CONFLICT).await
}

/// The Submit page's form: the job, each parameter as `p.NAME` (left empty: not given, so
/// its default applies), the reason, a service-desk request, a start time, urgency.
#[derive(Debug)]
pub(super) struct Submitting {
    csrf: String,
    job: String,
    params: Vec<String>,
    reason: String,
    request: String,
    at: String,
    outside_window: bool,
}

impl FromFields for Submitting {
    fn from_fields(f: &Fields) -> Result<Submitting, String> {
        Ok(Submitting {
            csrf: f.get("csrf"),
            job: f.required("job")?,
            params: f
                .with_prefix("p.")
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
            reason: f.get("reason"),
            request: f.get("request"),
            at: f.get("at"),
            outside_window: !f.get("outside_window").is_empty(),
        })
    }
}

/// `unyo submit JOB -p NAME=VALUE ... [--reason] [--request N] [--at] [--outside-window]`,
/// from the Submit page: the same checks and record ([`crate::engine::submit`]), requested
/// by `web:NAME`; done, it goes to the new run's page.
pub(super) async fn submit(
    State(d): State<Arc<Dashboard>>,
    headers: HeaderMap,
    Form(f): Form<Submitting>,
) -> Response {
    use crate::engine::submit::{Submission, submit};
    let lang = lang(&headers);
    let target = format!("job {}", f.job);
    let s = match authorize(&d, lang, &headers, &f.csrf, Write::Submit, &target).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let defs = d.definitions();
    let trimmed = |t: &str| Some(t.trim().to_owned()).filter(|t| !t.is_empty());
    let request = trimmed(&f.request).map(|r| r.parse::<i64>().map_err(|_| r));
    let sub = Submission {
        job: f.job.clone(),
        params: f.params.clone(),
        at: trimmed(&f.at),
        window: None,
        reason: trimmed(&f.reason),
        outside_window: f.outside_window,
        business_date: None,
        request: request.as_ref().and_then(|r| r.as_ref().ok().copied()),
    };
    let mut act = Act {
        d: &d,
        lang,
        s: &s,
        write: Write::Submit,
        target: &target,
        args: sub.audit_args(&defs.catalog),
        back: format!("/submit?job={}", f.job),
    };
    if let Some(Err(r)) = request {
        let refused = Err(format!("request: `{r}` is not a request number"));
        return act.finish(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let person = s.actor();
    let may = |job: &Job| allowed(job, &s, "submit");
    let now = chrono::Utc::now();
    let done = submit(
        &defs.settings,
        &defs.catalog,
        &*d.store,
        &sub,
        &person,
        may,
        now,
    )
    .await;
    let done = match done {
        Ok(Ok(done)) => done,
        Ok(Err(why)) => return act.finish(Err(why), StatusCode::UNPROCESSABLE_ENTITY).await,
        Err(e) => return page::unavailable(lang, &e),
    };
    // The request changed: audited as `unyo desk link` is.
    if let Some((n, status)) = &done.linked {
        let (target, outcome) = (format!("request {n}"), Ok(format!("now {status}")));
        let args = serde_json::json!({ "run": done.id });
        if let Err(e) = audit(&d, &person, "desk.link", &target, args, &outcome).await {
            return page::unavailable(lang, &e);
        }
    }
    act.back = format!("/runs/{}", done.id);
    act.finish(Ok(done.detail()), StatusCode::CONFLICT).await
}
