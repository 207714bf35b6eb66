//! `unyo act ACTION`: the built-in actions jobs call as steps (`argv: ["{{unyo}}", act, ...]`).
//! They take paths, not settings: a step passes what it works on. `param-set` also records
//! the change in the database of the settings (`--root`, or `UNYO_ROOT` in a step).

/// `println!` through `super::out`: a closed pipe ends the command quietly.
macro_rules! outln {
    ($($t:tt)*) => {
        super::out(&format!("{}\n", format!($($t)*)))
    };
}

use std::path::{Path, PathBuf};

use crate::act::params::Node;
use crate::act::{ActError, backup, maintenance, params, restore};
use crate::error::Error;
use crate::model::Settings;
use crate::store::NewParamChange;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Back up a SQLite database and a folder into DEST/<YYYYMMDD-HHMMSS>/, verify, rotate.
    Backup {
        /// The SQLite database (copied online, consistently).
        #[arg(long, value_name = "PATH")]
        db: PathBuf,
        /// The folder archived as share.tar.gz.
        #[arg(long, value_name = "PATH")]
        dir: PathBuf,
        /// Where backup folders are kept.
        #[arg(long, value_name = "DIR")]
        dest: PathBuf,
        /// How many of the newest backups to keep.
        #[arg(long, value_name = "N", default_value_t = 7)]
        keep_daily: usize,
        /// Keep the newest backup of each of this many months, this one included.
        #[arg(long, value_name = "M", default_value_t = 12)]
        keep_monthly: usize,
    },
    /// Put a verified backup back: the database and the folder.
    Restore {
        /// The backup folder (DEST/<YYYYMMDD-HHMMSS>).
        #[arg(long, value_name = "DIR")]
        backup: PathBuf,
        #[arg(long, value_name = "PATH")]
        db: PathBuf,
        #[arg(long, value_name = "PATH")]
        dir: PathBuf,
    },
    /// Set the `maintenance:` flag of the online system's parameter file.
    Maintenance {
        #[arg(value_parser = ["on", "off"])]
        state: String,
        #[arg(long, value_name = "FILE")]
        params: PathBuf,
    },
    /// Set one value of a YAML or JSON parameter file by key path, and record the change
    /// (`unyo params history`, `unyo params rollback`).
    ParamSet {
        /// The parameter file (`.yaml`, `.yml` or `.json`).
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
        /// Key path, names joined by dots: `counters.max_sessions`. Only its last part is
        /// created when missing.
        #[arg(long, value_name = "KEY")]
        key: String,
        /// The value, read as a YAML scalar: `10` a number, `true` a bool, else a string.
        #[arg(long, value_name = "V", allow_hyphen_values = true)]
        value: String,
        /// Why, for the record.
        #[arg(long, value_name = "TEXT", default_value = "")]
        reason: String,
    },
    /// HR transfers: compare a transfer list with the staff directory and the department
    /// folders' ACLs, and show the diff (`--dry-run`), apply it writing its inverse first
    /// (`--apply`), check that it is in effect (`--verify`), or undo an apply (`--undo`).
    /// Every grant and revoke is recorded (`unyo permissions history`).
    #[command(group(
        clap::ArgGroup::new("mode")
            .required(true)
            .args(["dry_run", "apply", "verify", "undo"])
    ))]
    Permissions(super::permissions::ActArgs),
}

pub async fn run(cmd: Command, root: &Path) -> Result<(), Error> {
    match cmd {
        Command::Permissions(args) => super::permissions::act(root, args).await?,
        Command::ParamSet {
            file,
            key,
            value,
            reason,
        } => param_set(root, &file, &key, &value, &reason).await?,
        Command::Backup {
            db,
            dir,
            dest,
            keep_daily,
            keep_monthly,
        } => {
            let b = backup::Backup {
                db,
                dir,
                dest,
                keep_daily,
                keep_monthly,
            };
            let report = backup::run(&b, chrono::Local::now().naive_local()).map_err(failed)?;
            outln!(
                "backup {} verified: {} and {} ({} files)",
                report.folder.display(),
                backup::DB_FILE,
                backup::ARCHIVE,
                report.files
            );
            for d in report.deleted {
                outln!("deleted {}", d.display());
            }
        }
        Command::Restore { backup, db, dir } => {
            restore::run(&backup, &db, &dir).map_err(failed)?;
            outln!(
                "restored {} to {} and {}",
                backup.display(),
                db.display(),
                dir.display()
            );
        }
        Command::Maintenance { state, params } => {
            let on = state == "on";
            let before = maintenance::set(&params, on).map_err(failed)?;
            outln!("{}: maintenance {before} -> {on}", params.display());
        }
    }
    Ok(())
}

async fn param_set(
    root: &Path,
    file: &Path,
    key: &str,
    value: &str,
    reason: &str,
) -> Result<(), Error> {
    let settings = Settings::load(root)?;
    let store = super::open_store(&settings).await?;
    let file = std::path::absolute(file).unwrap_or_else(|_| file.to_owned());
    let args = serde_json::json!({
        "file": file.display().to_string(),
        "key": key,
        "value": value,
        "reason": reason,
    });
    let target = format!("param {key}");
    let node = Node::scalar(value);
    let before = match params::set(&file, key, Some(node.clone())) {
        Ok(b) => b,
        Err(e) => {
            super::audit::record(&*store, "param.set", target, args, Err(e.to_string())).await?;
            return Err(failed(e));
        }
    };
    let change = NewParamChange {
        at: chrono::Utc::now(),
        file: file.display().to_string(),
        key: key.to_owned(),
        before: before.as_ref().map(Node::to_json),
        after: Some(node.to_json()),
        reason: reason.to_owned(),
        run_id: std::env::var("UNYO_RUN_ID")
            .ok()
            .and_then(|v| v.parse().ok()),
        user: crate::engine::os_user(),
    };
    let id = store.record_param_change(&change).await?;
    let shown = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .map_or("(absent)".to_owned(), ToString::to_string)
    };
    let detail = format!(
        "change {id}: {} -> {}",
        shown(&change.before),
        shown(&change.after)
    );
    super::audit::record(&*store, "param.set", target, args, Ok(detail.clone())).await?;
    outln!("{}: {key}: {detail}", file.display());
    Ok(())
}

/// A failed action is exit 1 with its message; an I/O or database problem exit 4.
pub(super) fn failed(e: ActError) -> Error {
    match e {
        ActError::Failed(m) => {
            eprintln!("error: {m}");
            Error::Failed(m)
        }
        other => Error::Io {
            action: "unyo act".to_owned(),
            source: std::io::Error::other(other.to_string()),
        },
    }
}
