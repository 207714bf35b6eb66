//! `unyo report monthly`: the month's job results, service levels, incidents, ad-hoc requests,
//! changes and next month's plan, computed from the database and the definitions
//! (`crate::report`), written to stdout or `--out`.

use std::path::PathBuf;

use crate::error::Error;
use crate::model::{Catalog, Settings};
use crate::report::render::{Format, Lang};
use crate::report::{self, Period};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The monthly job-result and SLA report (月次運用報告書).
    ///
    /// Of a month (default: the previous one in the configured time zone, each day from
    /// `day_start`): summary, service levels (each job's `sla:` and the `service:` of `unyo.yaml`),
    /// jobs, incidents, ad-hoc requests, changes, next month. A month that has not ended is marked
    /// preliminary (速報).
    ///
    /// `--freeze` stores the rendered bytes for `unyo report verify`, only for a period that has
    /// ended (exit 5 otherwise); `--supersede --reason` replaces a frozen report on purpose.
    /// `--format html` is one self-contained page with A4 print rules and two charts, to print to
    /// PDF with headless Chromium.
    ///
    /// Guide: docs/guide/reports.md.
    Monthly(MonthlyArgs),
    /// The yearly report (年次運用報告書) of a fiscal year: the same sections over its twelve
    /// months, the plan of the next fiscal year.
    ///
    /// Every count is the sum of its months'; availability is computed from the summed times, not
    /// averaged. The fiscal year starts in the month of `fiscal_year_start` (April).
    ///
    /// Guide: docs/guide/reports.md.
    Yearly(YearlyArgs),
    /// Say whether a file is a frozen report, unaltered and current (exit 0), or not (exit
    /// 1): not frozen, altered, or superseded (by which report, when, by whom and why).
    Verify {
        /// The report file, as handed to the client.
        file: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub struct MonthlyArgs {
    /// The month, `YYYY-MM` (default: the previous month in the configured time zone).
    #[arg(long, value_name = "YYYY-MM")]
    pub month: Option<String>,
    #[command(flatten)]
    pub form: Form,
}

#[derive(Debug, clap::Args)]
pub struct YearlyArgs {
    /// The fiscal year, by the calendar year it begins in (default: the last one that ended).
    #[arg(long, value_name = "YYYY", value_parser = clap::value_parser!(i32).range(1970..=9999))]
    pub fiscal_year: Option<i32>,
    #[command(flatten)]
    pub form: Form,
}

/// How a report is written, and where.
#[derive(Debug, clap::Args)]
pub struct Form {
    /// The report's language.
    #[arg(long, value_enum, default_value = "ja")]
    pub lang: Lang,
    /// The report's form.
    #[arg(long, value_enum, default_value = "md")]
    pub format: Format,
    /// Write the report to this file (default: standard output).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Store the rendered report, its data range and its SHA-256 in the database, for
    /// `unyo report verify`. Only a period that has ended is frozen (a report of one that
    /// has not is preliminary, 速報): refused, exit 5. A report frozen before is not frozen
    /// again: the same bytes say so, other bytes (the data changed since) are refused, unless
    /// `--supersede`. One frozen before its period ended (before this check existed) is
    /// superseded, recorded with that reason.
    #[arg(long)]
    pub freeze: bool,
    /// With `--freeze`: replace the frozen report of this period, language and form by this
    /// one, recorded and audited with who, when and `--reason`; the old one is kept, and
    /// `unyo report verify` of its file says it was superseded.
    #[arg(long, requires = "freeze", requires = "reason")]
    pub supersede: bool,
    /// Why the frozen report is superseded (required with `--supersede`).
    #[arg(long, value_name = "TEXT", requires = "supersede")]
    pub reason: Option<String>,
}

pub async fn run(settings: &Settings, cmd: Command) -> Result<(), Error> {
    match cmd {
        Command::Monthly(args) => monthly(settings, args).await,
        Command::Yearly(args) => yearly(settings, args).await,
        Command::Verify { file } => verify(settings, &file).await,
    }
}

async fn monthly(settings: &Settings, args: MonthlyArgs) -> Result<(), Error> {
    let (tz, day_start) = (settings.timezone, settings.day_start);
    let period = match &args.month {
        Some(m) => {
            Period::parse(m, tz, day_start).map_err(|e| Error::Request(format!("--month: {e}")))?
        }
        None => Period::previous_of(chrono::Utc::now(), tz, day_start)
            .ok_or_else(|| Error::Request("no previous month".to_owned()))?,
    };
    write(settings, &period, &args.form).await
}

async fn yearly(settings: &Settings, args: YearlyArgs) -> Result<(), Error> {
    let (tz, day_start, start) = (
        settings.timezone,
        settings.day_start,
        settings.fiscal_year_start,
    );
    let year = match args.fiscal_year {
        Some(y) => y,
        None => {
            let today = crate::calendar::business_date(chrono::Utc::now(), tz, day_start);
            crate::calendar::fiscal_year(today, start) - 1
        }
    };
    let period = Period::fiscal_year(year, start, tz, day_start)
        .ok_or_else(|| Error::Request(format!("--fiscal-year {year}: no such year")))?;
    write(settings, &period, &args.form).await
}

/// What `--freeze` calls the report: `report monthly 2026-11 (ja, md)`.
fn target(period: &Period, form: &Form) -> String {
    let kind = if period.is_year() {
        "yearly"
    } else {
        "monthly"
    };
    format!(
        "report {kind} {} ({}, {})",
        period.label(),
        token(&form.lang),
        token(&form.format)
    )
}

/// Computes, renders, freezes if asked, and writes the report of `period`.
async fn write(settings: &Settings, period: &Period, form: &Form) -> Result<(), Error> {
    let (tz, day_start) = (settings.timezone, settings.day_start);
    let now = chrono::Utc::now();
    if form.freeze && !period.ended(now) {
        // A report of a period still running is preliminary: frozen, it would stand
        // against the final one.
        let store = super::open_store(settings).await?;
        let ends = period.to.with_timezone(&tz).format("%Y-%m-%d %H:%M");
        let why = format!(
            "the period has not ended: it ends on {ends} ({}, operating days start at {}); \
             a report of it is preliminary (速報) and is not frozen: freeze it once it has \
             ended, or write it without --freeze",
            tz.name(),
            day_start.format("%H:%M")
        );
        let target = target(period, form);
        super::audit::record(
            &*store,
            "report.freeze",
            target.clone(),
            serde_json::json!({ "supersede": form.supersede, "reason": form.reason }),
            Err(why.clone()),
        )
        .await?;
        return Err(Error::Refused(format!("{target}: {why}")));
    }
    if form.supersede && form.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        return Err(Error::Request(
            "--supersede needs a `--reason` saying why the frozen report is replaced".to_owned(),
        ));
    }
    let catalog = Catalog::load(settings)?;
    // Only freezing writes; a report read from the records works on a full disk too.
    let store = if form.freeze {
        super::open_store(settings).await?
    } else {
        super::open_reader(settings).await?
    };
    let (mut report, facts) =
        report::compute_with_facts(&*store, period, &catalog, settings, now).await?;
    super::proposals::add(&*store, &mut report, period, &facts, &catalog, settings).await?;
    let templates = settings.report.templates.as_deref();
    let text = report::render::report(&report, form.lang, form.format, templates)
        .map_err(|e| Error::Request(e.to_string()))?;
    if form.freeze {
        freeze(&*store, settings, period, form, &text).await?;
    }
    match &form.out {
        Some(path) => {
            let io = |action: String| move |source| Error::Io { action, source };
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(io(format!("create {}", dir.display())))?;
            }
            std::fs::write(path, &text).map_err(io(format!("write {}", path.display())))?;
        }
        None => super::out(&text),
    }
    Ok(())
}

