//! Checking a folder of replacement templates (report or notify): only known names, each one
//! compiles.

use std::path::{Path, PathBuf};

use super::io_reason;
use crate::spec::diag;

/// Why a template does not compile, without the parser's list of every token it expected.
pub fn template_compile_reason(e: &handlebars::TemplateError) -> String {
    let reason = e.reason().to_string().to_lowercase();
    match reason.split_once(": expected") {
        Some((head, _)) => format!("{head} (an unclosed `{{{{#...}}}}` block or a stray `{{{{`?)"),
        None => reason,
    }
}

/// The problems of a template folder: it must exist, hold only the template names `known`,
/// and each template must compile.
pub(super) fn check_template_folder(dir: &Path, shown: &str, known: &[&str]) -> Vec<String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return vec![format!("cannot read folder `{shown}`: {}", io_reason(&e))],
    };
    let mut problems = Vec::new();
    let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    for path in files {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.ends_with(".hbs") {
            continue;
        }
        if !known.contains(&name) {
            problems.push(format!(
                "unknown template file `{name}`{}; expected one of: {}",
                diag::hint(name, known.iter().copied()),
                known.join(", ")
            ));
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                if let Err(e) = handlebars::Template::compile(&text) {
                    let at = e.pos().map_or(String::new(), |(l, c)| format!(":{l}:{c}"));
                    problems.push(format!(
                        "`{name}{at}` does not compile: {}",
                        template_compile_reason(&e)
                    ));
                }
            }
            Err(e) => problems.push(format!("cannot read `{name}`: {}", io_reason(&e))),
        }
    }
    problems
}
