//! The daemon as a node among the daemons sharing the database: its heartbeat (and the
//! stop when another node declared it dead), the planner's lease (one node at a time plans
//! the schedules; another takes over when it dies), and declaring dead the nodes that stop
//! beating, whose runs are then recovered like those of a crashed daemon.
//!
//! With SQLite there is one daemon: it holds the lease at once and never finds anyone to
//! fence. The same code runs, so a single server behaves as a one-node installation.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Daemon;
use crate::error::Error;
use crate::store::{Beat, Lease, StoreError};

/// The planner's lease: held this long past each renewal.
pub(super) const LEASE: Duration = Duration::from_secs(6);
/// How often the lease is renewed by its holder and tried by the others.
const LEASE_EVERY: Duration = Duration::from_millis(1500);
/// The lease's name.
const PLANNER: &str = "planner";

/// The daemon's node role, as this process knows it.
#[derive(Debug)]
pub(super) struct Role {
    /// The planner's lease while this daemon holds it.
    pub lease: Option<Lease>,
    /// When the lease was last renewed (monotonic): it is trusted for less than [`LEASE`].
    renewed: Option<tokio::time::Instant>,
    last_try: Option<tokio::time::Instant>,
    last_beat: tokio::time::Instant,
    last_fence: Option<tokio::time::Instant>,
    /// How far the database's clock is ahead of this machine's (measured at each beat):
    /// planning adds it, so every node fires slots by the same clock.
    pub offset: chrono::Duration,
}

impl Role {
    pub(super) fn new() -> Role {
        Role {
            lease: None,
            renewed: None,
            last_try: None,
            last_beat: tokio::time::Instant::now(),
            last_fence: None,
            offset: chrono::Duration::zero(),
        }
    }
}

/// How often a node beats: a sixth of its timeout, between one and ten seconds.
pub(super) fn beat_every(timeout: Duration) -> Duration {
    (timeout / 6).clamp(Duration::from_secs(1), Duration::from_secs(10))
}

/// The error that stops a daemon another node declared dead.
pub(super) fn fenced(daemon_id: i64) -> Error {
    Error::Store(StoreError::Fenced { daemon_id })
}

impl Daemon {
    /// Beats when it is time; a daemon another node declared dead stops here (its steps are
    /// stopped on the way out and nothing more of it is committed).
    pub(super) async fn beat(&mut self, now: DateTime<Utc>) -> Result<(), Error> {
        if self.role.last_beat.elapsed() < beat_every(self.settings.node.timeout) {
            return Ok(());
        }
        let sent = self.clock.now();
        match self.store.beat(self.id, now).await? {
            Beat::Alive { at } => {
                self.role.last_beat = tokio::time::Instant::now();
                let back = self.clock.now();
                let offset = at - (sent + (back - sent) / 2);
                self.clock_offset(offset);
                Ok(())
            }
            Beat::Fenced => Err(fenced(self.id)),
        }
    }

    /// Keeps the database clock's offset; a clock more than a second off is said once (and
    /// again when it changes by another second), since the node's own records are stamped
    /// with its own clock.
    fn clock_offset(&mut self, offset: chrono::Duration) {
        let before = self.role.offset;
        // Below 50 ms it is the round trip's noise.
        self.role.offset = if offset.num_milliseconds().abs() < 50 {
            chrono::Duration::zero()
        } else {
            offset
        };
        if (offset - before).num_milliseconds().abs() >= 1000 && offset.num_seconds() != 0 {
            let secs = offset.num_milliseconds() as f64 / 1000.0;
            tracing::warn!(
                offset = secs,
                "this machine's clock differs from the database's"
            );
            eprintln!(
                "unyo daemon: this machine's clock is {:.1} s {} the database's; schedules are \
                 fired by the database's clock (fix the time service, e.g. chrony, on this node)",
                secs.abs(),
                if secs > 0.0 { "behind" } else { "ahead of" }
            );
        }
    }

    /// Whether this daemon plans the schedules now: it takes or renews the planner's lease
    /// every [`LEASE_EVERY`], and plans only while its last renewal is fresh. A daemon that
    /// becomes the planner reads the watermarks again (another node moved them meanwhile).
    pub(super) async fn planner(&mut self, now: DateTime<Utc>) -> Result<bool, Error> {
        let due = self
            .role
            .last_try
            .is_none_or(|t| t.elapsed() >= LEASE_EVERY);
        if due {
            self.role.last_try = Some(tokio::time::Instant::now());
            let asked = tokio::time::Instant::now();
            let taken = self.store.take_lease(PLANNER, self.id, now, LEASE).await?;
            match (&self.role.lease, &taken) {
                (None, Some(l)) => {
                    tracing::info!(term = l.term, "this node plans the schedules now");
                    if l.term > 1 {
                        eprintln!(
                            "unyo daemon: node `{}` plans the schedules now (term {})",
                            self.settings.node.name, l.term
                        );
                    }
                    let saved = self.store.watermarks().await?;
                    self.planner.catch_up(&self.settings, &self.catalog, saved);
                    self.publish_next_slots();
                }
                (Some(old), None) => {
                    tracing::warn!(term = old.term, "another node plans the schedules now");
                    eprintln!(
                        "unyo daemon: node `{}` no longer plans the schedules (another node took over)",
                        self.settings.node.name
                    );
                }
                _ => {}
            }
            if taken.is_some() {
                self.role.renewed = Some(asked);
            }
            self.role.lease = taken;
        }
        let fresh = self
            .role
            .renewed
            .is_some_and(|t| t.elapsed() < LEASE - LEASE_EVERY);
        Ok(self.role.lease.is_some() && fresh)
    }

    /// The planner declares dead the nodes silent for longer than `node.timeout` (by the
    /// database's clock), as often as it beats, and recovers their runs at once.
    pub(super) async fn fence_silent(&mut self, now: DateTime<Utc>) -> Result<(), Error> {
        let every = beat_every(self.settings.node.timeout);
        if self.role.last_fence.is_some_and(|t| t.elapsed() < every) {
            return Ok(());
        }
        self.role.last_fence = Some(tokio::time::Instant::now());
        let dead = self
            .store
            .fence_dead(self.id, now, self.settings.node.timeout)
            .await?;
        if dead.is_empty() {
            return Ok(());
        }
        for d in &dead {
            let name = d.node.as_deref().unwrap_or(&d.host);
            tracing::warn!(
                daemon = d.daemon_id,
                "node `{name}` missed its heartbeats: declared dead"
            );
            eprintln!(
                "unyo daemon: node `{name}` (daemon {}, pid {} on {}) missed its heartbeats for \
                 longer than {}: declared dead; its runs are recovered",
                d.daemon_id,
                d.pid,
                d.host,
                crate::model::values::format_duration(self.settings.node.timeout)
            );
        }
        self.recover().await
    }

    /// A planning pass now, as the planner: the lease taken or renewed at `now` first
    /// (whatever time passed since the last try), for tests that move the clock by hand.
    #[cfg(test)]
    pub(super) async fn plan_now(&mut self, now: DateTime<Utc>) -> Result<(), Error> {
        self.role.last_try = None;
        if self.planner(now).await? {
            self.plan(now).await?;
        }
        Ok(())
    }
}