fn token<T: clap::ValueEnum>(v: &T) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_owned())
        .unwrap_or_default()
}

async fn freeze(
    store: &dyn crate::store::Store,
    settings: &Settings,
    period: &Period,
    form: &Form,
    text: &str,
) -> Result<(), Error> {
    use sha2::Digest as _;
    let sha256 = format!("{:x}", sha2::Sha256::digest(text.as_bytes()));
    let kind = if period.is_year() {
        "yearly"
    } else {
        "monthly"
    };
    let supersede = form
        .supersede
        .then(|| form.reason.clone().unwrap_or_default());
    let mut report = crate::store::NewFrozenReport {
        kind: kind.to_owned(),
        period: period.label(),
        lang: token(&form.lang),
        format: token(&form.format),
        data_from: period.from,
        data_to: period.to,
        sha256: sha256.clone(),
        body: text.as_bytes().to_vec(),
        frozen_at: chrono::Utc::now(),
        frozen_by: crate::domain::host::os_user(),
        supersede: supersede.clone(),
    };
    let target = target(period, form);
    let audit_args = serde_json::json!({ "sha256": sha256, "supersede": supersede });
    let local = |t| super::local_time(settings, t);
    let mut outcome = store.freeze_report(&report).await?;
    if let crate::store::Freeze::Differs(f) = &outcome
        && f.frozen_at < f.data_to
    {
        // Frozen before its period ended (before `--freeze` refused that): a preliminary
        // report that would otherwise stand against the final one for ever. The final one
        // supersedes it, recorded and audited with the reason; the old one is kept.
        report.supersede = Some(format!(
            "the frozen report {} was preliminary: frozen on {}, before its period ended on {}",
            f.id,
            local(f.frozen_at),
            local(f.data_to)
        ));
        outcome = store.freeze_report(&report).await?;
    }
    match outcome {
        crate::store::Freeze::Frozen(f) => {
            let said = format!("frozen as report {}, sha256 {}", f.id, f.sha256);
            eprintln!("{target}: {said}");
            super::audit::record(store, "report.freeze", target, audit_args, Ok(said)).await
        }
        crate::store::Freeze::Superseded { old, new } => {
            let said = format!(
                "frozen as report {}, sha256 {}, superseding report {} (frozen on {} by {}, \
                 sha256 {}, kept): {}",
                new.id,
                new.sha256,
                old.id,
                local(old.frozen_at),
                old.frozen_by,
                old.sha256,
                new.reason.as_deref().unwrap_or_default()
            );
            eprintln!("{target}: {said}");
            let args = serde_json::json!({
                "sha256": sha256,
                "supersedes": old.id,
                "reason": new.reason,
            });
            super::audit::record(store, "report.supersede", target, args, Ok(said)).await
        }
        crate::store::Freeze::Already(f) => {
            eprintln!(
                "{target}: frozen before as report {} on {} by {}: the same bytes{}",
                f.id,
                local(f.frozen_at),
                f.frozen_by,
                if form.supersede {
                    " (nothing to supersede)"
                } else {
                    ""
                }
            );
            Ok(())
        }
        crate::store::Freeze::NothingToSupersede => {
            let why = "nothing of it is frozen, so nothing is superseded: freeze it without \
                       --supersede"
                .to_owned();
            super::audit::record(
                store,
                "report.supersede",
                target.clone(),
                audit_args,
                Err(why.clone()),
            )
            .await?;
            Err(Error::Request(format!("{target}: {why}")))
        }
        crate::store::Freeze::Differs(f) => {
            let why = format!(
                "frozen before as report {} on {} by {} with other bytes (sha256 {}): its data \
                 changed since; the frozen one stands (to replace it, recorded: --supersede \
                 --reason TEXT)",
                f.id,
                local(f.frozen_at),
                f.frozen_by,
                f.sha256
            );
            super::audit::record(
                store,
                "report.freeze",
                target.clone(),
                audit_args,
                Err(why.clone()),
            )
            .await?;
            Err(Error::Request(format!("{target}: {why}")))
        }
    }
}

