//! Freezing a rendered report, decided without a database: one chain of frozen rows per
//! report (kind, period, language, format), the current one being the row no other
//! supersedes. Freezing again the same bytes changes nothing; other bytes are refused unless
//! the operator supersedes with a reason, which adds a row superseding the current one.
//! Every store persists this decision.

/// The current frozen row of a report, as a freeze sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Current<'a> {
    pub id: i64,
    pub sha256: &'a str,
}

/// What a freeze does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreezeDecision {
    /// Adds a row, superseding `supersedes` when it is given.
    Insert { supersedes: Option<i64> },
    /// The current row holds the same bytes: nothing is written.
    Already,
    /// The current row holds other bytes and no reason to supersede was given: refused.
    Differs,
    /// Superseding, but nothing of the report is frozen: nothing is written.
    NothingToSupersede,
}

/// Decides a freeze of bytes with `sha256`; `supersede` says a reason was given.
pub fn freeze(current: Option<Current<'_>>, sha256: &str, supersede: bool) -> FreezeDecision {
    match current {
        None if supersede => FreezeDecision::NothingToSupersede,
        None => FreezeDecision::Insert { supersedes: None },
        Some(c) if c.sha256 == sha256 => FreezeDecision::Already,
        Some(_) if !supersede => FreezeDecision::Differs,
        Some(c) => FreezeDecision::Insert {
            supersedes: Some(c.id),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: Current<'static> = Current {
        id: 9,
        sha256: "aaa",
    };

    #[test]
    fn a_first_freeze_inserts_and_a_first_supersede_has_nothing_to_supersede() {
        assert_eq!(
            freeze(None, "aaa", false),
            FreezeDecision::Insert { supersedes: None }
        );
        assert_eq!(
            freeze(None, "aaa", true),
            FreezeDecision::NothingToSupersede
        );
    }

    #[test]
    fn the_same_bytes_again_change_nothing_with_or_without_a_reason() {
        assert_eq!(freeze(Some(OLD), "aaa", false), FreezeDecision::Already);
        assert_eq!(freeze(Some(OLD), "aaa", true), FreezeDecision::Already);
    }

    #[test]
    fn other_bytes_are_refused_unless_superseding_the_current_row() {
        assert_eq!(freeze(Some(OLD), "bbb", false), FreezeDecision::Differs);
        assert_eq!(
            freeze(Some(OLD), "bbb", true),
            FreezeDecision::Insert {
                supersedes: Some(9)
            }
        );
    }
}
