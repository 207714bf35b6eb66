//! The store's writer: one thread owns the write connection, receives writes in the order
//! they were issued, and commits everything waiting in one transaction (group commit; each
//! write in its own savepoint, so one failing write fails alone; a write alone in its
//! transaction needs none). Callers await a reply sent after the `COMMIT`.
//!
//! A transaction whose connection broke before its `COMMIT` was answered is reported as
//! not committed to every write in it (the server rolls an interrupted transaction back).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, mpsc};

use super::StoreError;
use super::session::{Fail, Pg, next_batch};

/// A queued write: given the connection inside the open transaction (and whether it is
/// the transaction's only write), or why the transaction could not begin, it runs its
/// statements and says whether they succeeded and what reports its outcome once the
/// commit is known.
pub(super) type QueuedWrite = Box<dyn FnOnce(Result<Tx<'_>, &StoreError>) -> Written + Send>;

/// The open transaction a write runs in.
pub(super) struct Tx<'a> {
    pub pg: &'a mut Pg,
    /// The write is the transaction's only one: it needs no savepoint of its own.
    pub alone: bool,
}

/// What a write did.
pub(super) struct Written {
    pub ok: bool,
    pub reply: Reply,
}

/// Reports a write's outcome, given the commit's.
pub(super) type Reply = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;

/// The most writes committed together.
const MAX_BATCH: usize = 256;

/// The writer thread's loop; `fence` names the daemon whose fence every transaction
/// checks (0: none).
pub(super) fn serve(pg: &mut Pg, jobs: &Mutex<mpsc::Receiver<QueuedWrite>>, fence: &AtomicI64) {
    while let Some(batch) = next_batch(jobs, MAX_BATCH) {
        let (replies, committed) = commit(pg, batch, fence.load(Ordering::Acquire));
        for reply in replies {
            reply(committed.as_ref().map(|_| ()));
        }
    }
}

fn failed(action: &'static str, f: Fail) -> StoreError {
    match f {
        Fail::Sql(e) => super::pg_error(action, &e),
        Fail::Store(e) => e,
    }
}

/// Runs `writes` in one transaction and commits it, unless daemon `fence` (when not 0) was
/// fenced: its row is read `FOR SHARE`, so a fence committed by another daemon waits for
/// this transaction, and none of this handle commits after it.
fn commit(
    pg: &mut Pg,
    writes: Vec<QueuedWrite>,
    fence: i64,
) -> (Vec<Reply>, Result<(), StoreError>) {
    let begun = pg
        .batch("BEGIN")
        .map_err(|e| failed("starting a write transaction", e))
        .and_then(|()| {
            let checked = check_fence(pg, fence);
            if checked.is_err() {
                let _ = pg.batch("ROLLBACK");
            }
            checked
        });
    if let Err(e) = begun {
        let replies = writes.into_iter().map(|w| w(Err(&e)).reply).collect();
        return (replies, Err(e));
    }
    pg.hold(true);
    let (replies, committed) = run_and_commit(pg, writes);
    pg.hold(false);
    (replies, committed)
}

/// Fails when daemon `fence` (0: none) was fenced; otherwise its row stays locked (shared)
/// to the end of the transaction, so a fence waits for the transaction.
fn check_fence(pg: &mut Pg, fence: i64) -> Result<(), StoreError> {
    if fence == 0 {
        return Ok(());
    }
    let row = pg
        .fetch_optional(
            sqlx::query(
                "SELECT fenced_at IS NOT NULL AS fenced FROM daemons WHERE id = $1 FOR SHARE",
            )
            .bind(fence),
        )
        .map_err(|e| failed("checking the daemon's fence", e))?;
    let fenced = match row {
        Some(r) => super::rows::col::<bool>(&r, "fenced")?,
        None => false,
    };
    if fenced {
        return Err(StoreError::Fenced { daemon_id: fence });
    }
    Ok(())
}

/// The rest of [`commit`], inside the open transaction.
fn run_and_commit(pg: &mut Pg, writes: Vec<QueuedWrite>) -> (Vec<Reply>, Result<(), StoreError>) {
    let epoch = pg.epoch();
    let alone = writes.len() == 1;
    let mut replies = Vec::with_capacity(writes.len());
    let mut any_failed = false;
    for w in writes {
        // A write that panics (a bug) fails alone; the transaction goes on without it.
        let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            w(Ok(Tx {
                pg: &mut *pg,
                alone,
            }))
        }));
        match done {
            Ok(written) => {
                any_failed |= !written.ok;
                replies.push(written.reply);
            }
            Err(_) => {
                tracing::error!("a database write panicked; rolling its transaction back");
                let _ = pg.batch("ROLLBACK");
                let e = StoreError::Query {
                    action: "writing",
                    message: "a write failed inside the transaction; nothing of it was committed"
                        .to_owned(),
                };
                return (replies, Err(e));
            }
        }
    }
    if pg.epoch() != epoch {
        return (replies, Err(lost()));
    }
    let committed = if alone && any_failed {
        pg.batch("ROLLBACK").map_err(|e| failed("rolling back", e))
    } else {
        match pg.batch("COMMIT") {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = pg.batch("ROLLBACK");
                Err(failed("committing", e))
            }
        }
    };
    (replies, committed)
}

/// The connection broke inside the transaction: nothing of it was committed.
fn lost() -> StoreError {
    StoreError::Unreachable {
        action: "writing",
        message: "the connection to PostgreSQL broke before the commit; nothing was committed"
            .to_owned(),
    }
}

/// Runs one write inside the shared transaction: its changes are undone alone when it
/// fails.
pub(super) fn in_savepoint<T>(
    pg: &mut Pg,
    f: impl FnOnce(&mut Pg) -> Result<T, Fail>,
) -> Result<T, Fail> {
    pg.batch("SAVEPOINT write")?;
    match f(pg) {
        Ok(v) => {
            pg.batch("RELEASE write")?;
            Ok(v)
        }
        Err(e) => {
            let _ = pg.batch("ROLLBACK TO write");
            let _ = pg.batch("RELEASE write");
            Err(e)
        }
    }
}
