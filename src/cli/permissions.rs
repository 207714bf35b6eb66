//! `unyo act permissions` (HR transfers applied to access: dry run, apply, verify, undo) and
//! `unyo permissions history`: the grants and revokes recorded in the database.
//!
//! The action itself is `act::permissions`; this file prints its diff, records every grant
//! and revoke of an apply or undo (with the run from `UNYO_RUN_ID`) and audits them as
//! `permissions.apply` and `permissions.undo`.

use std::path::{Path, PathBuf};

use chrono::{NaiveDate, Utc};

use super::table::Table;
use crate::act::permissions::{
    self, AclTools, Applied, Change, Directory, Operation, Outcome, Plan,
};
use crate::error::Error;
use crate::model::Settings;
use crate::store::{NewPermissionChange, PermissionChange, PermissionFilter, Store};

#[derive(Debug, clap::Args)]
pub struct ActArgs {
    /// The transfer list: UTF-8 CSV with the header `staff_id,name,from,to,effective`.
    #[arg(long, value_name = "CSV", required_unless_present = "undo")]
    pub list: Option<PathBuf>,
    /// The staff directory (`directory.json`).
    #[arg(long, value_name = "FILE", required_unless_present = "undo")]
    pub directory: Option<PathBuf>,
    /// The folder holding one folder per department (`share/<department>`).
    #[arg(long, value_name = "DIR", required_unless_present = "undo")]
    pub share: Option<PathBuf>,
    /// Take up the lines effective on or before this date (default: the business date:
    /// the run's, or today's in the settings' time zone); later lines are pending. A date
    /// after the business date takes effect early only with `--early`.
    #[arg(long, value_name = "DATE")]
    pub effective: Option<String>,
    /// Let `--apply` apply lines before their effective date (those effective after the
    /// business date and on or before `--effective`); without it such an apply is refused
    /// (exit 5). `--dry-run --early=false` refuses the same way after printing the diff, so a
    /// job stops before anyone is asked to approve.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub early: Option<bool>,
    /// Print the diff; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Apply the diff: the inverse first, then the directory, then the ACLs.
    #[arg(long, conflicts_with_all = ["dry_run", "verify"])]
    pub apply: bool,
    /// Exit 1 unless every line effective by the date is in effect.
    #[arg(long, conflicts_with = "dry_run")]
    pub verify: bool,
    /// Undo an apply by its inverse file (refused when the state changed since). Like an
    /// apply it needs a second operator's approval: it runs only as a step of a run whose
    /// approval step another operator approved (the shipped job `hr-transfer-undo`); with
    /// `--dry-run` it shows what it would put back and changes nothing.
    #[arg(
        long,
        value_name = "INVERSE_FILE",
        conflicts_with_all = ["list", "directory", "share", "effective", "apply", "verify"]
    )]
    pub undo: Option<PathBuf>,
    /// Where `--apply` writes the inverse (default: beside the list,
    /// `inverse-<batch>.json`); an existing file is never replaced.
    #[arg(long, value_name = "OUT", requires = "apply")]
    pub inverse: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List the recorded grants and revokes, newest first.
    History {
        /// Only the changes of this department's access.
        #[arg(long, value_name = "CODE")]
        department: Option<String>,
        /// Only the changes of this staff member.
        #[arg(long, value_name = "ID")]
        staff: Option<String>,
        /// Only the changes of this apply or undo.
        #[arg(long, value_name = "BATCH")]
        batch: Option<String>,
        /// At most this many (the most recent).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..))]
        limit: i64,
        /// Print JSON (one array) instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(settings: &Settings, cmd: Command) -> Result<(), Error> {
    let store = super::open_reader(settings).await?;
    match cmd {
        Command::History {
            department,
            staff,
            batch,
            limit,
            json,
        } => {
            let rows = store
                .list_permission_changes(&PermissionFilter {
                    department,
                    staff_id: staff,
                    batch,
                    limit,
                })
                .await?;
            history(settings, &rows, json);
            Ok(())
        }
    }
}

