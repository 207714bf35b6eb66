//! One connection to PostgreSQL owned by one thread, used synchronously.
//!
//! sqlx is asynchronous; the store's writes must be issued in the order they are called
//! and one write may need several statements that depend on each other. Each of the
//! store's connections is therefore owned by a thread of its own ([`Threads`]) that runs a
//! small single-threaded tokio runtime: a write or read is a plain closure given a
//! [`Pg`], whose methods run one statement each to completion. The store's code reads
//! like the SQLite store's, and no task of the caller's runtime ever waits on the network.
//!
//! A connection that breaks (PostgreSQL restarted, the network cut) is dropped and opened
//! again on the next statement, waiting up to [`RECONNECT_WAIT`] for the server to come
//! back; the statement that saw it break fails (its transaction is rolled back by the
//! server), and later ones run on the new connection.

use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgRow, Postgres};
use sqlx::query::Query;
use sqlx::{ConnectOptions, Connection, Executor};

use super::super::StoreError;

/// How long a statement waits for an unreachable server before it fails.
pub(super) const RECONNECT_WAIT: Duration = Duration::from_secs(30);

/// A statement's query with its bound values.
pub(super) type Q = Query<'static, Postgres, PgArguments>;

/// Why a closure given a [`Pg`] failed: a statement (to be told apart by
/// `super::pg_error`), or an error of the store's own (a value that does not read back, a
/// refusal carried out of the transaction).
#[derive(Debug)]
pub(super) enum Fail {
    Sql(sqlx::Error),
    Store(StoreError),
}

impl From<sqlx::Error> for Fail {
    fn from(e: sqlx::Error) -> Fail {
        Fail::Sql(e)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Fail {
        Fail::Store(e)
    }
}

/// A connection (opened when first needed, again after it broke) and the runtime that
/// drives it, on the thread that owns both.
pub(super) struct Pg {
    conn: Option<PgConnection>,
    /// Counts the connections opened: a transaction begun on one is lost with it.
    epoch: u64,
    /// A transaction is open: a broken connection is not replaced until it ends
    /// ([`Pg::hold`]), so no statement of it runs outside it on a new one.
    held: bool,
    options: PgConnectOptions,
    rt: tokio::runtime::Runtime,
}

impl std::fmt::Debug for Pg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pg").finish_non_exhaustive()
    }
}

/// Whether an error means the connection itself is gone (rather than one statement
/// failing on it).
pub(super) fn broken(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed => true,
        // The server is shutting down (`admin_shutdown`, `crash_shutdown`,
        // `cannot_connect_now`) or terminated this backend.
        sqlx::Error::Database(d) => {
            matches!(
                d.code().as_deref(),
                Some("57P01" | "57P02" | "57P03" | "08006")
            )
        }
        _ => false,
    }
}

