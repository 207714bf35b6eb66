//! Contracts of the service desk's requests: a request reads back as recorded with its
//! `opened` event; listings put unclosed requests first and filter; a change writes its
//! event in the same write and a refused one writes nothing; a run belongs to one request,
//! a linked run or incident must be recorded; racing operators close a request once; the
//! report reads the requests of a period and the runs of requests.

use unyo::domain::desk::Category;
use unyo::model::Severity;
use unyo::store::{
    DeskChange, DeskLink, DeskRefusal, NewRequest, RequestFilter, RequestStatus, Store,
};

use crate::fixtures::{Db, at, incident, race, running};

fn request(category: Category, department: &str, minutes: i64) -> NewRequest {
    NewRequest {
        at: at(minutes),
        opened_by: "sato".to_owned(),
        requester: "山田 花子".to_owned(),
        department: department.to_owned(),
        channel: "phone".to_owned(),
        category,
        text: "課税データの抽出".to_owned(),
        due_at: at(minutes + 60),
    }
}

fn everything(limit: i64) -> RequestFilter {
    RequestFilter {
        all: true,
        limit,
        ..RequestFilter::default()
    }
}

async fn close(store: &dyn Store, id: i64, minutes: i64) {
    store
        .change_request(
            id,
            &DeskChange::Close {
                result: "done".to_owned(),
            },
            "sato",
            at(minutes),
        )
        .await
        .expect("store")
        .expect("closed");
}

pub async fn open_request_reads_back_with_its_opened_event(db: &Db) {
    let id = db
        .open_request(&request(Category::Fault, "税務課", 0))
        .await
        .expect("open");
    let second = db
        .open_request(&request(Category::Inquiry, "市民課", 1))
        .await
        .expect("open");
    assert!(second > id);
    let (r, events) = db.get_request(id).await.expect("read").expect("recorded");
    assert_eq!(
        (
            r.id,
            r.opened_at,
            r.category,
            r.status,
            r.due_at,
            r.answered_at
        ),
        (
            id,
            at(0),
            Category::Fault,
            RequestStatus::Open,
            at(60),
            None
        )
    );
    assert_eq!(
        (
            r.requester.as_str(),
            r.department.as_str(),
            r.channel.as_str(),
            r.opened_by.as_str()
        ),
        ("山田 花子", "税務課", "phone", "sato")
    );
    assert_eq!(events.len(), 1);
    assert_eq!(
        (
            events[0].kind.as_str(),
            events[0].actor.as_str(),
            events[0].at
        ),
        ("opened", "sato", at(0))
    );
    assert_eq!(db.get_request(999).await.expect("read"), None);
}

pub async fn list_requests_unclosed_first_filtered_and_limited(db: &Db) {
    let a = db
        .open_request(&request(Category::Fault, "税務課", 0))
        .await
        .expect("a");
    let b = db
        .open_request(&request(Category::Inquiry, "市民課", 1))
        .await
        .expect("b");
    let c = db
        .open_request(&request(Category::Inquiry, "税務課", 2))
        .await
        .expect("c");
    close(&**db, a, 3).await;
    let ids = |rows: Vec<unyo::store::RequestRow>| rows.iter().map(|r| r.id).collect::<Vec<_>>();
    let open_only = RequestFilter {
        limit: 10,
        ..RequestFilter::default()
    };
    assert_eq!(
        ids(db.list_requests(&open_only).await.expect("list")),
        vec![b, c]
    );
    assert_eq!(
        ids(db.list_requests(&everything(10)).await.expect("list")),
        vec![b, c, a]
    );
    assert_eq!(
        ids(db.list_requests(&everything(2)).await.expect("list")),
        vec![b, c]
    );
    let by = |f: RequestFilter| async move { ids(db.list_requests(&f).await.expect("list")) };
    assert_eq!(
        by(RequestFilter {
            category: Some(Category::Inquiry),
            limit: 10,
            ..RequestFilter::default()
        })
        .await,
        vec![b, c]
    );
    assert_eq!(
        by(RequestFilter {
            department: Some("税務課".to_owned()),
            all: true,
            limit: 10,
            ..RequestFilter::default()
        })
        .await,
        vec![c, a]
    );
    assert_eq!(
        by(RequestFilter {
            status: Some(RequestStatus::Closed),
            limit: 10,
            ..RequestFilter::default()
        })
        .await,
        vec![a]
    );
}

