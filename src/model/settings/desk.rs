//! `desk:` in unyo.yaml: the service desk's answer deadline per category (a duration such as
//! `1h`, or business days: `1 business day`, `3 business days`) and the thresholds above
//! which a request needs the city's consultation (cost in yen, effort in hours).

use std::path::Path;

use crate::domain::desk::{Category, Deadline, Thresholds};
use crate::spec::{DeskSpec, Diagnostic, Diagnostics};

/// `desk:`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeskSettings {
    /// Deadlines `desk.deadlines` sets; the others are the category's default.
    pub deadlines: Vec<(Category, Deadline)>,
    pub consultation: Thresholds,
}

impl DeskSettings {
    /// The time allowed to answer a request of `category`.
    pub fn deadline(&self, category: Category) -> Deadline {
        self.deadlines
            .iter()
            .find(|(c, _)| *c == category)
            .map_or_else(|| category.default_deadline(), |(_, d)| *d)
    }
}

/// A deadline as written: a duration (`1h`, `30m`) or business days (`1 business day`,
/// `3 business days`).
pub fn parse_deadline(text: &str) -> Result<Deadline, String> {
    let t = text.trim();
    let bad = || {
        format!(
            "bad deadline `{text}` (expected a duration such as `1h`, or business days such as \
             `1 business day`, `3 business days`)"
        )
    };
    if let Some(n) = t
        .strip_suffix("business days")
        .or_else(|| t.strip_suffix("business day"))
    {
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        if n == 0 {
            return Err(bad());
        }
        return Ok(Deadline::BusinessDays(n));
    }
    match super::super::values::parse_duration(t) {
        Ok(d) if !d.is_zero() => Ok(Deadline::Clock(d)),
        _ => Err(bad()),
    }
}

/// `desk:` checked.
pub(super) fn desk(raw: &DeskSpec, file: &Path, diags: &mut Diagnostics) -> DeskSettings {
    let mut desk = DeskSettings::default();
    for (name, d) in &raw.deadlines {
        let category = match name.parse::<Category>() {
            Ok(c) => c,
            Err(m) => {
                let hint = crate::spec::diag::hint(name, Category::ALL.iter().map(|c| c.as_str()));
                diags.push(Diagnostic::spanned(
                    file,
                    d,
                    format!("`desk.deadlines`: {m}{hint}"),
                ));
                continue;
            }
        };
        match parse_deadline(&d.value) {
            Ok(v) => {
                desk.deadlines.retain(|(c, _)| *c != category);
                desk.deadlines.push((category, v));
            }
            Err(m) => diags.push(Diagnostic::spanned(
                file,
                d,
                format!("`desk.deadlines.{name}`: {m}"),
            )),
        }
    }
    if let Some(c) = &raw.consultation {
        if let Some(cost) = &c.cost {
            if cost.value == 0 {
                diags.push(Diagnostic::spanned(
                    file,
                    cost,
                    "`desk.consultation.cost` must be more than 0 yen",
                ));
            } else {
                desk.consultation.cost = cost.value;
            }
        }
        if let Some(effort) = &c.effort {
            match super::super::values::parse_duration(&effort.value) {
                Ok(d) if d.as_secs() >= 3600 && d.as_secs() % 3600 == 0 => {
                    desk.consultation.effort_hours = d.as_secs() / 3600;
                }
                Ok(_) => diags.push(Diagnostic::spanned(
                    file,
                    effort,
                    "`desk.consultation.effort` is whole hours of work, e.g. `16h`",
                )),
                Err(m) => diags.push(Diagnostic::spanned(
                    file,
                    effort,
                    format!("`desk.consultation.effort`: {m}"),
                )),
            }
        }
    }
    desk
}
