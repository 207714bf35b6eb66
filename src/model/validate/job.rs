//! Checking a job and its steps: parameters declared, `sla:`, environment, `needs` (each a
//! step of the job, no cycle), the step's command or approval, `refuse_exit`, runbooks named,
//! lateness (`start_delay`, `end_delay`, `max_runtime`), `stuck_after` and `slowdown:`.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use indexmap::IndexMap;
use petgraph::graph::DiGraph;
use serde_saphyr::Spanned;
use sha2::{Digest, Sha256};

use super::param::{param, type_name};
use super::runbook::code_range;
use super::{Ctx, IDENT, NAME};
use crate::domain::check::{TargetKind, Thresholds};
use crate::domain::lateness::{Deadline, Limits};
use crate::model::values::parse_clock;
use crate::model::{Action, Check, Job, JobSla, ParamType, Slowdown, Step};
use crate::spec::{CodeSpec, Diagnostic, JobSpec, SourceFile, StepSpec, diag};

pub(super) fn job(
    cx: &mut Ctx<'_>,
    src: &SourceFile,
    name: &str,
    spec: &JobSpec,
    runbooks: &[String],
) -> Option<Job> {
    let file = &src.display;
    let errors_before = cx.diags.len();
    if spec.steps.is_empty() {
        cx.diags
            .push(Diagnostic::file(file, format!("job `{name}` has no steps")));
    }
    let mut params = IndexMap::new();
    for (pname, p) in &spec.params {
        if !IDENT.is_match(pname) {
            cx.err(
                file,
                p,
                format!("bad parameter name `{pname}` (letters, digits and `_`)"),
            );
        }
        let default = p.value.default.as_ref().map(|d| d.value.0.clone());
        if p.value.required && default.is_some() {
            cx.err(
                file,
                p,
                format!("parameter `{pname}` is required and has a default; choose one"),
            );
        }
        let param = param(cx, file, pname, p, default);
        if let (Some(d), Some(at)) = (&param.default, &p.value.default)
            && let Err(m) = crate::model::param_value::check_value(
                &param,
                d,
                chrono::Utc::now().date_naive(),
                cx.root,
            )
        {
            cx.err(file, at, format!("default of parameter `{pname}`: {m}"));
        }
        params.insert(pname.clone(), param);
    }
    for (pname, p) in &params {
        let (Some((other, types)), Some(at)) = (&p.type_by, &spec.params[pname].value.type_by)
        else {
            continue;
        };
        match params.get(other) {
            Some(o) if o.kind == ParamType::Enum => {
                for value in types.keys().filter(|v| !o.values.contains(v)) {
                    cx.err(
                        file,
                        at,
                        format!(
                            "`type_by` of `{pname}`: `{value}` is not a value of `{other}`{}",
                            diag::hint(value, o.values.iter().map(String::as_str))
                        ),
                    );
                }
            }
            Some(o) => cx.err(
                file,
                at,
                format!(
                    "`type_by` of `{pname}` needs an enum parameter; `{other}` is `{}`",
                    type_name(o.kind)
                ),
            ),
            None => cx.err(
                file,
                at,
                format!(
                    "`type_by` of `{pname}` names unknown parameter `{other}`{}",
                    diag::hint(other, params.keys().map(String::as_str))
                ),
            ),
        }
    }
    let title = title(cx, file, &spec.title);
    let job_timeout = cx.duration(file, &spec.timeout, "timeout");
    let sla = spec.sla.as_ref().map(|s| sla(cx, file, s));
    let lateness = Limits {
        start: deadline(cx, file, &spec.start_delay, "start_delay"),
        end: deadline(cx, file, &spec.end_delay, "end_delay"),
        max_runtime: cx.duration(file, &spec.max_runtime, "max_runtime"),
    };
    let job_stuck = cx.duration(file, &spec.stuck_after, "stuck_after");
    let slowdown = spec
        .slowdown
        .as_ref()
        .map(|s| slowdown(cx, file, s))
        .unwrap_or_default();
    let wait_timeout = cx.duration(file, &spec.wait_timeout, "wait_timeout");
    if let Some(w) = &spec.wait_timeout
        && spec.after.is_none()
    {
        cx.err(
            file,
            w,
            "`wait_timeout` needs `after` (the jobs to wait for)",
        );
    }
    let runs_on = labels(cx, file, &spec.runs_on);
    let node_wait = cx.duration(file, &spec.node_wait, "node_wait");
    if let Some(w) = &spec.node_wait
        && runs_on.is_empty()
        && spec.steps.values().all(|s| s.value.runs_on.is_none())
    {
        cx.err(
            file,
            w,
            "`node_wait` needs `runs_on`, the job's or a step's (the labels to wait for)",
        );
    }
    if spec.outside_window.is_some() && spec.window.is_none() && spec.avoid.is_none() {
        cx.diags.push(Diagnostic::file(
            file,
            "`outside_window` needs `window` or `avoid`",
        ));
    }
    let mut job_env = Vec::new();
    for (k, v) in &spec.env {
        env_entry(cx, file, k, v, &spec.params, &mut job_env);
    }
    if let Some(w) = &spec.workdir {
        cx.template(file, w, &w.value, &spec.params, false);
        cx.no_secret(file, w, &w.value, &spec.params, "workdir");
    }

    let index: HashMap<&str, usize> = spec
        .steps
        .keys()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let job_refuse = refuse_exit(cx, file, &spec.refuse_exit);
    let mut steps = Vec::new();
    for (sname, s) in &spec.steps {
        let at = Spanned::new(sname.clone(), s.referenced, s.defined);
        cx.name(file, &at, "step");
        let mut built = step(
            cx,
            file,
            sname,
            s,
            spec,
            &index,
            job_timeout,
            &job_env,
            runbooks,
        );
        built.stuck_after = cx
            .duration(file, &s.value.stuck_after, "stuck_after")
            .or(job_stuck);
        if let (Action::Approval { .. }, Some(at)) = (&built.action, &s.value.stuck_after) {
            cx.err(
                file,
                at,
                format!("step `{sname}` is an approval: it prints nothing, so no `stuck_after`"),
            );
        }
        if let (Action::Approval { .. }, Some(at)) = (&built.action, &s.value.runs_on) {
            cx.err(
                file,
                at,
                format!(
                    "step `{sname}` is an approval: it runs no command, so no `runs_on` (an \
                     approval waits where its run runs)"
                ),
            );
        }
        let own = refuse_exit(cx, file, &s.value.refuse_exit);
        if let (Action::Approval { .. }, Some(codes)) = (&built.action, &s.value.refuse_exit) {
            if let Some(first) = codes.first() {
                cx.err(
                    file,
                    first,
                    format!(
                        "step `{sname}` is an approval: it has no exit code, so no `refuse_exit`"
                    ),
                );
            }
        } else if !matches!(built.action, Action::Approval { .. }) {
            built.refuse_exit = own.or_else(|| job_refuse.clone()).unwrap_or_default();
            placement(cx, file, sname, &s.value, spec, &mut built);
        }
        if let Some(c) = &mut built.check
            && c.target.is_empty()
        {
            c.target = format!("{name}.{sname}");
        }
        steps.push(built);
    }
    check_cycles(cx, file, spec, &steps);
    if cx.diags.len() > errors_before {
        return None;
    }
    Some(Job {
        name: name.to_owned(),
        file: file.clone(),
        digest: format!("{:x}", Sha256::digest(src.text.as_bytes())),
        title,
        description: spec.description.clone(),
        params,
        window: spec.window.as_ref().map(|w| w.value.clone()),
        avoid: spec.avoid.as_ref().map(|w| w.value.clone()),
        outside_window: spec.outside_window.unwrap_or_default(),
        after: spec
            .after
            .as_ref()
            .map(|a| a.value.clone())
            .unwrap_or_default(),
        wait_timeout: wait_timeout.unwrap_or(crate::model::DEFAULT_WAIT_TIMEOUT),
        on_interrupt: spec.on_interrupt.unwrap_or_default(),
        runs_on,
        node_wait: node_wait.unwrap_or(crate::model::DEFAULT_NODE_WAIT),
        adhoc: spec.adhoc,
        separate_approver: spec.separate_approver,
        allowed_users: spec.allowed_users.clone().unwrap_or_default(),
        allowed_groups: spec.allowed_groups.clone().unwrap_or_default(),
        sla,
        lateness,
        slowdown,
        steps,
    })
}

