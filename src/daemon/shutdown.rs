//! The signals the daemon answers, and its stop: SIGTERM or SIGINT lets running steps finish
//! within the grace period, then stops them; a second signal stops them at once.

use tokio::signal::unix::{SignalKind, signal};

use super::Daemon;
use crate::engine::Stop;
use crate::error::Error;

/// The signals the daemon answers: SIGTERM and SIGINT stop it, SIGHUP reloads.
pub(super) struct Signals {
    pub(super) term: tokio::signal::unix::Signal,
    pub(super) int: tokio::signal::unix::Signal,
    pub(super) hup: tokio::signal::unix::Signal,
}

impl Signals {
    pub(super) fn listen() -> Result<Signals, Error> {
        let sig = |kind: SignalKind| {
            signal(kind).map_err(|source| Error::Io {
                action: "cannot listen for signals".to_owned(),
                source,
            })
        };
        Ok(Signals {
            term: sig(SignalKind::terminate())?,
            int: sig(SignalKind::interrupt())?,
            hup: sig(SignalKind::hangup())?,
        })
    }
}

impl Daemon {
    /// SIGTERM/SIGINT: start nothing new, let running runs finish within the grace period,
    /// then stop them (recorded interrupted); a second signal stops them at once.
    pub(super) async fn shutdown(
        &mut self,
        signal: &str,
        term: &mut tokio::signal::unix::Signal,
        int: &mut tokio::signal::unix::Signal,
    ) -> Result<(), Error> {
        let grace = self.settings.shutdown_grace;
        if !self.running.is_empty() {
            eprintln!(
                "unyo daemon: {signal}: waiting up to {} for {} running run(s); send it again to stop them now",
                crate::model::values::format_duration(grace),
                self.running.len()
            );
        }
        // Running steps may finish; nothing new starts, and a run waiting for a retry or
        // with steps still to start is left to be taken up at the next start.
        for a in self.running.values() {
            let _ = a.stop.send(Some(Stop::Drain));
        }
        let deadline = tokio::time::Instant::now() + grace;
        let mut stopped = false;
        // Steps handed over by other nodes' runs may finish too, within the same grace.
        self.carried.retain(|_, stop| !stop.is_closed());
        while !self.running.is_empty() || !self.carried.is_empty() {
            tokio::select! {
                Some((run_id, result)) = self.done_rx.recv() => self.finished(run_id, result).await?,
                () = tokio::time::sleep(std::time::Duration::from_millis(100)), if !self.carried.is_empty() => {
                    self.carried.retain(|_, stop| !stop.is_closed());
                }
                () = tokio::time::sleep_until(deadline), if !stopped => {
                    self.stop_all();
                    stopped = true;
                }
                Some(()) = term.recv(), if !stopped => { self.stop_all(); stopped = true; }
                Some(()) = int.recv(), if !stopped => { self.stop_all(); stopped = true; }
            }
        }
        while self.tasks.join_next().await.is_some() {}
        Ok(())
    }

    pub(super) fn stop_all(&self) {
        self.stop_handed();
        for (id, a) in &self.running {
            tracing::warn!(
                run = id,
                "stopping run of `{}`: the daemon is shutting down",
                a.job
            );
            let _ = a.stop.send(Some(Stop::Shutdown));
        }
    }
}
