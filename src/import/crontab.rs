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

use super::{File, Import, Note, literal_template, slug, yaml_comment, yaml_string};
use crate::exec::shell_quote;
use crate::schedule::parse_cron;

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

/// One line of a crontab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    /// Blank, or a comment.
    Blank,
    /// `NAME=value` (spaces around `=` allowed, matching quotes around the value removed).
    Env {
        name: String,
        value: String,
    },
    Entry(Entry<'a>),
    /// `@reboot`: no time to carry over.
    Reboot,
    /// Not a crontab line; the reason.
    Invalid(String),
}

/// A scheduled command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Five fields, accepted by unyo's cron parser (aliases already spelled out).
    pub cron: String,
    /// The user column of a system crontab.
    pub user: Option<&'a str>,
    /// The command as written, `%` and all.
    pub command: &'a str,
}

/// `@` aliases as five fields.
const ALIASES: [(&str, &str); 7] = [
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// The note for a value whose `{{` had to be escaped.
const ESCAPED_BRACES: &str = "`{{` is written `\\{{` so that it stays literal text, not a template";

/// Names of environment variables unyo accepts.
static IDENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$").expect("static regex"));

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// The next blank-separated token and what follows it (not trimmed).
fn token(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start_matches(is_blank);
    if s.is_empty() {
        return None;
    }
    let end = s.find(is_blank).unwrap_or(s.len());
    Some(s.split_at(end))
}

/// Reads one line (without its newline).
pub fn parse_line(line: &str, system: bool) -> Line<'_> {
    let trimmed = line.trim_start_matches(is_blank);
    if trimmed.trim_end_matches(is_blank).is_empty() || trimmed.starts_with('#') {
        return Line::Blank;
    }
    if let Some((name, value)) = env_line(trimmed) {
        return Line::Env { name, value };
    }
    let Some((first, mut rest)) = token(trimmed) else {
        return Line::Blank;
    };
    let cron = if first.starts_with('@') {
        if first == "@reboot" {
            return Line::Reboot;
        }
        match ALIASES.iter().find(|(a, _)| *a == first) {
            Some((_, fields)) => (*fields).to_owned(),
            None => {
                let known: Vec<&str> = ALIASES.iter().map(|(a, _)| *a).collect();
                return Line::Invalid(format!(
                    "unknown `{first}`; known: {}, @reboot",
                    known.join(" ")
                ));
            }
        }
    } else {
        let mut fields = vec![first];
        while fields.len() < 5 {
            match token(rest) {
                Some((f, r)) => {
                    fields.push(f);
                    rest = r;
                }
                None => break,
            }
        }
        if fields.len() < 5 {
            return Line::Invalid(expected(system));
        }
        // A day field starting with `*` (such as `*/2`) makes cron fire on days matching both
        // day fields rather than either; unyo's parser says so with `+` before the weekdays.
        let both_days = fields[2] != "*"
            && fields[4] != "*"
            && (fields[2].starts_with('*') || fields[4].starts_with('*'));
        let weekdays = format!("+{}", fields[4]);
        if both_days {
            fields[4] = &weekdays;
        }
        let cron = fields.join(" ");
        if let Err(m) = parse_cron(&cron) {
            return Line::Invalid(format!(
                "invalid cron expression `{cron}`: {}",
                m.trim_end_matches('.')
            ));
        }
        cron
    };
    let user = if system {
        match token(rest) {
            Some((u, r)) => {
                rest = r;
                Some(u)
            }
            None => return Line::Invalid(expected(system)),
        }
    } else {
        None
    };
    let command = rest.trim_start_matches(is_blank);
    if command.trim_end_matches(is_blank).is_empty() {
        return Line::Invalid(expected(system));
    }
    Line::Entry(Entry {
        cron,
        user,
        command,
    })
}

fn expected(system: bool) -> String {
    if system {
        "expected five time fields (or an `@` alias), a user and a command".to_owned()
    } else {
        "expected five time fields (or an `@` alias) and a command".to_owned()
    }
}

/// `NAME=value`, `NAME = "value"`, `"NAME"='value'`; `None` when the line is not one.
fn env_line(s: &str) -> Option<(String, String)> {
    let (name, rest) = match s.chars().next() {
        Some(q @ ('"' | '\'')) => {
            let inner = s.get(1..)?;
            let end = inner.find(q)?;
            (inner.get(..end)?, inner.get(end + 1..)?)
        }
        _ => {
            let end = s.find(|c| c == '=' || is_blank(c)).unwrap_or(s.len());
            s.split_at(end)
        }
    };
    if name.is_empty() {
        return None;
    }
    let value = rest
        .trim_start_matches(is_blank)
        .strip_prefix('=')?
        .trim_matches(is_blank);
    let value = ['"', '\'']
        .iter()
        .find_map(|q| {
            value
                .strip_prefix(*q)
                .and_then(|v| v.strip_suffix(*q))
                .filter(|_| value.len() >= 2)
        })
        .unwrap_or(value);
    Some((name.to_owned(), value.to_owned()))
}

