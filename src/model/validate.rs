//! Building the catalog from raw definitions: every check that needs more than one value,
//! every reference, every syntax inside strings (durations, cron, regexes, templates).
//! Problems are collected, never returned early, so `unyo validate` shows all of them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::LazyLock;
use std::time::Duration;

use chrono::{NaiveDate, Weekday};
use chrono_tz::Tz;
use indexmap::IndexMap;
use petgraph::graph::DiGraph;
use regex::Regex;
use serde_saphyr::Spanned;
use sha2::{Digest, Sha256};

use super::values::{parse_clock, parse_duration};
use super::*;
use crate::spec::{
    self, CalendarSpec, CodeSpec, Diagnostic, Diagnostics, FileSpec, JobSpec, MatchSpec,
    RemediateSpec, RunbookSpec, ScheduleFileSpec, SourceFile, StepSpec, WeekdaySpec, diag,
};

/// Names of jobs, steps, runbooks, calendars, windows and schedules.
static NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$").expect("static regex"));
/// Names of parameters and environment variables.
static IDENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$").expect("static regex"));
/// `params.NAME` inside a template.
static PARAM_REF: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bparams\.([A-Za-z0-9_-]+)").expect("static regex"));
/// A raw (unescaped) handlebars expression: `{{{x}}}` or `{{&x}}`.
static RAW_EXPR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{\{~?\s*[{&]").expect("static regex"));

/// True when a `run:` line has no raw expression that would bypass shell quoting.
pub fn shell_line_is_safe(line: &str) -> bool {
    !RAW_EXPR.is_match(line)
}

struct Ctx<'a> {
    diags: Diagnostics,
    hasher: Sha256,
    root: &'a Path,
    /// Kinds of definition (`"calendar"`, `"window"`) with a file that did not parse: a
    /// reference to an unknown name of that kind may be in that file, so it is not reported.
    incomplete: HashSet<&'static str>,
    /// Jobs and runbooks (kind, file stem) whose file did not parse, or a runbook that did
    /// not validate: known to exist, so a reference to one is not "unknown".
    unparsed: HashSet<(&'static str, String)>,
}

impl Ctx<'_> {
    fn err<T>(&mut self, file: &Path, at: &Spanned<T>, msg: impl Into<String>) {
        self.diags.push(Diagnostic::spanned(file, at, msg));
    }

    /// Reads and parses every YAML file of one folder.
    fn read_dir<T: FileSpec>(&mut self, dir: &str, kinds: &[&'static str]) -> Vec<(SourceFile, T)> {
        let path = self.root.join(dir);
        let files = match spec::yaml_files(&path) {
            Ok(f) => f,
            Err(e) => {
                self.diags.push(Diagnostic::file(
                    Path::new(dir),
                    format!("cannot list: {e}"),
                ));
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for file in files {
            let src = match spec::read_source(self.root, &file) {
                Ok(s) => s,
                Err(d) => {
                    self.diags.push(d);
                    continue;
                }
            };
            self.hasher.update(src.display.to_string_lossy().as_bytes());
            self.hasher.update([0]);
            self.hasher.update(src.text.as_bytes());
            self.hasher.update([0]);
            // A file with an unknown key is read without it, so its other problems are
            // found too (a dangling `needs:` beside a mistyped key).
            let (parsed, problems) = spec::parse_lenient::<T>(&src);
            self.diags.0.extend(problems);
            match parsed {
                Some(v) => out.push((src, v)),
                None => match kinds {
                    [kind @ ("job" | "runbook")] => {
                        let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned());
                        self.unparsed.insert((kind, stem.unwrap_or_default()));
                    }
                    _ => self.incomplete.extend(kinds),
                },
            }
        }
        out
    }

    fn duration(
        &mut self,
        file: &Path,
        v: &Option<Spanned<String>>,
        key: &str,
    ) -> Option<Duration> {
        let v = v.as_ref()?;
        match parse_duration(&v.value) {
            Ok(d) if d.is_zero() => {
                self.err(file, v, format!("`{key}` must be longer than zero"));
                None
            }
            Ok(d) => Some(d),
            Err(m) => {
                self.err(file, v, format!("`{key}`: {m}"));
                None
            }
        }
    }

    fn name(&mut self, file: &Path, v: &Spanned<String>, what: &str) {
        if !NAME.is_match(&v.value) {
            self.err(
                file,
                v,
                format!(
                    "bad {what} name `{}` (letters, digits, `.`, `_`, `-`; starting with a letter or digit)",
                    v.value
                ),
            );
        }
    }

    fn reference<'n>(
        &mut self,
        file: &Path,
        v: &Spanned<String>,
        what: &str,
        names: impl IntoIterator<Item = &'n String> + Clone,
    ) {
        let unparsed = self
            .unparsed
            .iter()
            .any(|(k, stem)| *k == what && *stem == v.value);
        if !self.incomplete.contains(what)
            && !unparsed
            && !names.clone().into_iter().any(|n| *n == v.value)
        {
            // A name whose definition has problems is still a name the operator may mean.
            let mut candidates: Vec<&str> = names.into_iter().map(String::as_str).collect();
            candidates.extend(
                self.unparsed
                    .iter()
                    .filter(|(k, _)| *k == what)
                    .map(|(_, stem)| stem.as_str()),
            );
            let hint = diag::hint(&v.value, candidates);
            self.err(file, v, format!("unknown {what} `{}`{hint}", v.value));
        }
    }

    /// Checks a template: it compiles, and every `params.X` it reads is declared.
    fn template(
        &mut self,
        file: &Path,
        at: &Spanned<impl Sized>,
        text: &str,
        params: &IndexMap<String, Spanned<crate::spec::ParamSpec>>,
        shell: bool,
    ) {
        if !text.contains("{{") {
            return;
        }
        if let Err(e) = handlebars::Template::compile(text) {
            self.err(file, at, format!("bad template `{text}`: {}", e.reason()));
            return;
        }
        if shell && !shell_line_is_safe(text) {
            self.err(
                file,
                at,
                "`{{{...}}}` and `{{&...}}` are not allowed in `run:` lines: values are always shell-quoted there",
            );
        }
        for cap in expressions(text).flat_map(|e| PARAM_REF.captures_iter(e)) {
            let name = &cap[1];
            if !params.contains_key(name) {
                let hint = diag::hint(name, params.keys().map(String::as_str));
                self.err(
                    file,
                    at,
                    format!("template reads unknown parameter `{name}`{hint}"),
                );
            }
        }
    }
}

impl Ctx<'_> {
    /// Refuses a secret parameter in a template other than an `env:` value (`argv`, `run`,
    /// `workdir`): an argument is seen by every user of the machine (`ps`) and printed by
    /// programs that echo their command line.
    fn no_secret(
        &mut self,
        file: &Path,
        at: &Spanned<impl Sized>,
        text: &str,
        params: &IndexMap<String, Spanned<crate::spec::ParamSpec>>,
        place: &str,
    ) {
        for cap in expressions(text).flat_map(|e| PARAM_REF.captures_iter(e)) {
            let name = &cap[1];
            if params.get(name).is_some_and(|p| secret(name, &p.value)) {
                let var = name.to_ascii_uppercase();
                self.err(
                    file,
                    at,
                    format!(
                        "secret parameter `{name}` in `{place}`: a secret reaches a step only \
                         through its environment (`env: {{ {var}: \"{{{{params.{name}}}}}\" }}`, \
                         then `${var}`)"
                    ),
                );
            }
        }
    }
}

/// Whether a declared parameter is secret (`secret:`, else by its name).
fn secret(name: &str, p: &crate::spec::ParamSpec) -> bool {
    p.secret.unwrap_or_else(|| Param::secret_by_name(name))
}

/// The `{{ ... }}` expressions of a template, without the literal text around them and
/// without escaped `\{{` (which handlebars prints as it is).
fn expressions(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        loop {
            let open = rest.find("{{")?;
            let escaped = rest[..open].ends_with('\\');
            let after = &rest[open + 2..];
            let (expr, next) = match after.find("}}") {
                Some(c) => (&after[..c], &after[c + 2..]),
                None => (after, ""),
            };
            rest = next;
            if !escaped {
                return Some(expr);
            }
        }
    })
}