fn history(settings: &Settings, rows: &[PermissionChange], json: bool) {
    if json {
        let text = serde_json::to_string_pretty(rows).unwrap_or_default();
        super::out(&format!("{text}\n"));
        return;
    }
    if rows.is_empty() {
        super::out("no permission changes recorded\n");
        return;
    }
    let mut t = Table::new(&[
        "ID", "TIME", "DEPT", "STAFF", "OP", "KIND", "TARGET", "OUTCOME", "RUN", "NOTE",
    ]);
    for r in rows {
        let mut note = vec![r.name.clone()];
        if let Some(reason) = &r.reason {
            note.push(reason.clone());
        }
        if let Some(of) = &r.undo_of {
            note.push(format!("undoes {of}"));
        }
        t.row(vec![
            r.id.to_string(),
            super::local_time(settings, r.at),
            r.department.clone(),
            r.staff_id.clone(),
            r.op.clone(),
            r.kind.clone(),
            r.target.clone(),
            r.outcome.clone(),
            r.run_id.map(|i| i.to_string()).unwrap_or_default(),
            note.join("; "),
        ]);
    }
    super::out(&t.render());
}

/// `unyo act permissions`.
pub async fn act(root: &Path, args: ActArgs) -> Result<(), Error> {
    let settings = Settings::load(root)?;
    let tools = AclTools::default();
    if let Some(inverse) = &args.undo {
        if args.dry_run {
            return undo_dry_run(inverse, &tools);
        }
        return undo(&settings, inverse, &tools).await;
    }
    let (Some(list), Some(directory), Some(share)) = (&args.list, &args.directory, &args.share)
    else {
        return Err(Error::Request(
            "--list, --directory and --share are required".to_owned(),
        ));
    };
    let list = std::path::absolute(list).unwrap_or_else(|_| list.clone());
    let share = std::path::absolute(share).unwrap_or_else(|_| share.clone());
    let today = business_date(&settings)?;
    let effective = match &args.effective {
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
            Error::Request(format!("--effective: `{d}` is not a date (`YYYY-MM-DD`)"))
        })?,
        None => today,
    };
    let audit_args = serde_json::json!({
        "list": list.display().to_string(),
        "directory": directory.display().to_string(),
        "share": share.display().to_string(),
        "effective": effective.to_string(),
        "business_date": today.to_string(),
        "early": args.early.unwrap_or(false),
        "inverse": args.inverse.as_ref().map(|p| p.display().to_string()),
    });
    let target = format!("transfer list {}", list.display());
    // Reading and checking the list changes nothing; an apply that stops there is refused.
    let prepared = (|| {
        let transfers = permissions::read_list(&list)?;
        let dir = Directory::load(directory)?;
        let plan = permissions::plan(&transfers, &dir, &share, effective, &tools)
            .map_err(|ps| permissions::problems_error(&list, &ps))?;
        Ok::<_, crate::act::ActError>((dir, plan))
    })();
    let (mut dir, plan) = match prepared {
        Ok(p) => p,
        Err(e) => {
            if args.apply {
                let store = super::open_store(&settings).await?;
                return Err(super::act::refused(
                    &*store,
                    "permissions.apply",
                    target,
                    audit_args,
                    e,
                )
                .await);
            }
            return Err(super::act::failed(e));
        }
    };
    let due = plan.changes.len() + plan.done.len();
    let heading = format!(
        "{}: {due} transfer{} effective on or before {effective}, {} pending",
        list.display(),
        if due == 1 { "" } else { "s" },
        plan.pending.len()
    );
    // Lines this run would take up before their date.
    let early: Vec<(usize, NaiveDate)> = plan
        .changes
        .iter()
        .map(|c| (c.line, c.effective))
        .chain(plan.done.iter().map(|t| (t.line, t.effective)))
        .filter(|(_, d)| *d > today)
        .collect();
    let early_text = || {
        let mut dates: Vec<String> = early.iter().map(|(_, d)| d.to_string()).collect();
        dates.sort();
        dates.dedup();
        format!(
            "{} line{} effective {} (after the business date {today})",
            early.len(),
            if early.len() == 1 { "" } else { "s" },
            dates.join(", ")
        )
    };
    if args.dry_run {
        super::out(&format!("dry run: {heading}; nothing is changed\n"));
        if !early.is_empty() {
            super::out(&format!(
                "early: {} would take effect before their date; the apply needs --early\n",
                early_text()
            ));
        }
        print_plan(&plan, &share);
        if !early.is_empty() && args.early == Some(false) && !plan.changes.is_empty() {
            return Err(Error::Refused(format!(
                "not yet: {} (early=true applies them before their date)",
                early_text()
            )));
        }
        return Ok(());
    }
    if args.verify {
        return verify(&plan, &share, effective);
    }
    // --apply
    if !early.is_empty() && args.early != Some(true) && !plan.changes.is_empty() {
        let store = super::open_store(&settings).await?;
        let why = format!(
            "{}: {} would take effect before their date; nothing changed. Apply them on or \
             after their date, or say --early (job parameter `early=true`) to apply them now",
            list.display(),
            early_text()
        );
        super::audit::record(
            &*store,
            "permissions.apply",
            target,
            audit_args,
            Err(why.clone()),
        )
        .await?;
        return Err(Error::Refused(why));
    }
    if plan.changes.is_empty() {
        let store = super::open_store(&settings).await?;
        print_plan(&plan, &share);
        let detail = "nothing to do: every transfer effective by then is in effect".to_owned();
        super::audit::record(
            &*store,
            "permissions.apply",
            target,
            audit_args,
            Ok(detail.clone()),
        )
        .await?;
        super::out(&format!("{detail}; no inverse written\n"));
        return Ok(());
    }
    let store = super::open_store(&settings).await?;
    let how = format!(
        "an apply changes the directory and the ACLs and needs a second operator's approval: \
         `unyo submit hr-transfer -p list={}`, then another operator approves it (`unyo \
         approve RUN approval`); `--dry-run` shows the diff",
        list.display()
    );
    require_approval(&*store, "permissions.apply", &target, &audit_args, &how).await?;
    let batch = permissions::batch_id(Utc::now());
    let inverse = match &args.inverse {
        Some(p) => std::path::absolute(p).unwrap_or_else(|_| p.clone()),
        None => list.with_file_name(format!("inverse-{batch}.json")),
    };
    match permissions::apply(&plan, &mut dir, &list, &inverse, &batch, &tools) {
        Ok(done) => {
            super::out(&format!("applied: {heading}\n"));
            if !early.is_empty() {
                super::out(&format!(
                    "applied early (--early): {} took effect before their date\n",
                    early_text()
                ));
            }
            let result = finish(
                &*store,
                &done,
                &share,
                "permissions.apply",
                target,
                audit_args,
            )
            .await;
            deferred(&plan);
            result
        }
        Err(e) => {
            Err(super::act::refused(&*store, "permissions.apply", target, audit_args, e).await)
        }
    }
}