/// Splits a command at its first unescaped `%`: the command with `\%` made `%`, and the
/// standard input the rest stands for (`None` without a `%`).
pub fn split_percent(command: &str) -> (String, Option<String>) {
    let mut cmd = String::with_capacity(command.len());
    let mut escaped = false;
    for (i, c) in command.char_indices() {
        if escaped {
            if c == '%' {
                cmd.pop();
            }
            cmd.push(c);
            escaped = false;
        } else if c == '\\' {
            cmd.push(c);
            escaped = true;
        } else if c == '%' {
            let data = command.get(i + 1..).unwrap_or_default();
            return (cmd, Some(input_data(data)));
        } else {
            cmd.push(c);
        }
    }
    (cmd, None)
}

/// The bytes fed to standard input for the text after the first `%`: `%` is a newline, `\%`
/// a `%`, any other backslash kept, and a final newline added when the text has any.
fn input_data(data: &str) -> String {
    let mut out = String::with_capacity(data.len() + 1);
    let mut escaped = false;
    let mut need_newline = false;
    for c in data.chars() {
        let mut c = c;
        if escaped {
            if c != '%' {
                out.push('\\');
            }
        } else if c == '%' {
            c = '\n';
        }
        escaped = c == '\\';
        if !escaped {
            out.push(c);
            need_newline = c != '\n';
        }
    }
    if escaped {
        out.push('\\');
    }
    if need_newline {
        out.push('\n');
    }
    out
}

/// The `run:` line for a command and its standard input: the input is printed by `printf`
/// into the command, which runs as the same `/bin/sh -c` line it was, or with the crontab's
/// `SHELL` (`/bin/bash -c 'COMMAND'`) when it named another.
pub fn run_line(command: &str, input: &str, shell: Option<&str>) -> String {
    let shell_word = |sh: &str| {
        let plain = sh
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._+-".contains(c));
        if plain {
            sh.to_owned()
        } else {
            shell_quote(sh)
        }
    };
    if input.is_empty() {
        return match shell {
            None => command.to_owned(),
            Some(sh) => format!("{} -c {}", shell_word(sh), shell_quote(command)),
        };
    }
    let feed = match input.strip_suffix('\n') {
        Some(lines) => {
            let words: Vec<String> = lines.split('\n').map(shell_quote).collect();
            format!("printf '%s\\n' {}", words.join(" "))
        }
        None => format!("printf '%s' {}", shell_quote(input)),
    };
    let sh = shell.map_or_else(|| "/bin/sh".to_owned(), shell_word);
    format!("{feed} | {sh} -c {}", shell_quote(command))
}

/// Commands that only guard or prepare the real one (`test -x X || run`, `cd DIR && run`,
/// `sleep 30; run`): a name skips past them to the next command.
const GUARDS: [&str; 14] = [
    "test", "[", "[[", "true", "false", ":", "cd", "pushd", "sleep", ".", "source", "umask",
    "ulimit", "export",
];

/// Commands that run the next word as the program (`nice -n 10 run`).
const WRAPPERS: [&str; 11] = [
    "exec", "nohup", "nice", "ionice", "time", "command", "env", "timeout", "chronic", "sudo",
    "setsid",
];

/// Interpreters: the script they run names the job (`python3 manage.py` is `manage`).
const INTERPRETERS: [&str; 12] = [
    "sh", "bash", "dash", "zsh", "ksh", "python", "python2", "python3", "perl", "ruby", "php",
    "node",
];

/// Extensions left out of a name (`backup.sh` is `backup`).
const SCRIPT_EXTENSIONS: [&str; 8] = ["sh", "bash", "py", "pl", "rb", "php", "js", "jar"];

/// Option words whose value may be a credential: the word after one never goes into a name.
static SECRET_OPTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)pass|secret|token|key|auth|cred").expect("static regex"));