async fn verify(settings: &Settings, file: &std::path::Path) -> Result<(), Error> {
    let sha256 = crate::act::backup::hash_file(file).map_err(|e| Error::Io {
        action: "unyo report verify".to_owned(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let store = super::open_reader(settings).await?;
    let found = store.frozen_reports_by_hash(&sha256).await?;
    // The same bytes frozen more than once (superseded, then frozen again): the newest
    // row tells whether they stand now.
    match found.last() {
        Some(f) => {
            let local = |t| super::local_time(settings, t);
            let mut text = format!(
                "{}: unaltered: frozen report {} ({} {}, {}, {}), frozen on {} by {}, sha256 {}",
                file.display(),
                f.id,
                f.kind,
                f.period,
                f.lang,
                f.format,
                local(f.frozen_at),
                f.frozen_by,
                f.sha256
            );
            if let (Some(old), Some(why)) = (f.supersedes, &f.reason) {
                text.push_str(&format!("; it superseded report {old}: {why}"));
            }
            let successor = match f.superseded_by {
                Some(id) => store.frozen_report(id).await?,
                None => None,
            };
            match successor {
                None => {
                    text.push_str("; current: it stands\n");
                    super::out(&text);
                    Ok(())
                }
                Some(s) => {
                    text.push_str(&format!(
                        "; SUPERSEDED by report {} (sha256 {}) on {} by {}: {}\n",
                        s.id,
                        s.sha256,
                        local(s.frozen_at),
                        s.frozen_by,
                        s.reason.as_deref().unwrap_or_default()
                    ));
                    super::out(&text);
                    Err(Error::Failed(format!(
                        "{}: frozen report {} was superseded by report {}",
                        file.display(),
                        f.id,
                        s.id
                    )))
                }
            }
        }
        None => {
            let m = format!(
                "{}: not a frozen report, or altered since it was frozen (sha256 {sha256})",
                file.display()
            );
            eprintln!("{m}");
            Err(Error::Failed(m))
        }
    }
}
