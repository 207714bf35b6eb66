//! `unyo act permissions`: HR transfers (人事異動) applied to access. It reads a transfer list
//! (CSV: `staff_id,name,from,to,effective`), checks it against the staff directory
//! (`directory.json`), and computes the diff between the access staff have and the access the
//! list requires: per person, the directory group `dept-<from>` revoked and `dept-<to>`
//! granted, and the POSIX ACL entry `u:<uid>:rwx` (with its default entry) removed from
//! `share/<from>` and added to `share/<to>`. A dry run only shows the diff; an apply writes the
//! inverse first (so a crash mid-apply can still be undone), then the directory (atomically),
//! then the ACLs (`setfacl`, run without a shell); an undo applies an inverse after checking
//! that the state is still what the apply left. Where the acl tools are missing or the file
//! system refuses ACLs, groups still change and the ACL operations are skipped, with the
//! reason.
//!
//! Plain functions on paths: recording the changes in the database and auditing them is the
//! CLI's part (`cli/act.rs`).

mod acl;
mod diff;
mod directory;
mod inverse;
mod list;
#[cfg(test)]
mod tests;

pub use acl::{AclTools, FolderAcl, parse_getfacl};
pub use diff::{Change, Kind, Op, Operation, Outcome, Plan, plan};
pub use directory::{Directory, Person};
pub use inverse::{
    Applied, INVERSE_FORMAT, Inverse, apply, batch_id, load_inverse, undo, undo_plan,
};
pub use list::{COLUMNS, Problem, Transfer, parse_list, problems_error, read_list};
