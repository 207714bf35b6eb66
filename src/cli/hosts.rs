//! `unyo hosts`: the servers of `hosts:` in unyo.yaml, and `unyo hosts check`, which
//! connects to each the way a step does (same options, pinned host key, the remote wrapper)
//! and reports what an operator needs to fix. It holds no connection logic (`exec::remote`).

use std::time::Duration;

use super::table::Table;
use crate::error::Error;
use crate::exec::{self, Program, Target};
use crate::model::Settings;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Connect to each host (or the ones named) as a step would and report: `ok` with the
    /// remote machine's name, or why not (cannot connect, authentication failed, host key
    /// changed, `setsid` missing on the host).
    ///
    /// The check runs `uname -n` on the host through the same `ssh` options a step gets
    /// (`BatchMode=yes`, `StrictHostKeyChecking=yes` with unyo's known-hosts file written from
    /// `host_key`). Exit 0 when every host answered, 1 when one did not.
    ///
    /// Guide: docs/guide/remote-steps.md.
    Check(CheckArgs),
    /// List the hosts: name, login and port, identity file.
    List,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Hosts to check (default: all).
    pub names: Vec<String>,
}

pub async fn run(settings: &Settings, cmd: Command) -> Result<(), Error> {
    match cmd {
        Command::List => {
            if settings.hosts.is_empty() {
                super::out("no hosts in unyo.yaml\n");
                return Ok(());
            }
            let mut t = Table::new(&["HOST", "LOGIN", "IDENTITY"]);
            for h in settings.hosts.values() {
                t.row(vec![
                    h.name.clone(),
                    h.describe(),
                    h.identity
                        .as_ref()
                        .map_or("(ssh's default)".to_owned(), |p| p.display().to_string()),
                ]);
            }
            super::out(&t.render());
            Ok(())
        }
        Command::Check(args) => check(settings, args).await,
    }
}

async fn check(settings: &Settings, args: CheckArgs) -> Result<(), Error> {
    for name in &args.names {
        if !settings.hosts.contains_key(name) {
            return Err(Error::Request(format!(
                "unknown host `{name}`{}",
                crate::spec::diag::hint(name, settings.hosts.keys().map(String::as_str))
            )));
        }
    }
    let hosts: Vec<_> = settings
        .hosts
        .values()
        .filter(|h| args.names.is_empty() || args.names.contains(&h.name))
        .collect();
    if hosts.is_empty() {
        super::out("no hosts in unyo.yaml\n");
        return Ok(());
    }
    let mut t = Table::new(&["HOST", "LOGIN", "RESULT"]);
    let mut failed = 0;
    for h in &hosts {
        let result = check_one(settings, h).await;
        if !result.starts_with("ok") {
            failed += 1;
        }
        t.row(vec![h.name.clone(), h.describe(), result]);
    }
    super::out(&t.render());
    if failed > 0 {
        let summary = format!("{failed} of {} hosts did not answer", hosts.len());
        eprintln!("unyo: {summary}");
        return Err(Error::Failed(summary));
    }
    Ok(())
}

/// `ok (NAME, 0.21 s)` or what went wrong, in one line.
async fn check_one(settings: &Settings, host: &crate::model::Host) -> String {
    let cmd = exec::Command {
        program: Program::Shell(
            "command -v setsid >/dev/null || { echo '`setsid` is missing on the host \
             (util-linux)' >&2; exit 3; }; uname -n"
                .to_owned(),
        ),
        base: std::sync::Arc::new(exec::Environment::new(&settings.secret_env(), &[])),
        env: Vec::new(),
        workdir: settings.root.clone(),
        timeout: Some(exec::remote::CONNECT_TIMEOUT + Duration::from_secs(20)),
        kill_grace: Duration::from_secs(2),
        log_path: settings.data_dir.join("ssh").join("check.log"),
        log_limit: 0,
        tail_limit: 4096,
        target: Target::Ssh(host.target(&settings.data_dir)),
        user: None,
        progress: exec::Progress::default(),
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let started = std::time::Instant::now();
    match exec::execute(&cmd, rx, |_| {}).await {
        Err(e) => format!("failed: {e}"),
        Ok(out) => {
            if let Some(c) = out.connection {
                return format!("failed: {c}");
            }
            if out.timed_out {
                return "failed: no answer in time".to_owned();
            }
            if !out.success() {
                let last = out
                    .stderr_tail
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .to_owned();
                return format!("failed: {} {last}", exec::describe_exit(out.exit));
            }
            format!(
                "ok ({}, {:.2} s)",
                out.stdout_tail.trim(),
                started.elapsed().as_secs_f64()
            )
        }
    }
}
