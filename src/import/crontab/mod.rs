//! Crontab files (`crontab -l`): five time fields or an `@` alias, then a shell command;
//! `NAME=value` lines set the environment of the entries after them. With the user column of
//! a system crontab (`--system`), the sixth field names the user an entry ran as.
//!
//! Each entry becomes `jobs/NAME.yaml` (one step `main` with the command as its `run:` line)
//! and one entry in `schedules/STEM.yaml`. The rules kept from the crontab format: the first
//! unescaped `%` ends the command and the rest is its standard input (each further `%` a
//! newline, a final newline added), `\%` is a literal `%`, and `CRON_TZ`/`TZ` give the time
//! zone of the entries after them, and `SHELL` the shell the commands after it run with
//! (written into their `run:` line). A job is named after the comment line right above its
//! entry, else after the program its command runs and that program's plain arguments. What
//! unyo cannot keep (`@reboot`, `MAILTO`) is reported, never dropped silently, and so are
//! credentials copied from a command line or an environment line (named, never shown).

use std::collections::HashSet;
use std::path::Path;
use std::sync::LazyLock;

use chrono_tz::Tz;
use indexmap::IndexMap;
use regex::Regex;

use super::{File, Import, Note, literal_template, yaml_comment, yaml_string};

mod credentials;
mod line;
mod name;
#[cfg(test)]
mod tests;

pub use credentials::credentials;
pub use line::{Entry, Line, parse_line, run_line, split_percent};
pub use name::{comment_name, comment_title, job_name};

use line::{expected, token};

/// What a report calls the source and where the schedule entries go.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    /// How the report names the file (`FILE:LINE: ...`).
    pub source: &'a str,
    /// Stem of the schedule file: `schedules/STEM.yaml`.
    pub stem: &'a str,
    /// The sixth field of each entry is a user name (system crontab).
    pub system: bool,
    /// The time zone schedules without `timezone:` use, for the report.
    pub default_timezone: &'a str,
}

/// The note for a value whose `{{` had to be escaped.
const ESCAPED_BRACES: &str = "`{{` is written `\\{{` so that it stays literal text, not a template";

/// Names of environment variables unyo accepts.
static IDENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$").expect("static regex"));

/// Why a file looks like a system crontab (a user column), or `None`. It does when it is
/// `/etc/crontab` or under `/etc/cron.d/`, or when the sixth field of every entry names a
/// user of this machine and at least one is `root`.
pub fn system_format_hint(
    text: &[u8],
    path: Option<&Path>,
    users: &HashSet<String>,
) -> Option<String> {
    if let Some(p) = path {
        let p = crate::model::absolute(p);
        if p == Path::new("/etc/crontab") || p.starts_with("/etc/cron.d") {
            return Some(format!("`{}` is a system crontab", p.display()));
        }
    }
    let mut root_at = None;
    let mut entries = 0;
    for (n, line) in lines(text) {
        let Ok(line) = line else { continue };
        if let Line::Entry(e) = parse_line(line, false) {
            entries += 1;
            let first = token(e.command).map(|(t, _)| t).unwrap_or_default();
            if !users.contains(first) {
                return None;
            }
            if first == "root" && root_at.is_none() {
                root_at = Some(n);
            }
        }
    }
    root_at
        .filter(|_| entries > 0)
        .map(|n| format!("the sixth field of every entry is a user name (line {n}: `root`)"))
}

/// `root` and the user names in `/etc/passwd`.
pub fn system_users() -> HashSet<String> {
    let mut users: HashSet<String> = std::fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(':').next())
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect();
    users.insert("root".to_owned());
    users
}

/// Numbered lines (from 1), each without its line end; `Err` for one that is not UTF-8.
fn lines(text: &[u8]) -> impl Iterator<Item = (usize, Result<&str, ()>)> {
    text.split(|b| *b == b'\n').enumerate().map(|(i, raw)| {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        (i + 1, std::str::from_utf8(raw).map_err(|_| ()))
    })
}

/// One entry carried over.
struct Carried {
    name: String,
    cron: String,
    timezone: Option<String>,
}

