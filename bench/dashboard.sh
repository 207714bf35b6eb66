#!/usr/bin/env bash
# Benchmark: every page of the dashboard with 1,000,000 runs in the database.
#
# 1. Fills a fresh root (the shipped definitions and settings) with `unyo synth-history`: a
#    month of BENCH_RUNS_N runs, this month by default, so that today's business date holds
#    its share of them (about 33,000 of a million).
# 2. Starts `unyo daemon` on it with `web.listen` on a free loopback port and times each page
#    of PAGES with curl: one warm-up request, then BENCH_N requests one after the other;
#    prints the HTTP status, the median and the slowest. Target: the median of every page
#    <= 500 ms.
# 3. With BENCH_PG set (or BENCH_BACKENDS containing postgres), copies the database into a
#    fresh PostgreSQL database with `unyo db copy` and times the same pages again there.
#
# A page more is one line in PAGES below: a name and its path (RUN and DATE are replaced by a
# run of today's business date that failed, and by the date itself).
#
# Usage: bash bench/dashboard.sh
# Environment:
#   BENCH_RUNS_N    runs in the month (default 1000000)
#   BENCH_MONTH     the month, YYYY-MM (default: this month in Asia/Tokyo)
#   BENCH_N         timed requests per page (default 20)
#   BENCH_BACKENDS  "sqlite", "postgres" or "sqlite postgres" (default sqlite, and postgres
#                   too when BENCH_PG is set)
#   BENCH_PG        the PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres);
#                   a database `unyo_bench_dashboard` is made there and dropped
#   UNYO_BIN        the unyo binary to measure (default: this tree's release build, built now
#                   or reused when fresh)
#   BENCH_REUSE     a root kept by an earlier run (BENCH_KEEP=1): its database is timed again
#                   instead of generating a new one
#   BENCH_KEEP      1: keep the root (and its database) and the PostgreSQL database, to look
#                   at them afterwards (EXPLAIN); their names are printed
set -euo pipefail

N_RUNS="${BENCH_RUNS_N:-1000000}"
MONTH="${BENCH_MONTH:-$(TZ=Asia/Tokyo date +%Y-%m)}"
N="${BENCH_N:-20}"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432/postgres}"
if [[ -n ${BENCH_BACKENDS:-} ]]; then
    read -r -a BACKENDS <<<"$BENCH_BACKENDS"
elif [[ -n ${BENCH_PG:-} ]]; then
    BACKENDS=(sqlite postgres)
else
    BACKENDS=(sqlite)
fi
DB_NAME=unyo_bench_dashboard

# The pages timed: NAME PATH, one a line.
PAGES=(
    "today /"
    "today-failed /?status=failed"
    "today-bad-on-node /?status=bad&node=ops01"
    "run /runs/RUN"
    "incidents /incidents"
    "jobs /jobs"
    "job /jobs/nightly-backup"
    "approvals /approvals"
    "calendar /calendar"
    "reports /reports"
    "holds /holds"
    "submit /submit"
    "nodes /nodes"
    "checks /checks"
    "audit /audit"
    "city /city"
    "not-found /runs/0"
)

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tools curl=curl python3=python3
[[ " ${BACKENDS[*]} " == *" postgres "* ]] && need_tools psql=postgresql-client
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
build_unyo

