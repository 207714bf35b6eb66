//! Contracts of the records kept for audit: operator actions, parameter changes and their
//! rollbacks, data extracts and permission changes.

use unyo::store::{NewPermissionChange, PermissionFilter};

use crate::fixtures::{Db, action, at, extract, finished, grant, param_change};

pub async fn audit_appends_every_action_unchanged(db: &Db) {
    let first = action("alice", "run", at(0));
    db.audit(&first).await.expect("audit");
    db.audit(&first)
        .await
        .expect("the same action twice is two entries");
    let refused = unyo::store::AuditEntry {
        outcome: "refused".into(),
        args: serde_json::json!({"params": ["month=2026-10"], "at": null}),
        ..action("bob", "cancel", at(1))
    };
    db.audit(&refused).await.expect("audit");
    let trail = db.list_audit(None, None, 10).await.expect("trail");
    assert_eq!(trail, [first.clone(), first, refused]);
}

pub async fn list_audit_oldest_first_since_by_user_and_limited(db: &Db) {
    assert!(
        db.list_audit(None, None, 10)
            .await
            .expect("trail")
            .is_empty()
    );
    let entries = [
        action("alice", "run", at(0)),
        action("bob", "hold", at(10)),
        action("alice", "cancel", at(20)),
        action("bob", "release", at(30)),
    ];
    for e in &entries {
        db.audit(e).await.expect("audit");
    }
    let actions = |trail: Vec<unyo::store::AuditEntry>| {
        trail.into_iter().map(|e| e.action).collect::<Vec<_>>()
    };
    let list = |since: Option<i64>, user: Option<&'static str>, limit| {
        db.list_audit(since.map(at), user, limit)
    };
    assert_eq!(
        actions(list(None, None, 10).await.expect("trail")),
        ["run", "hold", "cancel", "release"]
    );
    assert_eq!(
        actions(list(Some(10), None, 10).await.expect("trail")),
        ["hold", "cancel", "release"],
        "from `since` on"
    );
    assert_eq!(
        actions(list(None, Some("alice"), 10).await.expect("trail")),
        ["run", "cancel"]
    );
    assert_eq!(
        actions(list(Some(5), Some("bob"), 10).await.expect("trail")),
        ["hold", "release"]
    );
    assert_eq!(
        actions(list(None, None, 2).await.expect("trail")),
        ["cancel", "release"],
        "the newest, oldest first"
    );
    assert!(list(Some(31), None, 10).await.expect("trail").is_empty());
}

pub async fn audit_page_newest_first_filtered_and_paged_by_id(db: &Db) {
    let q = unyo::store::AuditQuery {
        limit: 10,
        ..Default::default()
    };
    assert!(db.audit_page(&q).await.expect("page").is_empty());
    for e in [
        action("alice", "run", at(0)),
        action("web:bob", "hold", at(10)),
        action("alice", "hold", at(20)),
        action("web:bob", "submit", at(30)),
        action("alice", "cancel", at(40)),
    ] {
        db.audit(&e).await.expect("audit");
    }
    let page = |q: unyo::store::AuditQuery| async move {
        db.audit_page(&q)
            .await
            .expect("page")
            .into_iter()
            .map(|r| (r.entry.user, r.entry.action))
            .collect::<Vec<_>>()
    };
    let all = db.audit_page(&q).await.expect("page");
    let ids: Vec<i64> = all.iter().map(|r| r.id).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    assert_eq!(
        all[0].entry,
        action("alice", "cancel", at(40)),
        "as recorded"
    );
    let pair = |u: &str, a: &str| (u.to_owned(), a.to_owned());
    assert_eq!(
        page(unyo::store::AuditQuery {
            user: Some("web:bob".into()),
            ..q.clone()
        })
        .await,
        [pair("web:bob", "submit"), pair("web:bob", "hold")]
    );
    assert_eq!(
        page(unyo::store::AuditQuery {
            action: Some("hold".into()),
            ..q.clone()
        })
        .await,
        [pair("alice", "hold"), pair("web:bob", "hold")]
    );
    assert_eq!(
        page(unyo::store::AuditQuery {
            from: Some(at(10)),
            to: Some(at(30)),
            ..q.clone()
        })
        .await,
        [pair("alice", "hold"), pair("web:bob", "hold")],
        "from inclusive, to exclusive"
    );
    // Two a page: the second starts before the first page's last id.
    let first = db
        .audit_page(&unyo::store::AuditQuery {
            limit: 2,
            ..q.clone()
        })
        .await
        .expect("page");
    assert_eq!(first.len(), 2);
    let second = page(unyo::store::AuditQuery {
        limit: 2,
        before: Some(first[1].id),
        ..q.clone()
    })
    .await;
    assert_eq!(second, [pair("alice", "hold"), pair("web:bob", "hold")]);
    let last = page(unyo::store::AuditQuery {
        before: Some(ids[4]),
        ..q.clone()
    })
    .await;
    assert!(last.is_empty(), "{last:?}");
}

