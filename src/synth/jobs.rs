//! The jobs a synthetic month runs: the shipped ones (their steps as `jobs/*.yaml` declares
//! them, typical durations, runbook) and the generated `batch-NNN` jobs that carry the bulk of
//! a large month. Durations are typical values; each run varies them.

use sha2::{Digest, Sha256};

use super::{HOUR, MIN, MS, Rng, SEC, Us};

/// Which runbook a job's steps follow (the shipped `runbooks/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Runbook {
    Transient,
    Escalate,
}

/// One step as the job declares it.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub name: String,
    /// Indexes of the steps it needs (always earlier in the list).
    pub needs: Vec<usize>,
    /// Runs whatever became of its needs (`always: true`).
    pub always: bool,
    /// An approval gate: no process, it waits for an operator.
    pub approval: bool,
    /// Typical duration.
    pub base: Us,
    pub timeout: Option<Us>,
    /// The rendered command as stored (`{"argv": [...]}` or `{"run": "..."}`); `@RUN@`,
    /// `@DEPT@` and `@MONTH@` are filled in per run.
    pub command: String,
}

/// A job of the synthetic month.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub name: String,
    pub runbook: Runbook,
    pub steps: Vec<Step>,
}

/// The paths commands and logs name.
#[derive(Debug, Clone)]
pub(crate) struct Paths {
    pub root: String,
    pub data: String,
    pub logs: String,
}

fn argv(parts: &[&str]) -> String {
    serde_json::json!({ "argv": parts }).to_string()
}

fn shell(line: &str) -> String {
    serde_json::json!({ "run": line }).to_string()
}

#[allow(clippy::too_many_arguments)]
fn step(name: &str, needs: &[usize], base: Us, timeout: Option<Us>, command: String) -> Step {
    Step {
        name: name.to_owned(),
        needs: needs.to_vec(),
        always: false,
        approval: false,
        base,
        timeout,
        command,
    }
}

fn gate(name: &str, needs: &[usize]) -> Step {
    Step {
        name: name.to_owned(),
        needs: needs.to_vec(),
        always: false,
        approval: true,
        base: 0,
        timeout: None,
        command: String::new(),
    }
}

fn always(mut s: Step) -> Step {
    s.always = true;
    s
}

/// Index of each shipped job in [`shipped`]'s list.
pub(crate) const HEALTH_CHECK: usize = 0;
pub(crate) const LOG_CLEANUP: usize = 1;
pub(crate) const DISK_REPORT: usize = 2;
pub(crate) const NIGHTLY_BACKUP: usize = 3;
pub(crate) const EUC_EXTRACT: usize = 4;
pub(crate) const PARAM_CHANGE: usize = 5;
pub(crate) const HR_TRANSFER: usize = 6;
pub(crate) const FISCAL_YEAR_ROLLOVER: usize = 7;

