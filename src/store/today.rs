//! The row types of what the dashboard's Today reads of one business date: the runs of the
//! date (counted by status and node, and the newest of those a filter keeps) and the slots of
//! the day that were missed.

use chrono::NaiveDate;
use serde::Serialize;

use super::{RunRow, RunStatus, SlotRow};

/// Which runs of a business date to list.
#[derive(Debug, Clone, PartialEq)]
pub struct DayFilter {
    pub date: NaiveDate,
    /// Only runs with one of these statuses (empty: any status).
    pub statuses: Vec<RunStatus>,
    /// Only runs of this node: the host of the daemon that owns the run (its owner token
    /// `HOST:PID:START`), else the host that queued it.
    pub node: Option<String>,
    /// The newest this many of them.
    pub limit: i64,
}

/// A business date's runs as [`DayFilter`] asks for them.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct BusinessDay {
    /// Every run of the date (whatever the filter), counted by status and node, in that
    /// order.
    pub counts: Vec<DayCount>,
    /// The runs the filter keeps, newest first, at most its limit.
    pub runs: Vec<RunRow>,
}

/// How many runs of a date have one status on one node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayCount {
    pub status: RunStatus,
    pub node: String,
    pub runs: i64,
}

impl BusinessDay {
    /// The date's runs with `status`, on every node.
    pub fn count(&self, status: RunStatus) -> i64 {
        self.counts
            .iter()
            .filter(|c| c.status == status)
            .map(|c| c.runs)
            .sum()
    }

    /// The nodes the date's runs ran on, by name, each once.
    pub fn nodes(&self) -> Vec<String> {
        let mut nodes: Vec<String> = self.counts.iter().map(|c| c.node.clone()).collect();
        nodes.sort();
        nodes.dedup();
        nodes
    }

    /// How many of the date's runs `filter` keeps (its limit aside).
    pub fn matching(&self, filter: &DayFilter) -> i64 {
        self.counts
            .iter()
            .filter(|c| filter.statuses.is_empty() || filter.statuses.contains(&c.status))
            .filter(|c| filter.node.as_ref().is_none_or(|n| *n == c.node))
            .map(|c| c.runs)
            .sum()
    }
}

/// The missed slots due in a period: how many, and the first of them by due time.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct MissedSlots {
    pub count: i64,
    pub slots: Vec<SlotRow>,
}