/// Converts a crontab into job files, a schedule file and a report.
pub fn import(text: &[u8], opts: &Options<'_>) -> Import {
    let mut notes = Vec::new();
    let mut note = |line: usize, text: String| {
        notes.push(Note {
            line: Some(line),
            text,
        });
    };
    let mut env: IndexMap<String, String> = IndexMap::new();
    let mut timezone: Option<String> = None;
    // `SHELL=` other than /bin/sh, for the entries below.
    let mut shell: Option<String> = None;
    // The comment line right above the current line: (its number, its text).
    let mut comment: Option<(usize, String)> = None;
    let mut named_by_comment = 0;
    let mut names: HashSet<String> = HashSet::new();
    let mut files = Vec::new();
    let mut carried: Vec<Carried> = Vec::new();

    for (n, line) in lines(text) {
        let above = comment.take();
        let Ok(line) = line else {
            note(n, "not UTF-8 text; line skipped".to_owned());
            continue;
        };
        if line.contains('\0') {
            note(n, "holds a NUL character; line skipped".to_owned());
            continue;
        }
        match parse_line(line, opts.system) {
            Line::Blank => {
                let trimmed = line.trim();
                if trimmed.starts_with('#') {
                    comment = Some((n, trimmed.to_owned()));
                }
            }
            Line::Invalid(reason) => note(n, format!("{reason}; line skipped")),
            Line::Reboot => note(
                n,
                "@reboot not carried over: unyo schedules have no start-up trigger; run the command from whatever starts unyo".to_owned(),
            ),
            Line::Env { name, value } if name == "SHELL" => {
                shell = match value.as_str() {
                    "" | "/bin/sh" => None,
                    other => Some(other.to_owned()),
                };
                if let Some(sh) = &shell {
                    note(
                        n,
                        format!("SHELL={sh}: the entries below run their command with `{sh} -c`, written into their `run:` line (unyo runs `run:` lines with /bin/sh)"),
                    );
                }
            }
            Line::Env { name, value } => {
                if !value.is_empty()
                    && (crate::model::Param::secret_by_name(&name) || name == "MYSQL_PWD")
                {
                    note(
                        n,
                        format!(
                            "`{name}` holds a credential, copied as it is into the `env:` of \
                             every job below: give it to unyo's jobs as a secret parameter with \
                             `from_env` instead"
                        ),
                    );
                }
                for text in apply_env(&name, &value, &mut env, &mut timezone) {
                    note(n, text);
                }
            }
            Line::Entry(entry) => {
                let (command, input) = split_percent(entry.command);
                if command.trim().is_empty() {
                    note(n, format!("{}; line skipped", expected(opts.system)));
                    continue;
                }
                let input = input.unwrap_or_default();
                let sh = shell.as_deref();
                let run = match literal_template(&run_line(&command, &input, sh), true) {
                    Ok(r) => r,
                    Err(why) => {
                        note(n, format!("entry not carried over: {why}"));
                        continue;
                    }
                };
                let title = above.and_then(|(at, text)| {
                    let name = comment_name(&text, opts.system);
                    comment_title(&text, opts.system).map(|text| (at, text, name))
                });
                let (name, how) = match &title {
                    Some((at, _, Some(from_comment))) => {
                        named_by_comment += 1;
                        (
                            unique(from_comment.clone(), &mut names),
                            Some(format!("named after the comment on line {at}")),
                        )
                    }
                    Some((at, _, None)) => (
                        unique(job_name(&command), &mut names),
                        Some(format!(
                            "named after its command: the comment on line {at} gives no name in letters a-z (it is the job's description)"
                        )),
                    ),
                    None => (unique(job_name(&command), &mut names), None),
                };
                if let Some(how) = how {
                    note(n, format!("`{name}`: {how}"));
                }
                for what in credentials(&command) {
                    note(
                        n,
                        format!(
                            "`{name}`: the command holds a credential ({what}), copied as it is \
                             into jobs/{name}.yaml: take it out of the command line (a secret \
                             parameter with `from_env`, or a file only its user can read)"
                        ),
                    );
                }
                let mut description = match &title {
                    Some((_, text, _)) if !text.is_empty() => {
                        format!("{text} (imported from crontab line {n})")
                    }
                    _ => format!("imported from crontab line {n}"),
                };
                if let Some(user) = entry.user {
                    description.push_str(&format!(" (ran as user `{user}`)"));
                }

                files.push(File {
                    path: format!("jobs/{name}.yaml").into(),
                    text: job_yaml(opts.source, n, line, &description, &env, &run),
                });
                if run.contains("\\{{") {
                    note(n, format!("`{name}`: in `run:`, {ESCAPED_BRACES}"));
                }
                if entry.cron.split(' ').nth(4).is_some_and(|d| d.starts_with('+')) {
                    note(
                        n,
                        format!(
                            "`{name}`: a day field starting with `*` means cron fired on days matching both day fields; the weekday field is written with `+`, unyo's way to say so"
                        ),
                    );
                }
                if !input.is_empty() {
                    note(
                        n,
                        format!(
                            "`{name}`: the text after `%` is fed to the command's standard input with printf"
                        ),
                    );
                }
                if let Some(user) = entry.user {
                    note(
                        n,
                        format!(
                            "`{name}` ran as user `{user}`; unyo runs every job as the user that runs unyo"
                        ),
                    );
                }
                carried.push(Carried {
                    name,
                    cron: entry.cron,
                    timezone: timezone.clone(),
                });
            }
        }
    }

    let mut whole = Vec::new();
    if !carried.is_empty() {
        files.push(File {
            path: format!("schedules/{}.yaml", opts.stem).into(),
            text: schedule_yaml(opts.source, &carried),
        });
        if carried.iter().any(|c| c.timezone.is_none()) {
            whole.push(format!(
                "entries without CRON_TZ run in the settings time zone `{}`, not the machine's; add `timezone:` where that differs",
                opts.default_timezone
            ));
        }
        let by_command = carried.len() - named_by_comment;
        whole.push(format!(
            "job names: {named_by_comment} from the comment line right above the entry, {by_command} from the program the command runs and its first plain arguments (past `test ... ||`, `cd DIR &&`, wrappers and interpreters)"
        ));
        whole.push(
            "commands ran in the home directory; unyo runs them in the root folder unless a job sets `workdir:`".to_owned(),
        );
        whole.push(
            "unyo does not start a job while its previous run still runs (`overlap: forbid`); set `overlap: allow` on an entry that relied on overlapping".to_owned(),
        );
    }
    notes.extend(whole.into_iter().map(|text| Note { line: None, text }));
    Import {
        files,
        entries: carried.len(),
        notes,
    }
}

