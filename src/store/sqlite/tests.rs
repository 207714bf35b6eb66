//! Tests of the SQLite store's own machinery: migrations, the writer, time text.

use super::*;

#[test]
fn refuses_a_database_newer_than_itself() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("unyo.db");
    let mut conn = connect(&path).expect("connect");
    migrate(&mut conn).expect("migrate");
    conn.execute(
        "INSERT INTO schema_migrations VALUES (999, 'future', '2030-01-01T00:00:00Z')",
        [],
    )
    .expect("insert");
    let err = migrate(&mut conn).expect_err("newer schema");
    assert!(err.to_string().contains("schema version 999"), "{err}");
}

/// Migration numbers may have gaps, and one merged later with a lower number than the
/// newest applied is still applied.
#[test]
fn a_known_migration_missing_below_the_newest_is_applied() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("unyo.db");
    let mut conn = connect(&path).expect("connect");
    migrate(&mut conn).expect("migrate");
    conn.execute_batch(
        "DROP TABLE param_changes; DELETE FROM schema_migrations WHERE version = 10;",
    )
    .expect("forget 10");
    migrate(&mut conn).expect("migrate again");
    let n: i64 = conn
        .query_row("SELECT count(*) FROM param_changes", [], |r| r.get(0))
        .expect("param_changes is back");
    assert_eq!(n, 0);
    let versions: Vec<i64> = conn
        .prepare("SELECT version FROM schema_migrations ORDER BY version")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("rows");
    let known: Vec<i64> = MIGRATIONS.iter().map(|m| m.0).collect();
    assert_eq!(versions, known);
}

/// Secret values an earlier version stored in clear are masked by migration 17.
#[test]
fn secrets_stored_in_clear_before_are_masked() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("unyo.db");
    let mut conn = connect(&path).expect("connect");
    migrate(&mut conn).expect("migrate");
    conn.execute_batch(
        r#"DELETE FROM schema_migrations WHERE version = 17;
        INSERT INTO runs (job, trigger, params, status, business_date, fiscal_year,
            queued_at, requested_by, host, job_digest, catalog_digest)
        VALUES ('login', 'manual', '{"user":"app","db_password":"hunter2","api_token":""}',
            'succeeded', '2026-12-01', 2026, '2026-12-01T00:00:00Z', 'ops', 'h', '', '');
        INSERT INTO audit (at, user, host, action, target, args, outcome, detail) VALUES
            ('2026-12-01T00:00:00Z', 'ops', 'h', 'run', 'job login',
             '{"params":{"user":"app","db_password":"hunter2"},"parallel":2}', 'done', 'x'),
            ('2026-12-01T00:00:00Z', 'ops', 'h', 'submit', 'job login',
             '{"params":["user=app","DB_PASSWORD=hunter2","x=a=b"],"at":null}', 'done', 'x'),
            ('2026-12-01T00:00:00Z', 'ops', 'h', 'param.set', 'param db.password',
             '{"file":"/a.yaml","key":"db.password","value":"hunter2","reason":"","expect":null}',
             'done', 'change 1: "old1" -> "hunter2"');
        INSERT INTO param_changes (at, file, key, before, after, reason, user)
        VALUES ('2026-12-01T00:00:00Z', '/a.yaml', 'db.password', '"old1"', '"hunter2"', '', 'ops');"#,
    )
    .expect("rows of an earlier version");
    migrate(&mut conn).expect("migrate again");
    let text = |sql: &str| -> String { conn.query_row(sql, [], |r| r.get(0)).expect(sql) };
    assert_eq!(
        text("SELECT params FROM runs"),
        r#"{"user":"app","db_password":"***","api_token":""}"#
    );
    assert_eq!(
        text("SELECT group_concat(args, ' | ') FROM audit ORDER BY id"),
        r#"{"params":{"user":"app","db_password":"***"},"parallel":2} | {"params":["user=app","DB_PASSWORD=***","x=a=b"],"at":null} | {"file":"/a.yaml","key":"db.password","value":"***","reason":"","expect":null}"#
    );
    assert_eq!(
        text("SELECT detail FROM audit WHERE action = 'param.set'"),
        r#"change 1: "***" -> "***""#
    );
    assert_eq!(
        text("SELECT before || ' ' || after FROM param_changes"),
        r#""***" "***""#
    );
    // The audit trail is append-only again.
    assert!(conn.execute("DELETE FROM audit", []).is_err());
}

