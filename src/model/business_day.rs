//! `business_day:` of a schedule as a value: which business day of a month or of the fiscal
//! year it fires on. What a calendar makes of it (which date that is) is `calendar`'s.

use std::fmt;
use std::str::FromStr;

/// Which business day of a period a schedule fires on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusinessDay {
    /// The n-th business day of the month; 1 is the first.
    Nth(u32),
    /// The n-th business day of the month counted from its end; 1 is the last.
    NthLast(u32),
    /// The first business day of the fiscal year.
    FirstOfFiscalYear,
    /// The last business day of the fiscal year.
    LastOfFiscalYear,
}

/// No month has more business days than this, so a larger count is a mistake.
const MAX_NTH: u32 = 23;

impl FromStr for BusinessDay {
    type Err = String;

    /// `1`…`23`, `-1`…`-23` (from the end), `first`, `last`, `first_of_fiscal_year`,
    /// `last_of_fiscal_year`.
    fn from_str(s: &str) -> Result<Self, String> {
        let text = s.trim();
        match text {
            "first" => return Ok(BusinessDay::Nth(1)),
            "last" => return Ok(BusinessDay::NthLast(1)),
            "first_of_fiscal_year" => return Ok(BusinessDay::FirstOfFiscalYear),
            "last_of_fiscal_year" => return Ok(BusinessDay::LastOfFiscalYear),
            _ => {}
        }
        match text.parse::<i32>() {
            Ok(n @ 1..) if n.unsigned_abs() <= MAX_NTH => Ok(BusinessDay::Nth(n.unsigned_abs())),
            Ok(n @ ..=-1) if n.unsigned_abs() <= MAX_NTH => {
                Ok(BusinessDay::NthLast(n.unsigned_abs()))
            }
            _ => Err(format!(
                "bad business day `{s}`: expected 1 to {MAX_NTH} (counted from the start of the \
                 month), -1 to -{MAX_NTH} (counted from its end), `first`, `last`, \
                 `first_of_fiscal_year` or `last_of_fiscal_year`"
            )),
        }
    }
}

impl fmt::Display for BusinessDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BusinessDay::Nth(1) => f.write_str("first business day of the month"),
            BusinessDay::Nth(n) => write!(f, "{} business day of the month", ordinal(n)),
            BusinessDay::NthLast(1) => f.write_str("last business day of the month"),
            BusinessDay::NthLast(n) => {
                write!(f, "{}-to-last business day of the month", ordinal(n))
            }
            BusinessDay::FirstOfFiscalYear => f.write_str("first business day of the fiscal year"),
            BusinessDay::LastOfFiscalYear => f.write_str("last business day of the fiscal year"),
        }
    }
}

/// `1st`, `2nd`, `3rd`, `4th`, `11th`, `21st`, …
fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}
