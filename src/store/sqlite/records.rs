//! Operators' records in SQLite: the audit trail, parameter changes, data extracts and
//! permission changes.

use super::*;

pub(super) fn param_change_row(row: &Row<'_>) -> Result<ParamChange, StoreError> {
    Ok(ParamChange {
        id: col(row, "id")?,
        at: time(row, "at")?,
        file: col(row, "file")?,
        key: col(row, "key")?,
        before: opt_json(row, "before")?,
        after: opt_json(row, "after")?,
        reason: col(row, "reason")?,
        run_id: col(row, "run_id")?,
        user: col(row, "user")?,
        rolled_back_by: col(row, "rolled_back_by")?,
    })
}

pub(super) fn permission_change_row(r: &Row<'_>) -> Result<PermissionChange, StoreError> {
    Ok(PermissionChange {
        id: col(r, "id")?,
        at: time(r, "at")?,
        batch: col(r, "batch")?,
        run_id: col(r, "run_id")?,
        staff_id: col(r, "staff_id")?,
        name: col(r, "name")?,
        department: col(r, "department")?,
        kind: col(r, "kind")?,
        target: col(r, "target")?,
        op: col(r, "op")?,
        outcome: col(r, "outcome")?,
        reason: col(r, "reason")?,
        undo_of: col(r, "undo_of")?,
        user: col(r, "user")?,
    })
}

pub(super) fn extract_row(row: &Row<'_>) -> Result<ExtractRow, StoreError> {
    Ok(ExtractRow {
        id: col(row, "id")?,
        at: time(row, "at")?,
        run_id: col(row, "run_id")?,
        job: col(row, "job")?,
        db: col(row, "db")?,
        sql_file: col(row, "sql_file")?,
        out_file: col(row, "out_file")?,
        encoding: col(row, "encoding")?,
        rows: col(row, "rows")?,
        sha256: col(row, "sha256")?,
        columns: json(row, "columns")?,
        params: json(row, "params")?,
        user: col(row, "user")?,
        group: col(row, "group")?,
    })
}