pub async fn record_param_change_reads_back_as_recorded(db: &Db) {
    let run = finished(&**db, "tune", unyo::store::RunStatus::Succeeded, at(0)).await;
    let mut change = param_change("counters.max_sessions", at(1));
    change.run_id = Some(run);
    let a = db.record_param_change(&change).await.expect("record");
    let added = unyo::store::NewParamChange {
        before: None,
        after: Some(serde_json::json!({"nested": [1, 2]})),
        ..param_change("counters.new_key", at(2))
    };
    let b = db.record_param_change(&added).await.expect("record");
    assert!(b > a);
    let got = db
        .get_param_change(a)
        .await
        .expect("get")
        .expect("recorded");
    assert_eq!(got.id, a);
    assert_eq!(
        (got.at, got.file.as_str(), got.key.as_str()),
        (at(1), change.file.as_str(), "counters.max_sessions")
    );
    assert_eq!((got.before, got.after), (change.before, change.after));
    assert_eq!(
        (got.reason.as_str(), got.run_id, got.user.as_str()),
        (change.reason.as_str(), Some(run), "operator")
    );
    assert_eq!(got.rolled_back_by, None);
    let got = db
        .get_param_change(b)
        .await
        .expect("get")
        .expect("recorded");
    assert_eq!((got.before, got.after), (None, added.after));
    assert!(db.get_param_change(b + 1).await.expect("get").is_none());
}

pub async fn list_param_changes_newest_first_by_key_and_limited(db: &Db) {
    let mut ids = Vec::new();
    for (i, key) in ["a.x", "b.y", "a.x"].iter().enumerate() {
        ids.push(
            db.record_param_change(&param_change(key, at(i as i64)))
                .await
                .expect("record"),
        );
    }
    let got = |rows: Vec<unyo::store::ParamChange>| rows.iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        got(db.list_param_changes(None, 10).await.expect("list")),
        [ids[2], ids[1], ids[0]]
    );
    assert_eq!(
        got(db.list_param_changes(Some("a.x"), 10).await.expect("list")),
        [ids[2], ids[0]]
    );
    assert_eq!(
        got(db.list_param_changes(None, 1).await.expect("list")),
        [ids[2]]
    );
    assert!(
        db.list_param_changes(Some("c.z"), 10)
            .await
            .expect("list")
            .is_empty()
    );
}

pub async fn mark_rolled_back_marks_a_change_once(db: &Db) {
    let change = db
        .record_param_change(&param_change("a.x", at(0)))
        .await
        .expect("record");
    let undo = db
        .record_param_change(&unyo::store::NewParamChange {
            before: Some(serde_json::json!(20)),
            after: Some(serde_json::json!(10)),
            ..param_change("a.x", at(1))
        })
        .await
        .expect("record");
    assert!(db.mark_rolled_back(change, undo).await.expect("mark"));
    assert!(!db.mark_rolled_back(change, undo).await.expect("mark again"));
    let got = db
        .get_param_change(change)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(got.rolled_back_by, Some(undo));
    assert_eq!(
        db.get_param_change(undo)
            .await
            .expect("get")
            .expect("row")
            .rolled_back_by,
        None
    );
    assert!(
        !db.mark_rolled_back(undo + 10, undo)
            .await
            .expect("unknown change")
    );
}

pub async fn record_extract_reads_back_as_recorded(db: &Db) {
    let run = finished(
        &**db,
        "euc-extract",
        unyo::store::RunStatus::Succeeded,
        at(0),
    )
    .await;
    let mut x = extract(at(1));
    x.run_id = Some(run);
    let id = db.record_extract(&x).await.expect("record");
    let rows = db.list_extracts(10).await.expect("list");
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(
        (r.id, r.at, r.run_id, r.job.as_deref()),
        (id, at(1), Some(run), Some("euc-extract"))
    );
    assert_eq!(
        (&r.db, &r.sql_file, &r.out_file),
        (&x.db, &x.sql_file, &x.out_file)
    );
    assert_eq!(
        (r.encoding.as_str(), r.rows, r.sha256.as_str()),
        ("shift_jis", 412, x.sha256.as_str())
    );
    assert_eq!((&r.columns, &r.params), (&x.columns, &x.params));
    assert_eq!(
        (r.user.as_str(), r.group.as_deref()),
        ("operator", Some("dept-tax"))
    );
    let bare = unyo::store::NewExtract {
        run_id: None,
        job: None,
        group: None,
        rows: 0,
        ..extract(at(2))
    };
    let second = db.record_extract(&bare).await.expect("record");
    assert!(second > id);
    let r = &db.list_extracts(1).await.expect("list")[0];
    assert_eq!(
        (r.id, r.run_id, r.job.as_deref(), r.group.as_deref(), r.rows),
        (second, None, None, None, 0)
    );
}