/// A job name from a command: the program it really runs (past variable assignments,
/// guards such as `test -x X ||` or `cd DIR &&`, wrappers such as `nice -n 10`, and the
/// interpreter of a script) without its directory and script extension, followed by up to
/// two of its arguments that are plain words (`/usr/local/bin/backup.sh --full` is
/// `backup-full`), slugified, at most 40 characters; `job` when nothing fits.
pub fn job_name(command: &str) -> String {
    let words = shell_words(command);
    // Simple commands, split at `;`, `&&`, `||`, `|`, `&` and parentheses; a redirection
    // (`> FILE`, `2>&1`) is left out with its target.
    // Each with the file its standard output goes to, if any.
    let mut commands: Vec<(Vec<&str>, Option<&str>)> = vec![(Vec::new(), None)];
    // Inside a redirection: whether it is the one of standard output.
    let mut redirect: Option<bool> = None;
    let mut prev: &str = "";
    for w in &words {
        let w = w.as_str();
        if is_operator(w) {
            // `>`, `>>`, `2>&1` (the `1` is its target), `<`: the next word is the target;
            // `> FILE` or `>> FILE`, not `2> FILE`, is where the output went.
            redirect = (w.contains('<') || w.contains('>'))
                .then(|| matches!(w, ">" | ">>") && !prev.bytes().all(|b| b.is_ascii_digit()));
            if redirect.is_none() {
                commands.push((Vec::new(), None));
            }
            prev = w;
            continue;
        }
        prev = w;
        if let Some(stdout) = redirect.take() {
            if let Some(c) = commands.last_mut()
                && stdout
                && w != "/dev/null"
            {
                c.1 = Some(w);
            }
            continue;
        }
        if let Some(c) = commands.last_mut() {
            c.0.push(w);
        }
    }
    for (c, out) in &commands {
        if let Some(name) = command_name(c, *out) {
            return name;
        }
    }
    "job".to_owned()
}

/// The name of one simple command (given the file its output goes to), or `None` when it
/// is a guard or names nothing.
fn command_name(words: &[&str], output: Option<&str>) -> Option<String> {
    let mut i = 0;
    let mut program: Option<String> = None;
    while let Some(w) = words.get(i) {
        i += 1;
        let assignment = w
            .split_once('=')
            .is_some_and(|(n, _)| IDENT.is_match(n) && !n.is_empty());
        if assignment || w.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        if w.starts_with('-') {
            // `sudo -u USER`: the option's value is not the program.
            if matches!(*w, "-u" | "-g") {
                i += 1;
            }
            continue;
        }
        let base = w.rsplit('/').next().unwrap_or(w);
        if GUARDS.contains(&base) {
            return None;
        }
        if WRAPPERS.contains(&base) {
            continue;
        }
        if INTERPRETERS.contains(&base) {
            // The next word that is not an option is the script.
            program.get_or_insert_with(|| base.to_owned());
            let script = words[i..].iter().position(|x| !x.starts_with('-'));
            if let Some(at) = script {
                let next = words[i + at];
                if words[i..i + at].contains(&"-c") {
                    return Some(job_name(next)).filter(|n| n != "job");
                }
                program = Some(next.to_owned());
                i += at + 1;
            }
            break;
        }
        program = Some((*w).to_owned());
        break;
    }
    let program = program?;
    let base = program.rsplit('/').next().unwrap_or(&program);
    let stem = match base.rsplit_once('.') {
        Some((stem, ext)) if SCRIPT_EXTENSIONS.contains(&ext) && !stem.is_empty() => stem,
        _ => base,
    };
    let mut parts = vec![slug(stem, 40)];
    if parts[0].is_empty() {
        return None;
    }
    let mut skip_next = false;
    for w in &words[i..] {
        if parts.len() == 3 {
            break;
        }
        if let Some(long) = w.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, _)) => (n, true),
                None => (long, false),
            };
            skip_next = !value && SECRET_OPTION.is_match(name);
            // `--to`, `-x`: too short to say anything.
            if SECRET_OPTION.is_match(name) || !is_plain_word(name) || name.len() < 3 {
                continue;
            }
            parts.push(slug(name, 40));
            continue;
        }
        if w.starts_with('-') {
            // A short option may take the next word as its value (`-p SECRET`).
            skip_next = true;
            continue;
        }
        if std::mem::take(&mut skip_next) {
            continue;
        }
        let base = w.trim_end_matches('/').rsplit('/').next().unwrap_or(w);
        if !is_plain_word(base) || base.len() < 2 {
            continue;
        }
        let part = slug(base, 40);
        if !part.is_empty() {
            parts.push(part);
        }
    }
    // Nothing but the program: the file its output goes to (`date >> heartbeat.log`).
    if parts.len() == 1
        && let Some(out) = output
    {
        let base = out.rsplit('/').next().unwrap_or(out);
        let stem = base.rsplit_once('.').map_or(base, |(s, _)| s);
        if is_plain_word(stem) {
            parts.push(slug(stem, 40));
        }
    }
    let mut name = String::new();
    for p in parts {
        let next = if name.is_empty() {
            p
        } else {
            format!("{name}-{p}")
        };
        if next.len() > 40 && !name.is_empty() {
            break;
        }
        name = next;
    }
    name.truncate(40);
    Some(name.trim_end_matches('-').to_owned())
}