#[test]
fn refuses_a_database_it_did_not_create() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("other.db");
    let mut conn = connect(&path).expect("connect");
    conn.execute_batch("CREATE TABLE runs (id INTEGER)")
        .expect("create");
    let err = migrate(&mut conn).expect_err("foreign tables");
    assert!(
        err.to_string().contains("tables that unyo did not create"),
        "{err}"
    );
}

/// Writes waiting for the writer share a commit; one that fails fails alone (a broken
/// constraint, told as such), the others are committed, and every caller gets its own
/// outcome.
#[test]
fn queued_writes_commit_together_and_fail_alone() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("unyo.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = SqliteStore::open(&path).await.expect("open");
        store
            .write("creating", |c| {
                c.execute_batch("CREATE TABLE scratch (x INTEGER UNIQUE)")
            })
            .await
            .expect("create");
        // The writer is kept busy until the three inserts wait behind it, so they are
        // committed in one transaction.
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let busy = store.write("waiting", move |_| {
            let _ = wait.recv();
            Ok(())
        });
        let insert = |x: i64| {
            store.write("inserting", move |c| {
                c.execute("INSERT INTO scratch (x) VALUES (?)", [x])
            })
        };
        let (a, b, c) = (insert(1), insert(1), insert(2));
        go.send(()).expect("writer waits");
        let (busy, a, b, c) = tokio::join!(busy, a, b, c);
        busy.expect("waiting write");
        assert_eq!(a.expect("first insert"), 1);
        let err = b.expect_err("duplicate");
        assert!(matches!(err, StoreError::Constraint { .. }), "{err:?}");
        assert!(err.to_string().contains("UNIQUE"), "{err}");
        assert_eq!(c.expect("third insert"), 1);
    });
    let conn = Connection::open(&path).expect("reopen");
    let xs: Vec<i64> = conn
        .prepare("SELECT x FROM scratch ORDER BY x")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(xs, [1, 2]);
}

/// A write waiting for another process that holds the database waits on the writer
/// thread: the runtime's only thread keeps running other tasks, and the write is committed
/// once the other process lets go.
#[test]
fn a_write_blocked_by_another_process_does_not_block_the_runtime() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("unyo.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = SqliteStore::open(&path).await.expect("open");
        let other = Connection::open(&path).expect("second connection");
        other
            .execute_batch("BEGIN IMMEDIATE")
            .expect("other holds the database");
        let write = tokio::spawn(store.hold(
            "backup",
            "ops",
            DateTime::from_timestamp(1_700_000_000, 0).expect("t"),
            "blocked",
        ));
        let ticker = tokio::spawn(async {
            let mut ticks = 0;
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                ticks += 1;
            }
            ticks
        });
        assert_eq!(ticker.await.expect("ticker"), 5);
        assert!(
            !write.is_finished(),
            "the write waits for the other process"
        );
        other.execute_batch("COMMIT").expect("other lets go");
        assert!(write.await.expect("task").expect("held"));
        assert_eq!(store.holds().await.expect("holds").len(), 1);
    });
}

/// SQLite's result codes become the store's causes: a database another connection holds
/// is busy; a missing table is another failure.
#[test]
fn sqlite_failures_keep_their_cause() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("unyo.db");
    let holder = connect(&path).expect("connect");
    holder.execute_batch("BEGIN IMMEDIATE").expect("hold");
    let waiter = Connection::open(&path).expect("connect");
    waiter.busy_timeout(Duration::ZERO).expect("no wait");
    let e = waiter.execute_batch("BEGIN IMMEDIATE").expect_err("locked");
    let err = sqlite_error("starting a write transaction", &e);
    assert!(err.is_busy(), "{err:?}");
    assert_eq!(
        err.to_string(),
        "database error while starting a write transaction: database is locked"
    );
    let e = waiter
        .execute_batch("SELECT * FROM nothing_here")
        .expect_err("no table");
    assert!(matches!(
        sqlite_error("reading", &e),
        StoreError::Query {
            action: "reading",
            ..
        }
    ));
    // A store error carried through a write comes out as it went in.
    let carried = carry(StoreError::Corrupt("x".to_owned()));
    assert!(matches!(
        sqlite_error("writing", &carried),
        StoreError::Corrupt(m) if m == "x"
    ));
}

