//! Slowdowns, as pure decisions: the day class of a business date (ordinary day, month end,
//! fiscal year end: the days whose runs really take a different time), the robust baseline
//! of a job's successful runs of one class (median and median absolute deviation, MAD), and
//! the verdict on one duration against it.
//!
//! A run is too slow when it is above the median by more than the largest of [`SIGMAS`]
//! scaled MADs, half the median and [`MIN_SECONDS`]; suspiciously fast when it is below by
//! as much. Ordinary variation of ±20 % is far inside, a run three times the median (of
//! more than a few seconds) far outside, a job whose runs always take the same time still
//! needs a 50 % change before it is flagged, and a job of a second is not judged on jitter. Nothing here reads a clock or the database.

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// The kind of business day a run belongs to, for its baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DayClass {
    Ordinary,
    /// From the last weekday of the month to its end.
    MonthEnd,
    /// The month end of the last month of the fiscal year.
    FiscalYearEnd,
}

impl DayClass {
    /// The persisted token; never changes meaning.
    pub fn token(self) -> &'static str {
        match self {
            DayClass::Ordinary => "ordinary",
            DayClass::MonthEnd => "month_end",
            DayClass::FiscalYearEnd => "fiscal_year_end",
        }
    }

    pub fn from_token(token: &str) -> Option<DayClass> {
        [
            DayClass::Ordinary,
            DayClass::MonthEnd,
            DayClass::FiscalYearEnd,
        ]
        .into_iter()
        .find(|c| c.token() == token)
    }
}

/// The class of a business date, the fiscal year starting in month `fiscal_year_start`
/// (1–12). Month end runs from the month's last weekday (Monday to Friday) to its last day,
/// so the month-end run is told apart whether the month ends on a weekday or a weekend.
pub fn day_class(date: NaiveDate, fiscal_year_start: u32) -> DayClass {
    let first_of_next = if date.month() == 12 {
        NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(date.year(), date.month() + 1, 1)
    };
    let Some(last) = first_of_next.and_then(|d| d.pred_opt()) else {
        return DayClass::Ordinary;
    };
    let mut last_weekday = last;
    while matches!(last_weekday.weekday(), Weekday::Sat | Weekday::Sun) {
        last_weekday = last_weekday
            .checked_sub_days(Days::new(1))
            .unwrap_or(last_weekday);
    }
    if date < last_weekday {
        return DayClass::Ordinary;
    }
    let year_end_month = if fiscal_year_start <= 1 {
        12
    } else {
        fiscal_year_start - 1
    };
    if date.month() == year_end_month {
        DayClass::FiscalYearEnd
    } else {
        DayClass::MonthEnd
    }
}

/// Fewest earlier runs of a class before a baseline is given: with fewer, no verdict.
pub const MIN_SAMPLES: usize = 5;

/// How many scaled MADs from the median a run must be to be flagged.
pub const SIGMAS: f64 = 4.0;

/// The fraction of the median a run must be from it, at least, to be flagged.
pub const MIN_RELATIVE: f64 = 0.5;

/// Seconds a run must be from the median, at least, to be flagged: a job of a second or two
/// varies by more than half with the machine's load, and nobody needs to hear of it.
pub const MIN_SECONDS: f64 = 5.0;

/// The MAD of a normal distribution is 0.6745 of its standard deviation.
const MAD_SCALE: f64 = 1.4826;

/// The robust baseline of a class of runs, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    pub median: f64,
    /// Median absolute deviation from the median.
    pub mad: f64,
    pub samples: usize,
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// The baseline of `durations` (seconds); `None` with fewer than [`MIN_SAMPLES`].
pub fn baseline(durations: &[f64]) -> Option<Baseline> {
    let mut sorted: Vec<f64> = durations
        .iter()
        .copied()
        .filter(|d| d.is_finite())
        .collect();
    if sorted.len() < MIN_SAMPLES {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let m = median(&sorted);
    let mut dev: Vec<f64> = sorted.iter().map(|d| (d - m).abs()).collect();
    dev.sort_by(f64::total_cmp);
    Some(Baseline {
        median: m,
        mad: median(&dev),
        samples: sorted.len(),
    })
}

impl Baseline {
    /// How far from the median a run must be to be flagged, in seconds.
    pub fn margin(&self) -> f64 {
        (SIGMAS * MAD_SCALE * self.mad)
            .max(MIN_RELATIVE * self.median)
            .max(MIN_SECONDS)
    }
}

/// What one duration says against a baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Usual,
    TooSlow,
    TooFast,
}

