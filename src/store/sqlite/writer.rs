//! The store's writer: one thread per store owns the write connection, receives writes over
//! a channel in the order they were issued, and commits everything waiting in one
//! `BEGIN IMMEDIATE` transaction (group commit; each write in its own savepoint, so one
//! failing write fails alone). Callers await a reply sent after the COMMIT, so no task of
//! the async runtime ever waits on SQLite, even while another process holds the database
//! for the whole busy timeout. The thread ends, and the connection closes, when the last
//! handle of the store drops.

use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::Connection;

use super::{StoreError, sqlite_error};

/// A queued write: given the open transaction (or why it could not begin), it runs its
/// statements and returns what reports its outcome once the commit is known.
pub(super) type QueuedWrite = Box<dyn FnOnce(Result<&Connection, &StoreError>) -> Reply + Send>;

/// Reports a write's outcome, given the commit's.
pub(super) type Reply = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;

/// The handle of a store's writer thread.
pub(super) struct Writer {
    /// Where writes are sent; `None` once dropping, which ends the thread.
    jobs: Option<mpsc::Sender<QueuedWrite>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the thread that owns `conn`.
    pub(super) fn start(conn: Connection) -> std::io::Result<Writer> {
        let (tx, rx) = mpsc::channel::<QueuedWrite>();
        let thread = std::thread::Builder::new()
            .name("unyo-db-writer".to_owned())
            .spawn(move || serve(&conn, &rx))?;
        Ok(Writer {
            jobs: Some(tx),
            thread: Some(thread),
        })
    }

    /// Hands a write to the thread. When the thread is gone the write is dropped with its
    /// reply, and its caller is told it was not committed.
    pub(super) fn send(&self, write: QueuedWrite) {
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(write);
        }
    }
}

impl Drop for Writer {
    /// Lets the thread commit what was sent before, then waits for it to close the
    /// connection, so a dropped store leaves nothing behind in this process.
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The writer thread: takes the first waiting write, then every other one waiting by now,
/// and commits them together.
fn serve(conn: &Connection, jobs: &mpsc::Receiver<QueuedWrite>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        batch.extend(jobs.try_iter());
        commit(conn, batch);
    }
}

/// Commits `writes` in one `BEGIN IMMEDIATE` transaction and answers each.
fn commit(conn: &Connection, writes: Vec<QueuedWrite>) {
    if let Err(e) = run_cached(conn, "BEGIN IMMEDIATE") {
        let failed = sqlite_error("starting a write transaction", &e);
        for w in writes {
            w(Err(&failed))(Err(&failed));
        }
        return;
    }
    let replies: Vec<Reply> = writes.into_iter().map(|w| w(Ok(conn))).collect();
    let committed = run_cached(conn, "COMMIT").map_err(|e| {
        let _ = run_cached(conn, "ROLLBACK");
        sqlite_error("committing", &e)
    });
    for reply in replies {
        reply(committed.as_ref().map(|_| ()));
    }
}

/// Runs one queued write inside the shared transaction: its changes are undone alone when
/// it fails.
pub(super) fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    run_cached(conn, "SAVEPOINT write")?;
    match f(conn) {
        Ok(v) => {
            run_cached(conn, "RELEASE write")?;
            Ok(v)
        }
        Err(e) => {
            let _ = run_cached(conn, "ROLLBACK TO write");
            let _ = run_cached(conn, "RELEASE write");
            Err(e)
        }
    }
}

/// Runs a statement without parameters through the statement cache.
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}