impl Pg {
    pub(super) fn new(options: PgConnectOptions) -> std::io::Result<Pg> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(Pg {
            conn: None,
            epoch: 0,
            held: false,
            options,
            rt,
        })
    }

    /// The open connection, opened now if there is none, waiting up to [`RECONNECT_WAIT`]
    /// for a server that cannot be reached.
    fn conn(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        if self.conn.is_none() && self.held {
            return Err(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "the connection to PostgreSQL broke inside a transaction",
            )));
        }
        if self.conn.is_none() {
            let start = Instant::now();
            let mut pause = Duration::from_millis(50);
            let conn = loop {
                match self.rt.block_on(self.options.connect()) {
                    Ok(c) => break c,
                    Err(e) if broken(&e) && start.elapsed() < RECONNECT_WAIT => {
                        std::thread::sleep(pause);
                        pause = (pause * 2).min(Duration::from_secs(1));
                    }
                    Err(e) => return Err(e),
                }
            };
            self.conn = Some(conn);
            self.epoch += 1;
        }
        match self.conn.as_mut() {
            Some(conn) => Ok(conn),
            None => unreachable!("connected above"),
        }
    }

    /// Opens the connection now: how a store reports at once a database it cannot reach.
    pub(super) fn connect(&mut self) -> Result<(), sqlx::Error> {
        self.conn().map(|_| ())
    }

    /// Which connection is open (`None`: none is): a transaction begun on it is lost when
    /// this changes.
    pub(super) fn epoch(&self) -> Option<u64> {
        self.conn.as_ref().map(|_| self.epoch)
    }

    /// Holds on to the connection while a transaction is open (`true`), or lets a broken
    /// one be replaced again (`false`).
    pub(super) fn hold(&mut self, held: bool) {
        self.held = held;
    }

    /// Forgets a connection that broke, so the next statement opens another.
    fn check<T>(&mut self, r: Result<T, sqlx::Error>) -> Result<T, sqlx::Error> {
        if let Err(e) = &r
            && broken(e)
        {
            self.conn = None;
        }
        r
    }

    /// Runs `op` on the open connection (opening it first when needed) to completion.
    fn on<T>(
        &mut self,
        op: impl for<'c> FnOnce(
            &'c mut PgConnection,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, sqlx::Error>> + Send + 'c>,
        >,
    ) -> Result<T, sqlx::Error> {
        self.conn()?;
        let r = match self.conn.as_mut() {
            Some(conn) => self.rt.block_on(op(conn)),
            None => unreachable!("connected above"),
        };
        self.check(r)
    }

    /// Runs a statement; returns the rows it changed.
    pub(super) fn execute(&mut self, q: Q) -> Result<u64, Fail> {
        let done = self.on(move |c| Box::pin(q.execute(c)))?;
        Ok(done.rows_affected())
    }

    /// Runs a query; returns every row.
    pub(super) fn fetch_all(&mut self, q: Q) -> Result<Vec<PgRow>, Fail> {
        Ok(self.on(move |c| Box::pin(q.fetch_all(c)))?)
    }

    /// Runs a query; returns its first row, if any.
    pub(super) fn fetch_optional(&mut self, q: Q) -> Result<Option<PgRow>, Fail> {
        Ok(self.on(move |c| Box::pin(q.fetch_optional(c)))?)
    }

    /// Runs a query that returns exactly one row.
    pub(super) fn fetch_one(&mut self, q: Q) -> Result<PgRow, Fail> {
        Ok(self.on(move |c| Box::pin(q.fetch_one(c)))?)
    }

    /// Runs statements without parameters (`BEGIN`, `COMMIT`, a schema ...), through the
    /// simple query protocol.
    pub(super) fn batch(&mut self, sql: &'static str) -> Result<(), Fail> {
        Ok(self.on(move |c| {
            Box::pin(async move { c.execute(sqlx::raw_sql(sql)).await.map(|_| ()) })
        })?)
    }

    /// [`Pg::batch`] for a script known only at run time (a migration's file).
    pub(super) fn script(&mut self, sql: String) -> Result<(), Fail> {
        Ok(self.on(move |c| {
            Box::pin(async move {
                c.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql)))
                    .await
                    .map(|_| ())
            })
        })?)
    }

    /// Closes the connection politely (the server is told, not left to notice).
    pub(super) fn close(&mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = self.rt.block_on(conn.close());
        }
    }
}

/// What a reading thread is given: a closure over its connection.
pub(super) type Job = Box<dyn FnOnce(&mut Pg) + Send>;

/// Threads that each own a [`Pg`] and take jobs from one channel (the first free one takes
/// the next job). Dropping it lets them finish the jobs sent, close their connections and
/// end, and waits for that.
pub(super) struct Threads<J> {
    jobs: Option<mpsc::Sender<J>>,
    threads: Vec<JoinHandle<()>>,
}

impl<J> std::fmt::Debug for Threads<J> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Threads")
            .field("threads", &self.threads.len())
            .finish_non_exhaustive()
    }
}

impl<J: Send + 'static> Threads<J> {
    /// Starts `n` threads named `name`, each with its own connection. `serve` runs each
    /// thread's loop over the shared channel.
    pub(super) fn start(
        name: &str,
        n: usize,
        options: &PgConnectOptions,
        serve: impl Fn(&mut Pg, &Mutex<mpsc::Receiver<J>>) + Send + Clone + 'static,
    ) -> std::io::Result<Threads<J>> {
        let (tx, rx) = mpsc::channel::<J>();
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = Vec::with_capacity(n);
        for _ in 0..n {
            let mut pg = Pg::new(options.clone())?;
            let rx = rx.clone();
            let serve = serve.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(name.to_owned())
                    .spawn(move || {
                        serve(&mut pg, &rx);
                        pg.close();
                    })?,
            );
        }
        Ok(Threads {
            jobs: Some(tx),
            threads,
        })
    }

    /// Hands a job to the threads; false when they are gone (the job is dropped).
    pub(super) fn send(&self, job: J) -> bool {
        self.jobs.as_ref().is_some_and(|j| j.send(job).is_ok())
    }
}

impl<J> Drop for Threads<J> {
    fn drop(&mut self) {
        self.jobs.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A reader's loop: one job at a time, each with the connection to itself.
pub(super) fn serve_each(pg: &mut Pg, jobs: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(pg),
            Err(_) => return,
        }
    }
}

/// Takes the next job and every other one waiting by now (a writer's group commit).
pub(super) fn next_batch<J>(jobs: &Mutex<mpsc::Receiver<J>>, max: usize) -> Option<Vec<J>> {
    let rx = jobs.lock().ok()?;
    let first = rx.recv().ok()?;
    let mut batch = vec![first];
    while batch.len() < max {
        match rx.try_recv() {
            Ok(j) => batch.push(j),
            Err(_) => break,
        }
    }
    Some(batch)
}
