//! Windows: named spans of clock time in the configured time zone, which may cross midnight.
//! Pure functions of a window and an instant.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::model::Window;

/// Whether the local clock time `t` lies in the window (`from` inclusive, `to` exclusive).
pub fn contains_time(w: &Window, t: NaiveTime) -> bool {
    if w.from < w.to {
        w.from <= t && t < w.to
    } else {
        t >= w.from || t < w.to
    }
}

/// Whether the instant lies in the window.
pub fn contains(w: &Window, at: DateTime<Utc>, tz: Tz) -> bool {
    contains_time(w, at.with_timezone(&tz).time())
}

/// The instant of local `date` + `time`; a time skipped by a clock change becomes the first
/// instant after the change, a repeated time its first occurrence.
pub fn local_instant(tz: Tz, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    let naive = date.and_time(time);
    if let Some(t) = tz.from_local_datetime(&naive).earliest() {
        return Some(t.with_timezone(&Utc));
    }
    // In a gap: walk forward minute by minute (gaps are at most a few hours).
    (1..=24 * 60).find_map(|m| {
        tz.from_local_datetime(&(naive + Duration::minutes(m)))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    })
}

/// The first instant after `at` at which the local clock shows `time`.
fn next_clock(time: NaiveTime, at: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
    let today = at.with_timezone(&tz).date_naive();
    (0..3).find_map(|d| {
        let date = today + Duration::days(d);
        local_instant(tz, date, time).filter(|t| *t > at)
    })
}

/// When the window next opens after `at`; `at` itself when it is open now.
pub fn next_open(w: &Window, at: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
    if contains(w, at, tz) {
        return Some(at);
    }
    next_clock(w.from, at, tz)
}

/// When the window next closes after `at` (the end of the current span when open).
pub fn next_close(w: &Window, at: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
    next_clock(w.to, at, tz)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(from: (u32, u32), to: (u32, u32)) -> Window {
        Window {
            name: "w".into(),
            from: NaiveTime::from_hms_opt(from.0, from.1, 0).expect("time"),
            to: NaiveTime::from_hms_opt(to.0, to.1, 0).expect("time"),
        }
    }

    fn tokyo(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        chrono_tz::Asia::Tokyo
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn spans_across_midnight() {
        let night = w((22, 0), (6, 0));
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("time");
        assert!(contains_time(&night, t(23, 0)));
        assert!(contains_time(&night, t(0, 0)));
        assert!(contains_time(&night, t(5, 59)));
        assert!(!contains_time(&night, t(6, 0)));
        assert!(!contains_time(&night, t(12, 0)));
        assert!(contains_time(&night, t(22, 0)));
        let day = w((8, 30), (17, 30));
        assert!(contains_time(&day, t(8, 30)));
        assert!(!contains_time(&day, t(17, 30)));
    }

    #[test]
    fn next_opening_and_closing() {
        let tz = chrono_tz::Asia::Tokyo;
        let night = w((22, 0), (6, 0));
        assert_eq!(
            next_open(&night, tokyo(2026, 11, 25, 14, 0), tz),
            Some(tokyo(2026, 11, 25, 22, 0))
        );
        let inside = tokyo(2026, 11, 26, 1, 0);
        assert_eq!(next_open(&night, inside, tz), Some(inside));
        assert_eq!(
            next_close(&night, inside, tz),
            Some(tokyo(2026, 11, 26, 6, 0))
        );
        assert_eq!(
            next_close(&night, tokyo(2026, 11, 25, 23, 0), tz),
            Some(tokyo(2026, 11, 26, 6, 0))
        );
    }

    #[test]
    fn a_skipped_local_time_moves_past_the_change() {
        let berlin = chrono_tz::Europe::Berlin;
        let date = NaiveDate::from_ymd_opt(2027, 3, 28).expect("date");
        let t = local_instant(
            berlin,
            date,
            NaiveTime::from_hms_opt(2, 30, 0).expect("time"),
        )
        .expect("instant");
        // 02:30 does not exist that night; 03:00 CEST (01:00 UTC) is the first instant after.
        assert_eq!(
            t,
            Utc.with_ymd_and_hms(2027, 3, 28, 1, 0, 0)
                .single()
                .expect("time")
        );
    }
}
