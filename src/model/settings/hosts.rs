//! `hosts:` of unyo.yaml: the servers without a unyo daemon that steps reach through the
//! system `ssh`, each with its address, port, login user, key and pinned host key. Hosts
//! live in unyo.yaml rather than a folder of their own because they are the site's
//! connection settings, like the database and the notify channels: a handful per
//! installation, reviewed together, and named by jobs the way jobs name channels.
//!
//! It checks what can be checked without connecting (`unyo hosts check` connects); it must
//! not open a connection or write unyo's known-hosts files (`exec::remote` does).

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_saphyr::Spanned;

use crate::exec::SshTarget;
use crate::spec::{Diagnostic, Diagnostics, HostSpec};

/// A server steps run on through `ssh`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    pub address: String,
    pub port: u16,
    /// The user unyo logs in as.
    pub user: String,
    pub identity: Option<PathBuf>,
    /// `TYPE BASE64`, the only key accepted from the server.
    pub host_key: String,
}

impl Host {
    /// What `exec` needs to reach the host; unyo's ssh files go under `<data_dir>/ssh`.
    pub fn target(&self, data_dir: &Path) -> SshTarget {
        SshTarget {
            name: self.name.clone(),
            address: self.address.clone(),
            port: self.port,
            user: self.user.clone(),
            identity: self.identity.clone(),
            host_key: self.host_key.clone(),
            dir: data_dir.join("ssh"),
        }
    }

    /// `unyo@10.0.0.5:22`, for messages.
    pub fn describe(&self) -> String {
        format!("{}@{}:{}", self.user, self.address, self.port)
    }
}

/// A word ssh cannot take for an option and that holds no space or control character.
fn plain_word(s: &str) -> bool {
    !s.is_empty() && !s.starts_with('-') && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Host names become file names and appear in messages: lowercase letters, digits, `-`, `_`.
fn good_name(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// `ssh-ed25519 AAAA…` (a comment after it is allowed).
fn good_key(key: &str) -> bool {
    let mut parts = key.split_whitespace();
    let (Some(kind), Some(data)) = (parts.next(), parts.next()) else {
        return false;
    };
    let known = ["ssh-", "ecdsa-", "sk-", "rsa-"];
    known.iter().any(|p| kind.starts_with(p))
        && data.len() >= 16
        && data
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
}

/// The hosts of unyo.yaml, each checked; a host with a problem is left out.
pub(super) fn hosts(
    raw: &IndexMap<String, Spanned<HostSpec>>,
    root: &Path,
    file: &Path,
    diags: &mut Diagnostics,
) -> IndexMap<String, Host> {
    let mut out = IndexMap::new();
    for (name, spec) in raw {
        let before = diags.len();
        let h = &spec.value;
        let mut err = |at: &Spanned<String>, m: String| {
            diags.push(Diagnostic::spanned(file, at, format!("host `{name}`: {m}")));
        };
        if !plain_word(&h.address.value) {
            err(
                &h.address,
                format!(
                    "`address` `{}` is not a host name or address",
                    h.address.value
                ),
            );
        }
        if !plain_word(&h.user.value) || h.user.value.contains('@') {
            err(
                &h.user,
                format!("`user` `{}` is not a user name", h.user.value),
            );
        }
        if !good_key(&h.host_key.value) {
            err(
                &h.host_key,
                "`host_key` must be `TYPE KEY` as in a known-hosts line (`ssh-keyscan -t ed25519 \
                 HOST` prints it; check it with the server's administrator)"
                    .to_owned(),
            );
        }
        if !good_name(name) {
            diags.push(Diagnostic::spanned(
                file,
                spec,
                format!(
                    "bad host name `{name}` (lowercase letters, digits, `-` and `_`, at most 40)"
                ),
            ));
        }
        let port = match &h.port {
            None => 22,
            Some(p) => match u16::try_from(p.value) {
                Ok(port) if port > 0 => port,
                _ => {
                    diags.push(Diagnostic::spanned(
                        file,
                        p,
                        format!("host `{name}`: `port` must be 1-65535, not {}", p.value),
                    ));
                    22
                }
            },
        };
        if diags.len() > before {
            continue;
        }
        out.insert(
            name.clone(),
            Host {
                name: name.clone(),
                address: h.address.value.clone(),
                port,
                user: h.user.value.clone(),
                identity: h.identity.as_ref().map(|i| root.join(&i.value)),
                host_key: h.host_key.value.trim().to_owned(),
            },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_words_and_keys() {
        assert!(good_name("tax-db"));
        assert!(!good_name("Tax"));
        assert!(!good_name("../x"));
        assert!(plain_word("10.0.0.5"));
        assert!(!plain_word("-oProxyCommand=x"));
        assert!(!plain_word("a b"));
        assert!(good_key(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA+x/y= root@db"
        ));
        assert!(!good_key("AAAAC3NzaC1lZDI1NTE5AAAAIA"));
        assert!(!good_key("ssh-ed25519 $(x)AAAAAAAAAAAAAAAAA"));
    }
}