pub async fn list_extracts_newest_first_and_limited(db: &Db) {
    assert!(db.list_extracts(10).await.expect("list").is_empty());
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(db.record_extract(&extract(at(i))).await.expect("record"));
    }
    let got = |rows: Vec<unyo::store::ExtractRow>| rows.iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        got(db.list_extracts(10).await.expect("list")),
        [ids[2], ids[1], ids[0]]
    );
    assert_eq!(
        got(db.list_extracts(2).await.expect("list")),
        [ids[2], ids[1]]
    );
}

pub async fn record_permission_changes_returns_ids_in_order(db: &Db) {
    assert!(
        db.record_permission_changes(&[])
            .await
            .expect("nothing")
            .is_empty()
    );
    let skipped = NewPermissionChange {
        op: "revoke".into(),
        kind: "acl".into(),
        target: "/srv/city/tax".into(),
        outcome: "skipped".into(),
        reason: Some("not granted".into()),
        undo_of: Some("b0".into()),
        ..grant("b1", "S002", "tax", at(1))
    };
    let changes = [grant("b1", "S001", "tax", at(1)), skipped.clone()];
    let ids = db
        .record_permission_changes(&changes)
        .await
        .expect("record");
    assert_eq!(ids.len(), 2);
    assert!(ids[0] < ids[1]);
    let rows = db
        .list_permission_changes(&PermissionFilter {
            limit: 10,
            ..PermissionFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(
        rows.iter().map(|r| r.id).collect::<Vec<_>>(),
        [ids[1], ids[0]]
    );
    let r = &rows[0];
    assert_eq!(
        (r.at, r.batch.as_str(), r.run_id, r.staff_id.as_str()),
        (at(1), "b1", None, "S002")
    );
    assert_eq!(
        (r.name.as_str(), r.department.as_str(), r.kind.as_str()),
        ("staff S002", "tax", "acl")
    );
    assert_eq!(
        (r.target.as_str(), r.op.as_str(), r.outcome.as_str()),
        ("/srv/city/tax", "revoke", "skipped")
    );
    assert_eq!(
        (r.reason.as_deref(), r.undo_of.as_deref(), r.user.as_str()),
        (Some("not granted"), Some("b0"), "operator")
    );
    assert_eq!(
        (rows[1].reason.as_deref(), rows[1].undo_of.as_deref()),
        (None, None)
    );
}

pub async fn list_permission_changes_filters_by_department_staff_and_batch(db: &Db) {
    let ids = db
        .record_permission_changes(&[
            grant("b1", "S001", "tax", at(0)),
            grant("b1", "S002", "welfare", at(0)),
        ])
        .await
        .expect("record");
    let more = db
        .record_permission_changes(&[grant("b2", "S001", "welfare", at(1))])
        .await
        .expect("record");
    let list = |department: Option<&'static str>,
                staff: Option<&'static str>,
                batch: Option<&'static str>,
                limit| async move {
        db.list_permission_changes(&PermissionFilter {
            department: department.map(str::to_owned),
            staff_id: staff.map(str::to_owned),
            batch: batch.map(str::to_owned),
            limit,
        })
        .await
        .expect("list")
        .iter()
        .map(|r| r.id)
        .collect::<Vec<_>>()
    };
    assert_eq!(list(None, None, None, 10).await, [more[0], ids[1], ids[0]]);
    assert_eq!(
        list(Some("welfare"), None, None, 10).await,
        [more[0], ids[1]]
    );
    assert_eq!(list(None, Some("S001"), None, 10).await, [more[0], ids[0]]);
    assert_eq!(list(None, None, Some("b1"), 10).await, [ids[1], ids[0]]);
    assert_eq!(
        list(Some("welfare"), Some("S001"), Some("b1"), 10).await,
        Vec::<i64>::new()
    );
    assert_eq!(list(None, None, None, 1).await, [more[0]]);
}
