//! The dashboard the daemon (or `unyo web serve`) serves on `web.listen`: server-rendered
//! pages, one module a page ([`today`], [`run`], [`incidents`], [`incident`], [`job`],
//! [`approvals`], [`calendar`], [`reports`], [`holds`], [`submit`], [`nodes`], [`checks`],
//! [`audit`], [`city`]) on one layout
//! (`templates/layout.html`, [`page`]), the words of each language in [`words`], one
//! stylesheet embedded in the binary. axum serves it in a task of its own, over plain HTTP
//! or HTTPS ([`tls`]); every page reads the records through the [`Store`] traits and the
//! definitions it runs with, and renders them.
//!
//! On loopback reading needs no login. Off loopback (another address with `web.tls`, or
//! `web.behind_proxy`), every page but the login needs one ([`guard`] redirects to
//! `/login`). The writes ([`act`]: acknowledge, resolve, cancel, approve, reject, hold,
//! release, submit) need a session ([`login`], [`session`], [`auth`]) whose role allows
//! them, its CSRF token and a same-site request; each is the CLI's action, decided by the
//! same domain functions and store calls, and audited under `web:NAME`. A `city` user sees
//! the city's view only and writes nothing.
//!
//! Every page is HTML escaped by askama (job names, parameters, log lines are data), sent
//! with a Content-Security-Policy that allows no script and forms only to itself, and
//! answered only to a request whose `Host` is a loopback name or address or the configured
//! `web.public_name` ([`reach`]; a web page elsewhere cannot reach it by pointing a name of
//! its own at the dashboard's address).

mod act;
mod approvals;
mod audit;
pub mod auth;
mod calendar;
mod checks;
mod city;
mod form;
mod holds;
mod incident;
mod incidents;
mod job;
mod login;
mod nodes;
mod page;
mod reach;
mod reports;
mod run;
mod session;
mod submit;
pub mod tls;
mod today;
pub mod words;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tokio::sync::watch;
use tokio_rustls::rustls::ServerConfig;

use crate::domain::clock::SharedClock;
use crate::domain::web::Role;
use crate::error::Error;
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
    /// The city's view's month, as last computed.
    pub city: city::CityCache,
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
        .route("/city", get(city::page))
        .route("/city/reports/{id}", get(city::frozen))
        .route("/runs/{id}", get(run::page))
        .route("/runs/{id}/cancel", post(act::cancel))
        .route("/runs/{id}/approve", post(act::approve))
        .route("/runs/{id}/reject", post(act::reject))
        .route("/incidents", get(incidents::page))
        .route("/incidents/{id}/ack", post(act::acknowledge))
        .route("/incidents/{id}", get(incident::page))
        .route("/incidents/{id}/resolve", post(act::resolve))
        .route("/holds", get(holds::page))
        .route("/hold", post(act::hold))
        .route("/release", post(act::release))
        .route("/submit", get(submit::page).post(act::submit))
        .route("/nodes", get(nodes::page))
        .route("/checks", get(checks::page))
        .route("/audit", get(audit::page))
        .route("/jobs", get(job::list))
        .route("/jobs/{name}", get(job::page))
        .route("/approvals", get(approvals::page))
        .route("/calendar", get(calendar::page))
        .route("/reports", get(reports::page))
        .route("/reports/frozen/{id}", get(reports::frozen))
        .route("/login", get(login::form).post(login::login))
        .route("/logout", post(login::logout))
        .route("/style.css", get(style))
        .route("/lang/{code}", get(choose_lang))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(dashboard.clone(), guard))
        .with_state(dashboard)
}

/// The dashboard's socket, bound, and its TLS configuration when `web.tls` says so.
pub struct Listener {
    tcp: std::net::TcpListener,
    tls: Option<Arc<ServerConfig>>,
}

