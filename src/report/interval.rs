//! Interval arithmetic for the availability figure: half-open spans of time `[from, to)`,
//! sets of them kept sorted and disjoint, the daily occurrences of a window (which may
//! cross midnight) inside a period. Pure functions; every length is exact to the
//! nanosecond, so a year's figures are the sums of its months'.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use crate::model::Window;

/// `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Span {
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Span {
        Span { from, to }
    }

    pub fn len(&self) -> Duration {
        (self.to - self.from).max(Duration::zero())
    }

    pub fn is_empty(&self) -> bool {
        self.to <= self.from
    }

    /// The part of the span inside `other`, possibly empty.
    pub fn clip(&self, other: Span) -> Span {
        Span::new(self.from.max(other.from), self.to.min(other.to))
    }
}

/// The spans as a set: empty ones dropped, sorted, overlapping and touching ones merged.
pub fn normalize(mut spans: Vec<Span>) -> Vec<Span> {
    spans.retain(|s| !s.is_empty());
    spans.sort();
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        match out.last_mut() {
            Some(last) if s.from <= last.to => last.to = last.to.max(s.to),
            _ => out.push(s),
        }
    }
    out
}

/// The total length of a set.
pub fn total(set: &[Span]) -> Duration {
    set.iter().fold(Duration::zero(), |acc, s| acc + s.len())
}

/// `a` without `b` (both normalized); the result is normalized.
pub fn subtract(a: &[Span], b: &[Span]) -> Vec<Span> {
    let mut out = Vec::new();
    let mut j = 0;
    for s in a {
        let mut from = s.from;
        // Spans of `b` that end before this one begins cannot cut any later span of `a`.
        while j < b.len() && b[j].to <= from {
            j += 1;
        }
        let mut k = j;
        while k < b.len() && b[k].from < s.to {
            if b[k].from > from {
                out.push(Span::new(from, b[k].from));
            }
            from = from.max(b[k].to);
            k += 1;
        }
        if from < s.to {
            out.push(Span::new(from, s.to));
        }
    }
    out
}

/// How much of `span` lies inside the set (normalized).
pub fn overlap(span: Span, set: &[Span]) -> Duration {
    // The first span of the set that ends after `span` begins.
    let start = set.partition_point(|s| s.to <= span.from);
    set[start..]
        .iter()
        .take_while(|s| s.from < span.to)
        .fold(Duration::zero(), |acc, s| acc + span.clip(*s).len())
}