pub async fn get_request_lists_its_history_oldest_first(db: &Db) {
    let id = db
        .open_request(&request(Category::Request, "税務課", 0))
        .await
        .expect("open");
    for (m, change) in [
        (
            1,
            DeskChange::Triage {
                category: None,
                note: "受け付けました".to_owned(),
            },
        ),
        (
            2,
            DeskChange::Assign {
                to: "tanaka".to_owned(),
            },
        ),
    ] {
        db.change_request(id, &change, "sato", at(m))
            .await
            .expect("store")
            .expect("applied");
    }
    let (_, events) = db.get_request(id).await.expect("read").expect("recorded");
    let kinds: Vec<(&str, chrono::DateTime<chrono::Utc>)> =
        events.iter().map(|e| (e.kind.as_str(), e.at)).collect();
    assert_eq!(
        kinds,
        vec![("opened", at(0)), ("triaged", at(1)), ("assigned", at(2))]
    );
    assert_eq!(events[2].text, "to tanaka");
}

pub async fn change_request_through_its_life_records_each_event(db: &Db) {
    let id = db
        .open_request(&request(Category::Inquiry, "税務課", 0))
        .await
        .expect("open");
    let run = db
        .create_run(&running("extract", &["extract"]))
        .await
        .expect("run");
    let inc = db
        .open_incident(&incident("extract", "exit 1", Severity::High, at(0)))
        .await
        .expect("incident")
        .id;
    let steps = [
        DeskChange::Triage {
            category: Some((Category::Request, at(600))),
            note: String::new(),
        },
        DeskChange::Assign {
            to: "tanaka".to_owned(),
        },
        DeskChange::Escalate {
            to: "vendor".to_owned(),
            reason: "hardware".to_owned(),
        },
        DeskChange::Link(DeskLink::Run(run)),
        DeskChange::Link(DeskLink::Incident(inc)),
        DeskChange::Consult {
            reason: "cost 300000 yen over 100000 yen".to_owned(),
        },
        DeskChange::Close {
            result: "交換済み".to_owned(),
        },
    ];
    let mut statuses = Vec::new();
    for (i, change) in steps.iter().enumerate() {
        let row = db
            .change_request(id, change, "sato", at(10 + i as i64))
            .await
            .expect("store")
            .expect("applied");
        statuses.push(row.status);
    }
    use RequestStatus as S;
    assert_eq!(
        statuses,
        vec![
            S::Triaged,
            S::Assigned,
            S::Escalated,
            S::Escalated,
            S::Escalated,
            S::Escalated,
            S::Closed
        ]
    );
    let (r, events) = db.get_request(id).await.expect("read").expect("recorded");
    assert_eq!((r.category, r.due_at), (Category::Request, at(600)));
    assert_eq!(r.answered_at, Some(at(10)), "the first triage answers it");
    assert_eq!(r.assignee.as_deref(), Some("tanaka"));
    assert_eq!(r.escalated_to.as_deref(), Some("vendor"));
    assert_eq!(
        r.consultation.as_deref(),
        Some("cost 300000 yen over 100000 yen")
    );
    assert_eq!(
        (r.closed_at, r.closed_by.as_deref(), r.result.as_deref()),
        (Some(at(16)), Some("sato"), Some("交換済み"))
    );
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "opened",
            "triaged",
            "assigned",
            "escalated",
            "linked",
            "linked",
            "consultation",
            "closed"
        ]
    );
    assert_eq!((events[4].run_id, events[4].incident_id), (Some(run), None));
    assert_eq!((events[5].run_id, events[5].incident_id), (None, Some(inc)));
}

