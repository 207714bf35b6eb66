//! Applying a plan and undoing it: the inverse file written before anything changes and again
//! when done, the changes carried out (directory first, then ACLs), and an undo that checks
//! the state is still what the apply left.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::acl::{AclCache, AclError, AclTools};
use super::diff::{Change, Kind, Op, Operation, Outcome, Plan, show};
use super::directory::Directory;
use crate::act::maintenance::write_atomic;
use crate::act::{ActError, io};

/// What an inverse file says it is.
pub const INVERSE_FORMAT: &str = "unyo-permissions-inverse/1";

/// The inverse of an apply: applying its changes undoes it. It is written before anything is
/// changed (`complete: false`, every operation `planned`) and again when the apply is done
/// (`complete: true`, each operation as it went).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inverse {
    pub format: String,
    /// The apply this undoes.
    pub batch: String,
    pub created_at: DateTime<Utc>,
    pub complete: bool,
    pub list: String,
    pub effective: NaiveDate,
    pub directory: PathBuf,
    pub share: PathBuf,
    /// The batch of the undo that applied this inverse, once it was.
    #[serde(default)]
    pub undone_by: Option<String>,
    pub changes: Vec<Change>,
}

pub(super) fn invert(c: &Change) -> Change {
    Change {
        line: c.line,
        staff_id: c.staff_id.clone(),
        name: c.name.clone(),
        uid: c.uid,
        from: c.to.clone(),
        to: c.from.clone(),
        effective: c.effective,
        ops: c
            .ops
            .iter()
            .rev()
            .map(|o| Operation {
                kind: o.kind,
                op: o.op.opposite(),
                target: o.target.clone(),
                department: o.department.clone(),
                outcome: o.outcome.clone(),
            })
            .collect(),
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), ActError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| ActError::Failed(format!("{}: {e}", path.display())))?;
    write_atomic(path, format!("{text}\n").as_bytes())
}

/// What an apply or an undo did: every operation with its outcome.
#[derive(Debug, Clone)]
pub struct Applied {
    pub batch: String,
    pub changes: Vec<Change>,
    /// The inverse file written (apply), or applied (undo).
    pub inverse: PathBuf,
    /// The batch an undo undid.
    pub undo_of: Option<String>,
}

impl Applied {
    pub fn ops(&self) -> impl Iterator<Item = (&Change, &Operation)> {
        self.changes
            .iter()
            .flat_map(|c| c.ops.iter().map(move |o| (c, o)))
    }
}

/// Carries out `changes`: the directory first, in one atomic write, then each ACL operation.
/// Operations that are not `planned` (skipped while planning) are left as they are.
fn carry_out(
    changes: &mut [Change],
    dir: &mut Directory,
    tools: &AclTools,
) -> Result<(), ActError> {
    for c in changes.iter_mut() {
        let group = |op: Op| {
            c.ops
                .iter()
                .find(|o| o.kind == Kind::Group && o.op == op && o.outcome == Outcome::Planned)
                .map(|o| o.target.clone())
        };
        let (revoke, grant) = (group(Op::Revoke), group(Op::Grant));
        dir.change(&c.staff_id, &c.to, revoke.as_deref(), grant.as_deref())?;
    }
    dir.save()?;
    let mut missing: Option<String> = None;
    for c in changes.iter_mut() {
        for o in &mut c.ops {
            if o.kind == Kind::Group {
                if o.outcome == Outcome::Planned {
                    o.outcome = Outcome::Applied;
                }
                continue;
            }
            if o.outcome != Outcome::Planned {
                continue;
            }
            let Some(uid) = c.uid else {
                o.outcome = Outcome::Skipped(format!("`{}` has no `uid`", c.staff_id));
                continue;
            };
            if let Some(m) = &missing {
                o.outcome = Outcome::Skipped(m.clone());
                continue;
            }
            o.outcome = match tools.change(o.op, uid, Path::new(&o.target)) {
                Ok(()) => Outcome::Applied,
                Err(AclError::Missing(m)) => {
                    missing = Some(m.clone());
                    Outcome::Skipped(m)
                }
                Err(AclError::Unsupported(m)) => Outcome::Skipped(m),
                Err(AclError::Other(m)) => Outcome::Failed(m),
            };
        }
    }
    Ok(())
}

