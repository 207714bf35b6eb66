#![allow(dead_code)]

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

/// Tests of this process using the server, and whether one of them has it to itself (it
/// restarts the server): the others wait for it, and it waits for them.
static USERS: std::sync::Mutex<(usize, bool)> = std::sync::Mutex::new((0, false));
static TURN: std::sync::Condvar = std::sync::Condvar::new();

/// A test's share of the server: shared, or the whole server to itself.
#[derive(Debug)]
struct Share {
    exclusive: bool,
}

impl Share {
    fn take(exclusive: bool) -> Share {
        let mut users = USERS.lock().unwrap_or_else(|p| p.into_inner());
        while users.1 || (exclusive && users.0 > 0) {
            users = TURN.wait(users).unwrap_or_else(|p| p.into_inner());
        }
        if exclusive {
            users.1 = true;
        } else {
            users.0 += 1;
        }
        Share { exclusive }
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut users = USERS.lock().unwrap_or_else(|p| p.into_inner());
        if self.exclusive {
            users.1 = false;
        } else {
            users.0 -= 1;
        }
        TURN.notify_all();
    }
}

/// A new database, dropped (with whatever is still connected to it) when this is dropped.
#[derive(Debug)]
pub struct FreshDb {
    pub url: String,
    pub name: String,
    _share: Share,
}

impl FreshDb {
    /// A new database on the server, shared with the other tests.
    pub fn create() -> FreshDb {
        FreshDb::new(Share::take(false))
    }

    /// A new database, and the server to this test alone (it may restart it): the tests
    /// of this process using the server wait for it, and it for them.
    pub fn create_alone() -> FreshDb {
        FreshDb::new(Share::take(true))
    }

    fn new(share: Share) -> FreshDb {
        static SWEPT: Once = Once::new();
        SWEPT.call_once(sweep);
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("unyo_t_{}_{n}", std::process::id());
        admin(format!("CREATE DATABASE \"{name}\""));
        FreshDb {
            url: with_database(&server_url(), &name),
            name,
            _share: share,
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

/// Runs `sql` on the database at `url` and returns its rows, each column as text (NULL as
/// `None`), on a thread of its own (callable from sync and async tests).
pub fn rows(url: &str, sql: &str) -> Vec<Vec<Option<String>>> {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            use sqlx::Row;
            let mut c = sqlx::PgConnection::connect(&url)
                .await
                .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {url}: {e}"));
            // Every column as text, whatever its type, in the query's order.
            let wrapped = format!("SELECT row_to_json(q)::text FROM ({sql}) q");
            let out: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(wrapped))
                .fetch_all(&mut c)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .iter()
                .map(|r| r.get::<String, _>(0))
                .collect();
            let _ = c.close().await;
            out.iter()
                .map(|json| {
                    let v: indexmap::IndexMap<String, serde_json::Value> =
                        serde_json::from_str(json).expect("json row");
                    v.values()
                        .map(|x| match x {
                            serde_json::Value::Null => None,
                            serde_json::Value::String(s) => Some(s.clone()),
                            other => Some(other.to_string()),
                        })
                        .collect()
                })
                .collect()
        })
    })
    .join()
    .expect("the PostgreSQL query thread")
}

/// The one value `sql` returns, as text.
pub fn one(url: &str, sql: &str) -> String {
    rows(url, sql)
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next())
        .flatten()
        .unwrap_or_else(|| panic!("{sql}: no value"))
}
