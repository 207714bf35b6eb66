#!/usr/bin/env bash
# Benchmark: what monitoring costs the daemon, and how fast /metrics answers.
#
#   idle CPU and RSS : the daemon on 1,000 jobs (1,000 schedules, none due) over a database of
#                      30,000 recorded runs and slots and 20 check targets, idle for
#                      BENCH_SECONDS (default 60): CPU time from /proc/PID/stat (utime+stime)
#                      over the interval, as percent of one core, and VmRSS at the end.
#                      Side by side, one after the other on the same root, BENCH_PAIRS times
#                      (default 3; the median of the pairs' ratios is the figure): monitoring OFF
#                      (no `metrics:`) and ON (`metrics.listen` set, the endpoint scraped every
#                      15 s as Prometheus does by default, the RSS read between two scrapes). Targets: ON <= 110 % of OFF's RSS,
#                      idle CPU < 1 % of a core.
#   scrape           : GET /metrics on that root (hyperfine, BENCH_RUNS runs, default 50),
#                      beside GET of a path the endpoint answers 404 at once (the HTTP floor).
#                      Target <= 20 ms.
#
# Usage: bash bench/monitoring.sh (UNYO_BIN: a unyo binary to measure instead of this tree's)
set -euo pipefail

SECONDS_TO_RUN="${BENCH_SECONDS:-60}"
RUNS="${BENCH_RUNS:-50}"
PAIRS="${BENCH_PAIRS:-3}"
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tools hyperfine=hyperfine sqlite3=sqlite3 curl=curl
build_unyo
work="$(mktemp -d "${TMPDIR:-/tmp}/unyo-bench-monitoring.XXXXXX")"
daemon_pid=""
cleanup() {
    [[ -n $daemon_pid ]] && kill -9 "$daemon_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

start_daemon() { # root, log
    "$UNYO" --root "$1" daemon 2>"$2" &
    daemon_pid=$!
    for _ in $(seq 200); do
        grep -q "unyo daemon" "$2" 2>/dev/null && return 0
        sleep 0.05
    done
    die "the daemon did not start: $(cat "$2")"
}
stop_daemon() {
    kill -TERM "$daemon_pid"
    wait "$daemon_pid" || die "the daemon exited with $?"
    daemon_pid=""
}

# --- 1,000 jobs and a history -------------------------------------------------------------
root="$work/root"
mkdir -p "$root/jobs" "$root/schedules"
{
    echo "schedules:"
    for i in $(seq -w 1 1000); do
        printf 'steps:\n  a:\n    argv: [/bin/true]\n  b:\n    needs: [a]\n    argv: [/bin/true]\n' >"$root/jobs/job-$i.yaml"
        printf '  - job: job-%s\n    cron: "0 3 1 1 *"\n' "$i"
    done
} >"$root/schedules/all.yaml"
log "creating the database"
start_daemon "$root" "$work/first.log"
stop_daemon
db="$root/var/unyo.db"
log "recording 30,000 runs and slots, 20 targets with 100 results each"
sqlite3 "$db" <<'SQL'
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 29999)
INSERT INTO runs (job, trigger, params, status, business_date, fiscal_year, queued_at,
                  started_at, ended_at, requested_by, host, job_digest, catalog_digest, schedule)
SELECT printf('job-%04d', i % 1000 + 1), 'schedule', '{}',
       CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'succeeded' END,
       date('2026-10-01', '+' || (i / 1000) || ' days'), 2026,
       strftime('%Y-%m-%dT%H:%M:%fZ', '2026-10-01 03:00:00', '+' || (i / 1000) || ' days'),
       strftime('%Y-%m-%dT%H:%M:%fZ', '2026-10-01 03:00:00.05', '+' || (i / 1000) || ' days'),
       strftime('%Y-%m-%dT%H:%M:%fZ', '2026-10-01 03:00:00', '+' || (i / 1000) || ' days',
                '+' || (i % 600) || ' seconds'),
       'bench', 'bench', 'x', 'x', 'all'
FROM n;
INSERT INTO slots (schedule, job, fire_time, due_at, outcome, run_id, decided_at)
SELECT 'all-' || job, job, queued_at, queued_at, 'started', id, queued_at FROM runs;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 1999)
INSERT INTO check_results (target, run_id, at, status, output, perfdata, state, changed)
SELECT printf('target-%02d', i % 20), NULL,
       strftime('%Y-%m-%dT%H:%M:%fZ', '2026-11-01', '+' || (i * 15) || ' minutes'),
       'ok', 'TCP OK', 'time=0.001s;;;0;10', 'up', 0
FROM n;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 19)
INSERT INTO check_targets (target, kind, job, step, state, streak, since, last_status,
                           last_output, last_perfdata, last_at, results)
SELECT printf('target-%02d', i), 'network', 'job-0001', 'a', 'up', 0, '2026-11-01T00:00:00.000000Z',
       'ok', 'TCP OK', 'time=0.001s;;;0;10', '2026-11-21T00:00:00.000000Z', 100
FROM n;
COMMIT;
SQL

