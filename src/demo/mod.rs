//! The demo environment: a small invented city under `<data_dir>/city/` that the shipped jobs
//! work on, so that `unyo daemon` on the shipped definitions does real work out of the box.
//!
//! Everything is generated from a fixed seed, so two environments are identical: a business
//! database (residents, tax records, staff, departments), a shared-storage tree with one folder
//! per department, the staff directory and the online system's parameter file, and a sample
//! HR-transfer list. The people do not exist; names are drawn from short lists of common
//! family and given names. Each staff member has a numeric `uid` (20000 + their number) with
//! no account behind it, so that the department folders can carry POSIX ACL entries for them
//! (`u:<uid>:rwx`, set with `setfacl` where the acl tools and the file system allow it).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};

/// The folder under the data directory that holds the demo environment.
pub const CITY: &str = "city";

/// How many residents (and tax records) the database gets.
pub const RESIDENTS: u32 = 20_000;
/// How many staff members the directory and database get.
pub const STAFF: u32 = 300;
/// A staff member's uid is this plus their number (`S0001` is 20001).
pub const UID_BASE: u32 = 20_000;
/// The sample transfer list, under the demo folder.
pub const TRANSFERS: &str = "hr/transfers-2027-04-01.csv";

/// The departments: code, name, and what their shared folder holds.
pub const DEPARTMENTS: [(&str, &str); 5] = [
    ("tax", "税務課"),
    ("welfare", "福祉課"),
    ("citizens", "市民課"),
    ("planning", "政策企画課"),
    ("it", "情報政策課"),
];

const SEED: u64 = 0x756e_796f_6369_7479;

const FAMILY: [(&str, &str); 24] = [
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
    ("佐々木", "ササキ"),
    ("山口", "ヤマグチ"),
    ("松本", "マツモト"),
    ("井上", "イノウエ"),
    ("木村", "キムラ"),
    ("林", "ハヤシ"),
    ("斎藤", "サイトウ"),
    ("清水", "シミズ"),
    ("山崎", "ヤマザキ"),
    ("森", "モリ"),
    ("池田", "イケダ"),
    ("橋本", "ハシモト"),
];

const GIVEN: [(&str, &str); 24] = [
    ("翔太", "ショウタ"),
    ("大輝", "ダイキ"),
    ("健一", "ケンイチ"),
    ("誠", "マコト"),
    ("拓也", "タクヤ"),
    ("直樹", "ナオキ"),
    ("浩", "ヒロシ"),
    ("悠斗", "ユウト"),
    ("陽向", "ヒナタ"),
    ("蓮", "レン"),
    ("修", "オサム"),
    ("茂", "シゲル"),
    ("陽子", "ヨウコ"),
    ("恵子", "ケイコ"),
    ("美咲", "ミサキ"),
    ("結衣", "ユイ"),
    ("さくら", "サクラ"),
    ("真由美", "マユミ"),
    ("花子", "ハナコ"),
    ("愛", "アイ"),
    ("優子", "ユウコ"),
    ("明美", "アケミ"),
    ("葵", "アオイ"),
    ("芽依", "メイ"),
];

/// The invented city and its invented wards and towns.
const CITY_NAME: &str = "みどり野市";
const WARDS: [&str; 4] = ["東雲区", "若葉区", "朝霧区", "星見区"];
const TOWNS: [&str; 8] = [
    "青葉町",
    "桜台",
    "港南",
    "緑ヶ丘",
    "本町",
    "川辺",
    "高原",
    "北浜",
];

/// What went wrong while creating the demo environment; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("`{}` exists already (use `unyo demo init --force` to create it anew)", .0.display())]
    Exists(PathBuf),
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the database `{}`: {source}", path.display())]
    Db {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> DemoError {
    let path = path.to_owned();
    move |source| DemoError::Io {
        action,
        path,
        source,
    }
}

/// A tiny xorshift64* generator: the demo data must be the same on every machine, and it
/// needs no crate for that.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        // `below` stays under the length, which is never 0 for these constant lists.
        &items[usize::try_from(self.below(items.len() as u64)).unwrap_or(0)]
    }
}

