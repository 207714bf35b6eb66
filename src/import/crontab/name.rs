//! Naming a job after its crontab entry: the comment line right above it, else the program
//! its command runs (past guards, wrappers and interpreters) and that program's plain
//! arguments.

use std::sync::LazyLock;

use regex::Regex;

use super::IDENT;
use super::line::{Line, parse_line};
use crate::import::slug;

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