/// The name of a definition: `name:` if given, else the file stem.
fn name_of(src: &SourceFile, explicit: &Option<Spanned<String>>) -> String {
    explicit.as_ref().map_or_else(
        || {
            src.display
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        },
        |n| n.value.clone(),
    )
}

pub(super) fn load(settings: &Settings) -> Result<Catalog, Diagnostics> {
    let mut cx = Ctx {
        diags: Diagnostics::default(),
        hasher: Sha256::new(),
        root: &settings.root,
        incomplete: HashSet::new(),
        unparsed: HashSet::new(),
    };
    let raw_runbooks: Vec<(SourceFile, RunbookSpec)> = cx.read_dir("runbooks", &["runbook"]);
    let raw_schedules: Vec<(SourceFile, ScheduleFileSpec)> =
        cx.read_dir("schedules", &["calendar", "window"]);
    let raw_jobs: Vec<(SourceFile, JobSpec)> = cx.read_dir("jobs", &["job"]);

    let mut runbooks = BTreeMap::new();
    for (src, spec) in &raw_runbooks {
        let name = name_of(src, &None);
        match runbook(&mut cx, src, &name, spec) {
            Some(rb) => {
                runbooks.insert(name, Arc::new(rb));
            }
            // Its problems are reported; the jobs naming it name a runbook that exists.
            None => {
                cx.unparsed.insert(("runbook", name));
            }
        }
    }
    let runbook_names: Vec<String> = runbooks.keys().cloned().collect();
    if let (Some(rb), Some(file)) = (&settings.default_runbook, &settings.file) {
        let file = file
            .strip_prefix(&settings.root)
            .unwrap_or(file)
            .to_path_buf();
        cx.reference(&file, rb, "runbook", &runbook_names);
    }

    let mut calendars = BTreeMap::new();
    let mut windows = BTreeMap::new();
    let mut seen: HashMap<(String, &str), PathBuf> = HashMap::new();
    for (src, spec) in &raw_schedules {
        let file = &src.display;
        for (name, cal) in &spec.calendars {
            if let Some(prev) = seen.insert((name.clone(), "calendar"), file.clone()) {
                cx.err(
                    file,
                    cal,
                    format!("calendar `{name}` is also defined in {}", prev.display()),
                );
            }
            let named = Spanned::new(name.clone(), cal.referenced, cal.defined);
            cx.name(file, &named, "calendar");
            calendars.insert(name.clone(), calendar(&mut cx, file, name, &cal.value));
        }
        for (name, w) in &spec.windows {
            if let Some(prev) = seen.insert((name.clone(), "window"), file.clone()) {
                cx.err(
                    file,
                    w,
                    format!("window `{name}` is also defined in {}", prev.display()),
                );
            }
            let from = parse_clock(&w.value.from.value);
            let to = parse_clock(&w.value.to.value);
            match (from, to) {
                (Ok(from), Ok(to)) if from == to => cx.err(
                    file,
                    &w.value.from,
                    format!("window `{name}` is empty (`from` equals `to`)"),
                ),
                (Ok(from), Ok(to)) => {
                    windows.insert(
                        name.clone(),
                        Window {
                            name: name.clone(),
                            from,
                            to,
                        },
                    );
                }
                (f, t) => {
                    if let Err(m) = f {
                        cx.err(file, &w.value.from, format!("`from`: {m}"));
                    }
                    if let Err(m) = t {
                        cx.err(file, &w.value.to, format!("`to`: {m}"));
                    }
                }
            }
        }
    }
    let calendar_names: Vec<String> = calendars.keys().cloned().collect();
    if let (Some(n), Some(file)) = (&settings.notify, &settings.file)
        && let Some(at) = &n.desk_hours.calendar
        && !cx.incomplete.contains("calendar")
        && let Some(msg) = n.check_calendar(&calendar_names)
    {
        let file = file
            .strip_prefix(&settings.root)
            .unwrap_or(file)
            .to_path_buf();
        cx.err(&file, at, msg);
    }
    let window_names: Vec<String> = windows.keys().cloned().collect();

    let mut jobs = BTreeMap::new();
    let mut job_files: HashMap<String, PathBuf> = HashMap::new();
    for (src, spec) in &raw_jobs {
        let name = name_of(src, &spec.name);
        let file = &src.display;
        match &spec.name {
            Some(n) => cx.name(file, n, "job"),
            None if !NAME.is_match(&name) => cx.diags.push(Diagnostic::file(
                file,
                format!(
                    "the file name gives the bad job name `{name}`; rename the file or set `name:`"
                ),
            )),
            None => {}
        }
        if let Some(prev) = job_files.insert(name.clone(), file.clone()) {
            cx.diags.push(Diagnostic::file(
                file,
                format!("job `{name}` is also defined in {}", prev.display()),
            ));
            continue;
        }
        for r in [&spec.window, &spec.avoid].into_iter().flatten() {
            cx.reference(file, r, "window", &window_names);
        }
        if let Some(r) = &spec.runbook {
            cx.reference(file, r, "runbook", &runbook_names);
        }
        if let Some(j) = job(&mut cx, src, &name, spec, &runbook_names) {
            jobs.insert(name, Arc::new(j));
        }
    }
    let job_names: Vec<String> = job_files.keys().cloned().collect();
    for (src, spec) in &raw_jobs {
        let Some(after) = &spec.after else { continue };
        let me = name_of(src, &spec.name);
        for other in &after.value {
            let at = Spanned::new(other.clone(), after.referenced, after.defined);
            if *other == me {
                cx.err(
                    &src.display,
                    &at,
                    format!("job `{me}` cannot wait for itself"),
                );
            } else {
                cx.reference(&src.display, &at, "job", &job_names);
            }
        }
    }

    // `service:` of unyo.yaml names windows and jobs, which only the catalog knows.
    if let (Some(service), Some(file)) = (&settings.service, &settings.file) {
        let file = file
            .strip_prefix(&settings.root)
            .unwrap_or(file)
            .to_path_buf();
        for (at, kind, msg) in service.check_references(&window_names, &job_names) {
            // A name that may be in a file that did not parse is not reported.
            let unparsed = cx
                .unparsed
                .iter()
                .any(|(k, stem)| *k == kind && *stem == at.value);
            if !cx.incomplete.contains(kind) && !unparsed {
                cx.err(&file, at, msg);
            }
        }
    }

    let mut schedules = Vec::new();
    let mut schedule_names: HashSet<String> = HashSet::new();
    for (src, spec) in &raw_schedules {
        let file = &src.display;
        for s in &spec.schedules {
            if let Some(sch) = schedule(
                &mut cx,
                file,
                &s.value,
                settings,
                &job_names,
                &calendar_names,
                &jobs,
            ) {
                if !schedule_names.insert(sch.name.clone()) {
                    cx.err(
                        file,
                        s,
                        format!(
                            "schedule name `{}` is used twice; set `name:` to tell them apart",
                            sch.name
                        ),
                    );
                }
                schedules.push(sch);
            }
        }
    }

    let digest = format!("{:x}", cx.hasher.finalize());
    let mut diags = cx.diags;
    if !diags.is_empty() {
        diags.sort();
        return Err(diags);
    }
    Ok(Catalog {
        jobs,
        runbooks,
        calendars,
        windows,
        schedules,
        digest,
    })
}

