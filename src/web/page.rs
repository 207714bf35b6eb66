//! What every page shares: the layout's fields ([`Frame`]), instants shown in the configured
//! time zone, durations, the message page (404, records unreadable) and the rendering of a
//! template into a response.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::session::Session;
use super::words::{Lang, Words};
pub use crate::domain::web::Write;
use crate::store::StoreError;

/// The fields `layout.html` reads, carried by every page.
#[derive(Debug)]
pub struct Frame {
    pub lang: &'static str,
    pub w: &'static Words,
    /// The page's own title (the layout adds the product's name).
    pub title: String,
    /// Who is logged in (the layout names them and offers the logout), if anyone.
    pub who: Option<Session>,
    /// Seconds after which the browser reloads the page (a run's live output: no script).
    pub refresh: Option<u32>,
}

impl Frame {
    pub fn new(lang: Lang, title: &str) -> Frame {
        Frame {
            lang: lang.code(),
            w: lang.words(),
            title: title.to_owned(),
            who: None,
            refresh: None,
        }
    }

    /// A frame for a page seen by `who`.
    pub fn of(lang: Lang, title: &str, who: Option<Session>) -> Frame {
        Frame {
            who,
            ..Frame::new(lang, title)
        }
    }

    /// Whether the viewer may make `write` (its buttons are shown only then).
    pub fn may(&self, write: &Write) -> bool {
        self.who.as_ref().is_some_and(|s| s.may(*write))
    }

    /// Whether the viewer is the city's (who sees the city's view only).
    pub fn is_city(&self) -> bool {
        self.who
            .as_ref()
            .is_some_and(|s| s.role == crate::domain::web::Role::City)
    }

    /// The viewer's CSRF token for the forms of the page.
    pub fn csrf(&self) -> &str {
        self.who.as_ref().map_or("", |s| s.csrf.as_str())
    }
}

/// An instant in the configured time zone, to the second.
pub fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// An optional instant, or a dash.
pub fn local_or_dash(t: Option<DateTime<Utc>>, tz: Tz) -> String {
    t.map_or_else(|| "—".to_owned(), |t| local(t, tz))
}

/// A duration as an operator reads it: `42s`, `3m 07s`, `2h 05m`.
pub fn duration(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

/// The time from `start` to `end`, or a dash when either is missing.
pub fn between(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> String {
    match (start, end) {
        (Some(a), Some(b)) => duration(b - a),
        _ => "—".to_owned(),
    }
}

/// A page rendered, or a 500 naming the template error (a bug of ours, never input).
pub fn render(t: &impl Template, status: StatusCode) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!("a dashboard page failed to render: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the page failed to render: {e}\n"),
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct Message<'a> {
    frame: Frame,
    text: &'a str,
}

/// A page that only says something: not found, or the records cannot be read.
pub fn message(lang: Lang, status: StatusCode, title: &str, text: &str) -> Response {
    message_to(lang, None, status, title, text)
}

/// [`message`] for a logged-in user (a write refused for what it asked).
pub fn message_to(
    lang: Lang,
    who: Option<Session>,
    status: StatusCode,
    title: &str,
    text: &str,
) -> Response {
    render(
        &Message {
            frame: Frame::of(lang, title, who),
            text,
        },
        status,
    )
}

/// The answer to a write without a login: 401, with the way to the login page.
pub fn login_needed(lang: Lang) -> Response {
    let w = lang.words();
    let mut r = message(
        lang,
        StatusCode::UNAUTHORIZED,
        w.login_needed,
        w.login_needed_text,
    );
    r.headers_mut().insert(
        axum::http::header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("FormBased realm=\"unyo\""),
    );
    r
}

/// The page for records that cannot be read (the database is out of reach): 503.
pub fn unavailable(lang: Lang, e: &StoreError) -> Response {
    tracing::warn!("a dashboard page could not read the records: {e}");
    message(
        lang,
        StatusCode::SERVICE_UNAVAILABLE,
        lang.words().unavailable,
        &e.to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::duration;
    use chrono::Duration;

    #[test]
    fn durations_read_as_operators_say_them() {
        assert_eq!(duration(Duration::seconds(0)), "0s");
        assert_eq!(duration(Duration::seconds(42)), "42s");
        assert_eq!(duration(Duration::seconds(187)), "3m 07s");
        assert_eq!(duration(Duration::seconds(7500)), "2h 05m");
        assert_eq!(duration(Duration::seconds(-3)), "0s");
    }
}
