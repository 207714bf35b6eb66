//! The row types the improvement proposals read beyond the report's facts: the failed
//! attempts a runbook rule matched, and the performance data of hardware checks (disk and
//! data sizes with their capacity). Plain data; the proposals are `domain::proposals`'.

use chrono::{DateTime, Utc};

pub use crate::domain::proposals::RuleFiring;

/// One result of a hardware target's check, with its performance data as printed.
#[derive(Debug, Clone, PartialEq)]
pub struct PerfRow {
    pub target: String,
    pub at: DateTime<Utc>,
    pub perfdata: String,
}

/// What `proposal_facts` reads of a period.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProposalFacts {
    /// Failed attempts a rule matched, oldest first (then by run and step).
    pub firings: Vec<RuleFiring>,
    /// Hardware targets' results with performance data, by target, then time.
    pub perf: Vec<PerfRow>,
}