/// Once the last handle of a store drops, its writer thread has committed what it was
/// given and closed the connection.
#[test]
fn dropping_the_store_commits_what_was_sent_and_ends_the_writer() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("unyo.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let weak = rt.block_on(async {
        let store = SqliteStore::open(&path).await.expect("open");
        // Sent, never awaited.
        drop(store.hold(
            "backup",
            "ops",
            DateTime::from_timestamp(1_700_000_000, 0).expect("t"),
            "sent",
        ));
        Arc::downgrade(&store.writer)
    });
    assert!(weak.upgrade().is_none(), "the writer is gone");
    // Closing did not checkpoint: the commit is in the log, which the next opener reads.
    let log = dir.path().join("unyo.db-wal");
    assert!(
        std::fs::metadata(&log).is_ok_and(|m| m.len() > 0),
        "the log was checkpointed and removed on close"
    );
    let conn = Connection::open(&path).expect("reopen");
    let n: i64 = conn
        .query_row("SELECT count(*) FROM holds", [], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 1);
}

/// `write_now` commits what was queued before it, first.
#[test]
fn write_now_commits_earlier_queued_writes_in_order() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("unyo.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = SqliteStore::open(&path).await.expect("open");
        store
            .write("creating", |c| {
                c.execute_batch("CREATE TABLE scratch (x INTEGER PRIMARY KEY, y TEXT)")
            })
            .await
            .expect("create");
        let queued = store.write("inserting", |c| {
            c.execute("INSERT INTO scratch (x, y) VALUES (1, 'queued')", [])
        });
        let seen: String = store
            .write_now("reading back", |c| {
                c.query_row("SELECT y FROM scratch WHERE x = 1", [], |r| r.get(0))
            })
            .expect("write_now");
        assert_eq!(seen, "queued");
        assert_eq!(queued.await.expect("queued write"), 1);
    });
}

#[test]
fn times_sort_as_text() {
    let a = ts(DateTime::from_timestamp(1_700_000_000, 5_000).expect("t"));
    let b = ts(DateTime::from_timestamp(1_700_000_000, 60_000).expect("t"));
    assert!(a < b, "{a} {b}");
    assert!(a.ends_with('Z'));
}

/// Polls `fut` once: `Some` when it is done at once.
fn now_or_never<T>(fut: Pending<T>) -> (Option<Result<T, StoreError>>, Pending<T>) {
    let mut fut = fut;
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => (Some(v), fut),
        std::task::Poll::Pending => (None, fut),
    }
}

fn scratch_store(path: &Path) -> (tokio::runtime::Runtime, SqliteStore) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let store = rt.block_on(async {
        let store = SqliteStore::open(path).await.expect("open");
        store
            .write("creating", |c| {
                c.execute_batch("CREATE TABLE scratch (x INTEGER, pad BLOB)")
            })
            .await
            .expect("create");
        store
    });
    (rt, store)
}

fn insert_brief(store: &SqliteStore, x: i64) -> Pending<usize> {
    store.write_brief("inserting", move |c| {
        c.execute("INSERT INTO scratch (x) VALUES (?)", [x])
    })
}

fn xs(path: &Path) -> Vec<i64> {
    let conn = Connection::open(path).expect("reopen");
    conn.prepare("SELECT x FROM scratch ORDER BY rowid")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// A brief write (an attempt's start or end) with nothing queued before it and the
/// database free is committed in the caller's thread: done when the call returns.
#[test]
fn a_brief_write_commits_at_once_when_nothing_waits() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("unyo.db");
    let (_rt, store) = scratch_store(&path);
    let (done, _) = now_or_never(insert_brief(&store, 7));
    assert_eq!(done.expect("done at once").expect("inserted"), 1);
    assert_eq!(xs(&path), [7]);
    // One that fails is undone as a whole (no savepoint of its own: its transaction).
    let failing = store.write_brief("failing", |c| {
        c.execute("INSERT INTO scratch (x) VALUES (8)", [])?;
        c.execute("INSERT INTO nowhere (x) VALUES (8)", [])
    });
    let (done, _) = now_or_never(failing);
    assert!(done.expect("done at once").is_err());
    assert_eq!(xs(&path), [7], "the failed write left nothing");
}