/// Hand-written: the TLS configuration holds the private key.
impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("tcp", &self.tcp)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// Binds `web.listen` and reads `web.tls`'s files, so that a port taken or a certificate
/// unreadable stops the start with an error naming it. `None` without `web.listen`.
pub fn bind(settings: &Settings) -> Result<Option<Listener>, Error> {
    let Some(addr) = settings.web else {
        return Ok(None);
    };
    let tls = match &settings.web_access.tls {
        Some(files) => Some(tls::config(files).map_err(Error::Request)?),
        None => None,
    };
    let io = |source| Error::Io {
        action: format!("cannot listen on `{addr}` for the dashboard (`web.listen`)"),
        source,
    };
    let tcp = std::net::TcpListener::bind(addr).map_err(io)?;
    tcp.set_nonblocking(true).map_err(io)?;
    Ok(Some(Listener { tcp, tls }))
}

impl Listener {
    /// The address bound (port 0 in `web.listen` picks a free one).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// Whether it serves HTTPS.
    pub fn https(&self) -> bool {
        self.tls.is_some()
    }
}

/// Serves the dashboard on `listener` until `stop` turns true.
pub async fn serve(listener: Listener, dashboard: Dashboard, mut stop: watch::Receiver<bool>) {
    let Listener { tcp, tls } = listener;
    let listener = match tokio::net::TcpListener::from_std(tcp) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("the dashboard cannot listen: {e}");
            return;
        }
    };
    let app = router(Arc::new(dashboard));
    if let Some(config) = tls {
        tls::serve(listener, config, app, stop).await;
        return;
    }
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    if let Err(e) = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
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
    Lang::chosen(
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
    .unwrap_or_else(|| {
        Lang::from_accept(
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        )
    })
}

/// `/lang/ja`, `/lang/en`: keeps the language chosen (a year, in a cookie that says nothing
/// else) and goes back to Today.
async fn choose_lang(axum::extract::Path(code): axum::extract::Path<String>) -> Response {
    match Lang::from_code(&code) {
        Some(l) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, "/".to_owned()),
                (
                    header::SET_COOKIE,
                    format!(
                        "{}={}; SameSite=Lax; Path=/; Max-Age=31536000",
                        words::LANG_COOKIE,
                        l.code()
                    ),
                ),
            ],
        )
            .into_response(),
        None => not_found(HeaderMap::new()).await,
    }
}

/// Refuses a request whose `Host` is not the dashboard's (DNS rebinding), notes how it
/// reached us ([`reach::Reach`]), sends a reader without a login to `/login` off loopback
/// and a `city` user to the city's view, and sets the headers every answer carries.
async fn guard(State(d): State<Arc<Dashboard>>, mut req: Request, next: Next) -> Response {
    let definitions = d.definitions();
    let access = &definitions.settings.web_access;
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let mut response = if reach::host_allowed(access, host) {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let r = reach::reach(access, peer, req.headers());
        req.extensions_mut().insert(r);
        let away = admit(
            &d,
            access.login_to_read,
            req.method(),
            req.uri().path(),
            req.headers(),
        )
        .await;
        match away {
            Some(away) => away,
            None => next.run(req).await,
        }
    } else {
        (
            StatusCode::MISDIRECTED_REQUEST,
            "unyo's dashboard answers only requests for its own name or a loopback address \
             (`Host`)\n",
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

/// Where a reading request goes instead of its page: to `/login` without a session when
/// reading needs one, to `/city` for a `city` user. `None`: to its page. Writes go on to
/// their handlers, which refuse them without a session or a role that allows them.
async fn admit(
    d: &Dashboard,
    login_to_read: bool,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Option<Response> {
    if matches!(path, "/login" | "/logout" | "/style.css") {
        return None;
    }
    if !matches!(*method, Method::GET | Method::HEAD) {
        return None;
    }
    let who = match auth::cookie_token(headers) {
        Some(_) => session::current(d, headers).await,
        None => None,
    };
    match who {
        None if login_to_read => Some(Redirect::to("/login").into_response()),
        Some(s) if s.role == Role::City && !city::serves(path) => {
            Some(Redirect::to(city::PATH).into_response())
        }
        _ => None,
    }
}
