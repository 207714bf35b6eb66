//! `proposals:` in unyo.yaml: the thresholds from which the records make an improvement
//! proposal (`domain::proposals::Thresholds`), each checked to be in its range.

use std::path::Path;

use serde_saphyr::Spanned;

use crate::domain::proposals::Thresholds;
use crate::spec::{Diagnostic, Diagnostics, ProposalsSpec};

/// `proposals:` checked; a value out of its range is reported and its default kept.
pub(super) fn proposals(raw: &ProposalsSpec, file: &Path, diags: &mut Diagnostics) -> Thresholds {
    let mut t = Thresholds::default();
    let mut count = |v: &Option<Spanned<u32>>, key: &str, min: u32, max: u32| -> Option<u32> {
        let v = v.as_ref()?;
        if (min..=max).contains(&v.value) {
            Some(v.value)
        } else {
            diags.push(Diagnostic::spanned(
                file,
                v,
                format!("`proposals.{key}` must be from {min} to {max}"),
            ));
            None
        }
    };
    if let Some(v) = count(&raw.months, "months", 1, 60) {
        t.months = v;
    }
    if let Some(v) = count(&raw.trend_months, "trend_months", 2, 60) {
        t.trend_months = v as usize;
    }
    if let Some(v) = count(&raw.trend_runs, "trend_runs", 1, 10_000) {
        t.trend_runs = v as usize;
    }
    if let Some(v) = count(&raw.recurring, "recurring", 2, 10_000) {
        t.recurring = v;
    }
    if let Some(v) = count(&raw.flap_days, "flap_days", 1, 31) {
        t.flap_days = v as usize;
    }
    if let Some(v) = count(&raw.rule_firings, "rule_firings", 2, 1_000_000) {
        t.rule_firings = v;
    }
    let mut number = |v: &Option<Spanned<f64>>, key: &str, min: f64, max: f64| -> Option<f64> {
        let v = v.as_ref()?;
        if v.value.is_finite() && v.value > min && v.value <= max {
            Some(v.value)
        } else {
            diags.push(Diagnostic::spanned(
                file,
                v,
                format!("`proposals.{key}` must be more than {min} and at most {max}"),
            ));
            None
        }
    };
    if let Some(v) = number(&raw.slower_percent, "slower_percent", 0.0, 1000.0) {
        t.slower_percent = v;
    }
    if let Some(v) = number(&raw.horizon_months, "horizon_months", 0.0, 120.0) {
        t.horizon_months = v;
    }
    if let Some(v) = number(&raw.sla_at_risk_percent, "sla_at_risk_percent", 0.0, 100.0) {
        t.sla_at_risk_percent = v;
    }
    if let Some(v) = number(&raw.sla_wide_percent, "sla_wide_percent", 0.0, 100.0) {
        t.sla_wide_percent = v;
    }
    if let Some(v) = number(&raw.capacity_percent, "capacity_percent", 0.0, 100.0) {
        t.capacity_percent = v;
    }
    if let Some(v) = &raw.sla_samples {
        if v.value == 0 {
            diags.push(Diagnostic::spanned(
                file,
                v,
                "`proposals.sla_samples` must be at least 1",
            ));
        } else {
            t.sla_samples = v.value;
        }
    }
    if t.sla_wide_percent >= 100.0 - t.sla_at_risk_percent {
        diags.push(Diagnostic::file(
            file,
            "`proposals`: `sla_wide_percent` must be below 100 minus `sla_at_risk_percent` \
             (a service level cannot be at risk and have a wide margin at once)",
        ));
    }
    t
}