/// A job's `sla:`, each item checked.
fn sla(cx: &mut Ctx<'_>, file: &Path, spec: &Spanned<crate::spec::SlaSpec>) -> JobSla {
    let s = &spec.value;
    let mut out = JobSla::default();
    if let Some(t) = &s.complete_by {
        match parse_clock(&t.value) {
            Ok(t) => out.complete_by = Some(t),
            Err(m) => cx.err(file, t, format!("sla.complete_by: {m}")),
        }
    }
    if let Some(r) = &s.success_rate {
        if r.value > 0.0 && r.value <= 100.0 {
            out.success_rate = Some(r.value);
        } else {
            cx.err(
                file,
                r,
                format!(
                    "sla.success_rate {} is not a percentage (more than 0, at most 100)",
                    r.value
                ),
            );
        }
    }
    out.max_duration = cx.duration(file, &s.max_duration, "sla.max_duration");
    if s.complete_by.is_none() && s.success_rate.is_none() && s.max_duration.is_none() {
        cx.err(
            file,
            spec,
            "`sla` promises nothing: give `complete_by`, `success_rate` or `max_duration`",
        );
    }
    out
}

/// A `start_delay` or `end_delay`: a duration after the slot (`30m`) or a business time of
/// day (`"06:00"`).
fn deadline(
    cx: &mut Ctx<'_>,
    file: &Path,
    v: &Option<Spanned<String>>,
    key: &str,
) -> Option<Deadline> {
    let at = v.as_ref()?;
    if at.value.contains(':') {
        return match parse_clock(&at.value) {
            Ok(t) => Some(Deadline::At(t)),
            Err(m) => {
                cx.err(file, at, format!("`{key}`: {m}"));
                None
            }
        };
    }
    if crate::model::values::parse_duration(&at.value).is_err() {
        cx.err(
            file,
            at,
            format!(
                "`{key}`: `{}` is neither a duration after the slot (`30m`, `2h`) nor a time \
                 of day (`\"06:00\"`)",
                at.value
            ),
        );
        return None;
    }
    cx.duration(file, v, key).map(Deadline::After)
}

