//! The POSIX ACL tools (`getfacl`, `setfacl`), each call one process without a shell: a
//! folder's named-user entries read, an entry granted or revoked, and why ACLs cannot be had
//! (tools missing, file system without ACLs).

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::diff::Op;

/// The POSIX ACL tools: `getfacl` to read, `setfacl` to change. Each call is one process
/// started with its arguments (never a shell), so no name or path can become shell code.
#[derive(Debug, Clone)]
pub struct AclTools {
    pub getfacl: PathBuf,
    pub setfacl: PathBuf,
}

impl Default for AclTools {
    fn default() -> AclTools {
        AclTools {
            getfacl: PathBuf::from("getfacl"),
            setfacl: PathBuf::from("setfacl"),
        }
    }
}

/// What reading or changing an ACL ran into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum AclError {
    /// The tool is not installed: every ACL operation is skipped.
    Missing(String),
    /// The file system does not support ACLs there: skipped.
    Unsupported(String),
    /// Anything else (no such folder, permission denied): a failure.
    Other(String),
}

impl fmt::Display for AclError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AclError::Missing(m) | AclError::Unsupported(m) | AclError::Other(m) => f.write_str(m),
        }
    }
}

/// The named-user entries of a folder's ACL: `(access, default)` uid sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolderAcl {
    pub access: HashSet<u32>,
    pub default: HashSet<u32>,
}

impl FolderAcl {
    pub(super) fn has(&self, uid: u32) -> bool {
        self.access.contains(&uid) || self.default.contains(&uid)
    }

    pub(super) fn has_all(&self, uid: u32) -> bool {
        self.access.contains(&uid) && self.default.contains(&uid)
    }
}

/// Reads `getfacl -n --omit-header` output: `user:20001:rwx`, `default:user:20001:rwx`
/// (an `#effective:` remark after a tab is ignored).
pub fn parse_getfacl(text: &str) -> FolderAcl {
    let mut acl = FolderAcl::default();
    for line in text.lines() {
        let entry = line.split(['#', '\t']).next().unwrap_or("").trim();
        let (set, rest) = match entry.strip_prefix("default:") {
            Some(r) => (&mut acl.default, r),
            None => (&mut acl.access, entry),
        };
        let mut parts = rest.split(':');
        if let (Some("user" | "u"), Some(q)) = (parts.next(), parts.next())
            && let Ok(uid) = q.parse::<u32>()
        {
            set.insert(uid);
        }
    }
    acl
}

fn classify(tool: &Path, stderr: &str, status: std::process::ExitStatus) -> AclError {
    let msg = stderr.trim();
    let msg = if msg.is_empty() {
        format!("{} exited with {status}", tool.display())
    } else {
        msg.lines().next().unwrap_or(msg).to_owned()
    };
    if msg.contains("Operation not supported") || msg.contains("not supported") {
        AclError::Unsupported(format!(
            "the file system does not support ACLs here ({msg})"
        ))
    } else {
        AclError::Other(msg)
    }
}

fn spawn_error(tool: &Path, e: &std::io::Error) -> AclError {
    if e.kind() == std::io::ErrorKind::NotFound {
        AclError::Missing(format!(
            "the acl tools are not installed (`{}` not found; Debian: apt-get install acl)",
            tool.display()
        ))
    } else {
        AclError::Other(format!("cannot start `{}`: {e}", tool.display()))
    }
}

impl AclTools {
    /// Whether `getfacl` can be started at all.
    pub(super) fn available(&self) -> Result<(), AclError> {
        for tool in [&self.getfacl, &self.setfacl] {
            Command::new(tool)
                .arg("--version")
                .output()
                .map_err(|e| spawn_error(tool, &e))?;
        }
        Ok(())
    }

    pub(super) fn read(&self, dir: &Path) -> Result<FolderAcl, AclError> {
        let out = Command::new(&self.getfacl)
            .args(["-n", "--omit-header", "--"])
            .arg(dir)
            .output()
            .map_err(|e| spawn_error(&self.getfacl, &e))?;
        if !out.status.success() {
            return Err(classify(
                &self.getfacl,
                &String::from_utf8_lossy(&out.stderr),
                out.status,
            ));
        }
        Ok(parse_getfacl(&String::from_utf8_lossy(&out.stdout)))
    }

    /// Grants `u:<uid>:rwx` and the default entry `d:u:<uid>:rwx` (so that files made later
    /// in the folder carry it too), or revokes both.
    pub(super) fn change(&self, op: Op, uid: u32, dir: &Path) -> Result<(), AclError> {
        let (flag, spec) = match op {
            Op::Grant => ("-m", format!("u:{uid}:rwx,d:u:{uid}:rwx")),
            Op::Revoke => ("-x", format!("u:{uid},d:u:{uid}")),
        };
        let out = Command::new(&self.setfacl)
            .arg(flag)
            .arg(&spec)
            .arg("--")
            .arg(dir)
            .output()
            .map_err(|e| spawn_error(&self.setfacl, &e))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(classify(
                &self.setfacl,
                &String::from_utf8_lossy(&out.stderr),
                out.status,
            ))
        }
    }
}

/// The folders' ACLs, read once each.
#[derive(Debug, Default)]
pub(super) struct AclCache {
    folders: BTreeMap<PathBuf, Result<FolderAcl, AclError>>,
}

impl AclCache {
    pub(super) fn get(&mut self, tools: &AclTools, dir: &Path) -> Result<FolderAcl, AclError> {
        self.folders
            .entry(dir.to_owned())
            .or_insert_with(|| tools.read(dir))
            .clone()
    }
}