fn job(
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
            && let Err(m) =
                super::param_value::check_value(&param, d, chrono::Utc::now().date_naive(), cx.root)
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
    let job_timeout = cx.duration(file, &spec.timeout, "timeout");
    let sla = spec.sla.as_ref().map(|s| sla(cx, file, s));
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
        wait_timeout: wait_timeout.unwrap_or(super::DEFAULT_WAIT_TIMEOUT),
        on_interrupt: spec.on_interrupt.unwrap_or_default(),
        adhoc: spec.adhoc,
        separate_approver: spec.separate_approver,
        allowed_users: spec.allowed_users.clone().unwrap_or_default(),
        allowed_groups: spec.allowed_groups.clone().unwrap_or_default(),
        sla,
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

/// A parameter's declaration: the rules that fit its type, each checked.
fn param(
    cx: &mut Ctx<'_>,
    file: &Path,
    name: &str,
    at: &Spanned<crate::spec::ParamSpec>,
    default: Option<String>,
) -> Param {
    let spec = &at.value;
    let kind = spec.kind;
    let mut out = Param {
        kind,
        description: spec.description.clone(),
        required: spec.required,
        default,
        ..Param::default()
    };
    if let Some(p) = &spec.pattern {
        if kind != ParamType::String {
            cx.err(
                file,
                p,
                format!(
                    "`pattern` applies to string parameters; `{name}` is `{}`",
                    type_name(kind)
                ),
            );
        }
        match regex::RegexBuilder::new(&p.value)
            .size_limit(1 << 20)
            .build()
        {
            Ok(re) => out.pattern = Some(re),
            Err(e) => cx.err(file, p, format!("bad `pattern` for `{name}`: {e}")),
        }
    }
    if let Some(m) = &spec.max_len {
        if kind != ParamType::String {
            cx.err(
                file,
                m,
                format!(
                    "`max_len` applies to string parameters; `{name}` is `{}`",
                    type_name(kind)
                ),
            );
        }
        out.max_len = Some(m.value as usize);
    }
    for (key, v, slot) in [
        ("min", &spec.min, &mut out.min),
        ("max", &spec.max, &mut out.max),
    ] {
        if let Some(v) = v {
            if kind != ParamType::Int {
                cx.err(
                    file,
                    v,
                    format!(
                        "`{key}` applies to int parameters; `{name}` is `{}`",
                        type_name(kind)
                    ),
                );
            }
            *slot = Some(v.value);
        }
    }
    if let (Some(lo), Some(hi), Some(at)) = (out.min, out.max, &spec.max)
        && lo > hi
    {
        cx.err(file, at, format!("`max` {hi} is less than `min` {lo}"));
    }
    match (&spec.values, kind) {
        (Some(v), ParamType::Enum | ParamType::List) if v.value.is_empty() => {
            cx.err(
                file,
                v,
                format!(
                    "{} parameter `{name}` needs at least one of `values`",
                    type_name(kind)
                ),
            );
        }
        (Some(v), ParamType::Enum) => out.values = v.value.clone(),
        (Some(v), ParamType::List) => {
            // Items are split at commas, so a value holding one could never be chosen.
            if let Some(bad) = v
                .value
                .iter()
                .find(|x| x.contains(',') || x.trim() != x.as_str() || x.is_empty())
            {
                cx.err(
                    file,
                    v,
                    format!(
                        "list parameter `{name}`: value `{bad}` must not be empty, hold a comma \
                         or begin or end with a space"
                    ),
                );
            }
            if let Some(twice) = v
                .value
                .iter()
                .enumerate()
                .find(|(i, x)| v.value[..*i].contains(*x))
            {
                cx.err(
                    file,
                    v,
                    format!(
                        "list parameter `{name}`: value `{}` is listed twice",
                        twice.1
                    ),
                );
            }
            out.values = v.value.clone();
        }
        (Some(v), _) => cx.err(
            file,
            v,
            format!(
                "`values` applies to enum and list parameters; `{name}` is `{}`",
                type_name(kind)
            ),
        ),
        (None, ParamType::Enum | ParamType::List) => cx.err(
            file,
            at,
            format!("{} parameter `{name}` needs `values`", type_name(kind)),
        ),
        (None, _) => {}
    }
    match (&spec.roots, kind) {
        (Some(r), ParamType::Path) if r.value.is_empty() => {
            cx.err(
                file,
                r,
                format!("path parameter `{name}` needs at least one of `roots`"),
            );
        }
        (Some(r), ParamType::Path) => {
            for root in &r.value {
                let p = std::path::Path::new(root);
                if p.components()
                    .any(|c| matches!(c, std::path::Component::ParentDir))
                {
                    cx.err(file, r, format!("root `{root}` must not contain `..`"));
                }
                out.roots.push(cx.root.join(p).components().collect());
            }
        }
        (Some(r), _) => cx.err(
            file,
            r,
            format!(
                "`roots` applies to path parameters; `{name}` is `{}`",
                type_name(kind)
            ),
        ),
        (None, ParamType::Path) => cx.err(
            file,
            at,
            format!("path parameter `{name}` needs `roots` (the folders it must stay inside)"),
        ),
        (None, _) => {}
    }
    if let Some(tb) = &spec.type_by {
        if kind != ParamType::String {
            cx.err(
                file,
                tb,
                format!(
                    "`type_by` applies to string parameters; `{name}` is `{}`",
                    type_name(kind)
                ),
            );
        }
        let mut entries = tb.value.iter();
        match (entries.next(), entries.next()) {
            (Some((other, table)), None) => {
                let mut types = IndexMap::new();
                for (value, ty) in table {
                    match ValueType::parse(ty) {
                        Some(t) => {
                            types.insert(value.clone(), t);
                        }
                        None => cx.err(
                            file,
                            tb,
                            format!(
                                "`type_by` of `{name}`: unknown type `{ty}` for `{value}`{} \
                                 (one of: {})",
                                diag::hint(ty, ValueType::NAMES),
                                ValueType::NAMES.join(", ")
                            ),
                        ),
                    }
                }
                out.type_by = Some((other.clone(), types));
            }
            _ => cx.err(
                file,
                tb,
                format!(
                    "`type_by` of `{name}` names one enum parameter with the type for each \
                     of its values (`type_by: {{ key: {{ rate: int }} }}`)"
                ),
            ),
        }
    }
    out.secret = spec.secret.unwrap_or_else(|| Param::secret_by_name(name));
    if let Some(var) = &spec.from_env {
        if !IDENT.is_match(&var.value) {
            cx.err(
                file,
                var,
                format!(
                    "`from_env` must name an environment variable, not `{}`",
                    var.value
                ),
            );
        }
        if !out.secret {
            cx.err(
                file,
                var,
                format!(
                    "`from_env` is for secret parameters; `{name}` is not secret (`secret: true`)"
                ),
            );
        }
        out.from_env = Some(var.value.clone());
    }
    if out.secret
        && let Some(d) = &spec.default
    {
        cx.err(
            file,
            d,
            format!(
                "secret parameter `{name}` cannot have a default: a definition file is no \
                     place for a secret (use `from_env`)"
            ),
        );
    }
    out
}

fn type_name(kind: ParamType) -> &'static str {
    match kind {
        ParamType::String => "string",
        ParamType::Int => "int",
        ParamType::Bool => "bool",
        ParamType::Date => "date",
        ParamType::Month => "month",
        ParamType::Enum => "enum",
        ParamType::List => "list",
        ParamType::Path => "path",
    }
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
        };
    }
    if let (Some(a), 2..) = (&spec.approval, kinds) {
        cx.err(
            file,
            a,
            format!("step `{name}` is an approval: it has no `argv` or `run`"),
        );
    }
    let action = match (&spec.argv, &spec.run) {
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
                    format!("step `{name}` needs `argv`, `run` or `approval`"),
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
    }
}

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

