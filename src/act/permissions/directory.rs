//! The staff directory (`directory.json`): departments and their groups, staff, group
//! members; a person moved, written back atomically with the fields unyo does not know kept.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::act::maintenance::write_atomic;
use crate::act::{ActError, io};

/// The staff directory (`directory.json`): departments (`code`, `group`), staff (`id`,
/// `name`, `department`, `groups`, `uid`) and the groups with their members. It is kept as
/// JSON so that fields unyo does not know are written back as they were.
#[derive(Debug, Clone)]
pub struct Directory {
    pub path: PathBuf,
    pub(super) doc: Value,
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
    pub(super) fn change(
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
    pub(super) fn save(&self) -> Result<(), ActError> {
        write_atomic(&self.path, self.text()?.as_bytes())
    }
}
