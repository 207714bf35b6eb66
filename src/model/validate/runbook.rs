//! Checking a runbook: each rule's match (exit-code ranges, signals, regexes, durations), its
//! retry, remediation and escalation.

use std::time::Duration;

use super::{Ctx, NAME, shell_line_is_safe};
use crate::model::{Action, Match, Remediation, Retry, Rule, Runbook};
use crate::spec::{CodeSpec, Diagnostic, MatchSpec, RemediateSpec, RunbookSpec, SourceFile};

pub(super) fn runbook(
    cx: &mut Ctx<'_>,
    src: &SourceFile,
    name: &str,
    spec: &RunbookSpec,
) -> Option<Runbook> {
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
                out.connection_failed = m.connection_failed;
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

pub(super) fn code_range(c: &CodeSpec) -> Result<(i32, i32), String> {
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
