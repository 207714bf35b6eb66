//! The layer order of ARCHITECTURE.md, kept by reading the sources: every `crate::` path in
//! a module of `src/` must name a module of a lower layer (or a module allowed to reach a side
//! module), so imports point down and there is no cycle. A new top-level module must be placed
//! in the order here and in ARCHITECTURE.md before anything builds on it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom to top, as ARCHITECTURE.md lists them. A module may use modules of
/// lower layers only; modules of one layer do not use each other.
const LAYERS: &[&[&str]] = &[
    &["domain"],
    &["spec"],
    &["exec", "files", "demo", "act"],
    &["model"],
    &["calendar", "schedule", "runbook", "notify"],
    &["store"],
    &["error"],
    &["incident"],
    &["engine"],
    &["report", "import", "synth", "metrics"],
    &["web"],
    &["daemon"],
    &["cli"],
];

/// Side modules: lower in the order, but only these modules may use them. The demo city and
/// the synthetic history are made by commands, never on the daemon's path.
const ONLY_FROM: &[(&str, &[&str])] = &[("demo", &["cli", "synth"]), ("synth", &["cli"])];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`src/store/sqlite.rs` → `store`), or
/// `None` for the crate root and the binary.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).expect("file under src");
    let first = rel.components().next()?.as_os_str().to_str()?.to_owned();
    match first.strip_suffix(".rs") {
        Some("lib" | "main") => None,
        Some(name) => Some(name.to_owned()),
        None => Some(first),
    }
}

/// Every `crate::NAME` in the code of `text` (comments left out), with its line number.
fn crate_uses(text: &str) -> Vec<(usize, String)> {
    let mut uses = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let before = rest[..i].chars().next_back();
            rest = &rest[i + "crate::".len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                continue;
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name.is_empty() {
                // `crate::{a, b}`: each name of the group.
                if let Some(group) = rest.strip_prefix('{') {
                    let group = group.split('}').next().unwrap_or("");
                    for item in group.split(',') {
                        let name: String = item
                            .trim()
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                            .collect();
                        if !name.is_empty() {
                            uses.push((n + 1, name));
                        }
                    }
                }
                continue;
            }
            uses.push((n + 1, name));
        }
    }
    uses
}

/// Every use of another top-level module, as (user, used) → the places.
fn imports() -> BTreeMap<(String, String), Vec<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut found: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(&src, &file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("source file");
        for (line, used) in crate_uses(&text) {
            if used != module {
                let place = format!(
                    "{}:{line}",
                    file.strip_prefix(env!("CARGO_MANIFEST_DIR"))
                        .unwrap_or(&file)
                        .display()
                );
                found.entry((module.clone(), used)).or_default().push(place);
            }
        }
    }
    found
}

#[test]
fn every_module_has_a_place_in_the_layer_order() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(&src, f)).collect();
    let unplaced: Vec<&String> = modules.iter().filter(|m| layer_of(m).is_none()).collect();
    assert!(
        unplaced.is_empty(),
        "modules missing from the layer order (tests/layers.rs and ARCHITECTURE.md): {unplaced:?}"
    );
}

#[test]
fn every_import_points_down_the_layers() {
    let mut wrong = Vec::new();
    for ((user, used), places) in imports() {
        let (Some(from), Some(to)) = (layer_of(&user), layer_of(&used)) else {
            continue;
        };
        if to >= from {
            let how = if to == from {
                "its own layer"
            } else {
                "a layer above"
            };
            wrong.push(format!(
                "{user} uses {used} ({how}) at {}",
                places.join(", ")
            ));
        }
        if let Some((_, users)) = ONLY_FROM.iter().find(|(m, _)| *m == used)
            && !users.contains(&user.as_str())
        {
            wrong.push(format!(
                "{user} uses {used}, which only {users:?} may use, at {}",
                places.join(", ")
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layer order:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_layer_order_is_written_in_architecture_md() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md"))
            .expect("ARCHITECTURE.md");
    let written: Vec<String> = LAYERS
        .iter()
        .map(|layer| {
            layer
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect();
    let mut at = 0;
    for (n, layer) in written.iter().enumerate() {
        let needle = format!("{}. {layer}", n + 1);
        match text[at..].find(&needle) {
            Some(i) => at += i + needle.len(),
            None => panic!("ARCHITECTURE.md lacks the layer line `{needle}` (in this order)"),
        }
    }
}

#[test]
fn the_reader_finds_each_kind_of_crate_path() {
    let uses = crate_uses(
        "use crate::store::Store;\n// crate::cli in a comment\nlet x = crate::model::f();\nuse crate::{exec, spec::Job};\nmy_crate::x;\n",
    );
    let names: Vec<(usize, &str)> = uses.iter().map(|(n, s)| (*n, s.as_str())).collect();
    assert_eq!(
        names,
        [(1, "store"), (3, "model"), (4, "exec"), (4, "spec")],
        "paths read from the sample"
    );
}
