//! `departments:` of unyo.yaml: the city's departments by code, each with the title an
//! official reads (`tax: { title: 税務課 }`). Departments are the city's organisation, not
//! the contractor's definitions, but they change about as often as the settings do (at an HR
//! reorganisation), a desk request must name one of them, and the Japanese report shows them
//! by title; so they are settings, checked where they are written. Without `departments:`
//! any department is taken as written, as before.

use indexmap::IndexMap;
use serde_saphyr::Spanned;

use crate::spec::{DepartmentSpec, Diagnostic, Diagnostics, diag};

/// The departments of unyo.yaml, code → title, in the order written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Departments(IndexMap<String, String>);

impl Departments {
    /// The title of the department `code`, when it is one.
    pub fn title(&self, code: &str) -> Option<&str> {
        self.0.get(code).map(String::as_str)
    }

    /// Every department, code and title, in the order written.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(c, t)| (c.as_str(), t.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The code of the department an operator named, by its code or by its title; an
    /// unknown one is refused with the nearest code. With no departments set, any name is
    /// taken as written.
    pub fn resolve(&self, name: &str) -> Result<String, String> {
        let name = name.trim();
        if self.0.is_empty() || self.0.contains_key(name) {
            return Ok(name.to_owned());
        }
        if let Some((code, _)) = self.0.iter().find(|(_, t)| t.as_str() == name) {
            return Ok(code.clone());
        }
        let hint = diag::hint(name, self.0.keys().map(String::as_str));
        let known: Vec<String> = self.0.iter().map(|(c, t)| format!("{c} ({t})")).collect();
        Err(format!(
            "unknown department `{name}`{hint}; the departments of unyo.yaml are: {}",
            known.join(", ")
        ))
    }
}

/// A department's code: lowercase letters, digits, `-` and `_`, starting with a letter or
/// digit, at most 40 characters (it is stored with each request and typed on the command line).
fn good_code(code: &str) -> bool {
    (1..=40).contains(&code.len())
        && code
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// `departments:` checked: each code a plain word, each title one line of at most
/// [`crate::model::TITLE_MAX`] characters, no title given to two departments.
pub(super) fn departments(
    raw: &IndexMap<String, Spanned<DepartmentSpec>>,
    file: &std::path::Path,
    diags: &mut Diagnostics,
) -> Departments {
    let mut out = IndexMap::new();
    for (code, spec) in raw {
        let title = &spec.value.title;
        let text = title.value.trim();
        let problem = if !good_code(code) {
            Some((
                spec.referenced,
                format!(
                    "department `{code}`: a code is lowercase letters, digits, `-` and `_` \
                     (e.g. `tax`, `city-planning`)"
                ),
            ))
        } else if text.is_empty() {
            Some((
                title.referenced,
                format!("department `{code}`: `title` is empty"),
            ))
        } else if text.contains(['\n', '\r']) {
            Some((
                title.referenced,
                format!("department `{code}`: `title` must be one line"),
            ))
        } else if text.chars().count() > crate::model::TITLE_MAX {
            Some((
                title.referenced,
                format!(
                    "department `{code}`: `title` has {} characters; at most {} fit a table's cell",
                    text.chars().count(),
                    crate::model::TITLE_MAX
                ),
            ))
        } else if let Some((other, _)) = out
            .iter()
            .find(|(_, t): &(&String, &String)| t.as_str() == text)
        {
            Some((
                title.referenced,
                format!("department `{code}`: `title` {text} is the title of `{other}` too"),
            ))
        } else {
            None
        };
        match problem {
            Some((at, m)) => diags.push(Diagnostic::at(file, at, m)),
            None => {
                out.insert(code.clone(), text.to_owned());
            }
        }
    }
    Departments(out)
}