/// The path of the demo environment under `data_dir`.
pub fn city_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(CITY)
}

/// What `init` made.
#[derive(Debug, Clone)]
pub struct Created {
    /// The paths created.
    pub paths: Vec<PathBuf>,
    /// Why the department folders got no ACL entries for their staff, when they did not
    /// (the acl tools are missing, the file system refuses ACLs).
    pub acl_skipped: Option<String>,
}

/// Creates the demo environment under `<data_dir>/city/` and returns the paths it created.
/// Refuses when it exists, unless `force` (then the old one is replaced). The tree is built
/// beside it and renamed into place, so a half-built environment is never left as `city/`.
pub fn init(data_dir: &Path, force: bool) -> Result<Created, DemoError> {
    let city = city_dir(data_dir);
    if city.exists() && !force {
        return Err(DemoError::Exists(city));
    }
    std::fs::create_dir_all(data_dir).map_err(io("create", data_dir))?;
    let building = data_dir.join(format!(".{CITY}.new-{}", std::process::id()));
    if building.exists() {
        std::fs::remove_dir_all(&building).map_err(io("remove", &building))?;
    }
    let (made, acl_skipped) = match build(&building) {
        Ok(made) => made,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&building);
            return Err(e);
        }
    };
    if city.exists() {
        std::fs::remove_dir_all(&city).map_err(io("remove", &city))?;
    }
    std::fs::rename(&building, &city).map_err(io("rename into place", &city))?;
    Ok(Created {
        paths: made.into_iter().map(|p| city.join(p)).collect(),
        acl_skipped,
    })
}

/// Creates the demo environment when it is missing (the daemon's first start); `true` when
/// it was created.
pub fn ensure(data_dir: &Path) -> Result<bool, DemoError> {
    if city_dir(data_dir).exists() {
        return Ok(false);
    }
    init(data_dir, false).map(|_| true)
}

/// Writes everything into `dir`; returns the paths created, relative to it, and why the
/// folders have no ACLs when they have none.
fn build(dir: &Path) -> Result<(Vec<PathBuf>, Option<String>), DemoError> {
    std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    let mut rng = Rng(SEED);
    let staff = staff(&mut rng);
    let mut created = vec![PathBuf::from("business.db")];
    database(&dir.join("business.db"), &mut rng, &staff)?;
    created.extend(share(&dir.join("share"), &mut rng)?);
    let acl_skipped = grant_folders(&dir.join("share"), &staff).err();
    let directory = directory(&staff);
    write(&dir.join("directory.json"), &directory)?;
    created.push(PathBuf::from("directory.json"));
    let online = dir.join("online");
    std::fs::create_dir_all(&online).map_err(io("create", &online))?;
    write(&online.join("params.yaml"), PARAMS)?;
    created.push(PathBuf::from("online/params.yaml"));
    let hr = dir.join("hr");
    std::fs::create_dir_all(&hr).map_err(io("create", &hr))?;
    write(&dir.join(TRANSFERS), &transfers(&staff))?;
    created.push(PathBuf::from(TRANSFERS));
    Ok((created, acl_skipped))
}