/// The shipped jobs, in the order of the constants above.
pub(crate) fn shipped(p: &Paths) -> Vec<Job> {
    let unyo = "/usr/local/bin/unyo";
    let params = format!("{}/city/online/params.yaml", p.data);
    let db = format!("{}/city/business.db", p.data);
    let share = format!("{}/city/share", p.data);
    let dir = format!("{}/city/directory.json", p.data);
    let param_set = |key: &str, value: &str, reason: &str| {
        argv(&[
            unyo,
            "act",
            "param-set",
            "--file",
            &params,
            "--key",
            key,
            "--value",
            value,
            "--reason",
            reason,
        ])
    };
    vec![
        Job {
            name: "health-check".to_owned(),
            runbook: Runbook::Escalate,
            steps: vec![
                step(
                    "tools",
                    &[],
                    12 * MS,
                    None,
                    shell(
                        "missing=\"\"\nfor tool in sh df du find mkdir awk; do\n  command -v \"$tool\" >/dev/null 2>&1 || missing=\"$missing $tool\"\ndone\nif [ -n \"$missing\" ]; then echo \"missing tools:$missing\" >&2; exit 1; fi\necho \"all tools present\"\n",
                    ),
                ),
                step(
                    "data-writable",
                    &[],
                    15 * MS,
                    None,
                    shell(
                        "mkdir -p \"$DATA_DIR\"\nprobe=\"$DATA_DIR/.unyo-health-$UNYO_RUN_ID\"\necho ok > \"$probe\" && rm -f \"$probe\"\necho \"$DATA_DIR is writable\"\n",
                    ),
                ),
            ],
        },
        Job {
            name: "log-cleanup".to_owned(),
            runbook: Runbook::Transient,
            steps: vec![
                step(
                    "delete-old-logs",
                    &[],
                    6 * SEC,
                    Some(30 * MIN),
                    argv(&[
                        "find", &p.logs, "-type", "f", "-name", "*.log", "-mtime", "+90", "-print",
                        "-delete",
                    ]),
                ),
                step(
                    "log-volume",
                    &[0],
                    1500 * MS,
                    Some(10 * MIN),
                    argv(&["du", "-s", "-k", &p.logs]),
                ),
            ],
        },
        Job {
            name: "disk-report".to_owned(),
            runbook: Runbook::Transient,
            steps: vec![
                step(
                    "prepare",
                    &[],
                    5 * MS,
                    None,
                    argv(&["mkdir", "-p", &format!("{}/reports", p.data)]),
                ),
                step(
                    "filesystems",
                    &[0],
                    9 * MS,
                    Some(MIN),
                    argv(&["df", "-P", "-k", &p.data]),
                ),
                step(
                    "log-volume",
                    &[0],
                    1800 * MS,
                    Some(5 * MIN),
                    argv(&["du", "-s", "-k", &p.logs]),
                ),
                step(
                    "report",
                    &[1, 2],
                    40 * MS,
                    Some(MIN),
                    shell(
                        "set -eu\n{\n  echo \"disk report for business date $UNYO_BUSINESS_DATE (run $UNYO_RUN_ID)\"\n  df -P -k \"$DATA_DIR\"\n  du -s -k \"$LOG_DIR\"\n} > \"$REPORT\"\nused=$(df -P -k \"$DATA_DIR\" | awk 'NR==2 { sub(\"%\", \"\", $5); print $5 }')\nfree=$((100 - used))\necho \"free space: ${free}% (minimum ${MIN_FREE}%)\"\ntest \"$free\" -ge \"$MIN_FREE\"\n",
                    ),
                ),
            ],
        },
        Job {
            name: "nightly-backup".to_owned(),
            runbook: Runbook::Transient,
            steps: vec![
                step(
                    "maintenance-on",
                    &[],
                    180 * MS,
                    Some(MIN),
                    argv(&[unyo, "act", "maintenance", "on", "--params", &params]),
                ),
                step(
                    "backup",
                    &[0],
                    52 * MIN,
                    Some(2 * HOUR),
                    argv(&[
                        unyo,
                        "act",
                        "backup",
                        "--db",
                        &db,
                        "--dir",
                        &share,
                        "--dest",
                        &format!("{}/backups/city", p.data),
                        "--keep-daily",
                        "7",
                        "--keep-monthly",
                        "12",
                    ]),
                ),
                always(step(
                    "lift-maintenance",
                    &[1],
                    170 * MS,
                    Some(MIN),
                    argv(&[unyo, "act", "maintenance", "off", "--params", &params]),
                )),
            ],
        },
        Job {
            name: "euc-extract".to_owned(),
            runbook: Runbook::Transient,
            steps: vec![step(
                "extract",
                &[],
                25 * SEC,
                Some(30 * MIN),
                argv(&[
                    unyo,
                    "act",
                    "extract",
                    "--db",
                    &db,
                    "--sql",
                    &format!("{}/queries/residents-by-department.sql", p.root),
                    "--out",
                    &format!(
                        "{}/city/extracts/@DEPT@/residents-@MONTH@-@RUN@.csv",
                        p.data
                    ),
                    "--param",
                    "department=@DEPT@",
                    "--param",
                    "month=@MONTH@",
                    "--columns",
                    "id,name,kana,birth_date,age",
                    "--encoding",
                    "utf-8-bom",
                    "--group",
                    "",
                ]),
            )],
        },
        Job {
            name: "param-change".to_owned(),
            runbook: Runbook::Transient,
            steps: vec![
                step(
                    "check-effective",
                    &[],
                    8 * MS,
                    Some(MIN),
                    shell(
                        "today=$(echo \"$UNYO_BUSINESS_DATE\" | tr -d -)\nfrom=$(echo \"$EFFECTIVE\" | tr -d -)\nif [ \"$today\" -lt \"$from\" ]; then\n  echo \"business date $UNYO_BUSINESS_DATE is before the effective date $EFFECTIVE: nothing changed\" >&2\n  exit 1\nfi\necho \"business date $UNYO_BUSINESS_DATE, effective from $EFFECTIVE\"\n",
                    ),
                ),
                step(
                    "param-set",
                    &[0],
                    60 * MS,
                    Some(MIN),
                    param_set("@KEY@", "@VALUE@", "scheduled change effective @EFFECTIVE@"),
                ),
            ],
        },
        Job {
            name: "hr-transfer".to_owned(),
            runbook: Runbook::Escalate,
            steps: vec![
                step(
                    "dry-run",
                    &[],
                    2 * SEC,
                    Some(5 * MIN),
                    argv(&[
                        unyo,
                        "act",
                        "permissions",
                        "--dry-run",
                        "--list",
                        "@LIST@",
                        "--directory",
                        &dir,
                        "--share",
                        &share,
                        "--effective",
                        "@DATE@",
                    ]),
                ),
                gate("approval", &[0]),
                step(
                    "apply",
                    &[1],
                    6 * SEC,
                    Some(30 * MIN),
                    argv(&[
                        unyo,
                        "act",
                        "permissions",
                        "--apply",
                        "--list",
                        "@LIST@",
                        "--directory",
                        &dir,
                        "--share",
                        &share,
                        "--effective",
                        "@DATE@",
                        "--inverse",
                        &format!("{}/city/hr/inverse-@RUN@.json", p.data),
                    ]),
                ),
                step(
                    "verify",
                    &[2],
                    2 * SEC,
                    Some(5 * MIN),
                    argv(&[
                        unyo,
                        "act",
                        "permissions",
                        "--verify",
                        "--list",
                        "@LIST@",
                        "--directory",
                        &dir,
                        "--share",
                        &share,
                        "--effective",
                        "@DATE@",
                    ]),
                ),
            ],
        },
        Job {
            name: "fiscal-year-rollover".to_owned(),
            runbook: Runbook::Escalate,
            steps: vec![
                step(
                    "check-year",
                    &[],
                    30 * MS,
                    Some(MIN),
                    argv(&[
                        unyo,
                        "act",
                        "param-check",
                        "--file",
                        &params,
                        "fiscal_year=@PREV@",
                    ]),
                ),
                gate("attend", &[0]),
                step(
                    "maintenance-on",
                    &[1],
                    180 * MS,
                    Some(MIN),
                    argv(&[unyo, "act", "maintenance", "on", "--params", &params]),
                ),
                step(
                    "archive",
                    &[2],
                    7 * MIN,
                    Some(2 * HOUR),
                    argv(&[
                        unyo,
                        "act",
                        "archive-year",
                        "--db",
                        &db,
                        "--dest",
                        &format!("{}/city/archive", p.data),
                        "--year",
                        "@PREV@",
                        "--table",
                        "tax_records",
                    ]),
                ),
                step(
                    "new-year",
                    &[3],
                    60 * MS,
                    Some(MIN),
                    param_set("fiscal_year", "@FY@", "rollover FY@PREV@ -> FY@FY@"),
                ),
                step(
                    "reset-receipt-no",
                    &[4],
                    60 * MS,
                    Some(MIN),
                    param_set(
                        "counters.receipt_no",
                        "0",
                        "rollover to FY@FY@: per-year counter",
                    ),
                ),
                step(
                    "reset-notice-no",
                    &[5],
                    60 * MS,
                    Some(MIN),
                    param_set(
                        "counters.notice_no",
                        "0",
                        "rollover to FY@FY@: per-year counter",
                    ),
                ),
                step(
                    "reset-certificate-no",
                    &[6],
                    60 * MS,
                    Some(MIN),
                    param_set(
                        "counters.certificate_no",
                        "0",
                        "rollover to FY@FY@: per-year counter",
                    ),
                ),
                step(
                    "verify-params",
                    &[7],
                    40 * MS,
                    Some(MIN),
                    argv(&[
                        unyo,
                        "act",
                        "param-check",
                        "--file",
                        &params,
                        "fiscal_year=@FY@",
                        "counters.receipt_no=0",
                        "counters.notice_no=0",
                        "counters.certificate_no=0",
                    ]),
                ),
                step(
                    "verify-archive",
                    &[3],
                    3 * MIN,
                    Some(HOUR),
                    argv(&[
                        unyo,
                        "act",
                        "verify-archive",
                        "--dir",
                        &format!("{}/city/archive/FY@PREV@", p.data),
                    ]),
                ),
                step(
                    "summary",
                    &[8, 9],
                    900 * MS,
                    Some(MIN),
                    shell(
                        "set -eu\n\"$UNYO_BIN\" act verify-archive --dir \"$ARCHIVE\" > \"$ARCHIVE/SUMMARY.txt\"\ncat \"$ARCHIVE/SUMMARY.txt\"\n",
                    ),
                ),
                always(step(
                    "lift-maintenance",
                    &[10],
                    170 * MS,
                    Some(MIN),
                    argv(&[unyo, "act", "maintenance", "off", "--params", &params]),
                )),
            ],
        },
    ]
}