/// A job's `slowdown:`.
fn slowdown(cx: &mut Ctx<'_>, file: &Path, spec: &Spanned<crate::spec::SlowdownSpec>) -> Slowdown {
    let s = &spec.value;
    let mut out = Slowdown {
        enabled: s.enabled.unwrap_or(true),
        incident: s.incident,
        ..Slowdown::default()
    };
    if let Some(n) = &s.runs {
        let min = crate::domain::baseline::MIN_SAMPLES as u32;
        if (min..=1000).contains(&n.value) {
            out.runs = n.value as usize;
        } else {
            cx.err(
                file,
                n,
                format!(
                    "`slowdown.runs` {} is out of range ({min} to 1000 runs)",
                    n.value
                ),
            );
        }
    }
    if !out.enabled && s.incident {
        cx.err(
            file,
            spec,
            "`slowdown` with `enabled: false` opens no incident; drop `incident`",
        );
    }
    out
}

fn env_entry(
    cx: &mut Ctx<'_>,
    file: &Path,
    key: &str,
    value: &Spanned<String>,
    params: &IndexMap<String, Spanned<crate::spec::ParamSpec>>,
    out: &mut Vec<(String, String)>,
) {
    if !IDENT.is_match(key) {
        cx.err(
            file,
            value,
            format!("bad environment variable name `{key}`"),
        );
    } else if key.starts_with("UNYO_") {
        cx.err(
            file,
            value,
            format!("`{key}`: names starting with `UNYO_` are set by unyo"),
        );
    }
    cx.template(file, value, &value.value, params, false);
    out.retain(|(k, _)| k != key);
    out.push((key.to_owned(), value.value.clone()));
}

/// A step's `needs` as indexes into the job's steps, each checked.
fn step_needs(
    cx: &mut Ctx<'_>,
    file: &Path,
    name: &str,
    spec: &StepSpec,
    index: &HashMap<&str, usize>,
) -> Vec<usize> {
    let mut needs = Vec::new();
    if let Some(list) = &spec.needs {
        for n in &list.value {
            match index.get(n.as_str()) {
                Some(_) if n == name => {
                    cx.err(file, list, format!("step `{name}` needs itself"));
                }
                Some(&i) if needs.contains(&i) => {
                    cx.err(
                        file,
                        list,
                        format!("step `{name}` lists `{n}` twice in `needs`"),
                    );
                }
                Some(&i) => needs.push(i),
                None => {
                    let hint = diag::hint(n, index.keys().copied());
                    cx.err(
                        file,
                        list,
                        format!("step `{name}` needs `{n}`, which is not a step of this job{hint}"),
                    );
                }
            }
        }
    }
    needs
}

