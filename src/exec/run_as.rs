//! A step run as another operating-system user (`user:`): the argv is prefixed with
//! util-linux's `setpriv --reuid --regid --init-groups --`, so the step gets the user's id,
//! primary group and supplementary groups (std's `CommandExt::uid/gid` would drop the
//! supplementary groups, and the crate keeps out the `unsafe` a `pre_exec` needs), and its
//! environment gets the user's `HOME`, `USER`, `LOGNAME` and `SHELL` from the password
//! database (the step's own `env:` still wins).
//!
//! Only a process running as root can switch users; [`check`] says so in words an operator
//! can act on. unyo itself keeps reading the step's pipes and writing its log, so log files
//! stay unyo's. It must not decide who may run what: that is the definitions' business.

use nix::unistd::{Uid, User};

/// The program that switches users.
pub const SETPRIV: &str = "setpriv";

/// The user a step runs as, looked up in the password database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
}

/// Looks `name` up and checks that this process may become it.
pub fn check(name: &str) -> Result<RunAs, String> {
    let user = match User::from_name(name) {
        Ok(Some(u)) => u,
        Ok(None) => {
            return Err(format!(
                "no user `{name}` on this machine (see /etc/passwd)"
            ));
        }
        Err(e) => return Err(format!("cannot look up user `{name}`: {e}")),
    };
    let me = Uid::effective();
    if !me.is_root() && me != user.uid {
        return Err(format!(
            "`user: {name}` needs unyo to run as root to switch users; it runs as uid {me}"
        ));
    }
    Ok(RunAs {
        name: user.name,
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        home: user.dir.display().to_string(),
        shell: user.shell.display().to_string(),
    })
}

/// `argv` run as `user`: the `setpriv` prefix (nothing when unyo already is that user).
pub fn wrap(user: &RunAs, argv: Vec<String>) -> Vec<String> {
    if Uid::effective().as_raw() == user.uid {
        return argv;
    }
    let mut out = vec![
        SETPRIV.to_owned(),
        format!("--reuid={}", user.uid),
        format!("--regid={}", user.gid),
        "--init-groups".to_owned(),
        "--".to_owned(),
    ];
    out.extend(argv);
    out
}

/// The variables a login of `user` would have; the step's own come after them.
pub fn env(user: &RunAs) -> Vec<(String, String)> {
    vec![
        ("HOME".to_owned(), user.home.clone()),
        ("USER".to_owned(), user.name.clone()),
        ("LOGNAME".to_owned(), user.name.clone()),
        ("SHELL".to_owned(), user.shell.clone()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_user_is_named() {
        let e = check("unyo-no-such-user").expect_err("unknown");
        assert_eq!(
            e,
            "no user `unyo-no-such-user` on this machine (see /etc/passwd)"
        );
    }

    #[test]
    fn the_argv_is_prefixed_for_another_user() {
        let user = RunAs {
            name: "taxbatch".into(),
            uid: Uid::effective().as_raw() + 4242,
            gid: 4242,
            home: "/home/taxbatch".into(),
            shell: "/bin/sh".into(),
        };
        let argv = wrap(&user, vec!["id".into(), "-u".into()]);
        assert_eq!(argv[0], "setpriv");
        assert!(argv.contains(&"--init-groups".to_owned()));
        assert_eq!(argv[argv.len() - 2..], ["id".to_owned(), "-u".to_owned()]);
        assert_eq!(
            env(&user)[0],
            ("HOME".to_owned(), "/home/taxbatch".to_owned())
        );
    }
}