/// Every occurrence of the window that meets `period`, clipped to it: from `from` on each
/// local day to `to` that day, or the next day when the window crosses midnight.
pub fn window_spans(w: &Window, tz: Tz, period: Span) -> Vec<Span> {
    use crate::schedule::window::local_instant;
    let first = period.from.with_timezone(&tz).date_naive() - Duration::days(1);
    let last = period.to.with_timezone(&tz).date_naive();
    let crosses = w.to <= w.from;
    let mut out = Vec::new();
    let mut day = first;
    while day <= last {
        let end_day = if crosses {
            day + Duration::days(1)
        } else {
            day
        };
        if let (Some(from), Some(to)) = (
            local_instant(tz, day, w.from),
            local_instant(tz, end_day, w.to),
        ) {
            out.push(Span::new(from, to).clip(period));
        }
        day += Duration::days(1);
    }
    normalize(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveTime, TimeZone};

    fn tokyo() -> Tz {
        "Asia/Tokyo".parse().expect("tz")
    }

    /// A Tokyo local time in October 2026.
    fn at(day: u32, hh: u32, mm: u32) -> DateTime<Utc> {
        tokyo()
            .with_ymd_and_hms(2026, 10, day, hh, mm, 0)
            .single()
            .expect("time")
            .with_timezone(&Utc)
    }

    fn win(from: (u32, u32), to: (u32, u32)) -> Window {
        let t = |(h, m): (u32, u32)| NaiveTime::from_hms_opt(h, m, 0).expect("time");
        Window {
            name: "w".into(),
            from: t(from),
            to: t(to),
        }
    }

    fn minutes(d: Duration) -> i64 {
        d.num_minutes()
    }

    #[test]
    fn overlapping_and_touching_spans_merge() {
        let set = normalize(vec![
            Span::new(at(1, 3, 0), at(1, 4, 0)),
            Span::new(at(1, 1, 0), at(1, 2, 0)),
            Span::new(at(1, 1, 30), at(1, 2, 30)),
            Span::new(at(1, 2, 30), at(1, 2, 45)),
            Span::new(at(1, 5, 0), at(1, 5, 0)),
        ]);
        assert_eq!(
            set,
            vec![
                Span::new(at(1, 1, 0), at(1, 2, 45)),
                Span::new(at(1, 3, 0), at(1, 4, 0))
            ]
        );
        // 1:45 + 1:00.
        assert_eq!(minutes(total(&set)), 165);
    }

    #[test]
    fn subtracting_cuts_holes_and_ends() {
        let a = vec![
            Span::new(at(1, 0, 0), at(1, 10, 0)),
            Span::new(at(1, 12, 0), at(1, 14, 0)),
        ];
        let b = normalize(vec![
            Span::new(at(1, 0, 0), at(1, 1, 0)),  // the start
            Span::new(at(1, 3, 0), at(1, 4, 0)),  // a hole
            Span::new(at(1, 9, 0), at(1, 13, 0)), // across both spans of `a`
        ]);
        assert_eq!(
            subtract(&a, &b),
            vec![
                Span::new(at(1, 1, 0), at(1, 3, 0)),
                Span::new(at(1, 4, 0), at(1, 9, 0)),
                Span::new(at(1, 13, 0), at(1, 14, 0)),
            ]
        );
        // 10 h + 2 h − (1 h + 1 h + 1 h + 1 h) = 8 h.
        assert_eq!(minutes(total(&subtract(&a, &b))), 8 * 60);
        assert_eq!(subtract(&a, &[]), a);
        assert!(subtract(&a, &[Span::new(at(1, 0, 0), at(2, 0, 0))]).is_empty());
    }

    #[test]
    fn overlap_counts_only_the_part_inside_the_set() {
        let set = vec![
            Span::new(at(1, 6, 0), at(2, 0, 0)),
            Span::new(at(2, 6, 0), at(3, 0, 0)),
        ];
        // 23:00 on the 1st to 01:00 on the 2nd: only 23:00–24:00 is inside.
        assert_eq!(
            minutes(overlap(Span::new(at(1, 23, 0), at(2, 1, 0)), &set)),
            60
        );
        // 05:00 on the 1st to 07:00 on the 2nd: 18 h on the 1st, 1 h on the 2nd.
        assert_eq!(
            minutes(overlap(Span::new(at(1, 5, 0), at(2, 7, 0)), &set)),
            19 * 60
        );
        assert_eq!(
            minutes(overlap(Span::new(at(1, 1, 0), at(1, 5, 0)), &set)),
            0
        );
    }

    #[test]
    fn a_window_that_crosses_midnight_is_cut_at_the_periods_bounds() {
        // 22:00–06:00 over 1–3 October: the night before the 1st reaches 00:00–06:00 of the
        // 1st, the last night is cut at the period's end (00:00 on the 3rd).
        let period = Span::new(at(1, 0, 0), at(3, 0, 0));
        let spans = window_spans(&win((22, 0), (6, 0)), tokyo(), period);
        assert_eq!(
            spans,
            vec![
                Span::new(at(1, 0, 0), at(1, 6, 0)),
                Span::new(at(1, 22, 0), at(2, 6, 0)),
                Span::new(at(2, 22, 0), at(3, 0, 0)),
            ]
        );
        // 6 + 8 + 2 hours.
        assert_eq!(minutes(total(&spans)), 16 * 60);
        // Service time: 48 h − 16 h.
        assert_eq!(minutes(total(&subtract(&[period], &spans))), 32 * 60);
    }

    #[test]
    fn a_window_inside_the_day_recurs_each_day() {
        let period = Span::new(at(1, 3, 0), at(3, 3, 0));
        let spans = window_spans(&win((0, 0), (6, 0)), tokyo(), period);
        assert_eq!(
            spans,
            vec![
                Span::new(at(1, 3, 0), at(1, 6, 0)),
                Span::new(at(2, 0, 0), at(2, 6, 0)),
                Span::new(at(3, 0, 0), at(3, 3, 0)),
            ]
        );
        assert_eq!(minutes(total(&spans)), 12 * 60);
    }
}
