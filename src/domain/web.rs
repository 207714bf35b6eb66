//! Who may do what on the dashboard: a web user's role ([`Role`], a persisted token) and the
//! writes each role may make ([`Write`]). Reading needs no role on loopback; every write needs
//! a login whose role allows it. The roles nest: an approver may do what an operator may, an
//! operator what a viewer may; a city user reads the city's view only and writes nothing.

use std::fmt;
use std::str::FromStr;

/// A web user's role. The tokens are persisted (`web_users.role`) and never change meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The city's staff: reads the city's view only (the month's service levels, incidents,
    /// frozen reports); writes nothing.
    City,
    /// Reads every page; writes nothing.
    Viewer,
    /// Also acknowledges and resolves incidents, cancels runs, holds and releases jobs and
    /// submits ad-hoc runs.
    Operator,
    /// Also approves and rejects waiting approval gates.
    Approver,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::City, Role::Viewer, Role::Operator, Role::Approver];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::City => "city",
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Approver => "approver",
        }
    }

    /// Whether this role may make `write`.
    pub fn may(self, write: Write) -> bool {
        self >= write.needs()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role `{s}` (city, viewer, operator or approver)"))
    }
}

/// A write the dashboard makes, named as the audit names the CLI's same action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// `incident.ack`
    Acknowledge,
    /// `cancel`
    Cancel,
    /// `approve`
    Approve,
    /// `reject`
    Reject,
    /// `incident.resolve`
    Resolve,
    /// `hold`
    Hold,
    /// `release`
    Release,
    /// `submit`
    Submit,
}

impl Write {
    /// The audit's action, the CLI's.
    pub fn action(self) -> &'static str {
        match self {
            Write::Acknowledge => "incident.ack",
            Write::Cancel => "cancel",
            Write::Approve => "approve",
            Write::Reject => "reject",
            Write::Resolve => "incident.resolve",
            Write::Hold => "hold",
            Write::Release => "release",
            Write::Submit => "submit",
        }
    }

    /// The least role that may make it.
    pub fn needs(self) -> Role {
        match self {
            Write::Acknowledge | Write::Cancel => Role::Operator,
            Write::Resolve | Write::Hold | Write::Release | Write::Submit => Role::Operator,
            Write::Approve | Write::Reject => Role::Approver,
        }
    }
}

/// The name a web user acts under in every record (audit, incident, gate, cancel request):
/// `web:NAME`, never mistaken for an operating-system user.
pub fn actor(name: &str) -> String {
    format!("web:{name}")
}

/// A web user's name: 1 to 64 letters, digits, `.`, `_`, `-` (it appears in records and
/// pages).
pub fn valid_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a web user name: 1 to 64 letters, digits, `.`, `_` or `-`"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_nest() {
        for w in [
            Write::Acknowledge,
            Write::Cancel,
            Write::Approve,
            Write::Reject,
        ] {
            assert!(!Role::City.may(w), "a city user may {w:?}");
        }
        assert!(Role::City < Role::Viewer);
        assert!(!Role::Viewer.may(Write::Acknowledge));
        assert!(!Role::Viewer.may(Write::Approve));
        assert!(Role::Operator.may(Write::Cancel));
        for w in [Write::Resolve, Write::Hold, Write::Release, Write::Submit] {
            assert!(!Role::Viewer.may(w) && Role::Operator.may(w) && Role::Approver.may(w));
        }
        assert!(!Role::Operator.may(Write::Reject));
        assert!(Role::Approver.may(Write::Acknowledge));
        assert!(Role::Approver.may(Write::Approve));
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!("admin".parse::<Role>().is_err());
    }

    #[test]
    fn names_are_plain() {
        assert!(valid_name("hanako.sato").is_ok());
        for bad in ["", "a b", "<script>", "web:x", &"x".repeat(65)] {
            assert!(valid_name(bad).is_err(), "{bad}");
        }
    }
}
