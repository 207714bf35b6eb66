//! Freezing a rendered report, decided without a database: one chain of frozen rows per
//! report (kind, period, language, format), the current one being the row no other
//! supersedes. Freezing the same bytes again changes nothing; other bytes are refused unless
//! the operator supersedes with a reason, which adds a row superseding the current one.
//! Every store persists this decision.

/// What a freeze does, given the current frozen row `R` of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreezeDecision<R> {
    /// Adds a row, superseding the current one when it is given.
    Insert { supersedes: Option<R> },
    /// The current row holds the same bytes: nothing is written.
    Already(R),
    /// The current row holds other bytes and no reason to supersede was given: refused.
    Differs(R),
    /// Superseding, but nothing of the report is frozen: nothing is written.
    NothingToSupersede,
}

/// Decides a freeze of bytes with `sha256`, given the report's current row (`sha256_of`
/// reads its hash); `supersede` says a reason to supersede was given.
pub fn freeze<R>(
    current: Option<R>,
    sha256_of: impl Fn(&R) -> &str,
    sha256: &str,
    supersede: bool,
) -> FreezeDecision<R> {
    match current {
        None if supersede => FreezeDecision::NothingToSupersede,
        None => FreezeDecision::Insert { supersedes: None },
        Some(c) if sha256_of(&c) == sha256 => FreezeDecision::Already(c),
        Some(c) if !supersede => FreezeDecision::Differs(c),
        Some(c) => FreezeDecision::Insert {
            supersedes: Some(c),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: (i64, &str) = (9, "aaa");

    fn decide(
        current: Option<(i64, &'static str)>,
        sha: &str,
        supersede: bool,
    ) -> FreezeDecision<(i64, &'static str)> {
        freeze(current, |c| c.1, sha, supersede)
    }

    #[test]
    fn a_first_freeze_inserts_and_a_first_supersede_has_nothing_to_supersede() {
        assert_eq!(
            decide(None, "aaa", false),
            FreezeDecision::Insert { supersedes: None }
        );
        assert_eq!(
            decide(None, "aaa", true),
            FreezeDecision::NothingToSupersede
        );
    }

    #[test]
    fn the_same_bytes_again_change_nothing_with_or_without_a_reason() {
        assert_eq!(
            decide(Some(OLD), "aaa", false),
            FreezeDecision::Already(OLD)
        );
        assert_eq!(decide(Some(OLD), "aaa", true), FreezeDecision::Already(OLD));
    }

    #[test]
    fn other_bytes_are_refused_unless_superseding_the_current_row() {
        assert_eq!(
            decide(Some(OLD), "bbb", false),
            FreezeDecision::Differs(OLD)
        );
        assert_eq!(
            decide(Some(OLD), "bbb", true),
            FreezeDecision::Insert {
                supersedes: Some(OLD)
            }
        );
    }
}