/// The business date an action takes as "today": the run's (`UNYO_BUSINESS_DATE`, set for
/// every step), else today's in the settings' time zone and day start.
fn business_date(settings: &Settings) -> Result<NaiveDate, Error> {
    match std::env::var("UNYO_BUSINESS_DATE") {
        Ok(d) => NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(|_| {
            Error::Request(format!(
                "UNYO_BUSINESS_DATE: `{d}` is not a date (`YYYY-MM-DD`)"
            ))
        }),
        Err(_) => Ok(crate::calendar::business_date(
            Utc::now(),
            settings.timezone,
            settings.day_start,
        )),
    }
}

/// Why an apply or an undo may not go on now, if it may not: it must be a step of a running
/// run (from `UNYO_RUN_ID`) whose approval step an operator other than the one who requested
/// the run approved: the shipped jobs `hr-transfer` and `hr-transfer-undo`. `how` says the
/// way to do it.
async fn not_approved(store: &dyn Store, how: &str) -> Option<String> {
    let Some(run_id) = std::env::var("UNYO_RUN_ID")
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
    else {
        return Some(format!("not a step of a run: {how}"));
    };
    let detail = match store.get_run(run_id).await {
        Ok(Some(d)) => d,
        Ok(None) => return Some(format!("run {run_id} is not recorded: {how}")),
        Err(e) => return Some(format!("run {run_id}: {e}")),
    };
    if detail.run.status != crate::store::RunStatus::Running {
        return Some(format!(
            "run {run_id} is {}, not running: {how}",
            detail.run.status
        ));
    }
    for step in &detail.steps {
        if let Ok(Some(gate)) = store.gate(run_id, &step.name).await
            && gate.decision.as_deref() == Some("approved")
            && gate
                .decided_by
                .as_deref()
                .is_some_and(|by| by != detail.run.requested_by)
        {
            return None;
        }
    }
    Some(format!(
        "run {run_id} (`{}`) has no approval step approved by an operator other than {}, \
         who requested it: {how}",
        detail.run.job, detail.run.requested_by
    ))
}

/// Refuses (audited as `action`, exit 3) an apply or undo that [`not_approved`] stops.
async fn require_approval(
    store: &dyn Store,
    action: &str,
    target: &str,
    audit_args: &serde_json::Value,
    how: &str,
) -> Result<(), Error> {
    let Some(why) = not_approved(store, how).await else {
        return Ok(());
    };
    super::audit::record(
        store,
        action,
        target.to_owned(),
        audit_args.clone(),
        Err(why.clone()),
    )
    .await?;
    Err(Error::Request(why))
}

