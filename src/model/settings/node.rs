//! `node:` in unyo.yaml: this server as a node of an installation whose daemons share one
//! PostgreSQL — its name, the labels of the work it takes, and how long it may stay silent
//! before the other nodes declare it dead.

use std::path::Path;
use std::time::Duration;

use crate::spec::{Diagnostic, Diagnostics, NodeSpec};

/// How long a node may miss its heartbeats when `node.timeout` does not say.
pub const DEFAULT_NODE_TIMEOUT: Duration = Duration::from_secs(30);

/// `node:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSettings {
    /// The node's name: the host name unless `node.name` says otherwise.
    pub name: String,
    /// The labels of the work this node takes (`runs_on` of jobs and steps names them).
    pub labels: Vec<String>,
    /// Silent for longer than this, a node is declared dead and its work taken over.
    pub timeout: Duration,
}

impl Default for NodeSettings {
    fn default() -> Self {
        NodeSettings {
            name: crate::domain::host::hostname(),
            labels: Vec::new(),
            timeout: DEFAULT_NODE_TIMEOUT,
        }
    }
}

/// Whether `label` is a label: lowercase letters, digits, `-` and `_`, starting with a
/// letter (so it reads the same in every file and on every node).
pub fn is_label(label: &str) -> bool {
    let mut chars = label.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// `node:` checked.
pub(super) fn node(raw: &NodeSpec, file: &Path, diags: &mut Diagnostics) -> NodeSettings {
    let mut node = NodeSettings::default();
    if let Some(name) = &raw.name {
        let n = name.value.trim();
        if n.is_empty() || n.chars().any(|c| c.is_whitespace() || c.is_control()) {
            diags.push(Diagnostic::spanned(
                file,
                name,
                "`node.name`: a node's name is one word (no spaces), e.g. `db1`",
            ));
        } else {
            node.name = n.to_owned();
        }
    }
    if let Some(labels) = &raw.labels {
        for l in &labels.value {
            if !is_label(l) {
                diags.push(Diagnostic::spanned(
                    file,
                    labels,
                    format!(
                        "`node.labels`: `{l}` is not a label (lowercase letters, digits, `-`, \
                         `_`, starting with a letter)"
                    ),
                ));
            } else if !node.labels.contains(l) {
                node.labels.push(l.clone());
            }
        }
    }
    if let Some(t) = &raw.timeout {
        match super::super::values::parse_duration(&t.value) {
            Ok(d) if d >= Duration::from_secs(2) => node.timeout = d,
            Ok(_) => diags.push(Diagnostic::spanned(
                file,
                t,
                "`node.timeout` must be at least `2s` (heartbeats are sent every few seconds)",
            )),
            Err(e) => diags.push(Diagnostic::spanned(file, t, format!("`node.timeout`: {e}"))),
        }
    }
    node
}
