//! The dashboard's users and sessions, in SQLite.

use super::*;

const USER: &str = "SELECT name, role, password_hash, created_at, password_set_at FROM web_users";

fn user_row(r: &Row<'_>) -> Result<WebUser, StoreError> {
    Ok(WebUser {
        name: col(r, "name")?,
        role: token(r, "role")?,
        password_hash: col(r, "password_hash")?,
        created_at: time(r, "created_at")?,
        password_set_at: time(r, "password_set_at")?,
    })
}

impl WebStore for SqliteStore {
    fn add_web_user(&self, user: &WebUser) -> Pending<bool> {
        let u = user.clone();
        self.write("recording a web user", move |c| {
            let added = c
                .prepare_cached(
                    "INSERT INTO web_users (name, role, password_hash, created_at, \
                     password_set_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
                )?
                .execute(params![
                    u.name,
                    u.role.as_str(),
                    u.password_hash,
                    ts(u.created_at),
                    ts(u.password_set_at)
                ])?;
            Ok(added == 1)
        })
    }

    fn list_web_users(&self) -> Pending<Vec<WebUser>> {
        self.read(move |c| {
            all(
                c,
                "listing web users",
                &format!("{USER} ORDER BY name"),
                [],
                user_row,
            )
        })
    }

    fn get_web_user(&self, name: &str) -> Pending<Option<WebUser>> {
        let name = name.to_owned();
        self.read(move |c| {
            Ok(all(
                c,
                "reading a web user",
                &format!("{USER} WHERE name = ?"),
                [name],
                user_row,
            )?
            .into_iter()
            .next())
        })
    }

    fn remove_web_user(&self, name: &str) -> Pending<bool> {
        let name = name.to_owned();
        self.write("removing a web user", move |c| {
            c.prepare_cached("DELETE FROM web_sessions WHERE user_name = ?")?
                .execute([&name])?;
            let removed = c
                .prepare_cached("DELETE FROM web_users WHERE name = ?")?
                .execute([&name])?;
            Ok(removed == 1)
        })
    }

    fn set_web_password(
        &self,
        name: &str,
        password_hash: &str,
        at: DateTime<Utc>,
    ) -> Pending<bool> {
        let (name, hash) = (name.to_owned(), password_hash.to_owned());
        self.write("setting a web user's password", move |c| {
            let set = c
                .prepare_cached(
                    "UPDATE web_users SET password_hash = ?, password_set_at = ? WHERE name = ?",
                )?
                .execute(params![hash, ts(at), name])?;
            c.prepare_cached("DELETE FROM web_sessions WHERE user_name = ?")?
                .execute([&name])?;
            Ok(set == 1)
        })
    }

    fn open_web_session(&self, session: &NewSession) -> Pending<()> {
        let s = session.clone();
        self.write("recording a web session", move |c| {
            c.prepare_cached(
                "INSERT INTO web_sessions (token_hash, user_name, created_at, expires_at) \
                 VALUES (?, ?, ?, ?)",
            )?
            .execute(params![s.token_hash, s.user, ts(s.at), ts(s.expires_at)])?;
            Ok(())
        })
    }

    fn touch_web_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
        idle: chrono::Duration,
    ) -> Pending<Option<WebUser>> {
        let hash = token_hash.to_owned();
        self.write("reading a web session", move |c| {
            let at = ts(now);
            // An expired session is gone for good, whoever presents it.
            c.prepare_cached("DELETE FROM web_sessions WHERE token_hash = ? AND expires_at <= ?")?
                .execute(params![hash, at])?;
            let users = all(
                c,
                "reading a web session",
                "SELECT u.name, u.role, u.password_hash, u.created_at, u.password_set_at \
                 FROM web_sessions s JOIN web_users u ON u.name = s.user_name \
                 WHERE s.token_hash = ?",
                [&hash],
                user_row,
            )
            .map_err(carry)?;
            let Some(user) = users.into_iter().next() else {
                return Ok(None);
            };
            c.prepare_cached("UPDATE web_sessions SET expires_at = ? WHERE token_hash = ?")?
                .execute(params![ts(now + idle), hash])?;
            Ok(Some(user))
        })
    }

    fn end_web_session(&self, token_hash: &str) -> Pending<bool> {
        let hash = token_hash.to_owned();
        self.write("ending a web session", move |c| {
            let ended = c
                .prepare_cached("DELETE FROM web_sessions WHERE token_hash = ?")?
                .execute([hash])?;
            Ok(ended == 1)
        })
    }
}
