//! The dashboard the daemon serves on `web.listen` (loopback only): server-rendered pages,
//! one module a page ([`today`], [`run`], [`incidents`], [`job`], [`approvals`], [`calendar`],
//! [`reports`]) on one layout
//! (`templates/layout.html`, [`page`]), the words of each language in [`words`], one
//! stylesheet embedded in the binary. axum serves it in a task of the daemon's own; every
//! page reads the records through the [`Store`] traits and the definitions the daemon runs
//! with, and renders them.
//!
//! Reading needs no login. The writes ([`act`]: acknowledge, cancel, approve, reject) need a
//! session ([`login`], [`session`], [`auth`]) whose role allows them, its CSRF token and a
//! same-site request; each is the CLI's action, decided by the same domain functions and
//! store calls, and audited under `web:NAME`.
//!
//! Every page is HTML escaped by askama (job names, parameters, log lines are data), sent
//! with a Content-Security-Policy that allows no script and forms only to itself, and
//! answered only to a request whose `Host` is a loopback name or address (a web page
//! elsewhere cannot reach it by pointing a name of its own at 127.0.0.1).

mod act;
mod approvals;
pub mod auth;
mod calendar;
mod form;
mod incidents;
mod job;
mod login;
mod page;
mod reports;
mod run;
mod session;
mod today;
pub mod words;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::watch;

use crate::domain::clock::SharedClock;
use crate::model::{Catalog, Settings};
use crate::store::Store;

use words::Lang;

/// The definitions the daemon runs with (replaced whole when it reloads them).
#[derive(Debug)]
pub struct Definitions {
    pub settings: Settings,
    pub catalog: Arc<Catalog>,
}

/// What the pages read.
pub struct Dashboard {
    pub store: Arc<dyn Store>,
    pub clock: SharedClock,
    pub definitions: watch::Receiver<Arc<Definitions>>,
}

/// Hand-written: the store and clock have nothing to show.
impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard").finish_non_exhaustive()
    }
}

impl Dashboard {
    fn definitions(&self) -> Arc<Definitions> {
        self.definitions.borrow().clone()
    }
}

/// The stylesheet, embedded.
const STYLE: &str = include_str!("style.css");

/// No script, no frame, forms only to the dashboard itself, nothing from elsewhere: the
/// pages need only their own stylesheet.
const POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; \
                      form-action 'self'; frame-ancestors 'none'";

/// The dashboard's routes.
pub fn router(dashboard: Arc<Dashboard>) -> Router {
    Router::new()
        .route("/", get(today::page))
        .route("/runs/{id}", get(run::page))
        .route("/runs/{id}/cancel", post(act::cancel))
        .route("/runs/{id}/approve", post(act::approve))
        .route("/runs/{id}/reject", post(act::reject))
        .route("/incidents", get(incidents::page))
        .route("/incidents/{id}/ack", post(act::acknowledge))
        .route("/jobs", get(job::list))
        .route("/jobs/{name}", get(job::page))
        .route("/approvals", get(approvals::page))
        .route("/calendar", get(calendar::page))
        .route("/reports", get(reports::page))
        .route("/reports/frozen/{id}", get(reports::frozen))
        .route("/login", get(login::form).post(login::login))
        .route("/logout", post(login::logout))
        .route("/style.css", get(style))
        .fallback(not_found)
        .layer(middleware::from_fn(guard))
        .with_state(dashboard)
}

/// Serves the dashboard on `listener` until `stop` turns true.
pub async fn serve(
    listener: std::net::TcpListener,
    dashboard: Dashboard,
    mut stop: watch::Receiver<bool>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("the dashboard cannot listen: {e}");
            return;
        }
    };
    let app = router(Arc::new(dashboard));
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stopped)
        .await
    {
        tracing::error!("the dashboard stopped serving: {e}");
    }
}

async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE)
}

async fn not_found(headers: HeaderMap) -> Response {
    let lang = lang(&headers);
    page::message(
        lang,
        StatusCode::NOT_FOUND,
        lang.words().not_found,
        lang.words().no_such_page,
    )
}

/// The request's language.
fn lang(headers: &HeaderMap) -> Lang {
    Lang::from_accept(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

/// True for a `Host` naming loopback: `localhost`, `127.x.x.x` or `[::1]`, with any port.
fn loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(n, _)| n),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Refuses a request whose `Host` is not loopback (DNS rebinding) and sets the headers
/// every answer carries.
async fn guard(req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let mut response = if loopback_host(host) {
        next.run(req).await
    } else {
        (
            StatusCode::MISDIRECTED_REQUEST,
            "unyo's dashboard answers only requests for a loopback address (`Host`)\n",
        )
            .into_response()
    };
    let h = response.headers_mut();
    // A page that set a policy of its own (a frozen report: its inline style, sandboxed)
    // keeps it; every other answer gets the dashboard's.
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(POLICY),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::loopback_host;

    #[test]
    fn only_loopback_hosts_pass() {
        for ok in [
            "127.0.0.1:8480",
            "localhost:8480",
            "LOCALHOST",
            "[::1]:8480",
            "127.1.2.3",
        ] {
            assert!(loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.example:8480",
            "",
            "192.168.1.5:8480",
            "[::2]:80",
            "localhost.evil",
        ] {
            assert!(!loopback_host(bad), "{bad}");
        }
    }
}
