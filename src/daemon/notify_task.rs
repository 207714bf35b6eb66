//! The notifier's task: a pass every second until the daemon stops, then one more. It runs
//! apart from the main loop, so a slow mail server or a dead webhook never holds up a run.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::domain::clock::SharedClock;
use crate::incident::notifier::Notifier;

/// How often the notifier looks for incidents to tell people about and messages to send.
const NOTIFY_EVERY: Duration = Duration::from_secs(1);
/// How long a stopping daemon gives the notifier for its last pass.
pub(super) const NOTIFIER_LAST_PASS: Duration = Duration::from_secs(5);

/// The notifier's task: a pass every second until the daemon stops, then one more. It runs
/// apart from the main loop, so a slow mail server or a dead webhook never holds up a run.
pub(super) async fn notify_loop(
    mut notifier: watch::Receiver<Arc<Notifier>>,
    mut stop: watch::Receiver<bool>,
    clock: SharedClock,
) {
    loop {
        let current = notifier.borrow_and_update().clone();
        if let Err(e) = current.tick(clock.now()).await {
            tracing::error!("notifier: {e}");
        }
        if *stop.borrow() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(NOTIFY_EVERY) => {}
            _ = stop.changed() => {}
        }
    }
}
