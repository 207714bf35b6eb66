//! `unyo import SOURCE`: turn definitions written in another format into job and schedule
//! files, print what was written and what was not carried over, then validate the result.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::import::{self, Import, WriteError, crontab};
use crate::model::{Catalog, Settings};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub source: Source,
}

#[derive(Debug, clap::Subcommand)]
pub enum Source {
    /// Turn a crontab into one job file per entry and one schedule file.
    ///
    /// Each entry becomes `jobs/NAME.yaml`, named from the comment line right above it, else from
    /// the program the command runs. The command prints what it wrote, what it could not carry over
    /// (`@reboot`, `MAILTO=`) and the credentials it copied (named, never shown), then validates
    /// the result. Existing files are never overwritten without `--force`; `--system` reads a
    /// crontab with a user column.
    ///
    /// Guide: docs/guide/import-crontab.md.
    Crontab(CrontabArgs),
}

#[derive(Debug, clap::Args)]
pub struct CrontabArgs {
    /// The crontab (`crontab -l` format); `-` reads standard input.
    pub file: PathBuf,
    /// Folder to write `jobs/` and `schedules/` into (default: the root).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The file has a user column after the time fields (`/etc/crontab` format).
    #[arg(long)]
    pub system: bool,
    /// Overwrite files that exist.
    #[arg(long)]
    pub force: bool,
    /// Print the files that would be written; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(settings: &Settings, args: Args) -> Result<(), Error> {
    match args.source {
        Source::Crontab(a) => run_crontab(settings, a),
    }
}

fn run_crontab(settings: &Settings, args: CrontabArgs) -> Result<(), Error> {
    let stdin = args.file == Path::new("-");
    let source = if stdin {
        "stdin".to_owned()
    } else {
        args.file.display().to_string()
    };
    let text = read_source(&args.file, stdin)
        .map_err(|e| Error::Request(format!("cannot read crontab `{source}`: {e}")))?;
    if !args.system {
        let path = (!stdin).then_some(args.file.as_path());
        if let Some(why) = crontab::system_format_hint(&text, path, &crontab::system_users()) {
            return Err(Error::Request(format!(
                "`{source}` looks like a system crontab with a user column: {why}; import it with --system"
            )));
        }
    }
    let (out, out_settings) = match &args.out {
        None => (settings.root.clone(), settings.clone()),
        Some(dir) => (dir.clone(), Settings::load(dir)?),
    };
    let stem = if stdin {
        String::new()
    } else {
        args.file
            .file_stem()
            .map(|s| import::slug(&s.to_string_lossy(), 40))
            .unwrap_or_default()
    };
    let stem = if stem.is_empty() {
        "imported".to_owned()
    } else {
        stem
    };
    let timezone = out_settings.timezone.name();
    let result = crontab::import(
        &text,
        &crontab::Options {
            source: &source,
            stem: &stem,
            system: args.system,
            default_timezone: timezone,
        },
    );
    if result.entries == 0 {
        super::out(&report(&source, &result));
        return Err(Error::Request(format!(
            "`{source}` has no entries to import"
        )));
    }
    let written = if args.dry_run {
        let taken = import::existing(&out, &result.files);
        if !args.force && !taken.is_empty() {
            return Err(Error::Request(WriteError::Exists(taken).to_string()));
        }
        let mut text = String::new();
        for f in &result.files {
            text.push_str(&format!(
                "would write {}:\n{}\n",
                out.join(&f.path).display(),
                f.text
            ));
        }
        text
    } else {
        import::write(&out, &result.files, args.force).map_err(|e| match e {
            WriteError::Exists(_) => Error::Request(e.to_string()),
            WriteError::Io { path, source } => Error::Io {
                action: format!("cannot write `{}`", path.display()),
                source,
            },
        })?;
        result
            .files
            .iter()
            .map(|f| format!("wrote {}\n", out.join(&f.path).display()))
            .collect()
    };
    super::out(&written);
    super::out(&report(&source, &result));
    if !args.dry_run {
        match Catalog::load(&out_settings) {
            Ok(catalog) => super::out(&format!("validate: {}: ok\n", catalog.summary())),
            Err(d) => {
                super::out("validate: the folder does not validate; the problems follow\n");
                return Err(d.into());
            }
        }
    }
    Ok(())
}

fn read_source(file: &Path, stdin: bool) -> std::io::Result<Vec<u8>> {
    if stdin {
        let mut buf = Vec::new();
        std::io::stdin().lock().read_to_end(&mut buf)?;
        Ok(buf)
    } else {
        std::fs::read(file)
    }
}

/// `carried over: N entries` and one line per note, `SOURCE:LINE: text`.
fn report(source: &str, result: &Import) -> String {
    let mut text = format!(
        "carried over: {} entr{}\n",
        result.entries,
        if result.entries == 1 { "y" } else { "ies" }
    );
    for n in &result.notes {
        match n.line {
            Some(line) => text.push_str(&format!("{source}:{line}: {}\n", n.text)),
            None => text.push_str(&format!("{source}: {}\n", n.text)),
        }
    }
    text
}