/// Gives each department folder an ACL entry, and a default entry for what is made in it
/// later, for every staff member of the department: one `setfacl` per folder, run without a
/// shell. `Err` says why not (the tools are missing, the file system refuses ACLs).
fn grant_folders(share: &Path, staff: &[Staff]) -> Result<(), String> {
    for (code, _) in DEPARTMENTS {
        let spec: Vec<String> = staff
            .iter()
            .filter(|s| s.department == code)
            .map(|s| format!("u:{0}:rwx,d:u:{0}:rwx", s.uid))
            .collect();
        if spec.is_empty() {
            continue;
        }
        let out = std::process::Command::new("setfacl")
            .arg("-m")
            .arg(spec.join(","))
            .arg("--")
            .arg(share.join(code))
            .output()
            .map_err(|e| format!("cannot run `setfacl` ({e}); install the acl package"))?;
        if !out.status.success() {
            return Err(format!(
                "setfacl: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    Ok(())
}

/// The sample HR-transfer list: a dozen staff, spread over the departments, each moving from
/// their department to another on 1 April 2027.
fn transfers(staff: &[Staff]) -> String {
    let mut csv = String::from("staff_id,name,from,to,effective\n");
    for k in 0..12 {
        let Some(s) = staff.get(3 + 24 * k) else {
            continue;
        };
        let from = DEPARTMENTS
            .iter()
            .position(|(c, _)| *c == s.department)
            .unwrap_or(0);
        let to = DEPARTMENTS[(from + 1 + k % 4) % DEPARTMENTS.len()].0;
        let _ = writeln!(csv, "{},{},{},{to},2027-04-01", s.id, s.name, s.department);
    }
    csv
}

/// The online system's parameter file as the demo starts it.
const PARAMS: &str = "\
# The online system's parameters (みどり野市 住民情報システム).
# maintenance: true closes the online screens (the nightly backup sets it).
maintenance: false
fiscal_year: 2026
tax_rate_percent: 10
# counters: the last number issued. receipt_no, notice_no and certificate_no count within a
# fiscal year (令和8年度 第1号), so fiscal-year-rollover sets them to 0 on 1 April;
# resident_no (宛名番号) is for life and runs on.
counters:
  receipt_no: 1
  notice_no: 1
  certificate_no: 1
  resident_no: 20000
";

fn write(path: &Path, text: &str) -> Result<(), DemoError> {
    std::fs::write(path, text).map_err(io("write", path))
}

#[derive(Debug)]
struct Staff {
    id: String,
    name: String,
    department: &'static str,
    uid: u32,
}

fn name(rng: &mut Rng) -> (String, String) {
    let (f, fk) = rng.pick(&FAMILY);
    let (g, gk) = rng.pick(&GIVEN);
    (format!("{f} {g}"), format!("{fk} {gk}"))
}

fn staff(rng: &mut Rng) -> Vec<Staff> {
    (1..=STAFF)
        .map(|i| {
            let department = rng.pick(&DEPARTMENTS).0;
            Staff {
                id: format!("S{i:04}"),
                name: name(rng).0,
                department,
                uid: UID_BASE + i,
            }
        })
        .collect()
}

fn database(path: &Path, rng: &mut Rng, staff: &[Staff]) -> Result<(), DemoError> {
    let db = |source| DemoError::Db {
        path: path.to_owned(),
        source,
    };
    let mut conn = Connection::open(path).map_err(db)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         CREATE TABLE departments (code TEXT PRIMARY KEY, name TEXT NOT NULL);
         CREATE TABLE residents (
             id INTEGER PRIMARY KEY, name TEXT NOT NULL, kana TEXT NOT NULL,
             birth_date TEXT NOT NULL, address TEXT NOT NULL,
             department TEXT NOT NULL REFERENCES departments(code));
         CREATE TABLE tax_records (
             id INTEGER PRIMARY KEY, resident_id INTEGER NOT NULL REFERENCES residents(id),
             fiscal_year INTEGER NOT NULL, amount INTEGER NOT NULL);
         CREATE TABLE staff (
             id TEXT PRIMARY KEY, name TEXT NOT NULL,
             department TEXT NOT NULL REFERENCES departments(code));",
    )
    .map_err(db)?;
    let tx = conn.transaction().map_err(db)?;
    {
        let mut ins = tx
            .prepare("INSERT INTO departments (code, name) VALUES (?1, ?2)")
            .map_err(db)?;
        for (code, name) in DEPARTMENTS {
            ins.execute(params![code, name]).map_err(db)?;
        }
        let mut ins = tx
            .prepare(
                "INSERT INTO residents (id, name, kana, birth_date, address, department)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(db)?;
        let first = chrono::NaiveDate::from_ymd_opt(1930, 1, 1).unwrap_or_default();
        for id in 1..=RESIDENTS {
            let (name, kana) = name(rng);
            let days = i64::try_from(rng.below(95 * 365)).unwrap_or(0);
            let birth = first + chrono::Duration::days(days);
            let address = format!(
                "{CITY_NAME}{}{}{}-{}-{}",
                rng.pick(&WARDS),
                rng.pick(&TOWNS),
                1 + rng.below(5),
                1 + rng.below(30),
                1 + rng.below(20)
            );
            let department = rng.pick(&DEPARTMENTS).0;
            ins.execute(params![
                id,
                name,
                kana,
                birth.format("%Y-%m-%d").to_string(),
                address,
                department
            ])
            .map_err(db)?;
        }
        let mut ins = tx
            .prepare(
                "INSERT INTO tax_records (id, resident_id, fiscal_year, amount)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(db)?;
        for id in 1..=RESIDENTS {
            let resident = 1 + rng.below(u64::from(RESIDENTS));
            // The current fiscal year (2026, the parameter file's) and the two before it.
            let year = 2024 + rng.below(3);
            let amount = rng.below(6_000) * 100;
            let [resident, year, amount] = [resident, year, amount].map(|v| v as i64);
            ins.execute(params![id, resident, year, amount])
                .map_err(db)?;
        }
        let mut ins = tx
            .prepare("INSERT INTO staff (id, name, department) VALUES (?1, ?2, ?3)")
            .map_err(db)?;
        for s in staff {
            ins.execute(params![s.id, s.name, s.department])
                .map_err(db)?;
        }
    }
    tx.commit().map_err(db)?;
    // One file, no WAL left beside it: the demo starts clean.
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .map_err(db)?;
    Ok(())
}

/// The shared-storage tree: one folder per department with a few working files.
fn share(dir: &Path, rng: &mut Rng) -> Result<Vec<PathBuf>, DemoError> {
    let mut created = Vec::new();
    for (code, name) in DEPARTMENTS {
        let d = dir.join(code);
        std::fs::create_dir_all(&d).map_err(io("create", &d))?;
        let mut files: Vec<(String, String)> = vec![(
            "README.txt".to_owned(),
            format!("{name}の共有フォルダです。{name}の職員のみ利用できます。\n"),
        )];
        let mut csv = String::from("month,cases,closed\n");
        for m in 1..=12 {
            let cases = 50 + rng.below(200);
            let _ = writeln!(csv, "2026-{m:02},{cases},{}", cases - rng.below(cases / 2));
        }
        files.push(("monthly-cases.csv".to_owned(), csv));
        files.push((
            format!("memo-{code}.txt"),
            format!("{name} 業務メモ\n- 月次報告を第1営業日までに提出\n- 年度切替の準備\n"),
        ));
        for (file, text) in files {
            write(&d.join(&file), &text)?;
            created.push(PathBuf::from("share").join(code).join(file));
        }
    }
    Ok(created)
}

/// The staff directory: staff with their department, the departments, and the groups
/// (`dept-<code>`) that access control works with.
fn directory(staff: &[Staff]) -> String {
    let departments: Vec<_> = DEPARTMENTS
        .iter()
        .map(|(code, name)| {
            serde_json::json!({ "code": code, "name": name, "group": format!("dept-{code}") })
        })
        .collect();
    let people: Vec<_> = staff
        .iter()
        .map(|s| {
            serde_json::json!({
                "id": s.id,
                "name": s.name,
                "department": s.department,
                "groups": [format!("dept-{}", s.department)],
                "uid": s.uid,
            })
        })
        .collect();
    let groups: serde_json::Map<String, serde_json::Value> = DEPARTMENTS
        .iter()
        .map(|(code, _)| {
            let members: Vec<_> = staff
                .iter()
                .filter(|s| s.department == *code)
                .map(|s| s.id.clone())
                .collect();
            (format!("dept-{code}"), serde_json::json!(members))
        })
        .collect();
    let doc = serde_json::json!({
        "departments": departments,
        "staff": people,
        "groups": groups,
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}
