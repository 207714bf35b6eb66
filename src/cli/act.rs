//! `unyo act ACTION`: the built-in actions jobs call as steps (`argv: ["{{unyo}}", act, ...]`).
//! They take paths, not settings: a step passes what it works on. `param-set` and `extract`
//! also record what they did in the database of the settings (`--root`, or `UNYO_ROOT` in a
//! step).

/// `println!` through `super::out`: a closed pipe ends the command quietly.
macro_rules! outln {
    ($($t:tt)*) => {
        super::out(&format!("{}\n", format!($($t)*)))
    };
}

use std::path::{Path, PathBuf};

use crate::act::params::Node;
use crate::act::{ActError, archive, backup, extract, maintenance, params, restore};
use crate::error::Error;
use crate::model::Settings;
use crate::store::{NewExtract, NewParamChange};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Back up a SQLite database and a folder into DEST/<YYYYMMDD-HHMMSS>/ (the time in the
    /// `timezone` of the settings under --root, which a step gets as UNYO_ROOT), verify,
    /// rotate.
    ///
    /// The backup holds `business.db` (an online copy), `share.tar.gz` and `MANIFEST.sha256`, and
    /// gets `VERIFIED` only once the copy's integrity and every archived file's hash are checked; a
    /// failed verification exits 1. Rotation keeps the newest N verified backups and the newest of
    /// each of the last M months.
    ///
    /// Reference: docs/reference/actions.md.
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
    /// Set one value of a YAML, JSON, TOML or INI parameter file by key path, and record the
    /// change (`unyo params history`, `unyo params rollback`).
    ///
    /// A new value keeps the type of the value it replaces, or nothing is written (exit 1). YAML
    /// and TOML keep their comments where they can, INI changes only the key's line. A key named
    /// like a secret has its values recorded as `***`.
    ///
    /// Guide: docs/guide/parameter-changes.md.
    ParamSet {
        /// The parameter file (`.yaml`, `.yml`, `.json`, `.toml` or `.ini`).
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
        /// Key path, names joined by dots: `counters.max_sessions`. Only its last part is
        /// created when missing.
        #[arg(long, value_name = "KEY")]
        key: String,
        /// The value, of the type of the value it replaces (an int stays an int, a bool a bool,
        /// a string a string; else nothing is written); a new key's is read as a YAML scalar:
        /// `10` a number, `true` a bool, else a string (in an INI file: the text as given).
        #[arg(
            long,
            value_name = "V",
            allow_hyphen_values = true,
            required_unless_present = "value_env"
        )]
        value: Option<String>,
        /// Take the value from this environment variable (how a step passes a secret
        /// parameter: a command line is readable by every process of the machine).
        #[arg(long, value_name = "NAME", conflicts_with = "value")]
        value_env: Option<String>,
        /// Why, for the record.
        #[arg(long, value_name = "TEXT", default_value = "")]
        reason: String,
        /// Change the value only if it is this now (read like `--value`); otherwise refuse,
        /// writing nothing.
        #[arg(long, value_name = "V", allow_hyphen_values = true)]
        expect: Option<String>,
    },
    /// Check values of a parameter file: exit 5 (refused), naming each one, when any
    /// differs; exit 4 when the file cannot be read or parsed; exit 1 for a bad KEY=VALUE.
    ParamCheck {
        /// The parameter file (`.yaml`, `.yml`, `.json`, `.toml` or `.ini`).
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
        /// A key path and the value it must have (read like `param-set --value`).
        #[arg(value_name = "KEY=VALUE", required = true)]
        expect: Vec<String>,
    },
    /// Archive a closing fiscal year: DEST/FY<YEAR>/ with a copy of the database, each
    /// table's rows of the year as CSV and a SHA-256 manifest, verified.
    ArchiveYear {
        /// The SQLite database (copied online, consistently).
        #[arg(long, value_name = "PATH")]
        db: PathBuf,
        /// Where the years' archives are kept.
        #[arg(long, value_name = "DIR")]
        dest: PathBuf,
        /// The fiscal year to archive.
        #[arg(long, value_name = "YYYY", value_parser = clap::value_parser!(i32).range(1900..=9999))]
        year: i32,
        /// A table with a `fiscal_year` column whose rows of the year go to TABLE.csv
        /// (repeatable).
        #[arg(long = "table", value_name = "TABLE")]
        tables: Vec<String>,
    },
    /// Verify a year's archive (DEST/FY<YEAR>): hashes, the database copy, the CSV rows.
    VerifyArchive {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
    /// Run one read-only SQL statement against a SQLite database and write the result as
    /// CSV (UTF-8 with BOM, or Shift_JIS), mode 0640; recorded (`unyo extracts`).
    ///
    /// The file must hold exactly one statement that returns rows and cannot write. `--param`
    /// values are bound as values, never as SQL. Text a spreadsheet would run as a formula gets a
    /// leading `'`. A failed extract leaves no file, whole or partial.
    ///
    /// Guide: docs/guide/extracts.md.
    Extract(ExtractArgs),
    /// HR transfers: compare a transfer list with the staff directory and the department
    /// folders' ACLs, and show the diff (`--dry-run`), apply it writing its inverse first
    /// (`--apply`), check that it is in effect (`--verify`), or undo an apply (`--undo`).
    /// Every grant and revoke is recorded (`unyo permissions history`).
    ///
    /// An apply or undo that would change anything needs a second operator's approval: it runs only
    /// as a step of a run whose approval step another operator approved (the shipped jobs
    /// `hr-transfer` and `hr-transfer-undo`).
    ///
    /// Guide: docs/guide/hr-transfers.md.
    #[command(group(
        clap::ArgGroup::new("mode")
            .required(true)
            .args(["dry_run", "apply", "verify", "undo"])
            .multiple(true)
    ))]
    Permissions(super::permissions::ActArgs),
}

