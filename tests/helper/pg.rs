//! A fresh, empty PostgreSQL database per test, on the server `UNYO_TEST_PG_URL` names
//! (`./test.sh` sets it and starts the server). A test that cannot reach it fails: it is
//! never skipped.

use std::sync::Once;

use sqlx::{Connection, Executor};

/// The server the tests use, as `./test.sh` sets it.
pub fn server_url() -> String {
    std::env::var("UNYO_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{host_part}/{name}{query}")
}

/// Runs `sql` on the server's own database, on a thread of its own (callable from inside
/// an async test).
fn admin(sql: String) {
    let url = server_url();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap_or_else(|e| {
                panic!(
                    "cannot reach PostgreSQL at {url} ({e}); run ./test.sh, which starts it, or \
                     set UNYO_TEST_PG_URL"
                )
            });
            c.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone())))
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            let _ = c.close().await;
        });
    })
    .join()
    .expect("the PostgreSQL admin thread");
}

/// Drops the databases earlier test processes left behind (killed before their tests
/// ended): those named after a process that no longer runs.
fn sweep() {
    let url = server_url();
    let names: Vec<String> = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let Ok(mut c) = sqlx::PgConnection::connect(&url).await else {
                return Vec::new();
            };
            let rows: Vec<(String,)> =
                sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'unyo\\_t\\_%'")
                    .fetch_all(&mut c)
                    .await
                    .unwrap_or_default();
            rows.into_iter().map(|r| r.0).collect()
        })
    })
    .join()
    .expect("the PostgreSQL admin thread");
    for name in names {
        let pid = name.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| !std::path::Path::new(&format!("/proc/{p}")).exists()) {
            admin(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
        }
    }
}

/// A new database, dropped (with whatever is still connected to it) when this is dropped.
#[derive(Debug)]
pub struct FreshDb {
    pub url: String,
    pub name: String,
}

impl FreshDb {
    pub fn create() -> FreshDb {
        static SWEPT: Once = Once::new();
        SWEPT.call_once(sweep);
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("unyo_t_{}_{n}", std::process::id());
        admin(format!("CREATE DATABASE \"{name}\""));
        FreshDb {
            url: with_database(&server_url(), &name),
            name,
        }
    }
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        admin(format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        ));
    }
}
