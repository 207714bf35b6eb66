//! The dashboard's users and sessions, in PostgreSQL.

use super::*;

fn user_row(r: &PgRow) -> Result<WebUser, StoreError> {
    Ok(WebUser {
        name: col(r, "name")?,
        role: token(r, "role")?,
        password_hash: col(r, "password_hash")?,
        created_at: time(r, "created_at")?,
        password_set_at: time(r, "password_set_at")?,
    })
}

impl WebStore for PgStore {
    fn add_web_user(&self, user: &WebUser) -> Pending<bool> {
        let u = user.clone();
        self.write("recording a web user", move |pg| {
            let added = pg.execute(
                q(
                    "INSERT INTO web_users (name, role, password_hash, created_at, \
                   password_set_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING",
                )
                .bind(u.name)
                .bind(u.role.as_str())
                .bind(u.password_hash)
                .bind(u.created_at)
                .bind(u.password_set_at),
            )?;
            Ok(added == 1)
        })
    }

    fn list_web_users(&self) -> Pending<Vec<WebUser>> {
        self.read("listing web users", move |pg| {
            let rows = pg.fetch_all(q("SELECT * FROM web_users ORDER BY name"))?;
            map_all(rows, user_row)
        })
    }

    fn get_web_user(&self, name: &str) -> Pending<Option<WebUser>> {
        let name = name.to_owned();
        self.read("reading a web user", move |pg| {
            let row = pg.fetch_optional(q("SELECT * FROM web_users WHERE name = $1").bind(name))?;
            Ok(row.as_ref().map(user_row).transpose()?)
        })
    }

    fn remove_web_user(&self, name: &str) -> Pending<bool> {
        let name = name.to_owned();
        self.write("removing a web user", move |pg| {
            pg.execute(q("DELETE FROM web_sessions WHERE user_name = $1").bind(name.clone()))?;
            let removed = pg.execute(q("DELETE FROM web_users WHERE name = $1").bind(name))?;
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
        self.write("setting a web user's password", move |pg| {
            let set = pg.execute(
                q("UPDATE web_users SET password_hash = $1, password_set_at = $2 WHERE name = $3")
                    .bind(hash)
                    .bind(at)
                    .bind(name.clone()),
            )?;
            pg.execute(q("DELETE FROM web_sessions WHERE user_name = $1").bind(name))?;
            Ok(set == 1)
        })
    }

    fn open_web_session(&self, session: &NewSession) -> Pending<()> {
        let s = session.clone();
        self.write("recording a web session", move |pg| {
            pg.execute(
                q(
                    "INSERT INTO web_sessions (token_hash, user_name, created_at, expires_at) \
                   VALUES ($1, $2, $3, $4)",
                )
                .bind(s.token_hash)
                .bind(s.user)
                .bind(s.at)
                .bind(s.expires_at),
            )?;
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
        self.write("reading a web session", move |pg| {
            pg.execute(
                q("DELETE FROM web_sessions WHERE token_hash = $1 AND expires_at <= $2")
                    .bind(hash.clone())
                    .bind(now),
            )?;
            let row = pg.fetch_optional(
                q(
                    "UPDATE web_sessions SET expires_at = $2 WHERE token_hash = $1 \
                   RETURNING user_name",
                )
                .bind(hash)
                .bind(now + idle),
            )?;
            let Some(row) = row else {
                return Ok(None);
            };
            let name: String = col(&row, "user_name")?;
            let user =
                pg.fetch_optional(q("SELECT * FROM web_users WHERE name = $1").bind(name))?;
            Ok(user.as_ref().map(user_row).transpose()?)
        })
    }

    fn end_web_session(&self, token_hash: &str) -> Pending<bool> {
        let hash = token_hash.to_owned();
        self.write("ending a web session", move |pg| {
            let ended =
                pg.execute(q("DELETE FROM web_sessions WHERE token_hash = $1").bind(hash))?;
            Ok(ended == 1)
        })
    }
}
