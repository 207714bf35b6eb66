//! The time stamp of unyo's own log lines (the daemon's above all): in the configured time
//! zone with its offset (`2026-12-05T07:16:26.123456+09:00`), the zone every command shows
//! times in. Until the settings are read (a command line error, a broken `unyo.yaml`) the
//! stamp is UTC, marked `Z`.

use std::sync::OnceLock;

use chrono::Utc;
use chrono_tz::Tz;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

static ZONE: OnceLock<Tz> = OnceLock::new();

/// Log lines from now on carry times in `tz` (the first zone set stays for the process).
pub fn set_zone(tz: Tz) {
    let _ = ZONE.set(tz);
}

/// The timer for `tracing_subscriber::fmt().with_timer(..)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogTime;

impl FormatTime for LogTime {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        let now = Utc::now();
        match ZONE.get() {
            Some(tz) => write!(
                w,
                "{}",
                now.with_timezone(tz).format("%Y-%m-%dT%H:%M:%S%.6f%:z")
            ),
            None => write!(w, "{}", now.format("%Y-%m-%dT%H:%M:%S%.6fZ")),
        }
    }
}
