//! What operators did in the period: ad-hoc runs (secret parameters not shown), parameter
//! changes, permission changes and definition changes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{AdhocLine, Changes, DefinitionLine, ParamLine, PermissionLine};
use crate::store::ReportFacts;

/// Parameter names whose values are never shown.
pub(super) fn secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "apikey",
        "api_key",
        "credential",
    ]
    .iter()
    .any(|s| n.contains(s))
}

pub(super) fn adhoc_lines(
    facts: &ReportFacts,
    local: &dyn Fn(DateTime<Utc>) -> String,
) -> Vec<AdhocLine> {
    facts
        .submitted
        .iter()
        .map(|r| {
            let params = match &r.params {
                serde_json::Value::Object(m) => m
                    .iter()
                    .map(|(k, v)| {
                        let v = if secret(k) {
                            "***".to_owned()
                        } else {
                            v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                        };
                        format!("{k}={v}")
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => String::new(),
            };
            AdhocLine {
                run_id: r.id,
                at: local(r.queued_at),
                requester: r.requested_by.clone(),
                job: r.job.clone(),
                params,
                reason: r.comment.clone(),
                result: r.status.as_str().to_owned(),
                rows: facts
                    .extracts
                    .iter()
                    .filter(|x| x.run_id == Some(r.id))
                    .map(|x| x.rows)
                    .reduce(|a, b| a + b),
                request: None,
                request_requester: None,
                department: None,
            }
        })
        .collect()
}

pub(super) fn changes(facts: &ReportFacts, local: &dyn Fn(DateTime<Utc>) -> String) -> Changes {
    let shown = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .map_or("(absent)".to_owned(), ToString::to_string)
    };
    let parameters = facts
        .param_changes
        .iter()
        .map(|p| ParamLine {
            id: p.id,
            at: local(p.at),
            key: p.key.clone(),
            before: shown(&p.before),
            after: shown(&p.after),
            user: p.user.clone(),
            reason: p.reason.clone(),
            reason_ja: reason_ja(&p.reason),
            rolled_back: p.rolled_back_by.is_some(),
        })
        .collect();
    let mut by_department: BTreeMap<&str, PermissionLine> = BTreeMap::new();
    for p in &facts.permission_changes {
        let l = by_department
            .entry(p.department.as_str())
            .or_insert_with(|| PermissionLine {
                department: p.department.clone(),
                grants: 0,
                revokes: 0,
                skipped: 0,
            });
        match (p.outcome.as_str(), p.op.as_str()) {
            ("applied", "grant") => l.grants += 1,
            ("applied", "revoke") => l.revokes += 1,
            _ => l.skipped += 1,
        }
    }
    // A job's definition changed where one of its runs has a digest its earlier runs of the
    // month did not have.
    let mut last: BTreeMap<u32, u32> = BTreeMap::new();
    let mut definitions = Vec::new();
    for r in &facts.runs {
        match last.insert(r.job, r.digest) {
            Some(d) if d != r.digest => definitions.push(DefinitionLine {
                job: facts.jobs.get(r.job as usize).cloned().unwrap_or_default(),
                first_run: r.id,
                at: local(r.queued_at),
                digest: facts
                    .digests
                    .get(r.digest as usize)
                    .map(|d| d.chars().take(12).collect())
                    .unwrap_or_default(),
            }),
            _ => {}
        }
    }
    Changes {
        parameters,
        permissions: by_department.into_values().collect(),
        definitions,
    }
}

/// A parameter change's reason in Japanese when unyo wrote it: the shipped `param-change`
/// job's default (`scheduled change effective DATE`) and `unyo params rollback`'s
/// (`rollback of change N`). An operator's own reason is shown as written.
pub(super) fn reason_ja(reason: &str) -> String {
    if let Some(date) = reason.strip_prefix("scheduled change effective ") {
        format!("予定変更({date} 施行)")
    } else if let Some(id) = reason
        .strip_prefix("rollback of change ")
        .filter(|id| id.chars().all(|c| c.is_ascii_digit()))
    {
        format!("変更 {id} の切戻し")
    } else {
        reason.to_owned()
    }
}
