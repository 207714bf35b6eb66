//! `/login` and `/logout`. A login checks the password against its argon2 hash (an unknown
//! user against a hash no password matches, so both take as long and get the same answer),
//! audits every attempt (`web.login`, done or refused), waits a second after a failure, and
//! on success records a new session and sets its cookie (`Secure` when the browser speaks
//! HTTPS, to unyo or to the proxy in front). The audit names the address a login came from.
//! Logout ends the session.

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::form::{Fields, Form, FromFields};
use super::page::{self, Frame};
use super::reach::Reach;
use super::session::{self, audit};
use super::{Dashboard, auth, lang};
use crate::domain::web::actor;
use crate::store::NewSession;

/// How long a failed login waits before it answers.
const FAILURE_DELAY: Duration = Duration::from_secs(1);

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    frame: Frame,
    name: String,
    failed: bool,
}

pub(super) struct Credentials {
    name: String,
    password: String,
}

/// Hand-written: the password stays out of logs.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl FromFields for Credentials {
    fn from_fields(f: &Fields) -> Result<Credentials, String> {
        Ok(Credentials {
            name: f.required("name")?,
            password: f.required("password")?,
        })
    }
}

#[derive(Debug)]
pub(super) struct CsrfForm {
    csrf: String,
}

impl FromFields for CsrfForm {
    fn from_fields(f: &Fields) -> Result<CsrfForm, String> {
        Ok(CsrfForm {
            csrf: f.get("csrf"),
        })
    }
}

pub(super) async fn form(State(d): State<Arc<Dashboard>>, headers: HeaderMap) -> Response {
    let lang = lang(&headers);
    let who = session::current(&d, &headers).await;
    login_page(lang, who, String::new(), false, StatusCode::OK)
}

fn login_page(
    lang: super::Lang,
    who: Option<session::Session>,
    name: String,
    failed: bool,
    status: StatusCode,
) -> Response {
    page::render(
        &LoginPage {
            frame: Frame::of(lang, lang.words().login, who),
            name,
            failed,
        },
        status,
    )
}

/// Who the audit names for a login with a name that is no web user's.
const UNKNOWN_USER: &str = "web:?";

pub(super) async fn login(
    State(d): State<Arc<Dashboard>>,
    reach: Option<Extension<Reach>>,
    headers: HeaderMap,
    Form(c): Form<Credentials>,
) -> Response {
    let reach = reach.map(|Extension(r)| r);
    // Where the login came from (behind a proxy, the client the proxy names), for the audit.
    let from = serde_json::json!({
        "from": reach.and_then(|r| r.client).map(|ip| ip.to_string())
    });
    let lang = lang(&headers);
    let w = lang.words();
    if auth::cross_site(&headers) {
        return page::message(lang, StatusCode::FORBIDDEN, w.refused, w.cross_site);
    }
    let user = match d.store.get_web_user(&c.name).await {
        Ok(u) => u,
        Err(e) => return page::unavailable(lang, &e),
    };
    let password = c.password;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    // argon2 is slow on purpose: off the async threads.
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&password, hash.as_deref()))
        .await
        .unwrap_or(false);
    let target = format!("web user {}", c.name);
    if !ok || user.is_none() {
        let why = if user.is_none() {
            "no such web user"
        } else {
            "wrong password"
        };
        // A name that is no user's is not recorded as typed: it may be a password typed into
        // the wrong field. Its length is enough to see repeated tries.
        let (who, target) = match &user {
            Some(_) => (actor(&c.name), target),
            None => (
                UNKNOWN_USER.to_owned(),
                format!(
                    "a name that is no web user's ({} characters)",
                    c.name.chars().count()
                ),
            ),
        };
        // The audit says which; the answer does not.
        if let Err(e) = audit(&d, &who, "web.login", &target, from, &Err(why.to_owned())).await {
            return page::unavailable(lang, &e);
        }
        tokio::time::sleep(FAILURE_DELAY).await;
        return login_page(lang, None, c.name, true, StatusCode::UNAUTHORIZED);
    }
    let token = match auth::new_token() {
        Ok(t) => t,
        Err(e) => {
            tracing::error!("the dashboard cannot open a session: {e}");
            return (StatusCode::INTERNAL_SERVER_ERROR, e).into_response();
        }
    };
    let now = d.clock.now();
    let idle = chrono::Duration::from_std(d.definitions().settings.web_session)
        .unwrap_or(chrono::Duration::minutes(30));
    let opened = d
        .store
        .open_web_session(&NewSession {
            token_hash: auth::token_hash(&token),
            user: c.name.clone(),
            at: now,
            expires_at: now + idle,
        })
        .await;
    if let Err(e) = opened {
        return page::unavailable(lang, &e);
    }
    let outcome = Ok(format!(
        "logged in until {} idle",
        super::page::duration(idle)
    ));
    if let Err(e) = audit(&d, &actor(&c.name), "web.login", &target, from, &outcome).await {
        return page::unavailable(lang, &e);
    }
    let mut r = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&auth::set_cookie(&token, reach.is_some_and(|r| r.https)))
    {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

pub(super) async fn logout(
    State(d): State<Arc<Dashboard>>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    let lang = lang(&headers);
    let w = lang.words();
    if auth::cross_site(&headers) {
        return page::message(lang, StatusCode::FORBIDDEN, w.refused, w.cross_site);
    }
    if let Some(s) = session::current(&d, &headers).await {
        if !auth::same(&f.csrf, &s.csrf) {
            return page::message(lang, StatusCode::FORBIDDEN, w.refused, w.cross_site);
        }
        if let Err(e) = d.store.end_web_session(&s.token_hash).await {
            return page::unavailable(lang, &e);
        }
        let _ = audit(
            &d,
            &s.actor(),
            "web.logout",
            &format!("web user {}", s.name),
            serde_json::json!({}),
            &Ok("logged out".to_owned()),
        )
        .await;
    }
    let mut r = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&auth::clear_cookie()) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}
