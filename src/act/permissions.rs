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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::maintenance::write_atomic;
use super::{ActError, io};

/// The columns of a transfer list, in the order the sample list has them.
pub const COLUMNS: [&str; 5] = ["staff_id", "name", "from", "to", "effective"];

/// What an inverse file says it is.
pub const INVERSE_FORMAT: &str = "unyo-permissions-inverse/1";

/// One line of a transfer list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// The line of the file (1 = the header).
    pub line: usize,
    pub staff_id: String,
    pub name: String,
    pub from: String,
    pub to: String,
    pub effective: NaiveDate,
    /// Where each field starts (characters, from 1), in the order of [`COLUMNS`].
    pub cols: [usize; 5],
}

impl Transfer {
    /// The column where field `name` starts.
    pub fn col(&self, name: &str) -> usize {
        COLUMNS
            .iter()
            .position(|c| *c == name)
            .and_then(|i| self.cols.get(i).copied())
            .unwrap_or(1)
    }
}

/// A field of a CSV record: its text and the column (characters, from 1) where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    col: usize,
    text: String,
}

/// A CSV record and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    line: usize,
    fields: Vec<Field>,
}

/// A problem found at a place in a file, printed `file:line:column: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// Splits CSV text (RFC 4180: `"` quotes a field, `""` inside it is one `"`, fields may span
/// lines inside quotes; CRLF or LF) into records. A leading byte-order mark is dropped. Lines
/// that are empty are skipped.
fn parse_csv(text: &str) -> Result<Vec<Record>, Problem> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut fields: Vec<Field> = Vec::new();
    let mut field = String::new();
    let (mut line, mut col) = (1usize, 1usize);
    let mut record_line = 1;
    let mut field_col = 1;
    let mut quoted = false;
    let mut was_quoted = false;
    let mut chars = text.chars().peekable();
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    col += 2;
                    field.push('"');
                }
                '"' => {
                    quoted = false;
                    col += 1;
                }
                '\n' => {
                    field.push('\n');
                    line += 1;
                    col = 1;
                }
                _ => {
                    field.push(c);
                    col += 1;
                }
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                quoted = true;
                was_quoted = true;
                at_field_start = false;
                col += 1;
            }
            '"' => {
                return Err(Problem {
                    line,
                    col,
                    message: "a `\"` inside an unquoted field (quote the whole field and \
                              write `\"\"` for a quote)"
                        .to_owned(),
                });
            }
            ',' => {
                fields.push(Field {
                    col: field_col,
                    text: std::mem::take(&mut field),
                });
                col += 1;
                field_col = col;
                at_field_start = true;
                was_quoted = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                let empty = fields.is_empty() && field.is_empty() && !was_quoted;
                if !empty {
                    fields.push(Field {
                        col: field_col,
                        text: std::mem::take(&mut field),
                    });
                    records.push(Record {
                        line: record_line,
                        fields: std::mem::take(&mut fields),
                    });
                }
                line += 1;
                col = 1;
                field_col = 1;
                record_line = line;
                at_field_start = true;
                was_quoted = false;
            }
            _ => {
                if was_quoted {
                    return Err(Problem {
                        line,
                        col,
                        message: "text after the closing `\"` of a quoted field".to_owned(),
                    });
                }
                field.push(c);
                at_field_start = false;
                col += 1;
            }
        }
    }
    if quoted {
        return Err(Problem {
            line,
            col,
            message: "a quoted field is not closed".to_owned(),
        });
    }
    if !(fields.is_empty() && field.is_empty() && !was_quoted) {
        fields.push(Field {
            col: field_col,
            text: field,
        });
        records.push(Record {
            line: record_line,
            fields,
        });
    }
    Ok(records)
}