#[allow(clippy::too_many_arguments)]
fn step(
    cx: &mut Ctx<'_>,
    file: &Path,
    name: &str,
    s: &Spanned<StepSpec>,
    job: &JobSpec,
    index: &HashMap<&str, usize>,
    job_timeout: Option<Duration>,
    job_env: &[(String, String)],
    runbooks: &[String],
) -> Step {
    let spec = &s.value;
    let kinds = [
        spec.argv.is_some(),
        spec.run.is_some(),
        spec.approval.is_some(),
        spec.check.is_some(),
    ]
    .iter()
    .filter(|k| **k)
    .count();
    if let (Some(a), 1) = (&spec.approval, kinds) {
        return Step {
            name: name.to_owned(),
            description: spec.description.clone(),
            action: Action::Approval {
                message: a.value.message.clone(),
            },
            needs: step_needs(cx, file, name, spec, index),
            env: Vec::new(),
            workdir: None,
            timeout: cx.duration(file, &spec.timeout, "timeout"),
            runbook: None,
            always: spec.always,
            refuse_exit: Vec::new(),
            stuck_after: None,
            host: None,
            user: None,
            check: None,
            runs_on: Vec::new(),
        };
    }
    if let (Some(a), 2..) = (&spec.approval, kinds) {
        cx.err(
            file,
            a,
            format!("step `{name}` is an approval: it has no `argv` or `run`"),
        );
    }
    let mut check = None;
    if let Some(c) = &spec.check {
        if kinds > 1 {
            cx.err(
                file,
                c,
                format!("step `{name}` is a check: it has no `argv`, `run` or `approval`"),
            );
        }
        check = Some(check_step(cx, file, name, c, job));
    }
    let action = match (&spec.argv, &spec.run) {
        _ if spec.check.is_some() => check.as_ref().map_or_else(
            || Action::Argv(Vec::new()),
            |(argv, _)| Action::Argv(argv.clone()),
        ),
        (Some(argv), None) => {
            if argv.value.is_empty() {
                cx.err(file, argv, format!("step `{name}`: `argv` is empty"));
            }
            for a in &argv.value {
                cx.template(file, argv, a, &job.params, false);
                cx.no_secret(file, argv, a, &job.params, "argv");
            }
            Action::Argv(argv.value.clone())
        }
        (None, Some(run)) => {
            if run.value.trim().is_empty() {
                cx.err(file, run, format!("step `{name}`: `run` is empty"));
            }
            cx.template(file, run, &run.value, &job.params, true);
            cx.no_secret(file, run, &run.value, &job.params, "run");
            Action::Shell(run.value.clone())
        }
        (Some(argv), Some(_)) => {
            cx.err(
                file,
                argv,
                format!("step `{name}` has both `argv` and `run`; give one"),
            );
            Action::Argv(Vec::new())
        }
        (None, None) => {
            if spec.approval.is_none() {
                cx.err(
                    file,
                    s,
                    format!("step `{name}` needs `argv`, `run`, `approval` or `check`"),
                );
            }
            Action::Argv(Vec::new())
        }
    };
    let needs = step_needs(cx, file, name, spec, index);
    let mut env = job_env.to_vec();
    for (k, v) in &spec.env {
        env_entry(cx, file, k, v, &job.params, &mut env);
    }
    if let Some(w) = &spec.workdir {
        cx.template(file, w, &w.value, &job.params, false);
        cx.no_secret(file, w, &w.value, &job.params, "workdir");
    }
    if let Some(r) = &spec.runbook {
        cx.reference(file, r, "runbook", runbooks);
    }
    let timeout = cx.duration(file, &spec.timeout, "timeout").or(job_timeout);
    Step {
        name: name.to_owned(),
        description: spec.description.clone(),
        action,
        needs,
        env,
        workdir: spec
            .workdir
            .as_ref()
            .or(job.workdir.as_ref())
            .map(|w| w.value.clone()),
        timeout,
        runbook: spec
            .runbook
            .as_ref()
            .or(job.runbook.as_ref())
            .map(|r| r.value.clone()),
        always: spec.always,
        refuse_exit: Vec::new(),
        stuck_after: None,
        host: None,
        user: None,
        check: check.map(|(_, c)| c),
        runs_on: labels(cx, file, &spec.runs_on),
    }
}

