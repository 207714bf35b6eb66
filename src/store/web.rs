//! The dashboard's users and their sessions. A user's password is kept only as its argon2
//! hash (a PHC string), a session only as the SHA-256 of its token: the database never holds
//! either secret. What a role may do is decided by `domain::web`.

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use crate::domain::web::Role;

/// A web user as recorded.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct WebUser {
    pub name: String,
    pub role: Role,
    /// The argon2 PHC string (`$argon2id$v=19$...`); never shown.
    #[serde(skip)]
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    /// When its password was last set.
    pub password_set_at: DateTime<Utc>,
}

/// Hand-written: the hash stays out of logs.
impl std::fmt::Debug for WebUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebUser")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("created_at", &self.created_at)
            .field("password_set_at", &self.password_set_at)
            .finish_non_exhaustive()
    }
}

/// A session about to be recorded.
#[derive(Clone, PartialEq, Eq)]
pub struct NewSession {
    /// The SHA-256 of the session's token, in hex (the token itself is only in the cookie).
    pub token_hash: String,
    pub user: String,
    pub at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Hand-written: even the token's hash stays out of logs.
impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession")
            .field("user", &self.user)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}