/// `--undo FILE --dry-run`: what the undo would put back, checked against the state now.
fn undo_dry_run(inverse: &Path, tools: &AclTools) -> Result<(), Error> {
    let inverse = std::path::absolute(inverse).unwrap_or_else(|_| inverse.to_owned());
    let (inv, changes, _) = permissions::undo_plan(&inverse, tools).map_err(super::act::failed)?;
    let ops: usize = changes.iter().map(|c| c.ops.len()).sum();
    super::out(&format!(
        "dry run: undo of apply {} ({}, effective {}): {} transfer{} put back, {ops} \
         operation{}; nothing is changed\n",
        inv.batch,
        inv.list,
        inv.effective,
        changes.len(),
        if changes.len() == 1 { "" } else { "s" },
        if ops == 1 { "" } else { "s" },
    ));
    print_changes(&changes, &inv.share);
    Ok(())
}

async fn undo(settings: &Settings, inverse: &Path, tools: &AclTools) -> Result<(), Error> {
    let store = super::open_store(settings).await?;
    let inverse = std::path::absolute(inverse).unwrap_or_else(|_| inverse.to_owned());
    let audit_args = serde_json::json!({ "inverse": inverse.display().to_string() });
    let target = format!("inverse {}", inverse.display());
    let how = format!(
        "an undo changes the directory and the ACLs like an apply and needs the same approval \
         by a second operator: `unyo submit hr-transfer-undo -p inverse={}`, then another \
         operator approves it (`unyo approve RUN approval`); `--undo FILE --dry-run` shows \
         what it would put back",
        inverse.display()
    );
    require_approval(&*store, "permissions.undo", &target, &audit_args, &how).await?;
    let batch = permissions::batch_id(Utc::now());
    match permissions::undo(&inverse, &batch, tools) {
        Ok(done) => {
            let share = permissions::load_inverse(&inverse)
                .map(|i| i.share)
                .unwrap_or_default();
            super::out(&format!(
                "undone: {} (apply {})\n",
                inverse.display(),
                done.undo_of.as_deref().unwrap_or("?")
            ));
            finish(
                &*store,
                &done,
                &share,
                "permissions.undo",
                target,
                audit_args,
            )
            .await
        }
        Err(e) => {
            Err(super::act::refused(&*store, "permissions.undo", target, audit_args, e).await)
        }
    }
}

/// Records every operation of an apply or undo, audits it and prints what was done; exit 1
/// when an operation failed.
async fn finish(
    store: &dyn Store,
    done: &Applied,
    share: &Path,
    action: &str,
    target: String,
    audit_args: serde_json::Value,
) -> Result<(), Error> {
    let at = Utc::now();
    let run_id = std::env::var("UNYO_RUN_ID")
        .ok()
        .and_then(|v| v.parse().ok());
    let user = crate::domain::host::os_user();
    let rows: Vec<NewPermissionChange> = done
        .ops()
        .map(|(c, o)| NewPermissionChange {
            at,
            batch: done.batch.clone(),
            run_id,
            staff_id: c.staff_id.clone(),
            name: c.name.clone(),
            department: o.department.clone(),
            kind: o.kind.as_str().to_owned(),
            target: o.target.clone(),
            op: o.op.as_str().to_owned(),
            outcome: o.outcome.as_str().to_owned(),
            reason: o.outcome.reason().map(str::to_owned),
            undo_of: done.undo_of.clone(),
            user: user.clone(),
        })
        .collect();
    store.record_permission_changes(&rows).await?;
    print_changes(&done.changes, share);
    let count = |s: &str| rows.iter().filter(|r| r.outcome == s).count();
    let (applied, skipped, failed) = (count("applied"), count("skipped"), count("failed"));
    let grants = rows
        .iter()
        .filter(|r| r.outcome == "applied" && r.op == "grant")
        .count();
    let mut detail = format!(
        "batch {}: {applied} applied ({grants} grants, {} revokes), {skipped} skipped, \
         {failed} failed",
        done.batch,
        applied - grants
    );
    if done.undo_of.is_none() {
        detail.push_str(&format!("; inverse {}", done.inverse.display()));
    }
    let outcome = if failed > 0 {
        Err(detail.clone())
    } else {
        Ok(detail.clone())
    };
    super::audit::record(store, action, target, audit_args, outcome).await?;
    super::out(&format!("{detail}\n"));
    notes(done.ops().map(|(_, o)| o));
    if done.undo_of.is_none() {
        super::out(&format!(
            "undo with: unyo act permissions --undo {}\n",
            done.inverse.display()
        ));
    }
    if failed > 0 {
        let m = format!("{failed} operation(s) failed; see above");
        eprintln!("error: {m}");
        return Err(Error::Failed(m));
    }
    Ok(())
}

