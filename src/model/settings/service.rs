//! `service:` of `unyo.yaml`: the contract's service levels (planned service time,
//! availability and its probe job, first notice, recovery, scheduled backups), validated.

use std::path::Path;
use std::time::Duration;

use serde_saphyr::Spanned;

use crate::model::values::parse_duration;
use crate::spec::{Diagnostic, Diagnostics, diag};

/// `service:` of `unyo.yaml`, validated: what the service as a whole promises the client,
/// each item measured by the report when it is given. Window and job names keep their place
/// in `unyo.yaml`: they live in `schedules/` and `jobs/`, so the catalog loader checks them
/// ([`Service::check_references`]).
#[derive(Debug, Clone, Default)]
pub struct Service {
    /// Windows that are not planned service time (`hours.except`).
    pub except: Vec<Spanned<String>>,
    /// Jobs whose runs are announced stops: their span is out of the planned service time.
    pub planned_stops: Vec<Spanned<String>>,
    pub availability: Option<AvailabilityTarget>,
    /// Incident opened → first notification delivered, per incident.
    pub first_notice: Option<Duration>,
    /// Incident opened → resolved, per incident.
    pub recovery: Option<Duration>,
    pub backups: Option<BackupTarget>,
}

/// `service.availability`.
#[derive(Debug, Clone)]
pub struct AvailabilityTarget {
    /// Percent, more than 0 and at most 100.
    pub target: f64,
    /// The probe job: a failed run opens an outage, its next succeeded run closes it.
    pub probe: Spanned<String>,
}

/// `service.backups`.
#[derive(Debug, Clone)]
pub struct BackupTarget {
    pub jobs: Vec<Spanned<String>>,
    /// Percent of the slots due whose run must succeed.
    pub target: f64,
}

impl Service {
    /// The window and job names of `service:` that name nothing, each with its kind
    /// (`window` or `job`) and message. `windows` and `jobs` are the names the catalog found.
    pub fn check_references<'a>(
        &'a self,
        windows: &[String],
        jobs: &[String],
    ) -> Vec<(&'a Spanned<String>, &'static str, String)> {
        let mut out = Vec::new();
        let mut check =
            |v: &'a Spanned<String>, key: &str, what: &'static str, names: &[String]| {
                if !names.contains(&v.value) {
                    let hint = diag::hint(&v.value, names.iter().map(String::as_str));
                    let msg = format!("`service.{key}`: unknown {what} `{}`{hint}", v.value);
                    out.push((v, what, msg));
                }
            };
        for w in &self.except {
            check(w, "hours.except", "window", windows);
        }
        for j in &self.planned_stops {
            check(j, "planned_stops", "job", jobs);
        }
        if let Some(a) = &self.availability {
            check(&a.probe, "availability.probe", "job", jobs);
        }
        for j in self.backups.iter().flat_map(|b| &b.jobs) {
            check(j, "backups.jobs", "job", jobs);
        }
        out
    }
}

/// A percentage of `service:`: more than 0, at most 100.
fn percentage(v: &Spanned<f64>, key: &str, file: &Path, diags: &mut Diagnostics) -> Option<f64> {
    if v.value > 0.0 && v.value <= 100.0 {
        Some(v.value)
    } else {
        diags.push(Diagnostic::spanned(
            file,
            v,
            format!(
                "`service.{key}`: {} is not a percentage (more than 0, at most 100)",
                v.value
            ),
        ));
        None
    }
}

/// Validates `service:`; every problem goes into `diags`.
pub(super) fn service(
    raw: &Spanned<crate::spec::ServiceSpec>,
    file: &Path,
    diags: &mut Diagnostics,
) -> Service {
    let spec = &raw.value;
    let mut out = Service {
        except: spec
            .hours
            .as_ref()
            .map(|h| h.value.except.clone())
            .unwrap_or_default(),
        planned_stops: spec.planned_stops.clone(),
        ..Service::default()
    };
    let mut duration = |v: &Option<Spanned<String>>, key: &str| -> Option<Duration> {
        let v = v.as_ref()?;
        match parse_duration(&v.value) {
            Ok(d) if d.is_zero() => {
                diags.push(Diagnostic::spanned(
                    file,
                    v,
                    format!("`service.{key}` must be longer than zero"),
                ));
                None
            }
            Ok(d) => Some(d),
            Err(m) => {
                diags.push(Diagnostic::spanned(
                    file,
                    v,
                    format!("`service.{key}`: {m}"),
                ));
                None
            }
        }
    };
    out.first_notice = duration(&spec.first_notice, "first_notice");
    out.recovery = duration(&spec.recovery, "recovery");
    if let Some(a) = &spec.availability {
        let target = a
            .value
            .target
            .as_ref()
            .and_then(|t| percentage(t, "availability.target", file, diags));
        for (missing, what) in [
            (
                a.value.target.is_none(),
                "`target` (the agreed percentage, e.g. 99.5)",
            ),
            (
                a.value.probe.is_none(),
                "`probe` (the job whose runs tell whether the service is up)",
            ),
        ] {
            if missing {
                diags.push(Diagnostic::spanned(
                    file,
                    a,
                    format!("`service.availability`: missing required key {what}"),
                ));
            }
        }
        if let (Some(target), Some(probe)) = (target, &a.value.probe) {
            out.availability = Some(AvailabilityTarget {
                target,
                probe: probe.clone(),
            });
        }
    }
    if let Some(b) = &spec.backups {
        let target = match &b.value.target {
            Some(t) => percentage(t, "backups.target", file, diags),
            None => Some(100.0),
        };
        if b.value.jobs.is_empty() {
            diags.push(Diagnostic::spanned(
                file,
                b,
                "`service.backups`: `jobs` names no job (the backup jobs whose slots are counted)",
            ));
        } else if let Some(target) = target {
            out.backups = Some(BackupTarget {
                jobs: b.value.jobs.clone(),
                target,
            });
        }
    }
    out
}
