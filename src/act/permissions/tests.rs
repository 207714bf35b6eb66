//! The transfer list, the diff, `getfacl` output and the inverse, without changing any ACL.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::inverse::invert;
use super::list::parse_csv;
use super::*;

const HEADER: &str = "staff_id,name,from,to,effective\n";

#[test]
fn csv_with_bom_quotes_and_crlf() {
    let text = "\u{feff}staff_id,name,from,to,effective\r\n\
                S0001,\"佐藤 翔太\",tax,welfare,2027-04-01\r\n\
                \r\n\
                S0002,\"a \"\"b\"\", c\",it,tax,2027-10-01";
    let list = parse_list(text).expect("parses");
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].name, "佐藤 翔太");
    assert_eq!(list[0].line, 2);
    assert_eq!(list[1].name, "a \"b\", c");
    assert_eq!(list[1].line, 4);
    assert_eq!(
        list[1].effective,
        NaiveDate::from_ymd_opt(2027, 10, 1).expect("date")
    );
}

#[test]
fn columns_may_come_in_any_order() {
    let list =
        parse_list("effective,to,from,name,staff_id\n2027-04-01,it,tax,x,S1\n").expect("parses");
    assert_eq!((list[0].from.as_str(), list[0].to.as_str()), ("tax", "it"));
}

#[test]
fn problems_name_line_and_column() {
    let text = format!(
        "{HEADER}S0001,a,tax,it,2027-04-01\nS0002,b,tax,it,April\nS0003,,tax,it,2027-04-01\nS4,x\n"
    );
    let ps = parse_list(&text).expect_err("bad lines");
    let at: Vec<(usize, usize)> = ps.iter().map(|p| (p.line, p.col)).collect();
    assert_eq!(at, [(3, 16), (4, 7), (5, 1)], "{ps:?}");
    assert!(ps[0].message.contains("`April` is not a date"), "{ps:?}");
    assert!(ps[1].message.contains("`name` is empty"), "{ps:?}");
    assert!(ps[2].message.contains("2 fields"), "{ps:?}");
}

#[test]
fn a_bad_header_is_named() {
    let ps = parse_list("staff,name,from,to,effective\n").expect_err("bad header");
    assert!(ps[0].message.contains("unknown column `staff`"), "{ps:?}");
    assert!(
        ps.iter()
            .any(|p| p.message.contains("no column `staff_id`")),
        "{ps:?}"
    );
    let ps = parse_csv("a,\"b\nc").expect_err("open quote");
    assert_eq!(
        (ps.line, ps.message.as_str()),
        (2, "a quoted field is not closed")
    );
    let ps = parse_csv("a,b\"c\n").expect_err("stray quote");
    assert_eq!((ps.line, ps.col), (1, 4));
}

#[test]
fn getfacl_output_is_read() {
    let acl = parse_getfacl(
        "user::rwx\nuser:20001:rwx\nuser:20002:rwx\t#effective:r-x\ngroup::r-x\n\
         mask::rwx\nother::r-x\ndefault:user::rwx\ndefault:user:20001:rwx\n",
    );
    assert_eq!(acl.access, HashSet::from([20001, 20002]));
    assert_eq!(acl.default, HashSet::from([20001]));
    assert!(acl.has_all(20001) && acl.has(20002) && !acl.has_all(20002));
}

fn directory() -> Directory {
    Directory {
        path: PathBuf::from("directory.json"),
        doc: serde_json::json!({
            "departments": [
                {"code": "tax", "group": "dept-tax"},
                {"code": "it", "group": "dept-it"},
                {"code": "welfare", "group": "dept-welfare"}
            ],
            "staff": [
                {"id": "S1", "name": "佐藤 翔太", "department": "tax", "uid": 20001,
                 "groups": ["dept-tax"]},
                {"id": "S2", "name": "鈴木 花子", "department": "it", "uid": 20002,
                 "groups": ["dept-it"]},
                {"id": "S3", "name": "高橋 誠", "department": "it",
                 "groups": ["dept-it"]}
            ],
            "groups": {"dept-tax": ["S1"], "dept-it": ["S2", "S3"], "dept-welfare": []}
        }),
    }
}

