//! Building the catalog from raw definitions: every check that needs more than one value,
//! every reference, every syntax inside strings (durations, cron, regexes, templates).
//! Problems are collected, never returned early, so `unyo validate` shows all of them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::LazyLock;
use std::time::Duration;

use indexmap::IndexMap;
use regex::Regex;
use serde_saphyr::Spanned;
use sha2::{Digest, Sha256};

use super::values::parse_duration;
use super::*;
use crate::spec::{
    self, Diagnostic, Diagnostics, FileSpec, JobSpec, RunbookSpec, ScheduleFileSpec, SourceFile,
    diag,
};

mod calendar;
mod job;
mod param;
mod runbook;
mod schedule;

use calendar::{calendar, window};
use job::job;
use runbook::runbook;
use schedule::schedule;

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
    /// The folder of the plugins checks name by file name.
    plugins: &'a Path,
    /// Kinds of definition (`"calendar"`, `"window"`) with a file that did not parse: a
    /// reference to an unknown name of that kind may be in that file, so it is not reported.
    incomplete: HashSet<&'static str>,
    /// Jobs and runbooks (kind, file stem) whose file did not parse, or a runbook that did
    /// not validate: known to exist, so a reference to one is not "unknown".
    unparsed: HashSet<(&'static str, String)>,
    /// The names of `hosts:` in unyo.yaml.
    hosts: Vec<String>,
    /// Each `user:` of a step, as the problem it is when unyo cannot switch users.
    run_as: Vec<Diagnostic>,
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
        plugins: &settings.check_plugins,
        incomplete: HashSet::new(),
        unparsed: HashSet::new(),
        hosts: settings.hosts.keys().cloned().collect(),
        run_as: Vec::new(),
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
            if let Some(w) = window(&mut cx, file, name, &w.value) {
                windows.insert(name.clone(), w);
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
    // A target is checked by one step: its state and incident are the target's.
    let mut targets: HashMap<&str, &str> = HashMap::new();
    for job in jobs.values() {
        for step in &job.steps {
            let Some(c) = &step.check else { continue };
            if let Some(other) = targets.insert(&c.target, &job.name) {
                cx.diags.push(Diagnostic::file(
                    &job.file,
                    format!(
                        "step `{}`: target `{}` is checked by job `{other}` already; give this check its own `target`",
                        step.name, c.target
                    ),
                ));
            }
        }
    }
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
    let run_as = cx.run_as;
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
        run_as,
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