/// Applies `NAME=value` to the environment of later entries; the notes to report.
fn apply_env(
    name: &str,
    value: &str,
    env: &mut IndexMap<String, String>,
    timezone: &mut Option<String>,
) -> Vec<String> {
    let mut notes = Vec::new();
    match name {
        "MAILTO" | "MAILFROM" if !value.is_empty() => notes.push(format!(
            "{name}={value} not carried over: unyo reports failures through incidents, not mail"
        )),
        "MAILTO" | "MAILFROM" => {}
        "CRON_TZ" | "TZ" => {
            if value.parse::<Tz>().is_ok() {
                *timezone = Some(value.to_owned());
            } else {
                *timezone = None;
                notes.push(format!(
                    "{name}={value} is not a time zone unyo knows (e.g. `Asia/Tokyo`); the entries below use the settings time zone"
                ));
            }
            if name == "TZ" {
                notes.extend(set_env(name, value, env));
            }
        }
        _ => notes.extend(set_env(name, value, env)),
    }
    notes
}

fn set_env(name: &str, value: &str, env: &mut IndexMap<String, String>) -> Option<String> {
    if !IDENT.is_match(name) {
        return Some(format!(
            "{name}= not carried over: `{name}` is not a variable name unyo accepts (letters, digits, `_`)"
        ));
    }
    if name.starts_with("UNYO_") {
        return Some(format!(
            "{name}= not carried over: names starting with `UNYO_` are set by unyo"
        ));
    }
    match literal_template(value, false) {
        Ok(v) => {
            let note = v
                .contains("\\{{")
                .then(|| format!("`{name}`: {ESCAPED_BRACES}"));
            env.insert(name.to_owned(), v);
            note
        }
        Err(why) => Some(format!("{name}= not carried over: {why}")),
    }
}

/// `base`, or `base-2`, `base-3`... whichever is not taken yet; records it as taken.
fn unique(base: String, taken: &mut HashSet<String>) -> String {
    let mut name = base.clone();
    let mut k = 2;
    while taken.contains(&name) {
        name = format!("{base}-{k}");
        k += 1;
    }
    taken.insert(name.clone());
    name
}

fn job_yaml(
    source: &str,
    n: usize,
    line: &str,
    description: &str,
    env: &IndexMap<String, String>,
    run: &str,
) -> String {
    let mut y = format!(
        "# {} line {n}: {}\ndescription: {}\n",
        yaml_comment(source),
        yaml_comment(line),
        yaml_string(description)
    );
    if !env.is_empty() {
        y.push_str("env:\n");
        for (k, v) in env {
            y.push_str(&format!("  {}: {}\n", yaml_string(k), yaml_string(v)));
        }
    }
    y.push_str(&format!("steps:\n  main:\n    run: {}\n", yaml_string(run)));
    y
}

fn schedule_yaml(source: &str, carried: &[Carried]) -> String {
    let mut y = format!(
        "# imported from {} by `unyo import crontab`\nschedules:\n",
        yaml_comment(source)
    );
    for c in carried {
        y.push_str(&format!(
            "  - job: {}\n    cron: {}\n",
            yaml_string(&c.name),
            yaml_string(&c.cron)
        ));
        if let Some(tz) = &c.timezone {
            y.push_str(&format!("    timezone: {}\n", yaml_string(tz)));
        }
    }
    y
}