fn no_tools() -> AclTools {
    AclTools {
        getfacl: PathBuf::from("/nonexistent/getfacl"),
        setfacl: PathBuf::from("/nonexistent/setfacl"),
    }
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

#[test]
fn the_diff_revokes_from_and_grants_to_and_defers_later_lines() {
    let list = parse_list(&format!(
        "{HEADER}S1,佐藤 翔太,tax,it,2027-04-01\nS2,鈴木 花子,it,welfare,2027-10-01\n"
    ))
    .expect("list");
    let plan = plan(
        &list,
        &directory(),
        Path::new("/share"),
        date("2027-04-01"),
        &no_tools(),
    )
    .expect("plan");
    assert_eq!(plan.pending.len(), 1);
    assert_eq!(plan.pending[0].staff_id, "S2");
    let ops: Vec<(Kind, Op, &str, &str)> = plan
        .ops()
        .map(|(_, o)| (o.kind, o.op, o.target.as_str(), o.outcome.as_str()))
        .collect();
    assert_eq!(
        ops,
        [
            (Kind::Group, Op::Revoke, "dept-tax", "planned"),
            (Kind::Group, Op::Grant, "dept-it", "planned"),
            (Kind::Acl, Op::Revoke, "/share/tax", "skipped"),
            (Kind::Acl, Op::Grant, "/share/it", "skipped"),
        ]
    );
    assert!(
        plan.acl_note
            .as_deref()
            .is_some_and(|n| n.contains("not installed")),
        "{:?}",
        plan.acl_note
    );
}

#[test]
fn a_transfer_in_effect_is_nothing_to_do() {
    let mut d = directory();
    d.change("S1", "it", Some("dept-tax"), Some("dept-it"))
        .expect("change");
    assert_eq!(
        d.doc["groups"]["dept-it"],
        serde_json::json!(["S1", "S2", "S3"])
    );
    assert_eq!(d.doc["staff"][0]["groups"], serde_json::json!(["dept-it"]));
    let list = parse_list(&format!("{HEADER}S1,佐藤 翔太,tax,it,2027-04-01\n")).expect("list");
    let plan = plan(
        &list,
        &d,
        Path::new("/share"),
        date("2027-04-01"),
        &no_tools(),
    )
    .expect("plan");
    assert!(plan.changes.is_empty(), "{:?}", plan.changes);
    assert_eq!(plan.done.len(), 1);
}

#[test]
fn bad_lines_are_all_named() {
    let list = parse_list(&format!(
        "{HEADER}S9,x,tax,it,2027-04-01\nS1,佐藤 花子,tax,it,2027-04-01\n\
         S2,鈴木 花子,tax,welfare,2027-04-01\nS3,高橋 誠,it,police,2027-04-01\n\
         S3,高橋 誠,it,tax,2027-04-01\n"
    ))
    .expect("list");
    let ps = plan(
        &list,
        &directory(),
        Path::new("/s"),
        date("2027-04-01"),
        &no_tools(),
    )
    .expect_err("bad");
    let got: Vec<(usize, usize)> = ps.iter().map(|p| (p.line, p.col)).collect();
    assert_eq!(got, [(2, 1), (3, 4), (4, 10), (5, 12), (6, 1)], "{ps:?}");
    assert!(ps[0].message.contains("no staff member `S9`"));
    assert!(ps[1].message.contains("`佐藤 翔太` in the directory"));
    assert!(ps[2].message.contains("is in `it`, not `tax`"));
    assert!(ps[3].message.contains("no department `police`"));
    assert!(ps[4].message.contains("on line 5 already"));
}

#[test]
fn the_inverse_of_a_change_is_its_opposite_in_reverse() {
    let list = parse_list(&format!("{HEADER}S1,佐藤 翔太,tax,it,2027-04-01\n")).expect("list");
    let p = plan(
        &list,
        &directory(),
        Path::new("/s"),
        date("2027-04-01"),
        &no_tools(),
    )
    .expect("plan");
    let inv = invert(&p.changes[0]);
    assert_eq!((inv.from.as_str(), inv.to.as_str()), ("it", "tax"));
    let ops: Vec<(Op, &str)> = inv.ops.iter().map(|o| (o.op, o.target.as_str())).collect();
    assert_eq!(
        ops,
        [
            (Op::Revoke, "/s/it"),
            (Op::Grant, "/s/tax"),
            (Op::Revoke, "dept-it"),
            (Op::Grant, "dept-tax")
        ]
    );
    assert_eq!(invert(&inv), p.changes[0]);
}
