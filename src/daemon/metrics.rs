//! The daemon's Prometheus endpoint: `GET /metrics` on the address of `metrics.listen`
//! (loopback in the shipped settings; off when not set), served by hyper's HTTP/1 server in
//! a task of its own. Each scrape reads the records (`Store::metric_facts`, `targets`,
//! `target_changes`) and the next slots the main loop last published, and sends them as a
//! `metrics::Exposition`, rendered a part at a time as the body goes out. Any other path is
//! 404, any other method 405.
//!
//! The endpoint only reads: it never writes the database nor touches the main loop's state,
//! and a slow scrape holds up nothing but itself.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use chrono::{DateTime, Duration, Utc};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Bytes, Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::watch;

use crate::domain::clock::SharedClock;
use crate::metrics::{CONTENT_TYPE, Exposition, Tally};
use crate::store::{Store, StoreError};

/// Each scheduled job's next slot, by job name.
pub(super) type Slots = Arc<Vec<(String, DateTime<Utc>)>>;
/// Each scheduled job's next slot, as the main loop last published it.
pub(super) type NextSlots = watch::Receiver<Slots>;

/// What a scrape needs.
pub(super) struct Endpoint {
    pub store: Arc<dyn Store>,
    pub clock: SharedClock,
    pub next_slots: NextSlots,
    /// The counts of ended runs and slots, kept between scrapes (locked only to read or
    /// add, never across an await).
    pub tally: std::sync::Mutex<Tally>,
}

/// Serves `/metrics` on `listener` until `stop` turns true.
pub(super) async fn serve(
    listener: std::net::TcpListener,
    endpoint: Endpoint,
    mut stop: watch::Receiver<bool>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("the metrics endpoint cannot listen: {e}");
            return;
        }
    };
    let endpoint = Arc::new(endpoint);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|s| *s) => return,
        };
        let (stream, _) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("the metrics endpoint could not accept a connection: {e}");
                continue;
            }
        };
        let endpoint = endpoint.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let endpoint = endpoint.clone();
                async move { Ok::<_, Infallible>(answer(&endpoint, &req).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!("a metrics connection ended: {e}");
            }
        });
    }
}

/// How long after a scrape's last part its memory is given back (once the connection has
/// sent and freed its buffers).
const GIVE_BACK_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// A response's body: a short text, or the exposition in parts.
type Reply = UnsyncBoxBody<Bytes, Infallible>;

/// The exposition as a body: each frame is the next part, rendered when hyper asks for it;
/// after the last, what the scrape freed goes back to the system.
struct Parts(Option<Exposition>);

impl Body for Parts {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let parts = &mut self.get_mut().0;
        let next = parts.as_mut().and_then(Iterator::next);
        if next.is_none() && parts.take().is_some() {
            // A moment later: the last parts are still in the connection's buffers now.
            tokio::spawn(async {
                tokio::time::sleep(GIVE_BACK_AFTER).await;
                super::memory::give_back();
            });
        }
        Poll::Ready(next.map(|part| Ok(Frame::data(Bytes::from(part)))))
    }
}

fn plain(status: StatusCode, body: String) -> Response<Reply> {
    let mut r = Response::new(Full::new(Bytes::from(body)).boxed_unsync());
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

async fn answer(endpoint: &Endpoint, req: &Request<Incoming>) -> Response<Reply> {
    if req.uri().path() != "/metrics" {
        return plain(
            StatusCode::NOT_FOUND,
            "not found: unyo serves `/metrics` only\n".to_owned(),
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed: `/metrics` answers GET\n".to_owned(),
        );
    }
    match scrape(endpoint).await {
        Ok(exposition) => {
            let mut r = Response::new(Parts(Some(exposition)).boxed_unsync());
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(CONTENT_TYPE),
            );
            r
        }
        Err(e) => {
            tracing::warn!("a metrics scrape failed: {e}");
            plain(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the records cannot be read: {e}\n"),
            )
        }
    }
}

/// Ended runs read at a time (the first scrape reads the whole history).
const RUNS_BATCH: i64 = 500;

fn poisoned() -> StoreError {
    StoreError::Query {
        action: "counting the runs for the metrics",
        message: "a scrape panicked while counting".to_owned(),
    }
}

/// One scrape's exposition.
pub(super) async fn scrape(endpoint: &Endpoint) -> Result<Exposition, StoreError> {
    let now = endpoint.clock.now();
    let (mut cursor, slots_after) = {
        let t = endpoint.tally.lock().map_err(|_| poisoned())?;
        (t.runs_from(), t.slots_after())
    };
    // In batches, so that the first scrape over a long history holds a batch at a time.
    let mut snapshots = Vec::new();
    loop {
        let read = endpoint.store.runs_since(cursor, RUNS_BATCH).await?;
        snapshots.push((read.oldest_active, read.max_id));
        endpoint
            .tally
            .lock()
            .map_err(|_| poisoned())?
            .add_runs(&read);
        match read.ended.last() {
            Some(last) if read.ended.len() as i64 == RUNS_BATCH => cursor = last.id + 1,
            _ => break,
        }
    }
    let slots = endpoint.store.slots_not_run(slots_after).await?;
    let facts = endpoint.store.metric_facts().await?;
    let counts = {
        let mut t = endpoint.tally.lock().map_err(|_| poisoned())?;
        t.advance(snapshots);
        t.add_slots(&slots);
        t.counts()
    };
    let targets = endpoint.store.targets().await?;
    // Flapping looks back a day; older changes are not read.
    let changes: Vec<_> = if targets.is_empty() {
        Vec::new()
    } else {
        let day_ago = now - Duration::hours(24);
        endpoint
            .store
            .target_changes(now + Duration::seconds(1))
            .await?
            .into_iter()
            .filter(|c| c.at >= day_ago)
            .collect()
    };
    let next = endpoint.next_slots.borrow().clone();
    Ok(Exposition::new(
        env!("CARGO_PKG_VERSION"),
        now,
        facts,
        counts,
        targets,
        changes,
        next,
    ))
}
