//! Contracts of the dashboard's users and sessions: a user is added once per name and reads
//! back as recorded; removing a user or setting their password ends their sessions; a
//! session finds its user until it has been idle too long, each use moving its expiry, and
//! an expired one is deleted; ending a session ends that one only.

use chrono::Duration;
use unyo::store::{NewSession, Role, WebUser};

use crate::fixtures::{Db, at};

fn user(name: &str, role: Role) -> WebUser {
    WebUser {
        name: name.to_owned(),
        role,
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$salt-of-{name}$hash"),
        created_at: at(0),
        password_set_at: at(0),
    }
}

fn session(token_hash: &str, user: &str, minutes: i64) -> NewSession {
    NewSession {
        token_hash: token_hash.to_owned(),
        user: user.to_owned(),
        at: at(minutes),
        expires_at: at(minutes + 30),
    }
}

const IDLE: i64 = 30;

async fn seen(db: &Db, token_hash: &str, minutes: i64) -> Option<String> {
    db.touch_web_session(token_hash, at(minutes), Duration::minutes(IDLE))
        .await
        .expect("touch")
        .map(|u| u.name)
}

pub async fn add_web_user_once_per_name(db: &Db) {
    assert!(
        db.add_web_user(&user("sato", Role::Operator))
            .await
            .expect("add")
    );
    let mut again = user("sato", Role::Approver);
    again.password_hash = "other".to_owned();
    assert!(!db.add_web_user(&again).await.expect("add"), "a taken name");
    let got = db.get_web_user("sato").await.expect("get").expect("sato");
    assert_eq!(
        got,
        user("sato", Role::Operator),
        "the first one is kept unchanged"
    );
}

pub async fn list_web_users_by_name(db: &Db) {
    assert!(db.list_web_users().await.expect("list").is_empty());
    for (n, r) in [
        ("tanaka", Role::Viewer),
        ("abe", Role::Approver),
        ("sato", Role::Operator),
    ] {
        assert!(db.add_web_user(&user(n, r)).await.expect("add"));
    }
    let all = db.list_web_users().await.expect("list");
    let names: Vec<(&str, Role)> = all.iter().map(|u| (u.name.as_str(), u.role)).collect();
    assert_eq!(
        names,
        [
            ("abe", Role::Approver),
            ("sato", Role::Operator),
            ("tanaka", Role::Viewer)
        ]
    );
    assert_eq!(all[1], user("sato", Role::Operator));
}

pub async fn get_web_user_of_an_unknown_name_is_none(db: &Db) {
    assert!(
        db.add_web_user(&user("sato", Role::Viewer))
            .await
            .expect("add")
    );
    assert_eq!(db.get_web_user("Sato").await.expect("get"), None);
    assert_eq!(db.get_web_user("").await.expect("get"), None);
    assert!(db.get_web_user("sato").await.expect("get").is_some());
}

pub async fn remove_web_user_ends_its_sessions(db: &Db) {
    for n in ["sato", "abe"] {
        assert!(
            db.add_web_user(&user(n, Role::Operator))
                .await
                .expect("add")
        );
    }
    db.open_web_session(&session("s1", "sato", 0))
        .await
        .expect("open");
    db.open_web_session(&session("a1", "abe", 0))
        .await
        .expect("open");
    assert!(db.remove_web_user("sato").await.expect("remove"));
    assert!(!db.remove_web_user("sato").await.expect("remove"), "once");
    assert_eq!(db.get_web_user("sato").await.expect("get"), None);
    assert_eq!(seen(db, "s1", 1).await, None, "its session ended");
    assert_eq!(
        seen(db, "a1", 1).await.as_deref(),
        Some("abe"),
        "others' live on"
    );
}

pub async fn set_web_password_replaces_the_hash_and_ends_sessions(db: &Db) {
    assert!(
        db.add_web_user(&user("sato", Role::Operator))
            .await
            .expect("add")
    );
    db.open_web_session(&session("s1", "sato", 0))
        .await
        .expect("open");
    assert!(
        db.set_web_password("sato", "$argon2id$new", at(5))
            .await
            .expect("set")
    );
    let got = db.get_web_user("sato").await.expect("get").expect("sato");
    assert_eq!(got.password_hash, "$argon2id$new");
    assert_eq!((got.created_at, got.password_set_at), (at(0), at(5)));
    assert_eq!(
        seen(db, "s1", 6).await,
        None,
        "a new password logs everyone out"
    );
    assert!(
        !db.set_web_password("nobody", "x", at(5))
            .await
            .expect("set")
    );
}

pub async fn open_web_session_then_touch_finds_its_user(db: &Db) {
    assert!(
        db.add_web_user(&user("sato", Role::Approver))
            .await
            .expect("add")
    );
    db.open_web_session(&session("s1", "sato", 0))
        .await
        .expect("open");
    let u = db
        .touch_web_session("s1", at(1), Duration::minutes(IDLE))
        .await
        .expect("touch")
        .expect("a live session");
    assert_eq!((u.name.as_str(), u.role), ("sato", Role::Approver));
    assert_eq!(seen(db, "s2", 1).await, None, "an unknown token");
}

pub async fn touch_web_session_moves_the_idle_expiry_and_forgets_an_expired_one(db: &Db) {
    assert!(
        db.add_web_user(&user("sato", Role::Operator))
            .await
            .expect("add")
    );
    db.open_web_session(&session("s1", "sato", 0))
        .await
        .expect("open");
    // Used every 20 minutes it lives past its first expiry (30).
    for m in [20, 40, 60] {
        let user = db
            .touch_web_session("s1", at(m), Duration::minutes(IDLE))
            .await
            .expect("touch");
        assert_eq!(user.map(|u| u.name).as_deref(), Some("sato"), "at {m}");
    }
    // Idle for the full 30 minutes: gone, and it stays gone.
    assert_eq!(seen(db, "s1", 90).await, None);
    assert_eq!(
        seen(db, "s1", 61).await,
        None,
        "an expired session is deleted"
    );
}

pub async fn end_web_session_ends_only_that_session(db: &Db) {
    assert!(
        db.add_web_user(&user("sato", Role::Operator))
            .await
            .expect("add")
    );
    db.open_web_session(&session("s1", "sato", 0))
        .await
        .expect("open");
    db.open_web_session(&session("s2", "sato", 0))
        .await
        .expect("open");
    assert!(db.end_web_session("s1").await.expect("end"));
    assert!(!db.end_web_session("s1").await.expect("end"), "once");
    assert_eq!(seen(db, "s1", 1).await, None);
    assert_eq!(seen(db, "s2", 1).await.as_deref(), Some("sato"));
}

/// Every role reads back as written, the city's too (its token is allowed by the schema).
pub async fn add_web_user_keeps_every_role(db: &Db) {
    for r in Role::ALL {
        let name = format!("user-{r}");
        assert!(db.add_web_user(&user(&name, r)).await.expect("add"));
        let got = db.get_web_user(&name).await.expect("get").expect("user");
        assert_eq!(got.role, r);
    }
    assert!(
        db.add_web_user(&user("shisei", Role::City))
            .await
            .expect("add")
    );
    db.open_web_session(&session("h-city", "shisei", 0))
        .await
        .expect("open");
    assert_eq!(seen(db, "h-city", 1).await.as_deref(), Some("shisei"));
}
