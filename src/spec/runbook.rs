//! Raw runbook files (`runbooks/*.yaml`): ordered rules that match a failed attempt and say
//! what to do about it.

use std::sync::LazyLock;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::keys::{Child, Shape, fields_of};
use super::{FileSpec, leaf};

static MATCH: LazyLock<Shape> = LazyLock::new(leaf::<MatchMapSpec>);
static RETRY: LazyLock<Shape> = LazyLock::new(leaf::<RetrySpec>);
static REMEDIATE: LazyLock<Shape> = LazyLock::new(leaf::<RemediateCommandSpec>);
static ESCALATE: LazyLock<Shape> = LazyLock::new(leaf::<EscalateSpec>);
static RULE: LazyLock<Shape> = LazyLock::new(|| Shape {
    fields: fields_of::<RuleSpec>(),
    children: vec![
        ("match", Child::Struct(&MATCH)),
        ("retry", Child::Struct(&RETRY)),
        ("remediate", Child::Struct(&REMEDIATE)),
        ("escalate", Child::Struct(&ESCALATE)),
    ],
});
static RUNBOOK: LazyLock<Shape> = LazyLock::new(|| Shape {
    fields: fields_of::<RunbookSpec>(),
    children: vec![("rules", Child::SeqOf(&RULE))],
});

impl FileSpec for RunbookSpec {
    fn shape() -> &'static Shape {
        &RUNBOOK
    }
}

/// A runbook as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunbookSpec {
    pub description: Option<String>,
    pub rules: Vec<Spanned<RuleSpec>>,
}

/// One rule: a match and the actions taken when it is the first to match.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub description: Option<String>,
    #[serde(rename = "match")]
    pub matcher: Spanned<MatchSpec>,
    pub retry: Option<RetrySpec>,
    pub remediate: Option<Spanned<RemediateSpec>>,
    pub escalate: Option<EscalateSpec>,
    #[serde(rename = "continue", default)]
    pub keep_going: bool,
}

/// `match: any`, or a map of conditions that must all hold.
#[derive(Debug)]
pub enum MatchSpec {
    Any,
    Conditions(Box<MatchMapSpec>),
}

impl<'de> Deserialize<'de> for MatchSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = MatchSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`any` or a map of conditions")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<MatchSpec, E> {
                if v == "any" {
                    Ok(MatchSpec::Any)
                } else {
                    Err(E::unknown_variant(v, &["any"]))
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<MatchSpec, A::Error> {
                MatchMapSpec::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|m| MatchSpec::Conditions(Box::new(m)))
            }
        }
        d.deserialize_any(V)
    }
}

/// Conditions on a failed attempt; all given ones must hold.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchMapSpec {
    pub exit_codes: Option<Vec<Spanned<CodeSpec>>>,
    pub signal: Option<Vec<Spanned<String>>>,
    pub timeout: Option<bool>,
    /// A step on a host could not reach it: `ssh` itself failed (its exit 255: refused,
    /// authentication failed, connection lost), not the command.
    pub connection_failed: Option<bool>,
    pub stdout: Option<Spanned<String>>,
    pub stderr: Option<Spanned<String>>,
    pub output: Option<Spanned<String>>,
    pub elapsed_over: Option<Spanned<String>>,
    pub any: Option<bool>,
}

/// An exit code (`75`) or a range (`"64-78"`).
#[derive(Debug, Clone)]
pub enum CodeSpec {
    Code(i64),
    Range(String),
}

impl<'de> Deserialize<'de> for CodeSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = CodeSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an exit code or a range like \"64-78\"")
            }
            fn visit_i64<E>(self, v: i64) -> Result<CodeSpec, E> {
                Ok(CodeSpec::Code(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<CodeSpec, E> {
                Ok(CodeSpec::Code(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E>(self, v: &str) -> Result<CodeSpec, E> {
                Ok(CodeSpec::Range(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

/// How delays grow between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Backoff {
    #[default]
    Fixed,
    Exponential,
}

/// Retry the step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    pub max: Spanned<u32>,
    #[serde(default)]
    pub backoff: Backoff,
    pub initial: Option<Spanned<String>>,
    pub max_delay: Option<Spanned<String>>,
    pub jitter: Option<Spanned<String>>,
}

/// A remediation command: a shell line, or a map with `run`/`argv` and a `timeout`.
#[derive(Debug)]
pub enum RemediateSpec {
    Line(String),
    Command(RemediateCommandSpec),
}

// Not `#[serde(untagged)]`: an untagged enum reads its value into a buffer first, and the
// positions of the `Spanned` values inside (`timeout`) are lost on the way.
impl<'de> Deserialize<'de> for RemediateSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RemediateSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a shell line or a map with `run` or `argv`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RemediateSpec, E> {
                Ok(RemediateSpec::Line(v.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<RemediateSpec, A::Error> {
                RemediateCommandSpec::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RemediateSpec::Command)
            }
        }
        d.deserialize_any(V)
    }
}

/// The long form of a remediation command.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemediateCommandSpec {
    pub run: Option<String>,
    pub argv: Option<Vec<String>>,
    pub timeout: Option<Spanned<String>>,
}

/// Open an incident.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalateSpec {
    pub severity: Severity,
}

pub use crate::domain::severity::Severity;