/// While another process holds the database, a brief write is not run in the caller's
/// thread (which would wait there for the busy timeout): it is queued, and commits once
/// the other process lets go, after the writes queued before it.
#[test]
fn a_brief_write_never_waits_in_the_caller_and_keeps_its_place() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("unyo.db");
    let (rt, store) = scratch_store(&path);
    let other = Connection::open(&path).expect("second connection");
    other
        .execute_batch("BEGIN IMMEDIATE")
        .expect("other holds the database");
    let (first, first_fut) = now_or_never(insert_brief(&store, 1));
    assert!(first.is_none(), "queued, not waited for in the caller");
    let queued = store.write("inserting", |c| {
        c.execute("INSERT INTO scratch (x) VALUES (2)", [])
    });
    let (third, third_fut) = now_or_never(insert_brief(&store, 3));
    assert!(third.is_none(), "behind the queued writes");
    other.execute_batch("COMMIT").expect("other lets go");
    rt.block_on(async {
        let (a, b, c) = tokio::join!(first_fut, queued, third_fut);
        assert_eq!((a.expect("1"), b.expect("2"), c.expect("3")), (1, 1, 1));
    });
    assert_eq!(xs(&path), [1, 2, 3], "committed in the order issued");
}

/// The log is checkpointed by the writer thread once it has grown, not by the writes
/// committed in a caller's thread: it is reused from its start instead of growing with
/// every write.
#[test]
fn the_writer_thread_checkpoints_the_log_that_brief_writes_grow() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("unyo.db");
    let (rt, store) = scratch_store(&path);
    // About 3 pages a write: 6,000 pages in all, the log checkpointed every 1,000.
    for x in 0..2000 {
        let write = store.write_brief("padding", move |c| {
            c.execute(
                "INSERT INTO scratch (x, pad) VALUES (?, zeroblob(10000))",
                [x],
            )
        });
        rt.block_on(write).expect("inserted");
    }
    rt.block_on(store.write("last", |c| {
        c.execute("INSERT INTO scratch (x) VALUES (-1)", [])
    }))
    .expect("last");
    let log = std::fs::metadata(dir.path().join("unyo.db-wal"))
        .expect("log")
        .len();
    assert!(
        log < 12 * 1024 * 1024,
        "the log holds {log} bytes: it was not checkpointed"
    );
    assert_eq!(xs(&path).len(), 2001);
}

/// A write that panics (a bug) in the caller's thread leaves the connection in its
/// transaction: the next writes roll it back and go on, and what it wrote is not kept.
#[test]
fn a_write_that_panicked_does_not_stop_the_writes_after_it() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("unyo.db");
    let (rt, store) = scratch_store(&path);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        drop(store.write_brief("panicking", |c| {
            c.execute("INSERT INTO scratch (x) VALUES (1)", [])?;
            panic!("a bug in a write");
            #[allow(unreachable_code)]
            Ok(())
        }));
    }));
    assert!(panicked.is_err(), "the write ran in this thread");
    let (done, _) = now_or_never(insert_brief(&store, 2));
    assert_eq!(done.expect("done at once").expect("inserted"), 1);
    rt.block_on(store.write("queued", |c| {
        c.execute("INSERT INTO scratch (x) VALUES (3)", [])
    }))
    .expect("queued write");
    assert_eq!(
        xs(&path),
        [2, 3],
        "the panicked write's row was rolled back"
    );
}

/// Reads run on the store's reader thread, not on the runtime's blocking pool: with the
/// pool's only thread taken by other work, twenty reads asked at once are all answered,
/// in the order asked.
#[test]
fn reads_are_answered_while_the_blocking_pool_is_taken() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("unyo.db");
    let store = {
        let (rt, store) = scratch_store(&path);
        rt.block_on(insert_brief(&store, 7)).expect("insert");
        store
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(1)
        .enable_time()
        .build()
        .expect("runtime");
    let (release, held) = std::sync::mpsc::channel::<()>();
    let answers = rt.block_on(async {
        let busy = tokio::task::spawn_blocking(move || held.recv());
        let reads: Vec<_> = (0..20)
            .map(|i| {
                tokio::spawn(store.read(move |c| {
                    let x: i64 = c
                        .query_row("SELECT MAX(x) FROM scratch", [], |r| r.get(0))
                        .map_err(query_err("reading"))?;
                    Ok(x * 100 + i)
                }))
            })
            .collect();
        let answers = tokio::time::timeout(std::time::Duration::from_secs(20), async {
            let mut answers = Vec::new();
            for read in reads {
                answers.push(read.await.expect("joined"));
            }
            answers
        })
        .await
        .expect("every read answered while the pool's thread is busy");
        release.send(()).expect("release");
        busy.await.expect("joined").expect("released");
        answers
    });
    let answers: Vec<i64> = answers.into_iter().map(|a| a.expect("read")).collect();
    assert_eq!(answers, (0..20).map(|i| 700 + i).collect::<Vec<_>>());
}