work="$(mktemp -d "${TMPDIR:-/tmp}/unyo-bench-dashboard.XXXXXX")"
daemon_pid=""
stop_daemon() {
    if [[ -n $daemon_pid ]]; then
        kill "$daemon_pid" 2>/dev/null || true
        wait "$daemon_pid" 2>/dev/null || true
        daemon_pid=""
    fi
}
cleanup() {
    stop_daemon
    if [[ ${BENCH_KEEP:-} == 1 ]]; then
        log "kept $work (and the PostgreSQL database $DB_NAME, if made)"
        return
    fi
    if [[ " ${BACKENDS[*]} " == *" postgres "* ]]; then
        psql "$PG" -qc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

root="$work/root"
if [[ -n ${BENCH_REUSE:-} ]]; then
    [[ -f $BENCH_REUSE/var/unyo.db ]] || die "no database in $BENCH_REUSE/var"
    root="$BENCH_REUSE"
else
    mkdir -p "$root"
    (cd "$repo_root" && cp -r jobs runbooks schedules queries unyo.yaml "$root/")
fi
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
# The shipped settings with the dashboard on the free port (and the database, later).
settings() {
    python3 - "$root/unyo.yaml" "$port" "${1:-}" <<'PY'
import re, sys
path, port, database = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(path).read()
text = re.sub(r'(?m)^(web:\n  listen: )".*"$', f'\\1"127.0.0.1:{port}"', text)
text = re.sub(r'(?m)^(metrics:\n(?:  .*\n)*?  listen: )".*"$', f'\\1"127.0.0.1:{int(port) + 1}"', text)
text = re.sub(r'(?m)^database: .*\n', "", text)
if database:
    text = f"database: {database}\n" + text
open(path, "w").write(text)
PY
}
settings

# --- the month ---------------------------------------------------------------------------
db="$root/var/unyo.db"
if [[ -z ${BENCH_REUSE:-} ]]; then
    log "generating $MONTH with $N_RUNS runs"
    gen_start=$(date +%s.%N)
    "$UNYO" --root "$root" synth-history --month "$MONTH" --runs "$N_RUNS" >"$work/gen.out"
    gen_end=$(date +%s.%N)
    sync
    printf 'generation: %s\n' "$(cat "$work/gen.out")"
    printf 'generation: %.1f s, database %d MiB\n' \
        "$(python3 -c "print($gen_end - $gen_start)")" "$(($(stat -c %s "$db") / 1024 / 1024))"
fi
date_today="$(TZ=Asia/Tokyo date +%Y-%m-%d)"
read -r run today_runs < <(python3 - "$db" "$date_today" <<'PY'
import sqlite3, sys
c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
run = c.execute("SELECT max(id) FROM runs WHERE business_date = ? AND status = 'failed'",
                (sys.argv[2],)).fetchone()[0]
if run is None:
    run = c.execute("SELECT max(id) FROM runs").fetchone()[0]
n = c.execute("SELECT count(*) FROM runs WHERE business_date = ?", (sys.argv[2],)).fetchone()[0]
print(run, n)
PY
)
printf 'business date %s: %s runs; the run page shows run %s\n' "$date_today" "$today_runs" "$run"

# --- timing ------------------------------------------------------------------------------
# start_daemon: starts the daemon on the root and waits until Today answers.
start_daemon() {
    "$UNYO" --root "$root" daemon >"$work/daemon.log" 2>&1 &
    daemon_pid=$!
    local i
    for i in $(seq 1 600); do
        if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
            return 0
        fi
        kill -0 "$daemon_pid" 2>/dev/null || die "the daemon stopped: $(tail -5 "$work/daemon.log")"
        sleep 0.5
    done
    die "the dashboard did not answer within 5 minutes"
}

# time_pages BACKEND: each page of PAGES, BENCH_N times after one warm-up.
time_pages() {
    local backend=$1 line name path url i
    printf '\n%-10s %-20s %-30s %6s %10s %10s %s\n' backend page path status median slowest target
    for line in "${PAGES[@]}"; do
        read -r name path <<<"$line"
        path="${path//RUN/$run}"
        path="${path//DATE/$date_today}"
        url="http://127.0.0.1:$port$path"
        curl -s -o /dev/null "$url"
        : >"$work/times"
        for i in $(seq 1 "$N"); do
            curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "$url" >>"$work/times"
        done
        python3 - "$backend" "$name" "$path" "$work/times" <<'PY'
import statistics, sys
backend, name, path, file = sys.argv[1:]
rows = [l.split() for l in open(file) if l.strip()]
codes = sorted({r[0] for r in rows})
ms = [float(r[1]) * 1000 for r in rows]
med = statistics.median(ms)
print(f"{backend:<10} {name:<20} {path:<30} {','.join(codes):>6} {med:8.1f} ms {max(ms):7.1f} ms "
      f"{'PASS' if med <= 500 else 'FAIL'}")
PY
    done
}

for backend in "${BACKENDS[@]}"; do
    case $backend in
    sqlite)
        settings
        ;;
    postgres)
        stop_daemon
        psql "$PG" -qc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null
        psql "$PG" -qc "CREATE DATABASE $DB_NAME" >/dev/null
        url="${PG%/*}/$DB_NAME"
        log "copying the database into PostgreSQL"
        copy_start=$(date +%s.%N)
        "$UNYO" --root "$root" db copy --to "$url" >"$work/copy.out"
        printf 'db copy: %.1f s\n' "$(python3 -c "print($(date +%s.%N) - $copy_start)")"
        psql "$url" -qc "VACUUM ANALYZE" >/dev/null
        settings "$url"
        ;;
    *) die "unknown backend $backend (sqlite, postgres)" ;;
    esac
    log "starting the daemon on $backend"
    start_daemon
    time_pages "$backend"
    stop_daemon
done

echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo); commit $(cd "$repo_root" && git rev-parse --short HEAD)$(cd "$repo_root" && git diff --quiet || echo '+changes')"
echo "load average: start $load_start, end $(cut -d' ' -f1-3 /proc/loadavg)"
