//! Where "now" comes from. The engine and the daemon read the time only through a [`Clock`]
//! given to them: the system's clock in `unyo`, a [`ManualClock`] that stands still until it
//! is set or advanced in tests, so that a test decides what time it is instead of waiting
//! for the wall clock.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

/// A source of the current instant.
pub trait Clock: Debug + Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// A clock shared by the tasks of a daemon or of a run.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The system's clock, shared.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock that shows the instant it was last set to.
#[derive(Debug)]
pub struct ManualClock {
    at: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock standing at `at`.
    pub fn new(at: DateTime<Utc>) -> Arc<ManualClock> {
        Arc::new(ManualClock { at: Mutex::new(at) })
    }

    /// Sets the clock to `at` (also backwards, as a clock step would).
    pub fn set(&self, at: DateTime<Utc>) {
        *self
            .at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = at;
    }

    /// Moves the clock forward by `by`; returns the new instant.
    pub fn advance(&self, by: chrono::Duration) -> DateTime<Utc> {
        let mut at = self
            .at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *at += by;
        *at
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self
            .at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_stands_still_until_it_is_set_or_advanced() {
        let start = DateTime::parse_from_rfc3339("2027-03-31T14:59:59Z")
            .expect("time")
            .with_timezone(&Utc);
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        assert_eq!(clock.now(), start);
        let later = clock.advance(chrono::Duration::seconds(2));
        assert_eq!(later, start + chrono::Duration::seconds(2));
        assert_eq!(clock.now(), later);
        clock.set(start);
        assert_eq!(clock.now(), start);
    }

    #[test]
    fn the_system_clock_moves_with_the_wall_clock() {
        let before = Utc::now();
        let read = system().now();
        assert!(read >= before);
        assert!(read <= Utc::now());
    }
}
