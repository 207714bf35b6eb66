//! One crontab line read: an entry (five time fields or an `@` alias, the user column of a
//! system crontab, the command), a `NAME=value` line, `@reboot`, or why it is not a crontab
//! line; and the command's `%` rules turned into a `run:` line that feeds its standard input.

use crate::domain::cron::parse_cron;
use crate::exec::shell_quote;

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
pub(super) const ALIASES: [(&str, &str); 7] = [
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// The next blank-separated token and what follows it (not trimmed).
pub(super) fn token(s: &str) -> Option<(&str, &str)> {
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

pub(super) fn expected(system: bool) -> String {
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
