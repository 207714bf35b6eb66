//! Submit (`/submit`): the jobs that say `adhoc: true`, and for the one chosen
//! (`/submit?job=NAME`) the form of `unyo submit`: a field per parameter (its type,
//! whether it is required, its default and description), the reason, the service-desk
//! request it serves, a start time and the urgent start outside the job's window. The form
//! posts to `/submit` ([`super::act::submit`]); the values are data, checked as the CLI
//! checks them. A secret parameter has no field: it is never given on a form (it comes from
//! the daemon's environment, `from_env`).

use std::sync::Arc;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::form::Fields;
use super::page::{self, Frame, Write};
use super::{Dashboard, lang, session};
use crate::model::Job;

#[derive(Debug)]
struct Choice {
    name: String,
    title: String,
    params: usize,
    window: String,
}

#[derive(Debug)]
struct Field {
    name: String,
    kind: String,
    required: bool,
    default: String,
    help: String,
    /// The values of an `enum` or `list`.
    values: String,
}

#[derive(Debug)]
struct Chosen {
    name: String,
    title: String,
    description: String,
    window: String,
    fields: Vec<Field>,
}

#[derive(Template)]
#[template(path = "submit.html")]
struct SubmitPage {
    frame: Frame,
    jobs: Vec<Choice>,
    chosen: Option<Chosen>,
    submit: Write,
}

fn chosen(job: &Job) -> Chosen {
    Chosen {
        name: job.name.clone(),
        title: job.title.clone().unwrap_or_default(),
        description: job.description.clone().unwrap_or_default(),
        window: window(job),
        fields: job
            .params
            .iter()
            .filter(|(_, p)| !p.secret)
            .map(|(name, p)| Field {
                name: name.clone(),
                kind: format!("{:?}", p.kind).to_lowercase(),
                required: p.required && p.default.is_none(),
                default: p.default.clone().unwrap_or_default(),
                help: p.description.clone().unwrap_or_default(),
                values: p.values.join(", "),
            })
            .collect(),
    }
}

/// The window the job keeps to (or avoids), in words.
fn window(job: &Job) -> String {
    match (&job.window, &job.avoid) {
        (Some(w), _) => format!("window: {w}"),
        (None, Some(a)) => format!("avoid: {a}"),
        (None, None) => String::new(),
    }
}

pub(super) async fn page(
    State(d): State<Arc<Dashboard>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let lang = lang(&headers);
    let w = lang.words();
    let who = session::current(&d, &headers).await;
    let defs = d.definitions();
    let adhoc = defs.catalog.jobs.values().filter(|j| j.adhoc);
    let jobs = adhoc
        .map(|j| Choice {
            name: j.name.clone(),
            title: j.title.clone().unwrap_or_default(),
            params: j.params.len(),
            window: window(j),
        })
        .collect();
    let asked = Fields::parse(query.unwrap_or_default().as_bytes()).get("job");
    let chosen = match defs.catalog.jobs.get(&asked) {
        Some(j) if j.adhoc => Some(chosen(j)),
        _ if asked.is_empty() => None,
        _ => {
            return page::message(
                lang,
                StatusCode::NOT_FOUND,
                w.not_found,
                w.no_such_adhoc_job,
            );
        }
    };
    page::render(
        &SubmitPage {
            frame: Frame::of(lang, w.submit, who),
            jobs,
            chosen,
            submit: Write::Submit,
        },
        StatusCode::OK,
    )
}
