//! Audit (`/audit`): the audit trail newest first, as `unyo audit` reads it, filtered by
//! user (`web:NAME` for a web user), action and a span of dates in the configured time zone,
//! a page of [`PAGE`] entries at a time with a link to the older ones. A filter that does not
//! read (a date that is no date) answers 400 with the field named, and nothing listed.

use std::sync::Arc;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::form::Fields;
use super::page::{self, Frame, local};
use super::{Dashboard, lang, session};
use crate::store::AuditQuery;

/// Entries on a page.
const PAGE: i64 = 50;

#[derive(Debug)]
struct Entry {
    id: i64,
    at: String,
    user: String,
    host: String,
    action: String,
    target: String,
    args: String,
    outcome: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    frame: Frame,
    /// The filters as given, to show them back in the form.
    user: String,
    action: String,
    from: String,
    to: String,
    /// Why the filter was refused, naming the field.
    problem: String,
    entries: Vec<Entry>,
    /// The link to the next, older page, when there is one.
    older: Option<String>,
    /// Not the first page: a link back to the newest.
    paged: bool,
    newest: String,
}

/// `%XX` for every byte but the unreserved ones (RFC 3986), for a link's query.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A date field (`YYYY-MM-DD`) as the start of that day in `tz`, `days` later.
fn day(
    field: &str,
    text: &str,
    tz: chrono_tz::Tz,
    days: u64,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("`{field}`: `{text}` is not a date (YYYY-MM-DD)"))?;
    let date = date + chrono::Days::new(days);
    crate::engine::submit::parse_time(&date.format("%Y-%m-%d").to_string(), tz).map(Some)
}

pub(super) async fn page(
    State(d): State<Arc<Dashboard>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let lang = lang(&headers);
    let who = session::current(&d, &headers).await;
    let tz = d.definitions().settings.timezone;
    let q = Fields::parse(query.unwrap_or_default().as_bytes());
    let (user, action, from, to) = (
        q.get("user").trim().to_owned(),
        q.get("action").trim().to_owned(),
        q.get("from"),
        q.get("to"),
    );
    let some = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
    let before = q.get("before");
    let filter = day("from", &from, tz, 0).and_then(|f| {
        let t = day("to", &to, tz, 1)?;
        let before = match before.trim() {
            "" => None,
            b => Some(
                b.parse::<i64>()
                    .map_err(|_| format!("`before`: `{b}` is not an entry number"))?,
            ),
        };
        Ok(AuditQuery {
            user: some(&user),
            action: some(&action),
            from: f,
            to: t,
            before,
            limit: PAGE + 1,
        })
    });
    let filters = format!(
        "user={}&action={}&from={}&to={}",
        encode(&user),
        encode(&action),
        encode(from.trim()),
        encode(to.trim())
    );
    let mut view = AuditPage {
        frame: Frame::of(lang, lang.words().audit, who),
        user: user.clone(),
        action: action.clone(),
        from: from.trim().to_owned(),
        to: to.trim().to_owned(),
        problem: String::new(),
        entries: Vec::new(),
        older: None,
        paged: false,
        newest: format!("/audit?{filters}"),
    };
    let filter = match filter {
        Ok(f) => f,
        Err(problem) => {
            view.problem = problem;
            return page::render(&view, StatusCode::BAD_REQUEST);
        }
    };
    view.paged = filter.before.is_some();
    let mut rows = match d.store.audit_page(&filter).await {
        Ok(r) => r,
        Err(e) => return page::unavailable(lang, &e),
    };
    let more = rows.len() > usize::try_from(PAGE).unwrap_or(usize::MAX);
    rows.truncate(usize::try_from(PAGE).unwrap_or(usize::MAX));
    if more && let Some(last) = rows.last() {
        view.older = Some(format!("/audit?{filters}&before={}", last.id));
    }
    view.entries = rows
        .into_iter()
        .map(|r| Entry {
            id: r.id,
            at: local(r.entry.at, tz),
            user: r.entry.user,
            host: r.entry.host,
            action: r.entry.action,
            target: r.entry.target,
            args: match r.entry.args {
                serde_json::Value::Object(m) if m.is_empty() => String::new(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            },
            outcome: r.entry.outcome,
            detail: r.entry.detail,
        })
        .collect();
    page::render(&view, StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::{day, encode};

    #[test]
    fn links_encode_and_dates_name_their_field() {
        assert_eq!(encode("web:sato & co/x"), "web%3Asato%20%26%20co%2Fx");
        assert_eq!(encode("佐"), "%E4%BD%90");
        let tz = chrono_tz::Asia::Tokyo;
        assert_eq!(day("from", " ", tz, 0), Ok(None));
        assert_eq!(
            day("to", "2026-12-05", tz, 1).map(|t| t.map(|t| t.to_rfc3339())),
            Ok(Some("2026-12-05T15:00:00+00:00".to_owned()))
        );
        assert_eq!(
            day("from", "5 Dec", tz, 0),
            Err("`from`: `5 Dec` is not a date (YYYY-MM-DD)".to_owned())
        );
    }
}
