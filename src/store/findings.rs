//! The row types of what the monitoring records and reads: a finding about a run (lateness,
//! a stuck step, a duration far from its baseline) and a past successful run's duration for
//! the baseline. What counts as a finding is decided in `domain` (`lateness`, `baseline`).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::domain::baseline::DayClass;
use crate::domain::lateness::Breach;

/// A finding to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFinding {
    pub run_id: i64,
    pub job: String,
    /// The stuck step.
    pub step: Option<String>,
    pub kind: Breach,
    pub at: DateTime<Utc>,
    pub business_date: NaiveDate,
    /// Lateness: the instant that was passed.
    pub deadline: Option<DateTime<Utc>>,
    /// Seconds: the run's duration (slow, fast, max_runtime), how late it is (start_delay,
    /// end_delay) or how long the step was quiet (stuck).
    pub observed: Option<f64>,
    /// Seconds: the limit, or the baseline's median.
    pub expected: Option<f64>,
    /// Seconds: the baseline's median absolute deviation.
    pub spread: Option<f64>,
    /// Runs in the baseline.
    pub samples: Option<i64>,
    pub day_class: Option<DayClass>,
    pub detail: String,
}

/// A recorded finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingRow {
    pub id: i64,
    pub run_id: i64,
    pub job: String,
    pub step: Option<String>,
    pub kind: String,
    pub at: DateTime<Utc>,
    pub business_date: NaiveDate,
    pub deadline: Option<DateTime<Utc>>,
    pub observed: Option<f64>,
    pub expected: Option<f64>,
    pub spread: Option<f64>,
    pub samples: Option<i64>,
    pub day_class: Option<String>,
    pub detail: String,
    /// The incident it opened (or added an occurrence to), if it opened one.
    pub incident_id: Option<i64>,
}

/// How long a successful run took, for a baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DurationSample {
    pub run_id: i64,
    pub business_date: NaiveDate,
    /// From its start to its end.
    pub seconds: f64,
}
