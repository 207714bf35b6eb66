//! The thread that owns a store's read connection. Reads run there one at a time, in the
//! order they were asked (one connection serves one read at once in any case), so a burst of
//! reads (a `/metrics` scrape's five, a report's) waits in a queue instead of occupying a
//! thread of the runtime's blocking pool each; the pool's idle threads, woken in turn by the
//! daemon's steady reads, would otherwise stay alive for good, each with its stack and its
//! share of the allocator.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::Connection;

/// A read to run, with its reply inside.
type Job = Box<dyn FnOnce(&Connection) + Send>;

/// The handle of a store's reader thread.
pub(super) struct Reader {
    /// Where reads are sent; `None` once dropping, which ends the thread.
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Reader {
    /// Starts the thread that owns `conn`.
    pub(super) fn start(conn: Connection) -> std::io::Result<Reader> {
        let (tx, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("unyo-db-reader".to_owned())
            .spawn(move || serve(&conn, &rx))?;
        Ok(Reader {
            jobs: Some(tx),
            thread: Some(thread),
        })
    }

    /// Hands a read to the thread; false when the thread is gone (the read is dropped with
    /// its reply, so its caller hears that it did not run).
    pub(super) fn send(&self, job: Job) -> bool {
        self.jobs.as_ref().is_some_and(|tx| tx.send(job).is_ok())
    }
}

impl Drop for Reader {
    /// Lets the thread finish the reads sent before, then waits for it to close the
    /// connection, so a dropped store leaves nothing behind in this process.
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs each read in turn. A read that panics loses its reply (its caller is told) and the
/// reads after it go on: a read leaves the connection as it found it, outside a transaction.
fn serve(conn: &Connection, jobs: &mpsc::Receiver<Job>) {
    while let Ok(job) = jobs.recv() {
        if catch_unwind(AssertUnwindSafe(|| job(conn))).is_err() {
            tracing::error!("a database read panicked; the reads after it go on");
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
        }
    }
}