pub async fn change_request_refused_writes_nothing(db: &Db) {
    let id = db
        .open_request(&request(Category::Fault, "税務課", 0))
        .await
        .expect("open");
    let other = db
        .open_request(&request(Category::Fault, "市民課", 0))
        .await
        .expect("other");
    let run = db
        .create_run(&running("extract", &["extract"]))
        .await
        .expect("run");
    db.change_request(other, &DeskChange::Link(DeskLink::Run(run)), "sato", at(1))
        .await
        .expect("store")
        .expect("linked");
    let before = db.get_request(id).await.expect("read");
    let refusals = [
        (
            DeskChange::Link(DeskLink::Run(run)),
            DeskRefusal::RunTaken {
                run,
                request: other,
            },
        ),
        (
            DeskChange::Link(DeskLink::Run(9999)),
            DeskRefusal::NoTarget {
                what: "run",
                target: 9999,
            },
        ),
        (
            DeskChange::Link(DeskLink::Incident(9999)),
            DeskRefusal::NoTarget {
                what: "incident",
                target: 9999,
            },
        ),
    ];
    for (change, why) in refusals {
        let got = db
            .change_request(id, &change, "sato", at(2))
            .await
            .expect("store");
        assert_eq!(got, Err(why));
    }
    assert_eq!(
        db.get_request(id).await.expect("read"),
        before,
        "nothing written"
    );
    let unknown = db
        .change_request(
            777,
            &DeskChange::Assign { to: "x".to_owned() },
            "sato",
            at(2),
        )
        .await
        .expect("store");
    assert_eq!(unknown, Err(DeskRefusal::NotFound { id: 777 }));
    close(&**db, id, 3).await;
    let closed = db.get_request(id).await.expect("read");
    let again = db
        .change_request(
            id,
            &DeskChange::Assign { to: "x".to_owned() },
            "kato",
            at(4),
        )
        .await
        .expect("store");
    assert_eq!(
        again,
        Err(DeskRefusal::Closed {
            id,
            by: "sato".to_owned()
        })
    );
    assert_eq!(
        db.get_request(id).await.expect("read"),
        closed,
        "nothing written"
    );
}

pub async fn change_request_closes_once_among_racing_operators(db: &Db) {
    let id = db
        .open_request(&request(Category::Fault, "税務課", 0))
        .await
        .expect("open");
    let closes = race(db.racers(6).await, |i, s| async move {
        s.change_request(
            id,
            &DeskChange::Close {
                result: format!("result {i}"),
            },
            &format!("op{i}"),
            at(1),
        )
        .await
        .expect("store")
    })
    .await;
    assert_eq!(closes.iter().filter(|c| c.is_ok()).count(), 1, "{closes:?}");
    let winner = closes.iter().position(Result::is_ok).expect("a winner");
    let (r, events) = db.get_request(id).await.expect("read").expect("recorded");
    assert_eq!(r.closed_by, Some(format!("op{winner}")));
    assert_eq!(events.iter().filter(|e| e.kind == "closed").count(), 1);
}

pub async fn desk_facts_reads_the_periods_requests_and_the_runs_of_requests(db: &Db) {
    // Closed before the period: left out. Open from before: in. Opened in it: in. Opened
    // at its end: left out.
    let before = db
        .open_request(&request(Category::Fault, "税務課", 0))
        .await
        .expect("a");
    close(&**db, before, 5).await;
    let carried = db
        .open_request(&request(Category::Request, "税務課", 1))
        .await
        .expect("b");
    let inside = db
        .open_request(&request(Category::Inquiry, "市民課", 20))
        .await
        .expect("c");
    let after = db
        .open_request(&request(Category::Inquiry, "市民課", 30))
        .await
        .expect("d");
    close(&**db, inside, 25).await;
    let mut runs = Vec::new();
    for request in [carried, after] {
        let run = db
            .create_run(&running("extract", &["extract"]))
            .await
            .expect("run");
        db.change_request(
            request,
            &DeskChange::Link(DeskLink::Run(run)),
            "sato",
            at(31),
        )
        .await
        .expect("store")
        .expect("linked");
        runs.push(run);
    }
    let facts = db.desk_facts(at(10), at(30)).await.expect("facts");
    let ids: Vec<i64> = facts.requests.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![carried, inside]);
    assert_eq!(facts.requests[1].closed_at, Some(at(25)));
    // Only the runs of the period's requests.
    assert_eq!(facts.runs, vec![(runs[0], carried)]);
    let later = db.desk_facts(at(30), at(40)).await.expect("facts");
    assert_eq!(later.runs, vec![(runs[0], carried), (runs[1], after)]);
}