const BATCH_STEPS: [&str; 10] = [
    "extract",
    "transform",
    "load",
    "aggregate",
    "export",
    "sync",
    "verify",
    "archive",
    "notify",
    "cleanup",
];

const BATCH_SYSTEMS: [&str; 8] = [
    "juki", "zeimu", "fukushi", "kokuho", "kaigo", "jidou", "nenkin", "gakumu",
];

/// Generated job number `n` (1-based): 1 to 3 steps in a chain, a typical duration between
/// about 2 seconds and 15 minutes, at most `cap` (so that it ends well before its next slot).
pub(crate) fn batch(n: usize, seed: u64, cap: Us) -> Job {
    let mut rng = Rng::new(seed ^ (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let count = 1 + rng.below(3) as usize;
    let first = rng.below(BATCH_STEPS.len() as u64) as usize;
    // Log-uniform between 2 s and 15 min for the whole run.
    let total = (2.0 * SEC as f64 * (450.0f64).powf(rng.unit())) as Us;
    let total = total.min(cap).max(50 * MS);
    let system = BATCH_SYSTEMS[n % BATCH_SYSTEMS.len()];
    let name = format!("batch-{n:03}");
    let steps = (0..count)
        .map(|i| {
            let step_name = BATCH_STEPS[(first + i) % BATCH_STEPS.len()];
            let share = if count == 1 {
                1.0
            } else {
                0.2 + 0.6 * rng.unit()
            };
            Step {
                name: step_name.to_owned(),
                needs: if i == 0 { Vec::new() } else { vec![i - 1] },
                always: false,
                approval: false,
                base: ((total as f64 * share / count as f64 * 1.5) as Us).max(20 * MS),
                timeout: Some(2 * HOUR),
                command: argv(&[&format!("/opt/city/{system}/bin/{name}.sh"), step_name]),
            }
        })
        .collect();
    Job {
        name,
        runbook: Runbook::Transient,
        steps,
    }
}

/// A job definition's digest: SHA-256 of its name and definition version, like the digest of
/// a job file.
pub(crate) fn digest(name: &str, version: u32) -> String {
    format!(
        "{:x}",
        Sha256::digest(format!("{name}\nversion {version}\n").as_bytes())
    )
}

/// The digest of all definitions, given the digests of every job.
pub(crate) fn catalog_digest(job_digests: &[&str]) -> String {
    let mut h = Sha256::new();
    for d in job_digests {
        h.update(d.as_bytes());
        h.update(b"\n");
    }
    format!("{:x}", h.finalize())
}
