//! Operators' records in PostgreSQL: the audit trail, parameter changes, data extracts and
//! permission changes.

use super::*;

pub(super) fn param_change_row(row: &PgRow) -> Result<ParamChange, StoreError> {
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

pub(super) fn permission_change_row(r: &PgRow) -> Result<PermissionChange, StoreError> {
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

pub(super) fn extract_row(row: &PgRow) -> Result<ExtractRow, StoreError> {
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

fn audit_row(r: &PgRow) -> Result<AuditEntry, StoreError> {
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
}

impl RecordStore for PgStore {
    fn audit(&self, e: &AuditEntry) -> Pending<()> {
        let e = e.clone();
        self.write("recording an operator action", move |pg| {
            pg.execute(
                q(
                    "INSERT INTO audit (at, \"user\", host, action, target, args, outcome, detail) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(e.at)
                .bind(e.user)
                .bind(e.host)
                .bind(e.action)
                .bind(e.target)
                .bind(e.args.to_string())
                .bind(e.outcome)
                .bind(e.detail),
            )?;
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
        self.read("reading the audit trail", move |pg| {
            let rows = pg.fetch_all(
                q("SELECT * FROM (SELECT * FROM audit \
                   WHERE ($1::timestamptz IS NULL OR at >= $1) \
                   AND ($2::text IS NULL OR \"user\" = $2) ORDER BY id DESC LIMIT $3) a \
                   ORDER BY id")
                .bind(since)
                .bind(user)
                .bind(limit),
            )?;
            map_all(rows, audit_row)
        })
    }

    fn audit_page(&self, query: &AuditQuery) -> Pending<Vec<AuditRecord>> {
        let f = query.clone();
        self.read("reading the audit trail", move |pg| {
            let rows = pg.fetch_all(
                q(
                    "SELECT * FROM audit WHERE ($1::text IS NULL OR \"user\" = $1) \
                   AND ($2::text IS NULL OR action = $2) \
                   AND ($3::timestamptz IS NULL OR at >= $3) \
                   AND ($4::timestamptz IS NULL OR at < $4) \
                   AND ($5::bigint IS NULL OR id < $5) \
                   ORDER BY id DESC LIMIT $6",
                )
                .bind(f.user)
                .bind(f.action)
                .bind(f.from)
                .bind(f.to)
                .bind(f.before)
                .bind(f.limit),
            )?;
            map_all(rows, |r| {
                Ok(AuditRecord {
                    id: col(r, "id")?,
                    entry: audit_row(r)?,
                })
            })
        })
    }

    fn record_param_change(&self, change: &NewParamChange) -> Pending<i64> {
        let ch = change.clone();
        self.write("recording a parameter change", move |pg| {
            let row = pg.fetch_one(
                q("INSERT INTO param_changes \
                   (at, file, key, before, after, reason, run_id, \"user\") \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
                .bind(ch.at)
                .bind(ch.file)
                .bind(ch.key)
                .bind(ch.before.as_ref().map(ToString::to_string))
                .bind(ch.after.as_ref().map(ToString::to_string))
                .bind(ch.reason)
                .bind(ch.run_id)
                .bind(ch.user),
            )?;
            Ok(col(&row, "id")?)
        })
    }

    fn list_param_changes(&self, key: Option<&str>, limit: i64) -> Pending<Vec<ParamChange>> {
        let key = key.map(str::to_owned);
        self.read("reading parameter changes", move |pg| {
            let rows = pg.fetch_all(
                q(
                    "SELECT * FROM param_changes WHERE ($1::text IS NULL OR key = $1) \
                   ORDER BY id DESC LIMIT $2",
                )
                .bind(key)
                .bind(limit),
            )?;
            map_all(rows, param_change_row)
        })
    }

    fn get_param_change(&self, id: i64) -> Pending<Option<ParamChange>> {
        self.read("reading a parameter change", move |pg| {
            let row = pg.fetch_optional(q("SELECT * FROM param_changes WHERE id = $1").bind(id))?;
            Ok(row.as_ref().map(param_change_row).transpose()?)
        })
    }

    fn mark_rolled_back(&self, id: i64, by: i64) -> Pending<bool> {
        self.write("marking a parameter change rolled back", move |pg| {
            let n = pg.execute(
                q("UPDATE param_changes SET rolled_back_by = $1 \
                   WHERE id = $2 AND rolled_back_by IS NULL")
                .bind(by)
                .bind(id),
            )?;
            Ok(n == 1)
        })
    }

    fn record_extract(&self, extract: &NewExtract) -> Pending<i64> {
        let x = extract.clone();
        self.write("recording an extract", move |pg| {
            let row = pg.fetch_one(
                q(
                    "INSERT INTO extracts (at, run_id, job, db, sql_file, out_file, encoding, \
                   rows, sha256, columns, params, \"user\", \"group\") \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
                )
                .bind(x.at)
                .bind(x.run_id)
                .bind(x.job)
                .bind(x.db)
                .bind(x.sql_file)
                .bind(x.out_file)
                .bind(x.encoding)
                .bind(x.rows)
                .bind(x.sha256)
                .bind(x.columns.to_string())
                .bind(x.params.to_string())
                .bind(x.user)
                .bind(x.group),
            )?;
            Ok(col(&row, "id")?)
        })
    }

    fn list_extracts(&self, limit: i64) -> Pending<Vec<ExtractRow>> {
        self.read("reading extracts", move |pg| {
            let rows =
                pg.fetch_all(q("SELECT * FROM extracts ORDER BY id DESC LIMIT $1").bind(limit))?;
            map_all(rows, extract_row)
        })
    }

    fn record_permission_changes(&self, changes: &[NewPermissionChange]) -> Pending<Vec<i64>> {
        let changes = changes.to_vec();
        self.write("recording permission changes", move |pg| {
            let mut ids = Vec::with_capacity(changes.len());
            for ch in changes {
                let row = pg.fetch_one(
                    q(
                        "INSERT INTO permission_changes (at, batch, run_id, staff_id, name, \
                       department, kind, target, op, outcome, reason, undo_of, \"user\") \
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                       RETURNING id",
                    )
                    .bind(ch.at)
                    .bind(ch.batch)
                    .bind(ch.run_id)
                    .bind(ch.staff_id)
                    .bind(ch.name)
                    .bind(ch.department)
                    .bind(ch.kind)
                    .bind(ch.target)
                    .bind(ch.op)
                    .bind(ch.outcome)
                    .bind(ch.reason)
                    .bind(ch.undo_of)
                    .bind(ch.user),
                )?;
                ids.push(col(&row, "id")?);
            }
            Ok(ids)
        })
    }

    fn list_permission_changes(&self, filter: &PermissionFilter) -> Pending<Vec<PermissionChange>> {
        let f = filter.clone();
        self.read("reading permission changes", move |pg| {
            let rows = pg.fetch_all(
                q(
                    "SELECT * FROM permission_changes WHERE ($1::text IS NULL OR department = $1) \
                   AND ($2::text IS NULL OR staff_id = $2) AND ($3::text IS NULL OR batch = $3) \
                   ORDER BY id DESC LIMIT $4",
                )
                .bind(f.department)
                .bind(f.staff_id)
                .bind(f.batch)
                .bind(f.limit),
            )?;
            map_all(rows, permission_change_row)
        })
    }
}