# --- idle CPU and RSS, OFF then ON ----------------------------------------------------------
hz=$(getconf CLK_TCK)
idle() { # label -> "cpu_percent rss_kib"
    start_daemon "$root" "$work/$1.log"
    sleep 5
    local t0 t1 rss scraper=""
    if [[ $1 == on ]]; then
        # Every 15 s from 7.5 s on, so that the RSS read at the end falls between two scrapes
        # (where the daemon spends its time), not in one.
        ( sleep 7.5; while true; do curl -s -o /dev/null "http://127.0.0.1:$port/metrics"; sleep 15; done ) &
        scraper=$!
    fi
    t0=$(awk '{ print $14 + $15 }' "/proc/$daemon_pid/stat")
    sleep "$SECONDS_TO_RUN"
    t1=$(awk '{ print $14 + $15 }' "/proc/$daemon_pid/stat")
    rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$daemon_pid/status")
    anon=$(awk '/^RssAnon/ { print $2 }' "/proc/$daemon_pid/status")
    [[ -n $scraper ]] && kill "$scraper" 2>/dev/null && wait "$scraper" 2>/dev/null || true
    if [[ $1 == on && ${2:-} == last ]]; then
        log "scrape: GET /metrics, $RUNS runs"
        hyperfine --style basic --warmup 3 --runs "$RUNS" --export-json "$work/scrape.json" \
            -n floor "curl -s -o /dev/null http://127.0.0.1:$port/nothing" \
            -n metrics "curl -s -o /dev/null http://127.0.0.1:$port/metrics" >&2
        curl -s "http://127.0.0.1:$port/metrics" >"$work/metrics.txt"
    fi
    stop_daemon
    python3 -c "import sys; print(f'{(int(sys.argv[2]) - int(sys.argv[1])) / int(sys.argv[3]) / int(sys.argv[4]) * 100:.3f}', sys.argv[5], sys.argv[6])" \
        "$t0" "$t1" "$hz" "$SECONDS_TO_RUN" "$rss" "$anon"
}
# OFF and ON in turn, PAIRS times: the resident pages of the binary itself vary by a MiB or
# two from one start to the next (the kernel maps the pages around each one it faults in), so
# each ratio is of one pair, and the median ratio is the figure.
pairs=()
for pair in $(seq "$PAIRS"); do
    rm -f "$root/unyo.yaml"
    log "pair $pair/$PAIRS, monitoring OFF: idle ${SECONDS_TO_RUN}s"
    read -r cpu_off rss_off anon_off < <(idle off)
    printf 'metrics:\n  listen: "127.0.0.1:%s"\n' "$port" >"$root/unyo.yaml"
    log "pair $pair/$PAIRS, monitoring ON: idle ${SECONDS_TO_RUN}s, scraped every 15 s"
    read -r cpu_on rss_on anon_on < <(idle on "$([[ $pair == "$PAIRS" ]] && echo last)")
    pairs+=("$rss_off $rss_on $anon_off $anon_on")
    log "pair $pair: RSS OFF $rss_off KiB (anonymous $anon_off), ON $rss_on KiB (anonymous $anon_on)"
done
read -r floor_ms floor_max metrics_ms metrics_max < <(python3 - "$work/scrape.json" <<'EOF'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
f = lambda k: (r[k]["mean"] * 1000, max(r[k]["times"]) * 1000)
print("%.2f %.2f %.2f %.2f" % (*f("floor"), *f("metrics")))
EOF
)
lines=$(wc -l <"$work/metrics.txt")
bytes=$(wc -c <"$work/metrics.txt")

load_end="$(cut -d' ' -f1-3 /proc/loadavg)"
verdict() { python3 -c "import sys; print('PASS' if float(sys.argv[1]) <= float(sys.argv[2]) else 'FAIL')" "$1" "$2"; }
ratio=$(printf '%s\n' "${pairs[@]}" | python3 -c "
import sys, statistics
r = [int(l.split()[1]) / int(l.split()[0]) * 100 for l in sys.stdin if l.strip()]
print(f'{statistics.median(r):.1f}')")
each=$(printf '%s\n' "${pairs[@]}" | python3 -c "
import sys
print(', '.join(f'{int(l.split()[1]) / int(l.split()[0]) * 100:.1f} %' for l in sys.stdin if l.strip()))")
cat <<EOF

unyo monitoring benchmark ($(nproc) cores, $(uname -r), unyo $("$UNYO" --version | cut -d' ' -f2))
1,000 jobs, 30,000 runs, 20 check targets; idle ${SECONDS_TO_RUN}s each, OFF then ON, $PAIRS pairs
  OFF: idle CPU ${cpu_off} % of a core, RSS $((rss_off / 1024)) MiB ($rss_off KiB, anonymous $anon_off KiB), last pair
  ON : idle CPU ${cpu_on} % of a core, RSS $((rss_on / 1024)) MiB ($rss_on KiB, anonymous $anon_on KiB), last pair
       RSS ON/OFF of each pair: $each
       RSS ON/OFF, median of the pairs ${ratio} %   target <= 110 %: $(verdict "$ratio" 110)
       idle CPU ON                              target < 1 %: $(verdict "$cpu_on" 1)
scrape of /metrics ($lines lines, $bytes bytes): mean ${metrics_ms} ms, max ${metrics_max} ms
  floor (curl + a 404 from the same server): mean ${floor_ms} ms, max ${floor_max} ms
                                                target <= 20 ms: $(verdict "$metrics_ms" 20)
load average (1/5/15 min) before: $load_start, after: $load_end
EOF