/// Reads the lines of a transfer list: the header names the five columns (in any order);
/// every field must be present and `effective` a date. Problems are all collected.
pub fn parse_list(text: &str) -> Result<Vec<Transfer>, Vec<Problem>> {
    let records = parse_csv(text).map_err(|p| vec![p])?;
    let Some((header, rows)) = records.split_first() else {
        return Err(vec![Problem {
            line: 1,
            col: 1,
            message: format!("the list is empty; its header is `{}`", COLUMNS.join(",")),
        }]);
    };
    let mut problems = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, f) in header.fields.iter().enumerate() {
        let name = f.text.trim();
        if !COLUMNS.contains(&name) {
            problems.push(Problem {
                line: header.line,
                col: f.col,
                message: format!(
                    "unknown column `{name}`{}; the columns are `{}`",
                    crate::spec::diag::hint(name, COLUMNS.iter().copied()),
                    COLUMNS.join(",")
                ),
            });
        } else if let Some(&known) = COLUMNS.iter().find(|c| **c == name)
            && index.insert(known, i).is_some()
        {
            problems.push(Problem {
                line: header.line,
                col: f.col,
                message: format!("column `{name}` is named twice"),
            });
        }
    }
    for c in COLUMNS {
        if !index.contains_key(c) {
            problems.push(Problem {
                line: header.line,
                col: 1,
                message: format!(
                    "the header has no column `{c}`; it must be `{}`",
                    COLUMNS.join(",")
                ),
            });
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut out = Vec::new();
    for r in rows {
        if r.fields.len() != header.fields.len() {
            problems.push(Problem {
                line: r.line,
                col: 1,
                message: format!(
                    "{} fields, the header has {}",
                    r.fields.len(),
                    header.fields.len()
                ),
            });
            continue;
        }
        let get = |name: &str| -> &Field {
            // Every column is in `index` (checked above) and every row has as many fields.
            &r.fields[index.get(name).copied().unwrap_or(0)]
        };
        let mut bad = false;
        for c in COLUMNS {
            if get(c).text.trim().is_empty() {
                problems.push(Problem {
                    line: r.line,
                    col: get(c).col,
                    message: format!("column `{c}` is empty"),
                });
                bad = true;
            }
        }
        let eff = get("effective");
        let effective = match NaiveDate::parse_from_str(eff.text.trim(), "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) if !eff.text.trim().is_empty() => {
                problems.push(Problem {
                    line: r.line,
                    col: eff.col,
                    message: format!(
                        "column `effective`: `{}` is not a date (`YYYY-MM-DD`)",
                        eff.text
                    ),
                });
                None
            }
            Err(_) => None,
        };
        if let (Some(effective), false) = (effective, bad) {
            out.push(Transfer {
                line: r.line,
                staff_id: get("staff_id").text.trim().to_owned(),
                name: get("name").text.trim().to_owned(),
                from: get("from").text.trim().to_owned(),
                to: get("to").text.trim().to_owned(),
                effective,
                cols: COLUMNS.map(|c| get(c).col),
            });
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The staff directory (`directory.json`): departments (`code`, `group`), staff (`id`,
/// `name`, `department`, `groups`, `uid`) and the groups with their members. It is kept as
/// JSON so that fields unyo does not know are written back as they were.
#[derive(Debug, Clone)]
pub struct Directory {
    pub path: PathBuf,
    doc: Value,
}

/// A staff member as the directory has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub department: String,
    pub uid: Option<u32>,
}

impl Directory {
    pub fn load(path: &Path) -> Result<Directory, ActError> {
        let text = std::fs::read_to_string(path).map_err(io("read", path))?;
        let doc: Value = serde_json::from_str(&text)
            .map_err(|e| ActError::Failed(format!("{}: {e}", path.display())))?;
        let d = Directory {
            path: path.to_owned(),
            doc,
        };
        if !d.doc["staff"].is_array() || !d.doc["departments"].is_array() {
            return Err(ActError::Failed(format!(
                "{}: a staff directory needs `departments` and `staff` lists",
                path.display()
            )));
        }
        Ok(d)
    }

    /// The group of a department (`dept-<code>` unless the directory names another).
    pub fn group(&self, department: &str) -> Option<String> {
        self.doc["departments"].as_array()?.iter().find_map(|d| {
            (d["code"].as_str() == Some(department)).then(|| {
                d["group"]
                    .as_str()
                    .map_or_else(|| format!("dept-{department}"), str::to_owned)
            })
        })
    }

    fn staff_entry(&self, id: &str) -> Option<&Value> {
        self.doc["staff"]
            .as_array()?
            .iter()
            .find(|s| s["id"].as_str() == Some(id))
    }

    fn staff_entry_mut(&mut self, id: &str) -> Option<&mut Value> {
        self.doc["staff"]
            .as_array_mut()?
            .iter_mut()
            .find(|s| s["id"].as_str() == Some(id))
    }

    pub fn person(&self, id: &str) -> Option<Person> {
        let s = self.staff_entry(id)?;
        Some(Person {
            id: id.to_owned(),
            name: s["name"].as_str().unwrap_or_default().to_owned(),
            department: s["department"].as_str().unwrap_or_default().to_owned(),
            uid: s["uid"].as_u64().and_then(|u| u32::try_from(u).ok()),
        })
    }

    /// Whether the person is a member of the group: in their `groups`, or among the group's
    /// members.
    pub fn is_member(&self, id: &str, group: &str) -> bool {
        let listed = |v: &Value, x: &str| {
            v.as_array()
                .is_some_and(|a| a.iter().any(|g| g.as_str() == Some(x)))
        };
        self.staff_entry(id)
            .is_some_and(|s| listed(&s["groups"], group))
            || listed(&self.doc["groups"][group], id)
    }

    /// Moves a person: `department` becomes `to_dept`; `revoke` leaves their groups and the
    /// group's members, `grant` takes its place in their groups (or is added) and joins the
    /// group's members at its place by id, so that an undo puts everything back where it was.
    fn change(
        &mut self,
        id: &str,
        to_dept: &str,
        revoke: Option<&str>,
        grant: Option<&str>,
    ) -> Result<(), ActError> {
        let path = self.path.clone();
        let Some(s) = self.staff_entry_mut(id) else {
            return Err(ActError::Failed(format!(
                "{}: no staff member `{id}`",
                path.display()
            )));
        };
        if let Some(obj) = s.as_object_mut() {
            obj.insert("department".to_owned(), Value::from(to_dept));
            let groups = obj
                .entry("groups")
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Some(list) = groups.as_array_mut() {
                let at = revoke.and_then(|r| list.iter().position(|g| g.as_str() == Some(r)));
                if let Some(i) = at {
                    list.remove(i);
                }
                if let Some(g) = grant
                    && !list.iter().any(|x| x.as_str() == Some(g))
                {
                    list.insert(at.unwrap_or(list.len()).min(list.len()), Value::from(g));
                }
            }
        }
        if !self.doc["groups"].is_object() {
            return Ok(());
        }
        if let Some(r) = revoke
            && let Some(members) = self.doc["groups"][r].as_array_mut()
        {
            members.retain(|m| m.as_str() != Some(id));
        }
        if let Some(g) = grant {
            let members = &mut self.doc["groups"][g];
            if members.is_null() {
                *members = Value::Array(Vec::new());
            }
            if let Some(members) = members.as_array_mut()
                && !members.iter().any(|m| m.as_str() == Some(id))
            {
                let at = members
                    .iter()
                    .position(|m| m.as_str().is_some_and(|m| m > id))
                    .unwrap_or(members.len());
                members.insert(at, Value::from(id));
            }
        }
        Ok(())
    }

    /// The directory as it is written: pretty JSON and a final newline, as `unyo demo init`
    /// writes it.
    fn text(&self) -> Result<String, ActError> {
        serde_json::to_string_pretty(&self.doc)
            .map(|t| t + "\n")
            .map_err(|e| ActError::Failed(format!("{}: {e}", self.path.display())))
    }

    /// Writes the directory beside itself and renames it into place, keeping its mode.
    fn save(&self) -> Result<(), ActError> {
        write_atomic(&self.path, self.text()?.as_bytes())
    }
}

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

    fn opposite(self) -> Op {
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
enum AclError {
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
    fn has(&self, uid: u32) -> bool {
        self.access.contains(&uid) || self.default.contains(&uid)
    }

    fn has_all(&self, uid: u32) -> bool {
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
    fn available(&self) -> Result<(), AclError> {
        for tool in [&self.getfacl, &self.setfacl] {
            Command::new(tool)
                .arg("--version")
                .output()
                .map_err(|e| spawn_error(tool, &e))?;
        }
        Ok(())
    }

    fn read(&self, dir: &Path) -> Result<FolderAcl, AclError> {
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
    fn change(&self, op: Op, uid: u32, dir: &Path) -> Result<(), AclError> {
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
struct AclCache {
    folders: BTreeMap<PathBuf, Result<FolderAcl, AclError>>,
}

impl AclCache {
    fn get(&mut self, tools: &AclTools, dir: &Path) -> Result<FolderAcl, AclError> {
        self.folders
            .entry(dir.to_owned())
            .or_insert_with(|| tools.read(dir))
            .clone()
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

fn show(p: &Path) -> String {
    p.display().to_string()
}

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

fn invert(c: &Change) -> Change {
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

/// Reads a transfer list file; problems name the file, line and column.
pub fn read_list(path: &Path) -> Result<Vec<Transfer>, ActError> {
    let bytes = std::fs::read(path).map_err(io("read", path))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        ActError::Failed(format!(
            "{}: not UTF-8 (byte {}); save the list as UTF-8 CSV",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })?;
    parse_list(&text).map_err(|ps| problems_error(path, &ps))
}

/// Problems as one failure, one line each: `file:line:column: message`.
pub fn problems_error(path: &Path, problems: &[Problem]) -> ActError {
    let lines: Vec<String> = problems
        .iter()
        .map(|p| format!("{}:{}:{}: {}", path.display(), p.line, p.col, p.message))
        .collect();
    ActError::Failed(format!(
        "{}\n{} problem{} in the transfer list; nothing changed",
        lines.join("\n"),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "staff_id,name,from,to,effective\n";

    #[test]
    fn csv_with_bom_quotes_and_crlf() {
        let text = "\u{feff}staff_id,name,from,to,effective\r\n\
                    S0001,\"佐藤 翔太\",tax,welfare,2027-04-01\r\n\
                    \r\n\
                    S0002,\"a \"\"b\"\", c\",it,tax,2027-10-01";
        let list = parse_list(text).expect("parses");
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].name, "佐藤 翔太");
        assert_eq!(list[0].line, 2);
        assert_eq!(list[1].name, "a \"b\", c");
        assert_eq!(list[1].line, 4);
        assert_eq!(
            list[1].effective,
            NaiveDate::from_ymd_opt(2027, 10, 1).expect("date")
        );
    }

    #[test]
    fn columns_may_come_in_any_order() {
        let list = parse_list("effective,to,from,name,staff_id\n2027-04-01,it,tax,x,S1\n")
            .expect("parses");
        assert_eq!((list[0].from.as_str(), list[0].to.as_str()), ("tax", "it"));
    }

    #[test]
    fn problems_name_line_and_column() {
        let text = format!(
            "{HEADER}S0001,a,tax,it,2027-04-01\nS0002,b,tax,it,April\nS0003,,tax,it,2027-04-01\nS4,x\n"
        );
        let ps = parse_list(&text).expect_err("bad lines");
        let at: Vec<(usize, usize)> = ps.iter().map(|p| (p.line, p.col)).collect();
        assert_eq!(at, [(3, 16), (4, 7), (5, 1)], "{ps:?}");
        assert!(ps[0].message.contains("`April` is not a date"), "{ps:?}");
        assert!(ps[1].message.contains("`name` is empty"), "{ps:?}");
        assert!(ps[2].message.contains("2 fields"), "{ps:?}");
    }

    #[test]
    fn a_bad_header_is_named() {
        let ps = parse_list("staff,name,from,to,effective\n").expect_err("bad header");
        assert!(ps[0].message.contains("unknown column `staff`"), "{ps:?}");
        assert!(
            ps.iter()
                .any(|p| p.message.contains("no column `staff_id`")),
            "{ps:?}"
        );
        let ps = parse_csv("a,\"b\nc").expect_err("open quote");
        assert_eq!(
            (ps.line, ps.message.as_str()),
            (2, "a quoted field is not closed")
        );
        let ps = parse_csv("a,b\"c\n").expect_err("stray quote");
        assert_eq!((ps.line, ps.col), (1, 4));
    }

    #[test]
    fn getfacl_output_is_read() {
        let acl = parse_getfacl(
            "user::rwx\nuser:20001:rwx\nuser:20002:rwx\t#effective:r-x\ngroup::r-x\n\
             mask::rwx\nother::r-x\ndefault:user::rwx\ndefault:user:20001:rwx\n",
        );
        assert_eq!(acl.access, HashSet::from([20001, 20002]));
        assert_eq!(acl.default, HashSet::from([20001]));
        assert!(acl.has_all(20001) && acl.has(20002) && !acl.has_all(20002));
    }

    fn directory() -> Directory {
        Directory {
            path: PathBuf::from("directory.json"),
            doc: serde_json::json!({
                "departments": [
                    {"code": "tax", "group": "dept-tax"},
                    {"code": "it", "group": "dept-it"},
                    {"code": "welfare", "group": "dept-welfare"}
                ],
                "staff": [
                    {"id": "S1", "name": "佐藤 翔太", "department": "tax", "uid": 20001,
                     "groups": ["dept-tax"]},
                    {"id": "S2", "name": "鈴木 花子", "department": "it", "uid": 20002,
                     "groups": ["dept-it"]},
                    {"id": "S3", "name": "高橋 誠", "department": "it",
                     "groups": ["dept-it"]}
                ],
                "groups": {"dept-tax": ["S1"], "dept-it": ["S2", "S3"], "dept-welfare": []}
            }),
        }
    }

    fn no_tools() -> AclTools {
        AclTools {
            getfacl: PathBuf::from("/nonexistent/getfacl"),
            setfacl: PathBuf::from("/nonexistent/setfacl"),
        }
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn the_diff_revokes_from_and_grants_to_and_defers_later_lines() {
        let list = parse_list(&format!(
            "{HEADER}S1,佐藤 翔太,tax,it,2027-04-01\nS2,鈴木 花子,it,welfare,2027-10-01\n"
        ))
        .expect("list");
        let plan = plan(
            &list,
            &directory(),
            Path::new("/share"),
            date("2027-04-01"),
            &no_tools(),
        )
        .expect("plan");
        assert_eq!(plan.pending.len(), 1);
        assert_eq!(plan.pending[0].staff_id, "S2");
        let ops: Vec<(Kind, Op, &str, &str)> = plan
            .ops()
            .map(|(_, o)| (o.kind, o.op, o.target.as_str(), o.outcome.as_str()))
            .collect();
        assert_eq!(
            ops,
            [
                (Kind::Group, Op::Revoke, "dept-tax", "planned"),
                (Kind::Group, Op::Grant, "dept-it", "planned"),
                (Kind::Acl, Op::Revoke, "/share/tax", "skipped"),
                (Kind::Acl, Op::Grant, "/share/it", "skipped"),
            ]
        );
        assert!(
            plan.acl_note
                .as_deref()
                .is_some_and(|n| n.contains("not installed")),
            "{:?}",
            plan.acl_note
        );
    }

    #[test]
    fn a_transfer_in_effect_is_nothing_to_do() {
        let mut d = directory();
        d.change("S1", "it", Some("dept-tax"), Some("dept-it"))
            .expect("change");
        assert_eq!(
            d.doc["groups"]["dept-it"],
            serde_json::json!(["S1", "S2", "S3"])
        );
        assert_eq!(d.doc["staff"][0]["groups"], serde_json::json!(["dept-it"]));
        let list = parse_list(&format!("{HEADER}S1,佐藤 翔太,tax,it,2027-04-01\n")).expect("list");
        let plan = plan(
            &list,
            &d,
            Path::new("/share"),
            date("2027-04-01"),
            &no_tools(),
        )
        .expect("plan");
        assert!(plan.changes.is_empty(), "{:?}", plan.changes);
        assert_eq!(plan.done.len(), 1);
    }

    #[test]
    fn bad_lines_are_all_named() {
        let list = parse_list(&format!(
            "{HEADER}S9,x,tax,it,2027-04-01\nS1,佐藤 花子,tax,it,2027-04-01\n\
             S2,鈴木 花子,tax,welfare,2027-04-01\nS3,高橋 誠,it,police,2027-04-01\n\
             S3,高橋 誠,it,tax,2027-04-01\n"
        ))
        .expect("list");
        let ps = plan(
            &list,
            &directory(),
            Path::new("/s"),
            date("2027-04-01"),
            &no_tools(),
        )
        .expect_err("bad");
        let got: Vec<(usize, usize)> = ps.iter().map(|p| (p.line, p.col)).collect();
        assert_eq!(got, [(2, 1), (3, 4), (4, 10), (5, 12), (6, 1)], "{ps:?}");
        assert!(ps[0].message.contains("no staff member `S9`"));
        assert!(ps[1].message.contains("`佐藤 翔太` in the directory"));
        assert!(ps[2].message.contains("is in `it`, not `tax`"));
        assert!(ps[3].message.contains("no department `police`"));
        assert!(ps[4].message.contains("on line 5 already"));
    }

    #[test]
    fn the_inverse_of_a_change_is_its_opposite_in_reverse() {
        let list = parse_list(&format!("{HEADER}S1,佐藤 翔太,tax,it,2027-04-01\n")).expect("list");
        let p = plan(
            &list,
            &directory(),
            Path::new("/s"),
            date("2027-04-01"),
            &no_tools(),
        )
        .expect("plan");
        let inv = invert(&p.changes[0]);
        assert_eq!((inv.from.as_str(), inv.to.as_str()), ("it", "tax"));
        let ops: Vec<(Op, &str)> = inv.ops.iter().map(|o| (o.op, o.target.as_str())).collect();
        assert_eq!(
            ops,
            [
                (Op::Revoke, "/s/it"),
                (Op::Grant, "/s/tax"),
                (Op::Revoke, "dept-it"),
                (Op::Grant, "dept-tax")
            ]
        );
        assert_eq!(invert(&inv), p.changes[0]);
    }
}
