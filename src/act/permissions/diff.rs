//! The diff of a transfer list against the directory and the folders (`plan`): per person,
//! the group revoked and granted and the folder ACL entries removed and added, each with what
//! became of it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::acl::{AclCache, AclError, AclTools};
use super::directory::Directory;
use super::list::{Problem, Transfer};

/// A grant or a revoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Grant,
    Revoke,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Grant => "grant",
            Op::Revoke => "revoke",
        }
    }

    pub(super) fn opposite(self) -> Op {
        match self {
            Op::Grant => Op::Revoke,
            Op::Revoke => Op::Grant,
        }
    }
}

/// What access an operation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A group of the staff directory.
    Group,
    /// A POSIX ACL entry for the person's uid on a department folder.
    Acl,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Group => "group",
            Kind::Acl => "acl",
        }
    }
}

/// What became of an operation. `planned` is what an inverse written before the apply says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "reason")]
pub enum Outcome {
    Planned,
    Applied,
    Skipped(String),
    Failed(String),
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Planned => "planned",
            Outcome::Applied => "applied",
            Outcome::Skipped(_) => "skipped",
            Outcome::Failed(_) => "failed",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Skipped(r) | Outcome::Failed(r) => Some(r),
            _ => None,
        }
    }
}

/// One grant or revoke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    pub kind: Kind,
    pub op: Op,
    /// The group name, or the folder (absolute path) of an ACL.
    pub target: String,
    /// The department whose access it is.
    pub department: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// One person's change: their department moves from `from` to `to`, by these operations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The line of the transfer list (0 in an undo).
    pub line: usize,
    pub staff_id: String,
    pub name: String,
    pub uid: Option<u32>,
    pub from: String,
    pub to: String,
    pub effective: NaiveDate,
    pub ops: Vec<Operation>,
}

/// The diff of a transfer list against the directory and the folders.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// People with something to change (lines effective on or before the date).
    pub changes: Vec<Change>,
    /// Lines effective later.
    pub pending: Vec<Transfer>,
    /// Lines already in effect: nothing to do.
    pub done: Vec<Transfer>,
    /// Why ACLs are not read or changed, when they are not (the acl tools are missing).
    pub acl_note: Option<String>,
    /// The folder of the department folders.
    pub share: PathBuf,
    /// The date the lines were taken up to.
    pub effective: NaiveDate,
}

impl Plan {
    pub fn ops(&self) -> impl Iterator<Item = (&Change, &Operation)> {
        self.changes
            .iter()
            .flat_map(|c| c.ops.iter().map(move |o| (c, o)))
    }
}