impl RecordStore for SqliteStore {
    fn audit(&self, e: &AuditEntry) -> Pending<()> {
        let e = e.clone();
        self.write("recording an operator action", move |c| {
            c.prepare_cached(
                "INSERT INTO audit (at, user, host, action, target, args, outcome, detail) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                ts(e.at),
                e.user,
                e.host,
                e.action,
                e.target,
                e.args.to_string(),
                e.outcome,
                e.detail
            ])?;
            Ok(())
        })
    }

    fn list_audit(
        &self,
        since: Option<DateTime<Utc>>,
        user: Option<&str>,
        limit: i64,
    ) -> Pending<Vec<AuditEntry>> {
        let user = user.map(str::to_owned);
        self.read(move |c| {
            all(
                c,
                "reading the audit trail",
                "SELECT * FROM (SELECT * FROM audit WHERE (?1 IS NULL OR at >= ?1) \
                 AND (?2 IS NULL OR user = ?2) ORDER BY id DESC LIMIT ?3) ORDER BY id",
                params![since.map(ts), user, limit],
                |r| {
                    Ok(AuditEntry {
                        at: time(r, "at")?,
                        user: col(r, "user")?,
                        host: col(r, "host")?,
                        action: col(r, "action")?,
                        target: col(r, "target")?,
                        args: json(r, "args")?,
                        outcome: col(r, "outcome")?,
                        detail: col(r, "detail")?,
                    })
                },
            )
        })
    }

    fn audit_page(&self, query: &AuditQuery) -> Pending<Vec<AuditRecord>> {
        let q = query.clone();
        self.read(move |c| {
            all(
                c,
                "reading the audit trail",
                "SELECT * FROM audit WHERE (?1 IS NULL OR user = ?1) \
                 AND (?2 IS NULL OR action = ?2) AND (?3 IS NULL OR at >= ?3) \
                 AND (?4 IS NULL OR at < ?4) AND (?5 IS NULL OR id < ?5) \
                 ORDER BY id DESC LIMIT ?6",
                params![
                    q.user,
                    q.action,
                    q.from.map(ts),
                    q.to.map(ts),
                    q.before,
                    q.limit
                ],
                |r| {
                    Ok(AuditRecord {
                        id: col(r, "id")?,
                        entry: AuditEntry {
                            at: time(r, "at")?,
                            user: col(r, "user")?,
                            host: col(r, "host")?,
                            action: col(r, "action")?,
                            target: col(r, "target")?,
                            args: json(r, "args")?,
                            outcome: col(r, "outcome")?,
                            detail: col(r, "detail")?,
                        },
                    })
                },
            )
        })
    }

    fn record_param_change(&self, change: &NewParamChange) -> Pending<i64> {
        let ch = change.clone();
        self.write("recording a parameter change", move |c| {
            c.prepare_cached(
                "INSERT INTO param_changes (at, file, key, before, after, reason, run_id, user) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                ts(ch.at),
                ch.file,
                ch.key,
                ch.before.as_ref().map(ToString::to_string),
                ch.after.as_ref().map(ToString::to_string),
                ch.reason,
                ch.run_id,
                ch.user
            ])?;
            Ok(c.last_insert_rowid())
        })
    }

    fn list_param_changes(&self, key: Option<&str>, limit: i64) -> Pending<Vec<ParamChange>> {
        let key = key.map(str::to_owned);
        self.read(move |c| {
            all(
                c,
                "reading parameter changes",
                "SELECT * FROM param_changes WHERE (?1 IS NULL OR key = ?1) \
                 ORDER BY id DESC LIMIT ?2",
                params![key, limit],
                param_change_row,
            )
        })
    }

    fn get_param_change(&self, id: i64) -> Pending<Option<ParamChange>> {
        self.read(move |c| {
            Ok(all(
                c,
                "reading a parameter change",
                "SELECT * FROM param_changes WHERE id = ?",
                [id],
                param_change_row,
            )?
            .into_iter()
            .next())
        })
    }

    fn mark_rolled_back(&self, id: i64, by: i64) -> Pending<bool> {
        self.write("marking a parameter change rolled back", move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE param_changes SET rolled_back_by = ? \
                     WHERE id = ? AND rolled_back_by IS NULL",
                )?
                .execute([by, id])?;
            Ok(n == 1)
        })
    }

    fn record_extract(&self, extract: &NewExtract) -> Pending<i64> {
        let x = extract.clone();
        self.write("recording an extract", move |c| {
            c.prepare_cached(
                "INSERT INTO extracts (at, run_id, job, db, sql_file, out_file, encoding, rows, \
                 sha256, columns, params, user, \"group\") \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                ts(x.at),
                x.run_id,
                x.job,
                x.db,
                x.sql_file,
                x.out_file,
                x.encoding,
                x.rows,
                x.sha256,
                x.columns.to_string(),
                x.params.to_string(),
                x.user,
                x.group
            ])?;
            Ok(c.last_insert_rowid())
        })
    }

    fn list_extracts(&self, limit: i64) -> Pending<Vec<ExtractRow>> {
        self.read(move |c| {
            all(
                c,
                "reading extracts",
                "SELECT * FROM extracts ORDER BY id DESC LIMIT ?",
                [limit],
                extract_row,
            )
        })
    }

    fn record_permission_changes(&self, changes: &[NewPermissionChange]) -> Pending<Vec<i64>> {
        let changes = changes.to_vec();
        self.write("recording permission changes", move |c| {
            let mut ids = Vec::with_capacity(changes.len());
            let mut ins = c.prepare_cached(
                "INSERT INTO permission_changes (at, batch, run_id, staff_id, name, department, \
                 kind, target, op, outcome, reason, undo_of, user) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )?;
            for ch in &changes {
                ins.execute(params![
                    ts(ch.at),
                    ch.batch,
                    ch.run_id,
                    ch.staff_id,
                    ch.name,
                    ch.department,
                    ch.kind,
                    ch.target,
                    ch.op,
                    ch.outcome,
                    ch.reason,
                    ch.undo_of,
                    ch.user
                ])?;
                ids.push(c.last_insert_rowid());
            }
            Ok(ids)
        })
    }

    fn list_permission_changes(&self, filter: &PermissionFilter) -> Pending<Vec<PermissionChange>> {
        let f = filter.clone();
        self.read(move |c| {
            all(
                c,
                "reading permission changes",
                "SELECT * FROM permission_changes WHERE (?1 IS NULL OR department = ?1) \
                 AND (?2 IS NULL OR staff_id = ?2) AND (?3 IS NULL OR batch = ?3) \
                 ORDER BY id DESC LIMIT ?4",
                params![f.department, f.staff_id, f.batch, f.limit],
                permission_change_row,
            )
        })
    }
}
