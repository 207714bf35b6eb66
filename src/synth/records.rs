//! What the month leaves beside its runs and incidents, through the store's own methods:
//! parameter changes (and a rollback), extracts, permission changes and the audit trail, each
//! in the order it happened; the schedules' watermarks; the daemon processes of the month.

use super::plan::SERVICE_USER;
use super::runs::{AuditRow, ParamRow, Writer};
use super::{MS, SEC, Us, utc};
use crate::store::bulk::HistoryStore;
use crate::store::{
    AuditEntry, NewExtract, NewParamChange, NewPermissionChange, Pending, StoreError,
};

/// A parameter's value as the store records it (JSON).
fn value(text: &Option<String>) -> Option<serde_json::Value> {
    text.as_ref()
        .map(|t| serde_json::from_str(t).unwrap_or_else(|_| serde_json::Value::String(t.clone())))
}

impl Writer<'_> {
    /// Parameter changes, extracts, permission changes and the audit trail, each in the order
    /// it happened; the schedules' watermarks.
    pub async fn side_records<S: HistoryStore>(&mut self, store: &S) -> Result<(), StoreError> {
        let file = format!("{}/city/online/params.yaml", self.spec.data_dir.display());
        let mut params = std::mem::take(&mut self.params);
        params.sort_by_key(|p| p.at);
        let mut rows: Vec<(Us, Option<usize>, ParamRow)> =
            params.iter().cloned().map(|p| (p.at, None, p)).collect();
        for (i, p) in params.iter().enumerate() {
            if let Some((t, u)) = &p.rollback {
                rows.push((
                    *t,
                    Some(i),
                    ParamRow {
                        at: *t,
                        key: p.key.clone(),
                        before: p.after.clone(),
                        after: p.before.clone(),
                        reason: String::new(),
                        run_id: None,
                        user: u.clone(),
                        rollback: None,
                    },
                ));
            }
        }
        rows.sort_by_key(|r| r.0);
        let mut ids: Vec<i64> = vec![0; params.len()];
        for (t, of, mut r) in rows {
            if let Some(i) = of {
                r.reason = format!("rollback of change {}", ids[i]);
            }
            let id = store
                .record_param_change(&NewParamChange {
                    at: utc(t),
                    file: file.clone(),
                    key: r.key.clone(),
                    before: value(&r.before),
                    after: value(&r.after),
                    reason: r.reason.clone(),
                    run_id: r.run_id,
                    user: r.user.clone(),
                })
                .await?;
            self.summary.param_changes += 1;
            let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".to_owned());
            match of {
                None => {
                    if let Some(i) = params.iter().position(|p| p.at == t && p.key == r.key) {
                        ids[i] = id;
                    }
                    self.audit.push(AuditRow {
                        at: t + MS,
                        user: r.user.clone(),
                        action: "param.set",
                        target: format!("param {}", r.key),
                        args: serde_json::json!({ "file": file, "key": r.key, "value": r.after, "reason": r.reason }),
                        outcome: "done",
                        detail: format!("change {id}: {} -> {}", shown(&r.before), shown(&r.after)),
                    });
                }
                Some(i) => {
                    store.mark_rolled_back(ids[i], id).await?;
                    self.audit.push(AuditRow {
                        at: t + MS,
                        user: r.user.clone(),
                        action: "param.rollback",
                        target: format!("param change {}", ids[i]),
                        args: serde_json::json!({ "change": ids[i], "reason": r.reason }),
                        outcome: "done",
                        detail: format!(
                            "{file}: {}: {} -> {} (change {id} rolls back change {})",
                            r.key,
                            shown(&r.before),
                            shown(&r.after),
                            ids[i]
                        ),
                    });
                }
            }
        }
        let mut extracts = std::mem::take(&mut self.extracts);
        extracts.sort_by_key(|e| e.at);
        let db = format!("{}/city/business.db", self.spec.data_dir.display());
        let sql = format!(
            "{}/queries/residents-by-department.sql",
            self.spec.root.display()
        );
        for e in &extracts {
            let id = store
                .record_extract(&NewExtract {
                    at: utc(e.at),
                    run_id: Some(e.run_id),
                    job: Some("euc-extract".to_owned()),
                    db: db.clone(),
                    sql_file: sql.clone(),
                    out_file: e.out.clone(),
                    encoding: "utf-8-bom".to_owned(),
                    rows: i64::from(e.rows),
                    sha256: e.sha256.clone(),
                    columns: serde_json::json!(["id", "name", "kana", "birth_date", "age"]),
                    params: serde_json::json!({ "department": e.dept, "month": e.month }),
                    user: SERVICE_USER.to_owned(),
                    group: None,
                })
                .await?;
            self.summary.extracts += 1;
            self.audit.push(AuditRow {
                at: e.at + 400,
                user: SERVICE_USER.to_owned(),
                action: "extract",
                target: format!("extract {}", e.out),
                args: serde_json::json!({
                    "allow_formulas": false, "columns": "id,name,kana,birth_date,age", "db": db,
                    "encoding": "utf-8-bom", "group": "", "out": e.out,
                    "params": { "department": e.dept, "month": e.month }, "sql": sql,
                }),
                outcome: "done",
                detail: format!(
                    "extract {id}: {} rows, sha256 {}, {}",
                    e.rows, e.sha256, e.out
                ),
            });
        }
        let perms = std::mem::take(&mut self.perms);
        let changes: Vec<NewPermissionChange> = perms
            .iter()
            .map(|p| NewPermissionChange {
                at: utc(p.at),
                batch: p.batch.clone(),
                run_id: Some(p.run_id),
                staff_id: p.staff.clone(),
                name: p.name.clone(),
                department: p.department.clone(),
                kind: p.kind.to_owned(),
                target: p.target.clone(),
                op: p.op.to_owned(),
                outcome: "applied".to_owned(),
                reason: None,
                undo_of: None,
                user: SERVICE_USER.to_owned(),
            })
            .collect();
        if !changes.is_empty() {
            self.summary.permission_changes +=
                store.record_permission_changes(&changes).await?.len() as u64;
        }
        if let Some(first) = perms.first() {
            self.audit.push(AuditRow {
                at: first.at + 2 * MS,
                user: SERVICE_USER.to_owned(),
                action: "permissions.apply",
                target: format!(
                    "transfer list {}/city/hr/transfers-{}.csv",
                    self.spec.data_dir.display(),
                    self.m.days[0].format("%Y-%m-%d")
                ),
                args: serde_json::json!({}),
                outcome: "done",
                detail: format!("batch {}: {} changes applied", first.batch, perms.len()),
            });
        }
        let mut audit = std::mem::take(&mut self.audit);
        audit.sort_by(|a, b| (a.at, &a.user, a.action).cmp(&(b.at, &b.user, b.action)));
        // Issued in order, committed together.
        let written: Vec<Pending<()>> = audit
            .iter()
            .map(|a| {
                store.audit(&AuditEntry {
                    at: utc(a.at),
                    user: a.user.clone(),
                    host: self.spec.host.clone(),
                    action: a.action.to_owned(),
                    target: a.target.clone(),
                    args: a.args.clone(),
                    outcome: a.outcome.to_owned(),
                    detail: a.detail.clone(),
                })
            })
            .collect();
        for w in written {
            w.await?;
            self.summary.audit += 1;
        }
        let watermarks: Vec<_> = self
            .watermarks
            .iter()
            .map(|(job, through)| (self.plan.jobs[*job as usize].name.clone(), utc(*through)))
            .collect();
        store.record_slots(&[], &watermarks).await?;
        Ok(())
    }

    /// The daemon processes of the month: one until the crash, one until the planned stop,
    /// one to the month's end.
    pub async fn daemons<S: HistoryStore>(&self, store: &S) -> Result<(), StoreError> {
        let mut started = self.m.start;
        for (i, owner) in self.owners.iter().enumerate() {
            let pid: u32 = owner
                .split(':')
                .nth(1)
                .and_then(|p| p.parse().ok())
                .unwrap_or_default();
            let (beat, stopped) = match self.plan.outages.get(i) {
                Some(o) => (o.down - 1_700 * MS, o.planned.then_some(o.down)),
                None => (self.m.end - 4 * SEC, None),
            };
            let id = store
                .register_daemon(
                    &self.spec.host,
                    pid,
                    env!("CARGO_PKG_VERSION"),
                    utc(started),
                )
                .await?;
            store.heartbeat(id, utc(beat), false).await?;
            if let Some(t) = stopped {
                store.heartbeat(id, utc(t), true).await?;
            }
            if let Some(o) = self.plan.outages.get(i) {
                started = o.up;
            }
        }
        Ok(())
    }
}
