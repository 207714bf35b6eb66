//! Checking a parameter's declaration: the rules that fit its type (`pattern`, `max_len`,
//! `min`/`max`, `values`, `roots`, `type_by`), secrecy and `from_env`.

use std::path::Path;

use indexmap::IndexMap;
use serde_saphyr::Spanned;

use super::{Ctx, IDENT};
use crate::model::{Param, ParamType, ValueType};
use crate::spec::diag;

/// A parameter's declaration: the rules that fit its type, each checked.
pub(super) fn param(
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

pub(super) fn type_name(kind: ParamType) -> &'static str {
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