/// Checks the list against the directory (every problem at once, each at its line and
/// column) and computes what must change for the lines effective on or before `effective`.
pub fn plan(
    list: &[Transfer],
    dir: &Directory,
    share: &Path,
    effective: NaiveDate,
    tools: &AclTools,
) -> Result<Plan, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut valid = Vec::new();
    for t in list {
        let mut bad = |column: &str, message: String| {
            problems.push(Problem {
                line: t.line,
                col: t.col(column),
                message: format!("column `{column}`: {message}"),
            });
        };
        if let Some(first) = seen.insert(&t.staff_id, t.line) {
            bad(
                "staff_id",
                format!("`{}` is on line {first} already", t.staff_id),
            );
            continue;
        }
        let Some(p) = dir.person(&t.staff_id) else {
            bad(
                "staff_id",
                format!("no staff member `{}` in the directory", t.staff_id),
            );
            continue;
        };
        let mut ok = true;
        if p.name != t.name {
            bad(
                "name",
                format!(
                    "`{}` is `{}` in the directory, not `{}`",
                    t.staff_id, p.name, t.name
                ),
            );
            ok = false;
        }
        for (column, code) in [("from", &t.from), ("to", &t.to)] {
            if dir.group(code).is_none() {
                bad(column, format!("no department `{code}` in the directory"));
                ok = false;
            }
        }
        if ok && t.from == t.to {
            bad("to", format!("`{}` is the same as `from`", t.to));
            ok = false;
        }
        if ok && p.department != t.from && p.department != t.to {
            bad(
                "from",
                format!(
                    "`{}` is in `{}`, not `{}`",
                    t.staff_id, p.department, t.from
                ),
            );
            ok = false;
        }
        if ok {
            valid.push((t, p));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut plan = Plan {
        share: share.to_owned(),
        effective,
        ..Plan::default()
    };
    let mut cache = AclCache::default();
    let tools_missing = tools.available().err();
    if let Some(e) = &tools_missing {
        plan.acl_note = Some(e.to_string());
    }
    for (t, p) in valid {
        if t.effective > effective {
            plan.pending.push(t.clone());
            continue;
        }
        let (from_group, to_group) = (
            dir.group(&t.from).unwrap_or_default(),
            dir.group(&t.to).unwrap_or_default(),
        );
        let mut ops = Vec::new();
        let mut op = |kind, op, target: String, department: &str, outcome| {
            ops.push(Operation {
                kind,
                op,
                target,
                department: department.to_owned(),
                outcome,
            });
        };
        if dir.is_member(&t.staff_id, &from_group) {
            op(
                Kind::Group,
                Op::Revoke,
                from_group,
                &t.from,
                Outcome::Planned,
            );
        }
        if !dir.is_member(&t.staff_id, &to_group) || p.department != t.to {
            op(Kind::Group, Op::Grant, to_group, &t.to, Outcome::Planned);
        }
        let (from_dir, to_dir) = (share.join(&t.from), share.join(&t.to));
        let already = p.department == t.to;
        match (p.uid, &tools_missing) {
            (None, _) => {
                if !already {
                    let why =
                        Outcome::Skipped(format!("`{}` has no `uid` in the directory", t.staff_id));
                    op(Kind::Acl, Op::Revoke, show(&from_dir), &t.from, why.clone());
                    op(Kind::Acl, Op::Grant, show(&to_dir), &t.to, why);
                }
            }
            (Some(_), Some(e)) => {
                // Nothing can be read: a person still to move would need both.
                if !already {
                    let why = Outcome::Skipped(e.to_string());
                    op(Kind::Acl, Op::Revoke, show(&from_dir), &t.from, why.clone());
                    op(Kind::Acl, Op::Grant, show(&to_dir), &t.to, why);
                }
            }
            (Some(uid), None) => {
                match cache.get(tools, &from_dir) {
                    Ok(acl) if acl.has(uid) => {
                        op(
                            Kind::Acl,
                            Op::Revoke,
                            show(&from_dir),
                            &t.from,
                            Outcome::Planned,
                        );
                    }
                    Ok(_) => {}
                    Err(e) => op(
                        Kind::Acl,
                        Op::Revoke,
                        show(&from_dir),
                        &t.from,
                        unreadable(e),
                    ),
                }
                match cache.get(tools, &to_dir) {
                    Ok(acl) if acl.has_all(uid) => {}
                    Ok(_) => op(Kind::Acl, Op::Grant, show(&to_dir), &t.to, Outcome::Planned),
                    Err(e) => op(Kind::Acl, Op::Grant, show(&to_dir), &t.to, unreadable(e)),
                }
            }
        }
        if ops.is_empty() {
            plan.done.push(t.clone());
        } else {
            plan.changes.push(Change {
                line: t.line,
                staff_id: t.staff_id.clone(),
                name: t.name.clone(),
                uid: p.uid,
                from: p.department.clone(),
                to: t.to.clone(),
                effective: t.effective,
                ops,
            });
        }
    }
    Ok(plan)
}

/// A folder whose ACL cannot be read: skipped where ACLs cannot be had, else a failure.
fn unreadable(e: AclError) -> Outcome {
    match e {
        AclError::Missing(m) | AclError::Unsupported(m) => Outcome::Skipped(m),
        AclError::Other(m) => Outcome::Failed(m),
    }
}

pub(super) fn show(p: &Path) -> String {
    p.display().to_string()
}