/// Applies a plan: writes the inverse to `inverse` first (refusing to replace a file there),
/// then the directory, then the ACLs, then the inverse again with what was done.
pub fn apply(
    plan: &Plan,
    dir: &mut Directory,
    list: &Path,
    inverse: &Path,
    batch: &str,
    tools: &AclTools,
) -> Result<Applied, ActError> {
    let mut changes = plan.changes.clone();
    let mut inv = Inverse {
        format: INVERSE_FORMAT.to_owned(),
        batch: batch.to_owned(),
        created_at: Utc::now(),
        complete: false,
        list: show(list),
        effective: plan.effective,
        directory: std::path::absolute(&dir.path).unwrap_or_else(|_| dir.path.clone()),
        share: std::path::absolute(&plan.share).unwrap_or_else(|_| plan.share.clone()),
        undone_by: None,
        changes: changes.iter().map(invert).collect(),
    };
    if inverse.exists() {
        return Err(ActError::Failed(format!(
            "{}: an inverse file is there already; nothing changed (undo it with \
             `unyo act permissions --undo {}`, or choose another path)",
            inverse.display(),
            inverse.display()
        )));
    }
    if let Some(parent) = inverse.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io("create", parent))?;
    }
    write_json(inverse, &inv)?;
    carry_out(&mut changes, dir, tools)?;
    inv.complete = true;
    inv.changes = changes.iter().map(invert).collect();
    write_json(inverse, &inv)?;
    Ok(Applied {
        batch: batch.to_owned(),
        changes,
        inverse: inverse.to_owned(),
        undo_of: None,
    })
}

/// Reads an inverse file.
pub fn load_inverse(path: &Path) -> Result<Inverse, ActError> {
    let text = std::fs::read_to_string(path).map_err(io("read", path))?;
    let inv: Inverse = serde_json::from_str(&text)
        .map_err(|e| ActError::Failed(format!("{}: not an inverse file: {e}", path.display())))?;
    if inv.format != INVERSE_FORMAT {
        return Err(ActError::Failed(format!(
            "{}: format `{}`, expected `{INVERSE_FORMAT}`",
            path.display(),
            inv.format
        )));
    }
    Ok(inv)
}

/// Whether the state is what the apply left (`Some(true)`: the operation is to be undone),
/// what it found (`Some(false)`: the apply never got to it), or neither (`None`).
fn state_of(
    o: &Operation,
    c: &Change,
    dir: &Directory,
    acl: &mut AclCache,
    tools: &AclTools,
) -> Result<Option<bool>, AclError> {
    // `o` is the inverse operation: a revoke undoes a grant, so the grant's effect is there
    // when the entry is present.
    let present = match o.kind {
        Kind::Group => dir.is_member(&c.staff_id, &o.target),
        Kind::Acl => {
            let Some(uid) = c.uid else {
                return Ok(Some(false));
            };
            let a = acl.get(tools, Path::new(&o.target))?;
            match o.op {
                Op::Revoke => {
                    if a.has_all(uid) {
                        true
                    } else if a.has(uid) {
                        return Ok(None);
                    } else {
                        false
                    }
                }
                Op::Grant => a.has(uid),
            }
        }
    };
    Ok(Some(match o.op {
        Op::Revoke => present,
        Op::Grant => !present,
    }))
}