/// A read that panics (a bug) loses only its own answer: its caller is told, and the reads
/// after it are answered.
#[test]
fn a_read_that_panicked_does_not_stop_the_reads_after_it() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("unyo.db");
    let (rt, store) = scratch_store(&path);
    rt.block_on(insert_brief(&store, 3)).expect("insert");
    let panicked =
        rt.block_on(store.read(|_| -> Result<i64, StoreError> { panic!("a bug in a read") }));
    let err = panicked.expect_err("no answer");
    assert!(err.to_string().contains("the read panicked"), "{err}");
    let x: i64 = rt
        .block_on(store.read(|c| {
            c.query_row("SELECT MAX(x) FROM scratch", [], |r| r.get(0))
                .map_err(query_err("reading"))
        }))
        .expect("the next read");
    assert_eq!(x, 3);
}

/// Migration 31 rebuilds `web_users` for the role `city`: the users and their sessions of
/// an earlier version are kept (the sessions refer to the users, with foreign keys on).
#[test]
fn the_city_role_migration_keeps_users_and_their_sessions() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("unyo.db");
    let mut conn = connect(&path).expect("connect");
    migrate(&mut conn).expect("migrate");
    conn.execute_batch(
        "DELETE FROM schema_migrations WHERE version = 31;
         INSERT INTO web_users VALUES ('sato', 'operator', '$argon2id$x', '2026-12-01T00:00:00Z',
             '2026-12-01T00:00:00Z');
         INSERT INTO web_sessions VALUES ('h1', 'sato', '2026-12-01T00:00:00Z',
             '2026-12-01T00:30:00Z');",
    )
    .expect("rows of an earlier version");
    migrate(&mut conn).expect("migrate again");
    let kept: (String, String, String) = conn
        .query_row(
            "SELECT u.name, u.role, s.token_hash FROM web_sessions s JOIN web_users u \
             ON u.name = s.user_name",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("the session and its user");
    assert_eq!(
        kept,
        ("sato".to_owned(), "operator".to_owned(), "h1".to_owned())
    );
    conn.execute(
        "INSERT INTO web_users VALUES ('shisei', 'city', 'h', '2026-12-01T00:00:00Z', \
         '2026-12-01T00:00:00Z')",
        [],
    )
    .expect("the role city");
    let bad = conn.execute(
        "INSERT INTO web_users VALUES ('x', 'admin', 'h', '2026-12-01T00:00:00Z', \
         '2026-12-01T00:00:00Z')",
        [],
    );
    assert!(bad.is_err(), "an unknown role was accepted");
    let fk: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .expect("foreign key check");
    assert_eq!(fk, 0);
}

/// Runs listed by job or by status read that filter's index, not every run: a job that never
/// ran answered only after a scan of the whole history (the dashboard's job list, once per
/// job).
#[test]
fn list_runs_by_job_or_status_reads_the_filters_index() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("unyo.db");
    let mut conn = connect(&path).expect("connect");
    migrate(&mut conn).expect("migrate");
    let plan = |sql: &str| -> String {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("explain");
        let values = vec!["x"; stmt.parameter_count()];
        let rows = stmt
            .query_map(rusqlite::params_from_iter(values), |r| {
                r.get::<_, String>(3)
            })
            .expect("plan")
            .collect::<Result<Vec<_>, _>>()
            .expect("rows");
        rows.join("; ")
    };
    let by_job = plan(runs::list_runs_sql(true, false));
    assert!(by_job.contains("USING INDEX runs_job"), "{by_job}");
    let both = plan(runs::list_runs_sql(true, true));
    assert!(both.contains("USING INDEX"), "{both}");
    assert!(!both.starts_with("SCAN runs"), "{both}");
    let by_status = plan(runs::list_runs_sql(false, true));
    assert!(by_status.contains("USING INDEX runs_status"), "{by_status}");
}
