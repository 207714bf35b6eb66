//! `unyo act ACTION`: the built-in actions jobs call as steps (`argv: ["{{unyo}}", act, ...]`).
//! They take paths, not settings: a step passes what it works on.

use std::path::PathBuf;

use crate::act::{ActError, backup, maintenance, restore};
use crate::error::Error;

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
}

pub fn run(cmd: Command) -> Result<(), Error> {
    match cmd {
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
            println!(
                "backup {} verified: {} and {} ({} files)",
                report.folder.display(),
                backup::DB_FILE,
                backup::ARCHIVE,
                report.files
            );
            for d in report.deleted {
                println!("deleted {}", d.display());
            }
        }
        Command::Restore { backup, db, dir } => {
            restore::run(&backup, &db, &dir).map_err(failed)?;
            println!(
                "restored {} to {} and {}",
                backup.display(),
                db.display(),
                dir.display()
            );
        }
        Command::Maintenance { state, params } => {
            let on = state == "on";
            let before = maintenance::set(&params, on).map_err(failed)?;
            println!("{}: maintenance {before} -> {on}", params.display());
        }
    }
    Ok(())
}

/// A failed action is exit 1 with its message; an I/O or database problem exit 4.
fn failed(e: ActError) -> Error {
    match e {
        ActError::Failed(m) => {
            eprintln!("error: {m}");
            Error::Failed(m)
        }
        other => Error::Io {
            action: "action failed".to_owned(),
            source: std::io::Error::other(other.to_string()),
        },
    }
}
