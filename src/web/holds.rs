//! Holds (`/holds`): every job with a schedule, held or not, as `unyo hold` and `unyo
//! release` act on them: a held one with who held it, since when and why, and Release; the
//! others with Hold and its reason. A job held but no longer defined is listed too (it can
//! still be released). The buttons show to an operator.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::page::{self, Frame, Write, local};
use super::{Dashboard, lang, session};

#[derive(Debug)]
struct Line {
    job: String,
    schedules: usize,
    /// Who held it, when and why; `None` when it runs on schedule.
    held: Option<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "holds.html")]
struct HoldsPage {
    frame: Frame,
    jobs: Vec<Line>,
    hold: Write,
}

pub(super) async fn page(State(d): State<Arc<Dashboard>>, headers: HeaderMap) -> Response {
    let lang = lang(&headers);
    let who = session::current(&d, &headers).await;
    let defs = d.definitions();
    let tz = defs.settings.timezone;
    let holds = match d.store.holds().await {
        Ok(h) => h,
        Err(e) => return page::unavailable(lang, &e),
    };
    let mut jobs: BTreeMap<String, Line> = BTreeMap::new();
    for s in &defs.catalog.schedules {
        jobs.entry(s.job.clone())
            .or_insert_with(|| Line {
                job: s.job.clone(),
                schedules: 0,
                held: None,
            })
            .schedules += 1;
    }
    for h in holds {
        jobs.entry(h.job.clone())
            .or_insert_with(|| Line {
                job: h.job.clone(),
                schedules: 0,
                held: None,
            })
            .held = Some((h.held_by, local(h.held_at, tz), h.reason));
    }
    page::render(
        &HoldsPage {
            frame: Frame::of(lang, lang.words().holds, who),
            jobs: jobs.into_values().collect(),
            hold: Write::Hold,
        },
        StatusCode::OK,
    )
}
