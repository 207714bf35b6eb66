//! `unyo demo init`: creates the demo environment (an invented city) under the data directory;
//! and the same, when it is missing, before `unyo daemon` starts with `demo: true`.

use crate::error::Error;
use crate::model::Settings;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create `<data_dir>/city/`: business database, shared folders, staff directory and the
    /// online system's parameter file (refused when it exists, unless `--force`).
    ///
    /// An invented city from a fixed seed, the same on every machine; the people in it do not
    /// exist. `--force` creates it anew: what was in it is lost.
    ///
    /// Guide: docs/guide/demo-city.md.
    Init {
        /// Replace an existing demo environment.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(settings: &Settings, cmd: Command) -> Result<(), Error> {
    match cmd {
        Command::Init { force } => {
            // An existing demo is a refusal (exit 3); a failure to write it is exit 4.
            let created = crate::demo::init(&settings.data_dir, force).map_err(|e| match e {
                crate::demo::DemoError::Exists(_) => Error::Request(e.to_string()),
                other => Error::Io {
                    action: "unyo demo init".to_owned(),
                    source: std::io::Error::other(other.to_string()),
                },
            })?;
            let mut text = format!(
                "created the demo environment in {}:\n",
                crate::demo::city_dir(&settings.data_dir).display()
            );
            for p in &created.paths {
                text.push_str(&format!("  {}\n", p.display()));
            }
            match &created.acl_skipped {
                None => text.push_str(
                    "each department folder grants its staff access by ACL (u:<uid>:rwx)\n",
                ),
                Some(why) => text.push_str(&format!(
                    "the department folders have no ACLs for their staff: {why}\n"
                )),
            }
            super::out(&text);
            Ok(())
        }
    }
}

/// With `demo: true` (the shipped `unyo.yaml`), the daemon's first start creates the demo
/// environment the shipped jobs work on when it is missing (`unyo demo init` does the same on
/// demand). A failure is logged: the daemon runs on.
pub async fn ensure_environment(settings: &Settings) {
    let data_dir = settings.data_dir.clone();
    match tokio::task::spawn_blocking(move || crate::demo::ensure(&data_dir)).await {
        Ok(Ok(true)) => tracing::info!(
            "created the demo environment in {}",
            crate::demo::city_dir(&settings.data_dir).display()
        ),
        Ok(Ok(false)) => {}
        Ok(Err(e)) => tracing::warn!("cannot create the demo environment: {e}"),
        Err(e) => tracing::warn!("cannot create the demo environment: {e}"),
    }
}