/// Applies an inverse file, after checking that the state is what the apply left. An inverse
/// from an apply that did not finish (a crash) is applied where the apply got to, and the
/// operations it never made are left alone. Refused, changing nothing, when any entry does
/// not match; a second undo of the same file is refused.
pub fn undo(path: &Path, batch: &str, tools: &AclTools) -> Result<Applied, ActError> {
    let (mut inv, mut changes, mut dir) = undo_plan(path, tools)?;
    carry_out(&mut changes, &mut dir, tools)?;
    inv.undone_by = Some(batch.to_owned());
    write_json(path, &inv)?;
    Ok(Applied {
        batch: batch.to_owned(),
        changes,
        inverse: path.to_owned(),
        undo_of: Some(inv.batch),
    })
}

/// What undoing an inverse would change, checked against the state now; changes nothing.
/// Refused when the inverse was undone already or the state changed since the apply.
pub fn undo_plan(
    path: &Path,
    tools: &AclTools,
) -> Result<(Inverse, Vec<Change>, Directory), ActError> {
    let inv = load_inverse(path)?;
    if let Some(by) = &inv.undone_by {
        return Err(ActError::Failed(format!(
            "{}: undone already (by {by}); nothing changed",
            path.display()
        )));
    }
    let dir = Directory::load(&inv.directory)?;
    let mut cache = AclCache::default();
    let tools_missing = tools.available().err();
    let mut problems = Vec::new();
    let mut changes = inv.changes.clone();
    for (n, c) in changes.iter_mut().enumerate() {
        let person = dir.person(&c.staff_id);
        let department = person.as_ref().map(|p| p.department.clone());
        let dept_ok = department.as_deref() == Some(c.from.as_str())
            || (!inv.complete && department.as_deref() == Some(c.to.as_str()));
        if !dept_ok {
            problems.push(format!(
                "entry {} ({} {}): in `{}`, not `{}` as the apply left it",
                n + 1,
                c.staff_id,
                c.name,
                department.as_deref().unwrap_or("(not in the directory)"),
                c.from
            ));
            continue;
        }
        let info = c.clone();
        for o in &mut c.ops {
            let forward = o.outcome.clone();
            match forward {
                Outcome::Skipped(r) | Outcome::Failed(r) => {
                    o.outcome = Outcome::Skipped(format!("not applied by the apply: {r}"));
                    continue;
                }
                Outcome::Planned | Outcome::Applied => {}
            }
            if o.kind == Kind::Acl
                && let Some(e) = &tools_missing
            {
                o.outcome = Outcome::Skipped(e.to_string());
                continue;
            }
            let state = match state_of(o, &info, &dir, &mut cache, tools) {
                Ok(s) => s,
                Err(e) => {
                    o.outcome = Outcome::Skipped(e.to_string());
                    continue;
                }
            };
            let what = format!(
                "entry {} ({} {}): {} {} {}",
                n + 1,
                c.staff_id,
                c.name,
                o.op.opposite().as_str(),
                o.kind.as_str(),
                o.target
            );
            match (state, forward == Outcome::Applied || inv.complete) {
                (Some(true), _) => o.outcome = Outcome::Planned,
                (Some(false), false) => {
                    o.outcome = Outcome::Skipped("the apply never made it".to_owned());
                }
                (Some(false), true) => problems.push(format!(
                    "{what} was applied, but is not in effect now (changed since)"
                )),
                (None, _) => problems.push(format!(
                    "{what}: the ACL entry is only partly there (changed since)"
                )),
            }
        }
    }
    if !problems.is_empty() {
        return Err(ActError::Failed(format!(
            "{}: the state no longer matches what the inverse expects; nothing changed:\n  {}",
            path.display(),
            problems.join("\n  ")
        )));
    }
    Ok((inv, changes, dir))
}

/// A batch id: when, and which process (unique on a machine).
pub fn batch_id(now: DateTime<Utc>) -> String {
    format!(
        "{}-{}",
        now.format("%Y%m%dT%H%M%S%.6fZ"),
        std::process::id()
    )
}