/// The verdict on a run that took `seconds`.
pub fn verdict(base: &Baseline, seconds: f64) -> Verdict {
    let margin = base.margin();
    if seconds > base.median + margin {
        Verdict::TooSlow
    } else if seconds < base.median - margin {
        Verdict::TooFast
    } else {
        Verdict::Usual
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    /// A small deterministic generator (xorshift), so the tests need no seed crate.
    struct Rng(u64);
    impl Rng {
        fn unit(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    #[test]
    fn month_end_runs_from_the_last_weekday() {
        // November 2026 ends on a Monday; October 2026 on a Saturday (last weekday the 30th).
        assert_eq!(day_class(d(2026, 11, 27), 4), DayClass::Ordinary);
        assert_eq!(day_class(d(2026, 11, 30), 4), DayClass::MonthEnd);
        assert_eq!(day_class(d(2026, 10, 29), 4), DayClass::Ordinary);
        assert_eq!(day_class(d(2026, 10, 30), 4), DayClass::MonthEnd);
        assert_eq!(day_class(d(2026, 10, 31), 4), DayClass::MonthEnd);
        assert_eq!(day_class(d(2026, 12, 31), 4), DayClass::MonthEnd);
    }

    #[test]
    fn the_fiscal_year_ends_with_the_month_before_its_start() {
        assert_eq!(day_class(d(2027, 3, 31), 4), DayClass::FiscalYearEnd);
        assert_eq!(day_class(d(2027, 3, 30), 4), DayClass::Ordinary);
        assert_eq!(day_class(d(2026, 12, 31), 1), DayClass::FiscalYearEnd);
        assert_eq!(day_class(d(2027, 3, 31), 1), DayClass::MonthEnd);
    }

    #[test]
    fn the_baseline_is_the_median_and_the_mad() {
        assert_eq!(baseline(&[1.0, 2.0, 3.0, 4.0]), None);
        let b = baseline(&[10.0, 12.0, 11.0, 100.0, 9.0]).expect("five");
        assert_eq!((b.median, b.mad, b.samples), (11.0, 1.0, 5));
        let even = baseline(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).expect("six");
        assert_eq!((even.median, even.mad), (3.5, 1.5));
    }

    #[test]
    fn one_outlier_does_not_move_the_baseline() {
        let mut runs = vec![60.0; 19];
        runs.push(6000.0);
        let b = baseline(&runs).expect("twenty");
        assert_eq!(b.median, 60.0);
        assert_eq!(verdict(&b, 180.0), Verdict::TooSlow);
    }

    #[test]
    fn three_times_slower_is_flagged_and_so_is_a_third() {
        let mut rng = Rng(0x5eed);
        let runs: Vec<f64> = (0..20).map(|_| 100.0 * (0.8 + 0.4 * rng.unit())).collect();
        let b = baseline(&runs).expect("twenty");
        assert_eq!(verdict(&b, 300.0), Verdict::TooSlow);
        assert_eq!(verdict(&b, 30.0), Verdict::TooFast);
        assert_eq!(verdict(&b, 100.0), Verdict::Usual);
    }

    #[test]
    fn ordinary_variation_of_twenty_percent_raises_nothing() {
        let mut rng = Rng(42);
        let mut history: Vec<f64> = Vec::new();
        let mut flagged = 0;
        for _ in 0..10_000 {
            let took = 100.0 * (0.8 + 0.4 * rng.unit());
            let recent = &history[history.len().saturating_sub(20)..];
            if let Some(b) = baseline(recent)
                && verdict(&b, took) != Verdict::Usual
            {
                flagged += 1;
            }
            history.push(took);
        }
        assert_eq!(flagged, 0);
    }

    #[test]
    fn a_job_that_always_takes_the_same_time_needs_half_again() {
        let b = baseline(&[10.0; 8]).expect("eight");
        assert_eq!(b.mad, 0.0);
        assert_eq!(verdict(&b, 14.9), Verdict::Usual);
        assert_eq!(verdict(&b, 15.1), Verdict::TooSlow);
        assert_eq!(verdict(&b, 4.9), Verdict::TooFast);
    }

    #[test]
    fn a_job_of_a_second_is_not_flagged_for_jitter() {
        let b = baseline(&[0.05, 0.06, 0.05, 0.04, 0.05]).expect("five");
        assert_eq!(verdict(&b, 0.5), Verdict::Usual);
        assert_eq!(verdict(&b, 5.1), Verdict::TooSlow);
    }

    #[test]
    fn day_class_tokens_read_back() {
        for c in [
            DayClass::Ordinary,
            DayClass::MonthEnd,
            DayClass::FiscalYearEnd,
        ] {
            assert_eq!(DayClass::from_token(c.token()), Some(c));
        }
    }
}