/// The reasons operations were skipped or failed, each once.
fn notes<'a>(ops: impl Iterator<Item = &'a Operation>) {
    let mut seen: Vec<String> = Vec::new();
    for o in ops {
        let line = match &o.outcome {
            Outcome::Skipped(r) => format!("{} operations skipped: {r}", o.kind.as_str()),
            Outcome::Failed(r) => format!("{} operations FAILED: {r}", o.kind.as_str()),
            _ => continue,
        };
        if !seen.contains(&line) {
            super::out(&format!("{line}\n"));
            seen.push(line);
        }
    }
}

fn status(o: &Outcome) -> &'static str {
    match o {
        Outcome::Planned => "to do",
        other => other.as_str(),
    }
}

fn print_changes(changes: &[Change], share: &Path) {
    if changes.is_empty() {
        return;
    }
    let mut t = Table::new(&["LINE", "STAFF", "OP", "KIND", "TARGET", "STATUS", "NAME"]).one_line();
    for c in changes {
        for o in &c.ops {
            let target = match o.kind {
                permissions::Kind::Group => o.target.clone(),
                permissions::Kind::Acl => {
                    let shown = Path::new(&o.target)
                        .strip_prefix(share.parent().unwrap_or(share))
                        .map_or_else(|_| o.target.clone(), |p| p.display().to_string());
                    match c.uid {
                        Some(uid) => format!("u:{uid} {shown}"),
                        None => shown,
                    }
                }
            };
            t.row(vec![
                if c.line == 0 {
                    "-".to_owned()
                } else {
                    c.line.to_string()
                },
                c.staff_id.clone(),
                o.op.as_str().to_owned(),
                o.kind.as_str().to_owned(),
                target,
                status(&o.outcome).to_owned(),
                format!("{} ({} -> {})", c.name, c.from, c.to),
            ]);
        }
    }
    super::out(&t.render());
}

fn print_plan(plan: &Plan, share: &Path) {
    print_changes(&plan.changes, share);
    let ops: Vec<&Operation> = plan.ops().map(|(_, o)| o).collect();
    let todo = ops.iter().filter(|o| o.outcome == Outcome::Planned).count();
    let grants = ops
        .iter()
        .filter(|o| o.outcome == Outcome::Planned && o.op == permissions::Op::Grant)
        .count();
    super::out(&format!(
        "{todo} operations to do ({grants} grants, {} revokes), {} to skip\n",
        todo - grants,
        ops.len() - todo
    ));
    notes(ops.iter().copied());
    if let Some(note) = &plan.acl_note {
        super::out(&format!("ACLs are neither read nor changed: {note}\n"));
    }
    deferred(plan);
}

/// The lines in effect already, and the ones effective later.
fn deferred(plan: &Plan) {
    for t in &plan.done {
        super::out(&format!(
            "nothing to do: line {} {} {} is in `{}` already\n",
            t.line, t.staff_id, t.name, t.to
        ));
    }
    for t in &plan.pending {
        super::out(&format!(
            "pending: line {} {} {} {} -> {} from {}\n",
            t.line, t.staff_id, t.name, t.from, t.to, t.effective
        ));
    }
}

/// Exit 1 unless nothing remains to do for the lines effective by `effective` (operations
/// that cannot be done here, such as ACLs without the acl tools, are reported, not failed).
fn verify(plan: &Plan, share: &Path, effective: NaiveDate) -> Result<(), Error> {
    let open: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| {
            c.ops
                .iter()
                .any(|o| matches!(o.outcome, Outcome::Planned | Outcome::Failed(_)))
        })
        .collect();
    if open.is_empty() {
        super::out(&format!(
            "verified: {} transfer(s) effective by {effective} are in effect; {} pending\n",
            plan.done.len() + plan.changes.len(),
            plan.pending.len()
        ));
        notes(plan.ops().map(|(_, o)| o));
        if let Some(note) = &plan.acl_note {
            super::out(&format!("ACLs were not checked: {note}\n"));
        }
        return Ok(());
    }
    print_plan(plan, share);
    let m = format!(
        "{} transfer(s) effective by {effective} are not in effect",
        open.len()
    );
    eprintln!("error: {m}");
    Err(Error::Failed(m))
}