fn runbook(cx: &mut Ctx<'_>, src: &SourceFile, name: &str, spec: &RunbookSpec) -> Option<Runbook> {
    let file = &src.display;
    let before = cx.diags.len();
    if !NAME.is_match(name) {
        cx.diags.push(Diagnostic::file(
            file,
            format!("the file name gives the bad runbook name `{name}`"),
        ));
    }
    if spec.rules.is_empty() {
        cx.diags.push(Diagnostic::file(
            file,
            format!("runbook `{name}` has no rules"),
        ));
    }
    let mut rules = Vec::new();
    for r in &spec.rules {
        let rs = &r.value;
        let matcher = match &rs.matcher.value {
            MatchSpec::Any => Match::default(),
            MatchSpec::Conditions(m) => {
                let mut out = Match::default();
                for c in m.exit_codes.iter().flatten() {
                    match code_range(&c.value) {
                        Ok(range) => out.exit_codes.push(range),
                        Err(msg) => cx.err(file, c, msg),
                    }
                }
                for s in m.signal.iter().flatten() {
                    match signal_number(&s.value) {
                        Some(n) => out.signals.push(n),
                        None => cx.err(
                            file,
                            s,
                            format!("unknown signal `{}` (e.g. `TERM`, `KILL`, `9`)", s.value),
                        ),
                    }
                }
                out.timeout = m.timeout;
                for (slot, re) in [
                    (&mut out.stdout, &m.stdout),
                    (&mut out.stderr, &m.stderr),
                    (&mut out.output, &m.output),
                ] {
                    if let Some(re) = re {
                        match regex::RegexBuilder::new(&re.value)
                            .size_limit(1 << 20)
                            .build()
                        {
                            Ok(r) => *slot = Some(r),
                            Err(e) => cx.err(file, re, format!("bad regular expression: {e}")),
                        }
                    }
                }
                out.elapsed_over = cx.duration(file, &m.elapsed_over, "elapsed_over");
                if m.any == Some(false) {
                    cx.err(file, &rs.matcher, "`any: false` matches nothing; remove it");
                }
                out
            }
        };
        let retry = rs.retry.as_ref().map(|rt| {
            let initial = cx
                .duration(file, &rt.initial, "initial")
                .unwrap_or(Duration::from_secs(30));
            let max_delay = cx
                .duration(file, &rt.max_delay, "max_delay")
                .unwrap_or(Duration::from_secs(3600));
            if max_delay < initial {
                cx.err(file, &rt.max, "`max_delay` is shorter than `initial`");
            }
            Retry {
                max: rt.max.value,
                backoff: rt.backoff,
                initial,
                max_delay,
                jitter: cx.duration(file, &rt.jitter, "jitter").unwrap_or_default(),
            }
        });
        let remediate = rs.remediate.as_ref().and_then(|rm| match &rm.value {
            RemediateSpec::Line(l) => Some(Remediation {
                action: Action::Shell(l.clone()),
                timeout: Duration::from_secs(300),
            }),
            RemediateSpec::Command(c) => {
                let timeout = cx
                    .duration(file, &c.timeout, "timeout")
                    .unwrap_or(Duration::from_secs(300));
                let action = match (&c.run, &c.argv) {
                    (Some(r), None) => Action::Shell(r.clone()),
                    (None, Some(a)) if !a.is_empty() => Action::Argv(a.clone()),
                    _ => {
                        cx.err(
                            file,
                            rm,
                            "`remediate` needs exactly one of `run` or a non-empty `argv`",
                        );
                        return None;
                    }
                };
                Some(Remediation { action, timeout })
            }
        });
        // Remediation commands are templates too: they must compile, and a `run:` line must
        // not hold a raw expression. (Parameters are the job's, unknown to a runbook.)
        if let (Some(rem), Some(at)) = (&remediate, &rs.remediate) {
            let (texts, shell): (Vec<&str>, bool) = match &rem.action {
                Action::Shell(l) => (vec![l.as_str()], true),
                Action::Argv(a) => (a.iter().map(String::as_str).collect(), false),
                Action::Approval { .. } => (Vec::new(), false),
            };
            for text in texts.into_iter().filter(|t| t.contains("{{")) {
                if let Err(e) = handlebars::Template::compile(text) {
                    cx.err(file, at, format!("bad template `{text}`: {}", e.reason()));
                } else if shell && !shell_line_is_safe(text) {
                    cx.err(
                        file,
                        at,
                        "`{{{...}}}` and `{{&...}}` are not allowed in a remediation `run:` line: values are always shell-quoted there",
                    );
                }
            }
        }
        if retry.is_none() && remediate.is_none() && rs.escalate.is_none() && !rs.keep_going {
            cx.err(
                file,
                r,
                "rule does nothing: give `retry`, `remediate`, `escalate` or `continue`",
            );
        }
        rules.push(Rule {
            description: rs.description.clone(),
            matcher,
            retry,
            remediate,
            escalate: rs.escalate.as_ref().map(|e| e.severity),
            keep_going: rs.keep_going,
        });
    }
    (cx.diags.len() == before).then(|| Runbook {
        name: name.to_owned(),
        file: file.clone(),
        description: spec.description.clone(),
        rules,
    })
}

