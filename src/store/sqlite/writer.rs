//! The store's writer: one thread per store owns the write connection, receives writes over
//! a channel in the order they were issued, and commits everything waiting in one
//! `BEGIN IMMEDIATE` transaction (group commit; each write in its own savepoint, so one
//! failing write fails alone; a write alone in its transaction needs none). Callers await a reply sent after the COMMIT, so no task of
//! the async runtime ever waits on SQLite, even while another process holds the database
//! for the whole busy timeout. The thread ends, and the connection closes, when the last
//! handle of the store drops.
//!
//! A brief write (a few rows by key: an attempt's start and end, once per step) may instead
//! run at once in the caller's thread, when that cannot wait: no write is queued before it
//! (writes still commit in the order they were issued), the connection is free, and SQLite
//! grants the write lock without waiting (no busy timeout). Otherwise it queues like any
//! other. This saves two thread hand-overs on the way from one step to the next.
//!
//! Checkpoints (copying the log back into the database, with an fsync) are never run by a
//! write: the log hook marks one due once the log holds [`CHECKPOINT_PAGES`], and the
//! thread runs it, as SQLite's automatic checkpoint would have after that commit. Closing a
//! connection does not checkpoint either (`connect`): the log is left to the next opener,
//! who reads it as it is (a commit is as durable in the log as in the database file).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::{BUSY_TIMEOUT, StoreError, sqlite_error};

/// A queued write: given the open transaction (or why it could not begin), it runs its
/// statements and returns whether they succeeded and what reports its outcome once the
/// commit is known.
pub(super) type QueuedWrite = Box<dyn FnOnce(Result<Tx<'_>, &StoreError>) -> Written + Send>;

/// The open transaction a write runs in.
pub(super) struct Tx<'a> {
    pub conn: &'a Connection,
    /// The write is the transaction's only one: it needs no savepoint of its own (a failure
    /// rolls the transaction back).
    pub alone: bool,
}

/// What a write did.
pub(super) struct Written {
    pub ok: bool,
    pub reply: Reply,
}

/// Reports a write's outcome, given the commit's.
pub(super) type Reply = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;

/// Log pages after which a checkpoint is due (SQLite's own automatic checkpoint default).
const CHECKPOINT_PAGES: i32 = 1000;

/// What the thread is sent.
enum Job {
    Write(QueuedWrite),
    /// The log has grown: checkpoint it.
    Checkpoint,
}

/// What the thread and the callers share.
struct Shared {
    conn: Mutex<Connection>,
    /// Writes sent to the thread and not yet committed: a write issued meanwhile queues
    /// behind them.
    queued: AtomicUsize,
    /// Set by the log hook when a checkpoint is due.
    checkpoint_due: Arc<AtomicBool>,
}

impl Shared {
    fn conn(&self) -> MutexGuard<'_, Connection> {
        recovered(self.conn.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The connection as a write panicked (a bug) may have left it: in the middle of its
/// transaction, which is rolled back, so that the next writes can begin theirs.
fn recovered(conn: MutexGuard<'_, Connection>) -> MutexGuard<'_, Connection> {
    if !conn.is_autocommit() {
        tracing::error!("a database write was interrupted; rolling its transaction back");
        let _ = conn.execute_batch("ROLLBACK");
    }
    conn
}

/// The handle of a store's writer thread.
pub(super) struct Writer {
    shared: Arc<Shared>,
    /// Where writes are sent; `None` once dropping, which ends the thread.
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the thread that owns `conn`.
    pub(super) fn start(mut conn: Connection) -> std::io::Result<Writer> {
        let checkpoint_due = Arc::new(AtomicBool::new(false));
        let due = checkpoint_due.clone();
        // Replaces SQLite's automatic checkpoint, which would run inside a writer's COMMIT.
        conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages: i32| {
            if pages >= CHECKPOINT_PAGES {
                due.store(true, Ordering::Release);
            }
            Ok(())
        }))
        .map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared {
            conn: Mutex::new(conn),
            queued: AtomicUsize::new(0),
            checkpoint_due,
        });
        let (tx, rx) = mpsc::channel::<Job>();
        let theirs = shared.clone();
        let thread = std::thread::Builder::new()
            .name("unyo-db-writer".to_owned())
            .spawn(move || serve(&theirs, &rx))?;
        Ok(Writer {
            shared,
            jobs: Some(tx),
            thread: Some(thread),
        })
    }