/// A word worth putting in a name: letters, digits, `.`, `_`, `-`, with a letter.
fn is_plain_word(w: &str) -> bool {
    !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && w.chars().any(|c| c.is_ascii_alphabetic())
}

/// The text of a comment line that may title the entry below it: `None` for an empty
/// comment, a commented-out crontab line (`# 0 5 * * * old-job`, `# MAILTO=x`) and the
/// `m h dom mon dow command` header.
pub fn comment_title(comment: &str, system: bool) -> Option<String> {
    let text = comment.trim().trim_start_matches('#').trim();
    if text.is_empty() || !matches!(parse_line(text, system), Line::Blank | Line::Invalid(_)) {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains("dom mon dow") || lower.starts_with("m h ") {
        return None;
    }
    Some(text.to_owned())
}

/// A job name from the comment line right above an entry (`# Nightly backup of the
/// registry` is `nightly-backup-of-the-registry`): its first words, slugified, cut at a word
/// to at most 40 characters. `None` when the comment is a commented-out crontab line, the
/// `m h dom mon dow command` header, or has too few letters to name anything (a comment in
/// Japanese): then the command names the job.
pub fn comment_name(comment: &str, system: bool) -> Option<String> {
    let full = slug(&comment_title(comment, system)?, 200);
    let mut name = String::new();
    for word in full.split('-').filter(|w| !w.is_empty()) {
        let next = if name.is_empty() {
            word.to_owned()
        } else {
            format!("{name}-{word}")
        };
        if next.len() > 40 {
            break;
        }
        name = next;
    }
    let letters = name.chars().filter(char::is_ascii_lowercase).count();
    (letters >= 3).then_some(name)
}

fn is_operator(w: &str) -> bool {
    !w.is_empty() && w.chars().all(|c| ";&|(){}<>!".contains(c))
}

/// Rough shell words, enough to find a program name: blanks and operators separate, quotes
/// are removed.
fn shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut op = String::new();
    let flush_op = |op: &mut String, words: &mut Vec<String>| {
        if !op.is_empty() {
            words.push(std::mem::take(op));
        }
    };
    for c in s.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => word.push(c),
            None if c == '"' || c == '\'' => {
                flush_op(&mut op, &mut words);
                quote = Some(c);
            }
            // A comment: the rest of the line is not the command.
            None if c == '#' && word.is_empty() => break,
            // Not `{` and `}`: a brace group's are words of their own (`{ a; }`), and
            // `${VAR}` is one word.
            None if c.is_whitespace() || ";&|()<>".contains(c) => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                if c.is_whitespace() {
                    flush_op(&mut op, &mut words);
                } else {
                    op.push(c);
                }
            }
            None => {
                flush_op(&mut op, &mut words);
                word.push(c);
            }
        }
    }
    flush_op(&mut op, &mut words);
    if !word.is_empty() {
        words.push(word);
    }
    words
}

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

/// Option flags that carry a credential: `--password=x`, `--api-key x`.
static CREDENTIAL_FLAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|\s)(--?[a-z-]*(?:password|passwd|token|secret|api-?key))(?:=|\s+)[^\s-]")
        .expect("static regex")
});
/// `PGPASSWORD=x cmd`, `MYSQL_PWD=x cmd`.
static CREDENTIAL_VAR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[\s;&|(])([A-Za-z_]*(?i:password|passwd|token|secret|api_?key|_pwd)[A-Za-z0-9_]*)=[^\s]")
        .expect("static regex")
});
/// `scheme://user:pass@host`.
static CREDENTIAL_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@").expect("static regex")
});
/// The MySQL clients' `-pSECRET` (a password glued to `-p`).
static MYSQL_P: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bmysql[a-z]*\b.*\s-p[^\s]").expect("static regex"));