fn code_range(c: &CodeSpec) -> Result<(i32, i32), String> {
    let check = |n: i64| {
        i32::try_from(n)
            .ok()
            .filter(|n| (0..=255).contains(n))
            .ok_or_else(|| format!("exit code {n} is out of range 0-255"))
    };
    match c {
        CodeSpec::Code(n) => check(*n).map(|n| (n, n)),
        CodeSpec::Range(s) => {
            let bad = || format!("bad exit code range `{s}` (e.g. `64-78`)");
            let (a, b) = s.split_once('-').ok_or_else(bad)?;
            let a: i64 = a.trim().parse().map_err(|_| bad())?;
            let b: i64 = b.trim().parse().map_err(|_| bad())?;
            let (a, b) = (check(a)?, check(b)?);
            if a > b {
                return Err(bad());
            }
            Ok((a, b))
        }
    }
}

fn signal_number(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return nix::sys::signal::Signal::try_from(n).ok().map(|s| s as i32);
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<nix::sys::signal::Signal>()
        .ok()
        .map(|s| s as i32)
}

fn calendar(cx: &mut Ctx<'_>, file: &Path, name: &str, spec: &CalendarSpec) -> Calendar {
    let weekends = spec
        .weekends
        .as_ref()
        .map(|w| {
            w.iter()
                .map(|d| match d {
                    WeekdaySpec::Mon => Weekday::Mon,
                    WeekdaySpec::Tue => Weekday::Tue,
                    WeekdaySpec::Wed => Weekday::Wed,
                    WeekdaySpec::Thu => Weekday::Thu,
                    WeekdaySpec::Fri => Weekday::Fri,
                    WeekdaySpec::Sat => Weekday::Sat,
                    WeekdaySpec::Sun => Weekday::Sun,
                })
                .collect()
        })
        .unwrap_or_else(|| vec![Weekday::Sat, Weekday::Sun]);
    let mut closed = Vec::new();
    for c in &spec.closed {
        match day_rule(&c.value) {
            Ok(r) => closed.push(r),
            Err(m) => cx.err(file, c, m),
        }
    }
    let mut open = Vec::new();
    for o in &spec.open {
        match NaiveDate::parse_from_str(o.value.trim(), "%Y-%m-%d") {
            Ok(d) => open.push(d),
            Err(_) => cx.err(
                file,
                o,
                format!("bad date `{}` (expected `YYYY-MM-DD`)", o.value),
            ),
        }
    }
    Calendar {
        name: name.to_owned(),
        weekends,
        holidays: spec.holidays.unwrap_or(HolidaySet::Japan),
        closed,
        open,
    }
}