/// The labels of a `runs_on:` (a job's or a step's), each once; an error for each that is
/// not a label.
fn labels(cx: &mut Ctx<'_>, file: &Path, given: &Option<Spanned<Vec<String>>>) -> Vec<String> {
    let mut runs_on: Vec<String> = Vec::new();
    if let Some(labels) = given {
        for l in &labels.value {
            if !crate::model::is_label(l) {
                cx.err(
                    file,
                    labels,
                    format!(
                        "`runs_on`: `{l}` is not a label (lowercase letters, digits, `-`, `_`, \
                         starting with a letter), as `node.labels` in unyo.yaml names them"
                    ),
                );
            } else if !runs_on.contains(l) {
                runs_on.push(l.clone());
            }
        }
    }
    runs_on
}

/// Where a step runs and as whom: `host:` names a host of unyo.yaml; `user:` an existing
/// user of this machine, for a local step only (a remote step logs in as its host's user,
/// and starts in that user's home, so a local `workdir` means nothing there).
fn placement(
    cx: &mut Ctx<'_>,
    file: &Path,
    name: &str,
    spec: &StepSpec,
    job: &JobSpec,
    built: &mut Step,
) {
    let host = spec.host.as_ref().or(job.host.as_ref());
    let user = spec.user.as_ref().or(job.user.as_ref());
    if let Some(h) = host {
        let hosts = cx.hosts.clone();
        cx.reference(file, h, "host", &hosts);
        if let Some(u) = user {
            cx.err(
                file,
                u,
                format!(
                    "step `{name}` runs on host `{}`, where it logs in as the host's `user`; \
                     `user: {}` is for steps on this machine",
                    h.value, u.value
                ),
            );
        }
        if let Some(w) = spec.workdir.as_ref().or(job.workdir.as_ref()) {
            cx.err(
                file,
                w,
                format!(
                    "step `{name}` runs on host `{}`: `workdir` is a folder of this machine; \
                     `cd` in the command instead",
                    h.value
                ),
            );
        }
        built.host = Some(h.value.clone());
        return;
    }
    let Some(u) = user else { return };
    match nix::unistd::User::from_name(&u.value) {
        Ok(Some(_)) if !u.value.starts_with('-') => {
            cx.run_as.push(Diagnostic::spanned(
                file,
                u,
                format!(
                    "step `{name}`: `user: {}` needs unyo to run as root to switch users",
                    u.value
                ),
            ));
            built.user = Some(u.value.clone());
        }
        Ok(_) => cx.err(
            file,
            u,
            format!(
                "step `{name}`: no user `{}` on this machine (see /etc/passwd)",
                u.value
            ),
        ),
        Err(e) => cx.err(
            file,
            u,
            format!("step `{name}`: cannot look up user `{}`: {e}", u.value),
        ),
    }
}

/// A check step: its plugin's command line, and what it keeps of the target. The target's
/// name is left empty when `target:` is not given (the job fills in `JOB.STEP`).
fn check_step(
    cx: &mut Ctx<'_>,
    file: &Path,
    name: &str,
    c: &Spanned<crate::spec::CheckSpec>,
    job: &JobSpec,
) -> (Vec<String>, Check) {
    let spec = &c.value;
    let plugin = spec.plugin.value.trim();
    if plugin.is_empty() {
        cx.err(
            file,
            &spec.plugin,
            format!("step `{name}`: `check.plugin` is empty"),
        );
    }
    cx.template(file, &spec.plugin, plugin, &job.params, false);
    let path = if plugin.contains('/') {
        cx.root.join(plugin)
    } else {
        cx.plugins.join(plugin)
    };
    let mut argv = vec![path.display().to_string()];
    for a in &spec.args {
        cx.template(file, c, a, &job.params, false);
        cx.no_secret(file, c, a, &job.params, "check.args");
        argv.push(a.clone());
    }
    let kind = match spec.kind.value.parse::<TargetKind>() {
        Ok(k) => k,
        Err(m) => {
            cx.err(
                file,
                &spec.kind,
                format!("step `{name}`: `check.kind`: {m}"),
            );
            TargetKind::Software
        }
    };
    let target = match &spec.target {
        Some(t) => {
            if !NAME.is_match(&t.value) {
                cx.err(
                    file,
                    t,
                    format!(
                        "step `{name}`: bad target name `{}` (letters, digits, `-`, `_`, `.`)",
                        t.value
                    ),
                );
            }
            t.value.clone()
        }
        None => String::new(),
    };
    let mut count = |v: &Option<Spanned<u32>>, key: &str, default: u32| match v {
        Some(n) if n.value == 0 => {
            cx.err(
                file,
                n,
                format!("step `{name}`: `check.{key}` must be at least 1"),
            );
            default
        }
        Some(n) => n.value,
        None => default,
    };
    let thresholds = Thresholds {
        down_after: count(&spec.down_after, "down_after", DEFAULT_DOWN_AFTER),
        up_after: count(&spec.up_after, "up_after", DEFAULT_UP_AFTER),
    };
    (
        argv,
        Check {
            target,
            kind,
            thresholds,
            severity: spec.severity,
        },
    )
}

