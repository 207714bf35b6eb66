#!/usr/bin/env bash
# Benchmark: the monthly report on a month of 1,000,000 runs.
#
# 1. Generates the month with `unyo synth-history` (release build) into a temp root holding a
#    copy of the shipped definitions and settings, and prints how long that took and how
#    large the database is.
# 2. Measures `unyo report monthly --month M --format F --out X` for each form F of
#    BENCH_FORMATS with hyperfine (wall time) and /usr/bin/time -v (peak RSS), side by side
#    with a baseline run in the same session: python3's sqlite3 running the one query a
#    report cannot do without (runs per job and status with their mean duration over the
#    month), and prints the ratio report/baseline. Targets: at most 3 s and 200 MiB for each
#    form of the report.
#
# Usage: bash bench/report-history.sh
# Environment:
#   BENCH_RUNS_N  runs in the month (default 1000000)
#   BENCH_MONTH   the month (default 2026-10)
#   BENCH_RUNS    timed runs per command (default 5; hyperfine also does 1 warmup run)
#   BENCH_FORMATS the report's forms to time (default "md html"; also csv, json)
#   UNYO_BIN      the unyo binary to measure (default: this tree's release build, built now)
#   BENCH_OUT     directory for the hyperfine JSON export and the report (default: a temp dir,
#                 removed at exit)
set -euo pipefail

N="${BENCH_RUNS_N:-1000000}"
MONTH="${BENCH_MONTH:-2026-10}"
RUNS="${BENCH_RUNS:-5}"
read -r -a FORMATS <<<"${BENCH_FORMATS:-md html}"

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

load_start="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- tools -------------------------------------------------------------------------------
[[ -x /usr/bin/time ]] || need_tools /usr/bin/time=time
need_tools hyperfine=hyperfine python3=python3
[[ -n ${UNYO_BIN:-} ]] || command -v cargo >/dev/null 2>&1 || die "cargo not found (needed to build unyo)"

# --- build -------------------------------------------------------------------------------
build_unyo

# --- work area ---------------------------------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/unyo-report-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
out="${BENCH_OUT:-$work/results}"
mkdir -p "$out"
root="$work/root"
mkdir -p "$root"
# The shipped definitions and settings, so the report computes every job's `sla:` and the
# service levels of `unyo.yaml` as it does for the demo, not only the counts.
(cd "$repo_root" && cp -r jobs runbooks schedules queries unyo.yaml "$root/")
db="$root/var/unyo.db"

# --- generation --------------------------------------------------------------------------
log "generating $MONTH with $N runs"
gen_start=$(date +%s.%N)
/usr/bin/time -v -o "$work/gen.time" \
    "$UNYO" --root "$root" synth-history --month "$MONTH" --runs "$N" >"$work/gen.out"
gen_end=$(date +%s.%N)
# Write the generated database out before timing reads of it: the kernel flushing a
# gigabyte and a half of dirty pages in the background would be timed with the report.
sync
gen_rss_kib=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/gen.time")
db_bytes=$(stat -c %s "$db")
printf 'generation: %s\n' "$(cat "$work/gen.out")"
printf 'generation: wall %.1f s, peak RSS %d MiB, database %d MiB (%s bytes)\n' \
    "$(python3 -c "print($gen_end - $gen_start)")" "$((gen_rss_kib / 1024))" \
    "$((db_bytes / 1024 / 1024))" "$db_bytes"

# --- report ------------------------------------------------------------------------------
# The month's bounds in UTC for the baseline (Asia/Tokyo, the default time zone).
read -r from to < <(python3 - "$MONTH" <<'PY'
import sys, datetime
y, m = map(int, sys.argv[1].split("-"))
tz = datetime.timezone(datetime.timedelta(hours=9))
a = datetime.datetime(y, m, 1, tzinfo=tz)
b = datetime.datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=tz)
f = lambda t: t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
print(f(a), f(b))
PY
)
cat >"$work/baseline.py" <<PY
import sqlite3, sys
c = sqlite3.connect("file:$db?mode=ro", uri=True)
rows = c.execute(
    "SELECT job, status, count(*), avg(julianday(ended_at) - julianday(started_at)) "
    "FROM runs WHERE queued_at >= ? AND queued_at < ? GROUP BY job, status",
    ("$from", "$to"),
).fetchall()
sys.stdout.write("%d groups\n" % len(rows))
PY

baseline_cmd="python3 $work/baseline.py"
report_cmd() { echo "$UNYO --root $root report monthly --month $MONTH --format $1 --out $out/report.$1"; }
named=()
for f in "${FORMATS[@]}"; do
    named+=(-n "report-$f" "$(report_cmd "$f")")
done
log "timing the report (${FORMATS[*]}) and the baseline ($RUNS runs each)"
hyperfine --warmup 1 --runs "$RUNS" --export-json "$out/report-history.json" \
    "${named[@]}" -n baseline "$baseline_cmd"

rss() { awk -F': ' '/Maximum resident set size/ { print int($2 / 1024) }' "$1"; }
rss_args=()
for f in "${FORMATS[@]}"; do
    # shellcheck disable=SC2046 # the command is split into its words on purpose
    /usr/bin/time -v -o "$work/report-$f.time" $(report_cmd "$f") >/dev/null
    rss_args+=("report-$f=$(rss "$work/report-$f.time")")
done
/usr/bin/time -v -o "$work/baseline.time" $baseline_cmd >/dev/null
python3 - "$out/report-history.json" "baseline=$(rss "$work/baseline.time")" "${rss_args[@]}" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
rss = dict(a.split("=") for a in sys.argv[2:])
base, base_rss = r["baseline"]["mean"], int(rss["baseline"])
print(f"baseline: mean {base:.2f} s, peak RSS {base_rss} MiB")
for name, x in r.items():
    if name == "baseline":
        continue
    t, m = x["mean"], int(rss[name])
    print(f"{name}: mean {t:.2f} ± {x['stddev']:.2f} s (target <= 3 s: {'PASS' if t <= 3 else 'FAIL'}), "
          f"peak RSS {m} MiB (target <= 200 MiB: {'PASS' if m <= 200 else 'FAIL'}); "
          f"ratio to the baseline {t / base:.2f}x time, {m / max(base_rss, 1):.2f}x memory")
PY
echo "load average: start $load_start, end $(cut -d' ' -f1-3 /proc/loadavg)"