    /// Hands a write to the thread. When the thread is gone the write is dropped with its
    /// reply, and its caller is told it was not committed.
    pub(super) fn send(&self, write: QueuedWrite) {
        self.shared.queued.fetch_add(1, Ordering::AcqRel);
        let sent = self
            .jobs
            .as_ref()
            .is_some_and(|jobs| jobs.send(Job::Write(write)).is_ok());
        if !sent {
            self.shared.queued.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Commits a brief write at once in this thread when that cannot wait (see the module's
    /// header), else hands it to the thread.
    pub(super) fn send_brief(&self, write: QueuedWrite) {
        match self.now(write) {
            Ok(()) => {
                if self.shared.checkpoint_due.load(Ordering::Acquire)
                    && let Some(jobs) = &self.jobs
                {
                    let _ = jobs.send(Job::Checkpoint);
                }
            }
            Err(write) => self.send(write),
        }
    }

    /// Runs `write` in its own transaction now, or gives it back.
    fn now(&self, write: QueuedWrite) -> Result<(), QueuedWrite> {
        // While a checkpoint is due, writes go to the thread, which runs it first.
        if self.jobs.is_none()
            || self.shared.queued.load(Ordering::Acquire) != 0
            || self.shared.checkpoint_due.load(Ordering::Acquire)
        {
            return Err(write);
        }
        let conn = match self.shared.conn.try_lock() {
            Ok(conn) => conn,
            Err(TryLockError::Poisoned(p)) => recovered(p.into_inner()),
            Err(TryLockError::WouldBlock) => return Err(write),
        };
        // Queued by another thread between the first look and the lock: it goes first.
        if self.shared.queued.load(Ordering::Acquire) != 0 {
            return Err(write);
        }
        if conn.busy_timeout(Duration::ZERO).is_err() {
            return Err(write);
        }
        let begun = run_cached(&conn, "BEGIN IMMEDIATE");
        let _ = conn.busy_timeout(BUSY_TIMEOUT);
        if begun.is_err() {
            // Another process writes (or the database cannot be written): the thread waits
            // for it, or reports why not.
            return Err(write);
        }
        let answers = finish(&conn, vec![write]);
        // Answered once the connection is free again, so that the caller's next write can
        // take it.
        drop(conn);
        answers.send();
        Ok(())
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

/// The writer thread: takes the first waiting job, then every other one waiting by now,
/// commits the writes together, and checkpoints when one is due.
fn serve(shared: &Shared, jobs: &mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = Vec::new();
        for job in std::iter::once(first).chain(jobs.try_iter()) {
            if let Job::Write(w) = job {
                batch.push(w);
            }
        }
        let answers = {
            let conn = shared.conn();
            if shared.checkpoint_due.load(Ordering::Acquire) {
                checkpoint(&conn, &shared.checkpoint_due);
            }
            let n = batch.len();
            let answers = (n > 0).then(|| commit(&conn, batch));
            // Before the callers hear of it: a write one of them issues next may then commit
            // at once.
            shared.queued.fetch_sub(n, Ordering::AcqRel);
            answers
        };
        if let Some(answers) = answers {
            answers.send();
        }
        if shared.checkpoint_due.load(Ordering::Acquire) {
            checkpoint(&shared.conn(), &shared.checkpoint_due);
        }
    }
}

/// Copies the log back into the database: PASSIVE, as SQLite's automatic checkpoint (it
/// never waits for readers).
fn checkpoint(conn: &Connection, due: &AtomicBool) {
    due.store(false, Ordering::Release);
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
        tracing::warn!("cannot checkpoint the database log: {e}");
    }
}

/// The answers to the writes of one transaction, sent once its outcome is known.
struct Answers {
    replies: Vec<Reply>,
    committed: Result<(), StoreError>,
}

impl Answers {
    fn send(self) {
        for reply in self.replies {
            reply(self.committed.as_ref().map(|_| ()));
        }
    }
}

/// Commits `writes` in one `BEGIN IMMEDIATE` transaction.
fn commit(conn: &Connection, writes: Vec<QueuedWrite>) -> Answers {
    if let Err(e) = run_cached(conn, "BEGIN IMMEDIATE") {
        let failed = sqlite_error("starting a write transaction", &e);
        let replies = writes.into_iter().map(|w| w(Err(&failed)).reply).collect();
        return Answers {
            replies,
            committed: Err(failed),
        };
    }
    finish(conn, writes)
}

/// Runs `writes` in the open transaction and commits it. A write alone in the transaction
/// runs without a savepoint; if it fails, the transaction is rolled back.
fn finish(conn: &Connection, writes: Vec<QueuedWrite>) -> Answers {
    let alone = writes.len() == 1;
    let done: Vec<Written> = writes
        .into_iter()
        .map(|w| w(Ok(Tx { conn, alone })))
        .collect();
    let committed = if alone && done.iter().any(|w| !w.ok) {
        run_cached(conn, "ROLLBACK").map_err(|e| sqlite_error("rolling back", &e))
    } else {
        run_cached(conn, "COMMIT").map_err(|e| {
            let _ = run_cached(conn, "ROLLBACK");
            sqlite_error("committing", &e)
        })
    };
    Answers {
        replies: done.into_iter().map(|w| w.reply).collect(),
        committed,
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
