//! The login a request carries, and the gate every write passes: not cross-site, a live
//! session, its CSRF token, a role that allows the write. Each write and each refusal of a
//! logged-in user is audited under `web:NAME` (`domain::web::actor`), like the CLI's same
//! action under the operating-system user.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;

use super::auth;
use super::words::Lang;
use super::{Dashboard, page};
use crate::domain::web::{Role, Write, actor};
use crate::store::{AuditEntry, StoreError, WebUser};

/// A logged-in user, as a page or a write sees them.
#[derive(Clone)]
pub struct Session {
    pub name: String,
    pub role: Role,
    /// The session's CSRF token, which every form of a write carries back.
    pub csrf: String,
    /// What the database keeps of the session's token (for logout).
    pub token_hash: String,
}

/// Hand-written: the CSRF token and the session's hash stay out of logs.
impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The name the records carry: `web:NAME`.
    pub fn actor(&self) -> String {
        actor(&self.name)
    }

    pub fn may(&self, write: Write) -> bool {
        self.role.may(write)
    }
}

/// The request's session, if its cookie names one that has not expired (which moves its
/// idle expiry on). Unreadable records count as no session (a write is then refused).
pub async fn current(d: &Dashboard, headers: &HeaderMap) -> Option<Session> {
    let token = auth::cookie_token(headers)?;
    let hash = auth::token_hash(&token);
    let idle = chrono::Duration::from_std(d.definitions().settings.web_session)
        .unwrap_or(chrono::Duration::minutes(30));
    match d.store.touch_web_session(&hash, d.clock.now(), idle).await {
        Ok(Some(WebUser { name, role, .. })) => Some(Session {
            name,
            role,
            csrf: auth::csrf_token(&token),
            token_hash: hash,
        }),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!("the dashboard could not read a session: {e}");
            None
        }
    }
}

/// Appends a dashboard action to the audit trail.
pub async fn audit(
    d: &Dashboard,
    user: &str,
    action: &str,
    target: &str,
    args: serde_json::Value,
    outcome: &Result<String, String>,
) -> Result<(), StoreError> {
    let (outcome, detail) = match outcome {
        Ok(done) => ("done", done.clone()),
        Err(why) => ("refused", why.clone()),
    };
    d.store
        .audit(&AuditEntry {
            at: Utc::now(),
            user: user.to_owned(),
            host: crate::domain::host::hostname(),
            action: action.to_owned(),
            target: target.to_owned(),
            args,
            outcome: outcome.to_owned(),
            detail,
        })
        .await
}

/// Lets a write through, or the answer that refuses it: 403 for a cross-site request or a
/// wrong CSRF token, 401 without a login, 403 (audited) for a role that may not.
pub async fn authorize(
    d: &Dashboard,
    lang: Lang,
    headers: &HeaderMap,
    csrf: &str,
    write: Write,
    target: &str,
) -> Result<Session, Response> {
    let w = lang.words();
    if auth::cross_site(headers) {
        tracing::warn!(
            "the dashboard refused a cross-site {} of {target}",
            write.action()
        );
        return Err(page::message(
            lang,
            StatusCode::FORBIDDEN,
            w.refused,
            w.cross_site,
        ));
    }
    let Some(s) = current(d, headers).await else {
        return Err(page::login_needed(lang));
    };
    if !auth::same(csrf, &s.csrf) {
        tracing::warn!(
            "the dashboard refused a {} of {target} by {} without its form's token",
            write.action(),
            s.actor()
        );
        return Err(page::message(
            lang,
            StatusCode::FORBIDDEN,
            w.refused,
            w.cross_site,
        ));
    }
    if !s.may(write) {
        let why = format!(
            "{} is a web {}: {} needs the role {} or above",
            s.actor(),
            s.role,
            write.action(),
            write.needs()
        );
        let outcome = Err(why.clone());
        if let Err(e) = audit(
            d,
            &s.actor(),
            write.action(),
            target,
            serde_json::json!({}),
            &outcome,
        )
        .await
        {
            return Err(page::unavailable(lang, &e));
        }
        return Err(page::message_to(
            lang,
            Some(s),
            StatusCode::FORBIDDEN,
            w.refused,
            &why,
        ));
    }
    Ok(s)
}