fn day_rule(text: &str) -> Result<DayRule, String> {
    let bad = || {
        format!(
            "bad closed day `{text}` (expected `MM-DD`, `MM-DD..MM-DD`, `YYYY-MM-DD` or `YYYY-MM-DD..YYYY-MM-DD`)"
        )
    };
    let (a, b) = match text.split_once("..") {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (text.trim(), text.trim()),
    };
    let month_day = |s: &str| -> Option<(u32, u32)> {
        let (m, d) = s.split_once('-')?;
        let (m, d) = (m.parse().ok()?, d.parse().ok()?);
        // 2000 is a leap year, so 02-29 is accepted.
        NaiveDate::from_ymd_opt(2000, m, d).map(|_| (m, d))
    };
    let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    if a.len() == 5 && b.len() == 5 {
        let (from, to) = (month_day(a).ok_or_else(bad)?, month_day(b).ok_or_else(bad)?);
        return Ok(DayRule::Yearly { from, to });
    }
    let (from, to) = (date(a).ok_or_else(bad)?, date(b).ok_or_else(bad)?);
    if from > to {
        return Err(format!("closed range `{text}` ends before it starts"));
    }
    Ok(DayRule::Dates { from, to })
}

fn schedule(
    cx: &mut Ctx<'_>,
    file: &Path,
    spec: &crate::spec::ScheduleSpec,
    settings: &Settings,
    jobs: &[String],
    calendars: &[String],
    jobs_model: &BTreeMap<String, Arc<Job>>,
) -> Option<Schedule> {
    let before = cx.diags.len();
    cx.reference(file, &spec.job, "job", jobs);
    if let Some(n) = &spec.name {
        cx.name(file, n, "schedule");
    }
    let cron = spec.cron.value.trim().to_owned();
    if let Err(m) = crate::domain::cron::parse_cron(&cron) {
        let message = format!(
            "invalid cron expression `{cron}`: {}",
            m.trim_end_matches('.')
        );
        // Point at the field at fault when the value is written as it reads (plain, or in
        // quotes without escapes): its span is then the text, or the text and two quotes.
        let at = spec.cron.referenced;
        let written = u64::try_from(spec.cron.value.chars().count()).unwrap_or(u64::MAX);
        let quote = match at.span().len() {
            n if n == written => Some(0),
            n if n == written.saturating_add(2) => Some(1),
            _ => None,
        };
        match (
            quote,
            crate::domain::cron::cron_fault_offset(&spec.cron.value),
        ) {
            (Some(q), Some(offset)) if at.line() > 0 => {
                let column = usize::try_from(at.column()).unwrap_or(0) + q + offset;
                cx.diags.push(Diagnostic::new(
                    file,
                    u32::try_from(at.line()).unwrap_or(u32::MAX),
                    u32::try_from(column).unwrap_or(u32::MAX),
                    message,
                ));
            }
            _ => cx.err(file, &spec.cron, message),
        }
    }
    let timezone = match &spec.timezone {
        Some(tz) => tz.value.parse::<Tz>().unwrap_or_else(|_| {
            cx.err(
                file,
                tz,
                format!("unknown time zone `{}` (e.g. `Asia/Tokyo`)", tz.value),
            );
            settings.timezone
        }),
        None => settings.timezone,
    };
    if let Some(c) = &spec.calendar {
        cx.reference(file, c, "calendar", calendars);
    }
    // Naming a calendar means closed days do not run, unless `closed_day` says otherwise.
    let closed_day = spec.closed_day.unwrap_or(if spec.calendar.is_some() {
        ClosedDay::Skip
    } else {
        ClosedDay::Run
    });
    let business_day = spec.business_day.as_ref().and_then(|b| {
        if spec.calendar.is_none() {
            cx.err(
                file,
                b,
                "`business_day` needs a `calendar` to know which days are business days",
            );
        }
        match b.value.0.parse::<super::BusinessDay>() {
            Ok(d) => Some(d),
            Err(m) => {
                cx.err(file, b, format!("`business_day`: {m}"));
                None
            }
        }
    });
    if closed_day != ClosedDay::Run && spec.calendar.is_none() {
        cx.err(
            file,
            &spec.job,
            "`closed_day` needs a `calendar` to know which days are closed",
        );
    }
    let (misfire, misfire_within, misfire_max) = match &spec.misfire {
        Some(m) => (
            m.policy,
            cx.duration(file, &m.within, "within"),
            m.max.unwrap_or(10),
        ),
        None => (MisfirePolicy::Skip, None, 10),
    };
    let missed = match &spec.missed {
        None => Some(settings.incidents.severity),
        Some(m) => match (m.value.incident, m.value.severity) {
            (Some(false), Some(_)) => {
                cx.err(
                    file,
                    m,
                    "`missed`: `severity` has no use with `incident: false` (a missed slot is only recorded then)",
                );
                None
            }
            (Some(false), None) => None,
            (_, severity) => Some(severity.unwrap_or(settings.incidents.severity)),
        },
    };
    // The job's declared parameters (a job that did not validate is not checked against).
    let declared = jobs_model.get(&spec.job.value).map(|j| &j.params);
    let mut params = IndexMap::new();
    for (k, v) in &spec.params {
        match declared.map(|d| (d, d.get(k))) {
            Some((d, None)) => {
                let hint = diag::hint(k, d.keys().map(String::as_str));
                let msg = format!("job `{}` has no parameter `{k}`{hint}", spec.job.value);
                cx.err(file, v, msg);
            }
            Some((_, Some(p))) if p.secret => {
                cx.err(
                    file,
                    v,
                    format!(
                        "parameter `{k}` of job `{}` is secret: a definition file is no place \
                         for its value (declare `from_env` in the job and set that variable \
                         for the daemon)",
                        spec.job.value
                    ),
                );
            }
            Some((_, Some(_))) => {
                if let Some(p) = jobs_model
                    .get(&spec.job.value)
                    .and_then(|j| j.params.get(k))
                    && let Err(m) = super::param_value::check_value(
                        p,
                        &v.value.0,
                        chrono::Utc::now().date_naive(),
                        cx.root,
                    )
                {
                    cx.err(file, v, format!("parameter `{k}`: {m}"));
                }
            }
            None => {}
        }
        params.insert(k.clone(), v.value.0.clone());
    }
    if let Some(declared) = declared {
        for (k, p) in declared {
            if p.required && p.from_env.is_none() && !spec.params.contains_key(k) {
                let how = if p.secret {
                    "it is secret: declare `from_env` in the job and set that variable for \
                     the daemon"
                } else {
                    "give it under `params:`"
                };
                cx.err(
                    file,
                    &spec.job,
                    format!("job `{}` needs parameter `{k}`; {how}", spec.job.value),
                );
            }
        }
    }
    let name = spec
        .name
        .as_ref()
        .map_or_else(|| spec.job.value.clone(), |n| n.value.clone());
    (cx.diags.len() == before).then(|| Schedule {
        name,
        job: spec.job.value.clone(),
        cron,
        timezone,
        calendar: spec.calendar.as_ref().map(|c| c.value.clone()),
        closed_day,
        business_day,
        misfire,
        misfire_within,
        misfire_max,
        missed,
        overlap: spec.overlap.unwrap_or_default(),
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::expressions;
    use crate::model::{Catalog, Settings};

    /// Loads a definition tree written from `(path, text)` pairs; its diagnostics, one a line.
    fn compile(files: &[(&str, &[u8])]) -> Vec<String> {
        let dir = tempfile::tempdir().expect("temp dir");
        for (rel, text) in files {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, text).expect("write");
        }
        let settings = Settings::load(dir.path()).expect("settings");
        match Catalog::load(&settings) {
            Ok(_) => Vec::new(),
            Err(d) => d.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn an_unknown_key_does_not_hide_a_dangling_need() {
        let job = b"descripton: nightly\nsteps:\n  a:\n    run: echo\n    timout: 5s\n  b:\n    needs: [zz]\n    run: echo\n";
        assert_eq!(
            compile(&[("jobs/j.yaml", job)]),
            [
                "error: jobs/j.yaml:1:1: unknown key `descripton` (did you mean `description`?)",
                "error: jobs/j.yaml:5:5: unknown key `timout` (did you mean `timeout`?)",
                "error: jobs/j.yaml:7:12: step `b` needs `zz`, which is not a step of this job",
            ]
        );
        // A key inside a flow mapping cannot be cut out by lines: the key alone is reported.
        let flow = b"steps:\n  a: { run: echo, timout: 5s, needs: [zz] }\n";
        assert_eq!(
            compile(&[("jobs/j.yaml", flow)]),
            ["error: jobs/j.yaml:2:19: unknown key `timout` (did you mean `timeout`?)"]
        );
    }

    #[test]
    fn a_file_that_is_not_utf8_is_located_by_line_and_column() {
        // `データ` in Shift_JIS on line 3, after `    run: echo ` (14 characters).
        let job =
            b"# \xe5\xa4\x9c\xe9\x96\x93\nsteps:\n  a:\n    run: echo \x83\x66\x81\x5b\x83\x5e\n";
        let got = compile(&[("jobs/j.yaml", job)]);
        assert_eq!(
            got,
            [
                "error: jobs/j.yaml:4:15: not valid UTF-8 (bytes `\\x83`); save the file as UTF-8 (Shift_JIS and EUC-JP are not read)"
            ]
        );
        // Columns count characters: `夜間` is two.
        let got = compile(&[("jobs/j.yaml", b"# \xe5\xa4\x9c\xe9\x96\x93\xff\n")]);
        assert_eq!(
            got,
            [
                "error: jobs/j.yaml:1:5: not valid UTF-8 (bytes `\\xFF`); save the file as UTF-8 (Shift_JIS and EUC-JP are not read)"
            ]
        );
    }

    #[test]
    fn an_invalid_runbook_is_located_and_not_unknown_to_its_jobs() {
        let rb =
            b"rules:\n  - match: any\n    remediate:\n      run: ./fix.sh\n      timeout: 5x\n";
        let job = b"runbook: flaky\nsteps:\n  a:\n    run: echo\n    runbook: flaky\n";
        assert_eq!(
            compile(&[
                ("runbooks/flaky.yaml", rb),
                ("jobs/j.yaml", job),
                (
                    "jobs/k.yaml",
                    b"steps:\n  a:\n    run: echo\n    runbook: flakey\n"
                ),
            ]),
            [
                "error: jobs/k.yaml:4:14: unknown runbook `flakey` (did you mean `flaky`?)",
                "error: runbooks/flaky.yaml:5:16: `timeout`: bad duration `5x` (expected e.g. `30s`, `10m`, `2h`, `1h30m`)",
            ]
        );
        // The short form still reads as a shell line.
        let line = b"rules:\n  - match: any\n    remediate: ./fix.sh\n";
        assert_eq!(
            compile(&[("runbooks/flaky.yaml", line), ("jobs/j.yaml", job)]),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_cron_error_names_the_field_and_its_range() {
        let s = b"schedules:\n  - job: j\n    cron: \"0 25 * * *\"\n";
        assert_eq!(
            compile(&[
                ("jobs/j.yaml", b"steps:\n  a:\n    run: echo\n"),
                ("schedules/s.yaml", s),
            ]),
            [
                "error: schedules/s.yaml:3:14: invalid cron expression `0 25 * * *`: hour `25` out of range 0-23"
            ]
        );
    }

    #[test]
    fn only_template_expressions_are_read_for_parameters() {
        let e: Vec<&str> = expressions("./params.sh {{params.a}} \\{{params.b}} {{x}}").collect();
        assert_eq!(e, ["params.a", "x"]);
        let e: Vec<&str> = expressions("{{unclosed").collect();
        assert_eq!(e, ["unclosed"]);
    }
}