/// Consecutive CRITICAL results that take a target down when its check does not say.
pub const DEFAULT_DOWN_AFTER: u32 = 3;
/// Consecutive good results that bring it back up when its check does not say.
pub const DEFAULT_UP_AFTER: u32 = 1;

/// A `refuse_exit` list, each code or range checked (`None` when not given). Exit code 0 is
/// success, so it cannot mean a refusal.
fn refuse_exit(
    cx: &mut Ctx<'_>,
    file: &Path,
    list: &Option<Vec<Spanned<CodeSpec>>>,
) -> Option<Vec<(i32, i32)>> {
    let list = list.as_ref()?;
    let mut out = Vec::new();
    for c in list {
        match code_range(&c.value) {
            Ok((0, _)) => cx.err(
                file,
                c,
                "`refuse_exit`: exit code 0 means success; list the non-zero codes a step \
                 exits with when it declines",
            ),
            Ok(range) => out.push(range),
            Err(msg) => cx.err(file, c, format!("`refuse_exit`: {msg}")),
        }
    }
    Some(out)
}

/// Reports every dependency cycle with its path, e.g. `a -> b -> c -> a`.
fn check_cycles(cx: &mut Ctx<'_>, file: &Path, spec: &JobSpec, steps: &[Step]) {
    let mut g = DiGraph::<usize, ()>::new();
    let nodes: Vec<_> = (0..steps.len()).map(|i| g.add_node(i)).collect();
    for (i, s) in steps.iter().enumerate() {
        for &n in &s.needs {
            g.add_edge(nodes[i], nodes[n], ());
        }
    }
    for scc in petgraph::algo::tarjan_scc(&g) {
        if scc.len() < 2 {
            continue;
        }
        let members: HashSet<usize> = scc.iter().map(|n| g[*n]).collect();
        let start = *members.iter().min().unwrap_or(&0);
        // Walk needs inside the component until a step repeats: that loop is a cycle.
        let mut path = vec![start];
        let mut cur = start;
        let cycle = loop {
            let Some(&next) = steps[cur].needs.iter().find(|n| members.contains(n)) else {
                break path.clone();
            };
            if let Some(pos) = path.iter().position(|&p| p == next) {
                let mut c = path[pos..].to_vec();
                c.push(next);
                break c;
            }
            path.push(next);
            cur = next;
        };
        let names: Vec<&str> = cycle.iter().map(|&i| steps[i].name.as_str()).collect();
        let first = &spec.steps[cycle[0]];
        cx.err(
            file,
            first,
            format!("dependency cycle: {}", names.join(" -> ")),
        );
    }
}

/// `title:`, the name an official reads: one line, not blank, at most
/// [`crate::model::TITLE_MAX`] characters.
fn title(cx: &mut Ctx<'_>, file: &Path, t: &Option<Spanned<String>>) -> Option<String> {
    let t = t.as_ref()?;
    let text = t.value.trim();
    let problem = if text.is_empty() {
        Some("`title` is empty (leave it out to show the job by its name)".to_owned())
    } else if text.contains(['\n', '\r']) {
        Some("`title` must be one line".to_owned())
    } else if text.chars().count() > crate::model::TITLE_MAX {
        Some(format!(
            "`title` has {} characters; at most {} fit a table's cell",
            text.chars().count(),
            crate::model::TITLE_MAX
        ))
    } else {
        None
    };
    match problem {
        Some(m) => {
            cx.err(file, t, m);
            None
        }
        None => Some(text.to_owned()),
    }
}