/// What in a command line looks like a credential (never the value itself): `--password=`,
/// `-p...` of a MySQL client, `PGPASSWORD=`, a URL with `user:password@`.
pub fn credentials(command: &str) -> Vec<String> {
    let mut found = Vec::new();
    for c in CREDENTIAL_FLAG.captures_iter(command) {
        found.push(format!("`{}`", &c[1]));
    }
    if MYSQL_P.is_match(command) {
        found.push("`-p` of a MySQL client".to_owned());
    }
    for c in CREDENTIAL_VAR.captures_iter(command) {
        found.push(format!("`{}=`", &c[1]));
    }
    if CREDENTIAL_URL.is_match(command) {
        found.push("a URL with `user:password@`".to_owned());
    }
    found
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(line: &str) -> Entry<'_> {
        match parse_line(line, false) {
            Line::Entry(e) => e,
            other => panic!("{line:?}: {other:?}"),
        }
    }

    #[test]
    fn entries_and_fields() {
        let e = entry("30 2 * * 1-5   /usr/local/bin/backup.sh --full  ");
        assert_eq!(e.cron, "30 2 * * 1-5");
        assert_eq!(e.command, "/usr/local/bin/backup.sh --full  ");
        assert_eq!(e.user, None);
        let e = entry("\t*/15\t8-17 * * mon-fri echo  two  spaces");
        assert_eq!(e.cron, "*/15 8-17 * * mon-fri");
        assert_eq!(e.command, "echo  two  spaces");
        assert_eq!(entry("0 0 1,15 jan,jul 0-7 x").cron, "0 0 1,15 jan,jul 0-7");
    }

    #[test]
    fn a_starred_day_field_means_both_day_fields() {
        let start = chrono::DateTime::parse_from_rfc3339("2026-05-31T00:00:00+09:00")
            .expect("time")
            .with_timezone(&chrono_tz::Asia::Tokyo);
        let days = |cron: &str| -> Vec<String> {
            let c = parse_cron(cron).unwrap_or_else(|e| panic!("{cron}: {e}"));
            c.iter_after(start)
                .take(4)
                .map(|t| t.format("%d %a").to_string())
                .collect()
        };
        // Odd days that are Mondays, not odd days or Mondays.
        let e = entry("0 0 */2 * 1 x");
        assert_eq!(e.cron, "0 0 */2 * +1");
        assert_eq!(days(&e.cron), ["01 Mon", "15 Mon", "29 Mon", "13 Mon"]);
        assert_eq!(entry("0 0 1-7 * */2 x").cron, "0 0 1-7 * +*/2");
        // Either field a plain `*`, or neither starting with `*`: as written.
        for plain in ["0 0 */2 * *", "0 0 * * */2", "0 0 1,15 * 1", "0 0 * * 1"] {
            assert_eq!(entry(&format!("{plain} x")).cron, plain);
        }
        assert_eq!(
            days("0 0 1,15 * 1"),
            ["01 Mon", "08 Mon", "15 Mon", "22 Mon"]
        );
    }

    #[test]
    fn every_alias_is_accepted_by_the_cron_parser() {
        let start = chrono::DateTime::parse_from_rfc3339("2026-12-30T22:17:00+09:00")
            .expect("time")
            .with_timezone(&chrono_tz::Asia::Tokyo);
        for (alias, fields) in ALIASES {
            let spelled = parse_cron(fields).unwrap_or_else(|e| panic!("{alias} -> {fields}: {e}"));
            assert_eq!(entry(&format!("{alias} run-it")).cron, fields);
            // Where the parser knows the alias too, both fire at the same times.
            if let Ok(own) = parse_cron(alias) {
                let a: Vec<_> = own.iter_after(start).take(5).collect();
                let b: Vec<_> = spelled.iter_after(start).take(5).collect();
                assert_eq!(a, b, "{alias}");
            }
        }
        assert_eq!(parse_line("@reboot /bin/start", false), Line::Reboot);
        assert!(
            matches!(parse_line("@often x", false), Line::Invalid(m) if m.contains("unknown `@often`"))
        );
    }

    #[test]
    fn blank_comment_and_invalid_lines() {
        for blank in ["", "   ", "\t", "# comment", "   # 0 * * * * x"] {
            assert_eq!(parse_line(blank, false), Line::Blank, "{blank:?}");
        }
        for (bad, why) in [
            ("0 * * *", "expected five time fields"),
            ("0 * * * *", "expected five time fields"),
            ("0 * * * *    ", "expected five time fields"),
            ("61 * * * * x", "invalid cron expression `61 * * * *`"),
            ("x y z a b cmd", "invalid cron expression"),
            ("@daily", "expected five time fields"),
            ("FOO", "expected five time fields"),
        ] {
            match parse_line(bad, false) {
                Line::Invalid(m) => assert!(m.contains(why), "{bad:?}: {m}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn environment_lines() {
        let env = |l| match parse_line(l, false) {
            Line::Env { name, value } => (name, value),
            other => panic!("{l:?}: {other:?}"),
        };
        assert_eq!(
            env("PATH=/usr/bin:/bin"),
            ("PATH".into(), "/usr/bin:/bin".into())
        );
        assert_eq!(env("  NAME = \"a b\"  "), ("NAME".into(), "a b".into()));
        assert_eq!(env("Q='it is'"), ("Q".into(), "it is".into()));
        assert_eq!(env("\"ODD NAME\"=x"), ("ODD NAME".into(), "x".into()));
        assert_eq!(env("EMPTY="), ("EMPTY".into(), String::new()));
        assert_eq!(env("MIXED=\"a'"), ("MIXED".into(), "\"a'".into()));
        assert_eq!(env("ONE=\""), ("ONE".into(), "\"".into()));
        assert_eq!(env("EQ=a=b"), ("EQ".into(), "a=b".into()));
        // An entry whose command holds `=` is not an environment line.
        assert!(matches!(
            parse_line("0 * * * * A=1 run", false),
            Line::Entry(_)
        ));
        assert!(matches!(
            parse_line("@daily A=1 run", false),
            Line::Entry(_)
        ));
    }

    #[test]
    fn system_lines_have_a_user() {
        match parse_line("17 * * * * root cd / && run-parts /etc/cron.hourly", true) {
            Line::Entry(e) => {
                assert_eq!(e.user, Some("root"));
                assert_eq!(e.command, "cd / && run-parts /etc/cron.hourly");
            }
            other => panic!("{other:?}"),
        }
        match parse_line("@daily www-data /srv/purge", true) {
            Line::Entry(e) => assert_eq!((e.user, e.command), (Some("www-data"), "/srv/purge")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_line("0 1 * * * root", true),
            Line::Invalid(_)
        ));
    }

    #[test]
    fn percent_and_input() {
        assert_eq!(split_percent("echo hi"), ("echo hi".into(), None));
        assert_eq!(
            split_percent(r"date +\%Y-\%m"),
            ("date +%Y-%m".into(), None)
        );
        assert_eq!(
            split_percent("mail -s x ops%Hello%World"),
            ("mail -s x ops".into(), Some("Hello\nWorld\n".into()))
        );
        assert_eq!(
            split_percent("cat%a%%b%"),
            ("cat".into(), Some("a\n\nb\n".into()))
        );
        assert_eq!(split_percent("cat%"), ("cat".into(), Some(String::new())));
        // In the input `\%` is `%` and other backslashes stay.
        assert_eq!(
            split_percent(r"cat%50\% done\n%x\"),
            ("cat".into(), Some("50% done\\n\nx\\\n".into()))
        );
        // `\\%`: the backslash pair stays in the command and the `%` still splits.
        assert_eq!(
            split_percent(r"echo a\\%in"),
            (r"echo a\\".into(), Some("in\n".into()))
        );
        assert_eq!(split_percent(r"echo \x"), (r"echo \x".into(), None));
    }

    #[test]
    fn run_lines_feed_input() {
        assert_eq!(run_line("echo hi", "", None), "echo hi");
        assert_eq!(
            run_line("mail -s 'x y' ops", "Hello\nit's me\n", None),
            r"printf '%s\n' 'Hello' 'it'\''s me' | /bin/sh -c 'mail -s '\''x y'\'' ops'"
        );
        assert_eq!(
            run_line("cat", "\\", None),
            r"printf '%s' '\' | /bin/sh -c 'cat'"
        );
    }

    #[test]
    fn run_lines_keep_the_crontab_shell() {
        assert_eq!(
            run_line("echo ${HOSTNAME,,}", "", Some("/bin/bash")),
            "/bin/bash -c 'echo ${HOSTNAME,,}'"
        );
        assert_eq!(
            run_line("cat", "in\n", Some("/usr/bin/zsh")),
            r"printf '%s\n' 'in' | /usr/bin/zsh -c 'cat'"
        );
        assert_eq!(
            run_line("x", "", Some("/opt/my shell")),
            r"'/opt/my shell' -c 'x'"
        );
    }

    #[test]
    fn credentials_on_a_command_line_are_named_not_shown() {
        assert_eq!(
            credentials("mysqldump --user=app --password=hunter2 db"),
            ["`--password`"]
        );
        assert_eq!(
            credentials("mysql -uapp -phunter2 db"),
            ["`-p` of a MySQL client"]
        );
        assert_eq!(
            credentials("PGPASSWORD=hunter2 pg_dump city"),
            ["`PGPASSWORD=`"]
        );
        assert_eq!(
            credentials("curl https://app:hunter2@example.jp/x"),
            ["a URL with `user:password@`"]
        );
        assert!(credentials("tar -czf /b/x.tgz -p /data").is_empty());
        assert!(credentials("backup --password-file /etc/pw").is_empty());
        assert!(credentials("curl https://example.jp/a:b@c").is_empty());
    }

    #[test]
    fn job_names() {
        for (cmd, name) in [
            ("/usr/local/bin/backup.sh --full", "backup-full"),
            ("/usr/local/bin/backup.sh", "backup"),
            (
                "cd /srv/app && ./bin/Rotate_Logs > /dev/null 2>&1",
                "rotate-logs",
            ),
            ("cd /srv;nightly", "nightly"),
            ("LANG=C nice -n 10 /opt/report", "report"),
            ("[ -x /usr/bin/foo ] && foo", "foo"),
            ("\"/opt/my tool/run\" x", "run"),
            ("データ処理", "job"),
            (&"a".repeat(60), &"a".repeat(40)),
            // The real program past a guard, not `test`.
            (
                "test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )",
                "run-parts-report-cron-daily",
            ),
            ("sleep 30; /opt/bin/sync-ledger", "sync-ledger"),
            // Arguments that are plain words; paths by their last part.
            (
                "find /var/log/app -name '*.gz' -mtime +30 -delete",
                "find-app",
            ),
            (
                "python3 -u /opt/app/manage.py clearsessions",
                "manage-clearsessions",
            ),
            ("/bin/bash -c 'cd /srv && ./purge.sh --old'", "purge-old"),
            ("sudo -u www-data php /srv/www/cron.php", "cron"),
            // With nothing else, the file the output goes to; never `/dev/null`.
            ("date >> /tmp/heartbeat.log", "date-heartbeat"),
            ("date > \"$OUT/stamp.txt\" # keep it", "date-stamp"),
            ("[[ ${OUT,,} == *x* ]] && { /opt/tidy; }", "tidy"),
            ("date > /dev/null", "date"),
            ("date 2> /tmp/errors.log", "date"),
            // Never a credential: options about secrets, and the value after a short option.
            ("mysqldump -u root -pS3cret city", "mysqldump"),
            (
                "/opt/sync --password hunter2 --token=abc ledger",
                "sync-ledger",
            ),
            (
                "curl -s -H 'Authorization: x' https://example.org/ping",
                "curl-ping",
            ),
        ] {
            assert_eq!(job_name(cmd), name, "{cmd}");
        }
        let mut taken = HashSet::new();
        let got: Vec<String> = ["x", "x", "x-2", "x"]
            .iter()
            .map(|b| unique((*b).to_owned(), &mut taken))
            .collect();
        assert_eq!(got, ["x", "x-2", "x-2-2", "x-3"]);
    }

    #[test]
    fn detects_a_user_column() {
        let users: HashSet<String> = ["root", "www-data"].iter().map(|s| s.to_string()).collect();
        let system =
            b"SHELL=/bin/sh\n17 * * * * root cd / && run-parts x\n@daily www-data /srv/purge\n";
        assert!(system_format_hint(system, None, &users).is_some_and(|h| h.contains("line 2")));
        let user = b"17 * * * * root-report\n0 1 * * * root x\n";
        assert_eq!(system_format_hint(user, None, &users), None);
        let only_www = b"0 1 * * * www-data x\n";
        assert_eq!(system_format_hint(only_www, None, &users), None);
        assert!(system_format_hint(b"", Some(Path::new("/etc/crontab")), &users).is_some());
    }

    fn opts(system: bool) -> Options<'static> {
        Options {
            source: "crontab",
            stem: "crontab",
            system,
            default_timezone: "Asia/Tokyo",
        }
    }

    #[test]
    fn environment_applies_to_later_entries_only() {
        let text = b"0 1 * * * first\nA=1\nCRON_TZ=Europe/Berlin\n0 2 * * * second\nA=2\nB = \"x {{y}}\"\n0 3 * * * second\n";
        let imp = import(text, &opts(false));
        assert_eq!(imp.entries, 3);
        let file = |p: &str| {
            imp.files
                .iter()
                .find(|f| f.path == Path::new(p))
                .unwrap_or_else(|| panic!("no {p}: {:?}", imp.files))
                .text
                .clone()
        };
        assert!(!file("jobs/first.yaml").contains("env:"));
        assert!(file("jobs/second.yaml").contains("env:\n  \"A\": \"1\"\nsteps:"));
        assert!(
            file("jobs/second-2.yaml").contains("env:\n  \"A\": \"2\"\n  \"B\": \"x \\\\{{y}}\"\n")
        );
        let sched = file("schedules/crontab.yaml");
        assert!(sched.contains("  - job: \"first\"\n    cron: \"0 1 * * *\"\n  - job: \"second\""));
        assert_eq!(sched.matches("timezone: \"Europe/Berlin\"").count(), 2);
    }

    #[test]
    fn report_lines() {
        let text = "MAILTO=ops@example.org\nMAILTO=\"\"\nSHELL=/bin/bash\nSHELL=/bin/sh\nCRON_TZ=Mars/Base\nBAD-NAME=1\nUNYO_X=1\n@reboot start\n0 * * *\n";
        let mut bytes = text.as_bytes().to_vec();
        bytes.extend_from_slice(b"\xff\xfe\n0 1 * * * x\n0 5 */2 * 1 y\n");
        let imp = import(&bytes, &opts(false));
        let lines: Vec<(Option<usize>, &str)> = imp
            .notes
            .iter()
            .map(|n| (n.line, n.text.as_str()))
            .collect();
        let has = |line: usize, part: &str| {
            assert!(
                lines
                    .iter()
                    .any(|(l, t)| *l == Some(line) && t.contains(part)),
                "no {line}: {part} in {lines:#?}"
            );
        };
        has(
            1,
            "MAILTO=ops@example.org not carried over: unyo reports failures through incidents, not mail",
        );
        assert!(
            !lines.iter().any(|(l, _)| *l == Some(2)),
            "empty MAILTO is silent"
        );
        has(
            3,
            "SHELL=/bin/bash: the entries below run their command with `/bin/bash -c`",
        );
        assert!(!lines.iter().any(|(l, _)| *l == Some(4)));
        has(5, "CRON_TZ=Mars/Base is not a time zone");
        has(6, "BAD-NAME= not carried over");
        has(7, "names starting with `UNYO_`");
        has(8, "@reboot not carried over");
        has(9, "expected five time fields");
        has(10, "not UTF-8");
        has(
            12,
            "`y`: a day field starting with `*` means cron fired on days matching both",
        );
        assert!(!lines.iter().any(|(l, _)| *l == Some(11)));
        assert_eq!(imp.entries, 2);
        assert!(
            lines
                .iter()
                .any(|(l, t)| l.is_none() && t.contains("`Asia/Tokyo`"))
        );
    }

    #[test]
    fn comment_lines_name_the_entry_below() {
        for (comment, name) in [
            ("# Nightly backup", Some("nightly-backup")),
            (
                "  ## Rotate logs (see ticket #12) ",
                Some("rotate-logs-see-ticket-12"),
            ),
            (
                "# Send the monthly usage statistics to the planning department of the city",
                Some("send-the-monthly-usage-statistics-to-the"),
            ),
            ("# 毎晩のバックアップ", None),
            ("# 住民税 batch", Some("batch")),
            ("# 7時", None),
            ("# 0 5 * * * /old/job", None),
            ("# MAILTO=x", None),
            ("# m h  dom mon dow   command", None),
            ("#", None),
        ] {
            assert_eq!(comment_name(comment, false).as_deref(), name, "{comment}");
        }
        assert_eq!(
            comment_title("# 毎晩のバックアップ", false).as_deref(),
            Some("毎晩のバックアップ")
        );
        assert_eq!(comment_title("# 0 5 * * * /old/job", false), None);
    }

    #[test]
    fn nothing_to_carry_over_writes_nothing() {
        let imp = import(b"# only\n@reboot x\nMAILTO=a\n", &opts(false));
        assert_eq!(imp.entries, 0);
        assert!(imp.files.is_empty());
    }

    #[test]
    fn generated_files_read_back() {
        let text = "0 1 * * * echo 'a: b' \"#c\" {{x}} データ \\%%in: 'put'%\n";
        let imp = import(text.as_bytes(), &opts(false));
        assert_eq!(imp.entries, 1, "{:?}", imp.notes);
        let job: crate::spec::JobSpec =
            serde_saphyr::from_str(&imp.files[0].text).expect("job parses");
        let run = job.steps["main"].value.run.as_ref().expect("run");
        let expected = run_line("echo 'a: b' \"#c\" {{x}} データ %", "in: 'put'\n", None);
        assert_eq!(
            Ok(run.value.as_str()),
            literal_template(&expected, true).as_deref()
        );
        let sched: crate::spec::ScheduleFileSpec =
            serde_saphyr::from_str(&imp.files[1].text).expect("schedule parses");
        assert_eq!(sched.schedules[0].value.cron.value, "0 1 * * *");
    }
}