#[derive(Debug, clap::Args)]
pub struct ExtractArgs {
    /// The SQLite database, opened read-only.
    #[arg(long, value_name = "PATH")]
    db: PathBuf,
    /// The file holding one SELECT statement, with named parameters (`:department`).
    #[arg(long, value_name = "FILE")]
    sql: PathBuf,
    /// The CSV file to write (its folder is created when missing).
    #[arg(long, value_name = "PATH")]
    out: PathBuf,
    /// A value for the statement's parameter `:NAME`, bound as a value (repeatable). Every
    /// parameter of the statement needs one, and every one given must be used.
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// The result's columns to write, in this order, comma-separated (default or empty: all).
    #[arg(long, value_name = "A,B,C")]
    columns: Option<String>,
    /// How the file is encoded.
    #[arg(long, default_value = "utf-8-bom", value_parser = ["utf-8-bom", "shift_jis"])]
    encoding: String,
    /// Give the file to this group (its members may read it); empty: keep the user's.
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
    /// Write text that starts like a spreadsheet formula (`=`, `+`, `-`, `@`) as it is;
    /// by default it gets a leading `'`, so that opening the file runs nothing.
    #[arg(long)]
    allow_formulas: bool,
}

pub async fn run(cmd: Command, root: &Path) -> Result<(), Error> {
    match cmd {
        Command::Extract(args) => extract(root, args).await?,
        Command::Permissions(args) => super::permissions::act(root, args).await?,
        Command::ParamSet {
            file,
            key,
            value,
            value_env,
            reason,
            expect,
        } => {
            let value = match (value, value_env) {
                (Some(v), _) => v,
                (None, Some(var)) => std::env::var(&var).map_err(|_| {
                    failed(ActError::Failed(format!(
                        "--value-env: `{var}` is not set in the environment"
                    )))
                })?,
                (None, None) => String::new(),
            };
            param_set(root, &file, &key, &value, &reason, expect.as_deref()).await?;
        }
        Command::ParamCheck { file, expect } => param_check(&file, &expect)?,
        Command::ArchiveYear {
            db,
            dest,
            year,
            tables,
        } => {
            let report = archive::run(&db, &dest, year, &tables).map_err(failed)?;
            print_archive("archived", &report);
        }
        Command::VerifyArchive { dir } => {
            let report = archive::verify(&dir).map_err(failed)?;
            print_archive("verified", &report);
        }
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
            // Named in the configured zone, as every time unyo shows: a step gets UNYO_ROOT.
            let tz = crate::model::Settings::load(root)?.timezone;
            let now = chrono::Utc::now().with_timezone(&tz);
            let report = backup::run(&b, now).map_err(failed)?;
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

fn print_archive(what: &str, r: &archive::Report) {
    let tables: Vec<String> = r
        .tables
        .iter()
        .map(|(t, n)| format!("{t}.csv ({n} rows)"))
        .collect();
    let mut files = vec![backup::DB_FILE.to_owned()];
    files.extend(tables);
    outln!(
        "FY{} {what}: {}: {}",
        r.year,
        r.folder.display(),
        files.join(", ")
    );
}

/// Each `KEY=VALUE` holds in `file`, or a refusal (exit 5) naming every one that does not.
/// A bad argument is exit 1, a file that cannot be read or parsed exit 4: a step tells "the
/// value is not what it must be" (declared in its `refuse_exit`) apart from a real failure.
fn param_check(file: &Path, expect: &[String]) -> Result<(), Error> {
    let mut wrong = Vec::new();
    for e in expect {
        let Some((key, want)) = e.split_once('=') else {
            return Err(failed(ActError::Failed(format!(
                "`{e}`: write KEY=VALUE (`fiscal_year=2027`)"
            ))));
        };
        let want = params::parse_value(file, want).map_err(read_failed)?;
        let now = params::value(file, key).map_err(read_failed)?;
        let shown = |n: &Option<Node>| {
            n.as_ref()
                .map_or("(absent)".to_owned(), |n| n.to_json().to_string())
        };
        if now.as_ref() == Some(&want) {
            let now = if secret_key(key) {
                MASK.to_owned()
            } else {
                shown(&now)
            };
            outln!("{}: {key} is {now}", file.display());
        } else if secret_key(key) {
            wrong.push(format!("`{key}` is not the value expected"));
        } else {
            wrong.push(format!(
                "`{key}` is {}, not {}",
                shown(&now),
                want.to_json()
            ));
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(Error::Refused(format!(
            "{}: {}",
            file.display(),
            wrong.join("; ")
        )))
    }
}

/// A parameter file that cannot be read or parsed: exit 4, whatever kind of error said so.
fn read_failed(e: ActError) -> Error {
    Error::Io {
        action: "unyo act param-check".to_owned(),
        source: std::io::Error::other(e.to_string()),
    }
}

async fn param_set(
    root: &Path,
    file: &Path,
    key: &str,
    value: &str,
    reason: &str,
    expect: Option<&str>,
) -> Result<(), Error> {
    let settings = Settings::load(root)?;
    let store = super::open_store(&settings).await?;
    let file = std::path::absolute(file).unwrap_or_else(|_| file.to_owned());
    // A key named like a secret (`db_password`): its values are recorded and shown masked.
    let secret = secret_key(key);
    let mask = |v: &str| {
        if secret {
            MASK.to_owned()
        } else {
            v.to_owned()
        }
    };
    let args = serde_json::json!({
        "file": file.display().to_string(),
        "key": key,
        "value": mask(value),
        "reason": reason,
        "expect": expect.map(mask),
    });
    let target = format!("param {key}");
    let expected = |now: Option<Node>| -> Result<(), ActError> {
        let Some(expect) = expect else {
            return Ok(());
        };
        let want = params::parse_value(&file, expect)?;
        if now.as_ref() == Some(&want) {
            return Ok(());
        }
        if secret {
            return Err(ActError::Failed(format!(
                "{}: `{key}` is not the value expected: nothing written",
                file.display()
            )));
        }
        Err(ActError::Failed(format!(
            "{}: `{key}` is {}, not {} as expected: nothing written",
            file.display(),
            now.map_or("(absent)".to_owned(), |n| n.to_json().to_string()),
            want.to_json()
        )))
    };
    // The new value keeps the type of the one it replaces; the check, the comparison with
    // `--expect` and the write are one step for other editors of the folder.
    let decided = params::set_with(&file, key, |now| {
        expected(now.clone())?;
        params::typed(&file, key, now.as_ref(), value)
            .map(Some)
            .map_err(|e| match e {
                ActError::Failed(_) if secret => ActError::Failed(format!(
                    "{}: `{key}` keeps the type of its value; the new one is of another: \
                     nothing written",
                    file.display()
                )),
                other => other,
            })
    });
    let (before, after) = match decided {
        Ok(v) => v,
        Err(e) => return Err(refused(&*store, "param.set", target, args, e).await),
    };
    let change = NewParamChange {
        at: chrono::Utc::now(),
        file: file.display().to_string(),
        key: key.to_owned(),
        before: before.as_ref().map(|n| masked(secret, n)),
        after: after.as_ref().map(|n| masked(secret, n)),
        reason: reason.to_owned(),
        run_id: std::env::var("UNYO_RUN_ID")
            .ok()
            .and_then(|v| v.parse().ok()),
        user: crate::domain::host::os_user(),
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

/// What a secret's value is recorded and shown as.
const MASK: &str = crate::engine::params::MASK;

/// Whether a key path's last part is named like a secret (`db.password`, `api_token`).
pub(super) fn secret_key(key: &str) -> bool {
    crate::model::Param::secret_by_name(key.rsplit('.').next().unwrap_or(key))
}

/// A value as recorded: JSON, or [`MASK`] for a secret key's.
fn masked(secret: bool, n: &Node) -> serde_json::Value {
    if secret {
        serde_json::Value::from(MASK)
    } else {
        n.to_json()
    }
}

async fn extract(root: &Path, args: ExtractArgs) -> Result<(), Error> {
    let settings = Settings::load(root)?;
    let store = super::open_store(&settings).await?;
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
    let (db, sql, out) = (abs(&args.db), abs(&args.sql), abs(&args.out));
    let mut audit_args = serde_json::json!({
        "db": db.display().to_string(),
        "sql": sql.display().to_string(),
        "out": out.display().to_string(),
        "params": args.params,
        "columns": args.columns,
        "encoding": args.encoding,
        "group": args.group,
        "allow_formulas": args.allow_formulas,
    });
    let target = format!("extract {}", out.display());
    let parsed = prepare(&args).map(|(params, columns, encoding)| extract::Extract {
        db: db.clone(),
        sql: sql.clone(),
        out: out.clone(),
        params,
        columns,
        encoding,
        group: args.group.clone().filter(|g| !g.is_empty()),
        guard_formulas: !args.allow_formulas,
    });
    let report = match parsed.and_then(|x| extract::run(&x).map(|r| (x, r))) {
        Ok(r) => r,
        Err(e) => return Err(refused(&*store, "extract", target, audit_args, e).await),
    };
    let (x, report) = report;
    let params: serde_json::Map<String, serde_json::Value> = x
        .params
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
        .collect();
    audit_args["params"] = serde_json::Value::Object(params.clone());
    let record = NewExtract {
        at: chrono::Utc::now(),
        run_id: std::env::var("UNYO_RUN_ID")
            .ok()
            .and_then(|v| v.parse().ok()),
        job: std::env::var("UNYO_JOB").ok().filter(|j| !j.is_empty()),
        db: db.display().to_string(),
        sql_file: sql.display().to_string(),
        out_file: out.display().to_string(),
        encoding: x.encoding.token().to_owned(),
        rows: i64::try_from(report.rows).unwrap_or(i64::MAX),
        sha256: report.sha256.clone(),
        columns: serde_json::json!(report.columns),
        params: serde_json::Value::Object(params),
        user: crate::domain::host::os_user(),
        group: x.group.clone(),
    };
    let id = store.record_extract(&record).await?;
    let line = format!(
        "{} rows, sha256 {}, {}",
        report.rows,
        report.sha256,
        report.out.display()
    );
    super::audit::record(
        &*store,
        "extract",
        target,
        audit_args,
        Ok(format!("extract {id}: {line}")),
    )
    .await?;
    outln!("{line}");
    Ok(())
}

/// The command line's parameters, columns and encoding, checked.
type Prepared = (
    Vec<(String, String)>,
    Option<Vec<String>>,
    extract::Encoding,
);

fn prepare(args: &ExtractArgs) -> Result<Prepared, ActError> {
    let params = args
        .params
        .iter()
        .map(|p| crate::engine::params::parse_assignment(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| ActError::Failed(format!("--param: {m}")))?;
    let columns = match args.columns.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(list) => {
            let items: Vec<String> = list.split(',').map(|c| c.trim().to_owned()).collect();
            if items.iter().any(String::is_empty) {
                return Err(ActError::Failed(format!(
                    "--columns `{list}` has an empty item"
                )));
            }
            Some(items)
        }
    };
    let encoding = args.encoding.parse().map_err(ActError::Failed)?;
    Ok((params, columns, encoding))
}

/// An operator action that failed: the refusal goes to the audit trail, then the failure is
/// returned as [`failed`] makes it.
pub(super) async fn refused(
    store: &dyn crate::store::Store,
    action: &str,
    target: String,
    args: serde_json::Value,
    e: ActError,
) -> Error {
    match super::audit::record(store, action, target, args, Err(e.to_string())).await {
        Ok(()) => failed(e),
        Err(audit) => audit,
    }
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
