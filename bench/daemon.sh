#!/usr/bin/env bash
# Benchmark: the daemon's fire latency, definition load time and idle memory.
#
#   fire latency : 100 schedules firing every second for BENCH_SECONDS (default 60) seconds;
#                  the delay from each slot's scheduled instant to its step's recorded start
#                  (attempts.started_at, written just before the process is spawned):
#                  p50, p99, max. Target p99 <= 10 ms.
#   load         : `unyo validate` on 1,000 jobs with 1,000 schedules (hyperfine), beside
#                  `cat` of the same files as the floor of reading them. Target <= 300 ms.
#   idle RSS     : the daemon on those 1,000 jobs, idle (no slot due for a year), after 5 s.
#                  Target <= 30 MiB; the same daemon on an empty root is the baseline.
#
# Usage: bash bench/daemon.sh
# Environment: BENCH_SECONDS (default 60), BENCH_RUNS (hyperfine runs, default 10), UNYO_BIN
# (a unyo binary to measure, e.g. an earlier build side by side; default: this tree's release
# build).
set -euo pipefail

SECONDS_TO_RUN="${BENCH_SECONDS:-60}"
RUNS="${BENCH_RUNS:-10}"
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tools hyperfine=hyperfine sqlite3=sqlite3
build_unyo
work="$(mktemp -d "${TMPDIR:-/tmp}/unyo-bench-daemon.XXXXXX")"
daemon_pid=""
cleanup() {
    [[ -n $daemon_pid ]] && kill -9 "$daemon_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"

start_daemon() { # root, log
    "$UNYO" --root "$1" daemon 2>"$2" &
    daemon_pid=$!
    for _ in $(seq 100); do
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

# --- fire latency -------------------------------------------------------------------------
# delays ROOT OUT: the delay of every start in microseconds (from the recorded texts, RFC 3339
# with microseconds), sorted.
delays() {
    sqlite3 "$1/var/unyo.db" "SELECT s.fire_time, a.started_at FROM slots s JOIN attempts a ON a.run_id = s.run_id" |
        python3 -c '
import sys
from datetime import datetime
p = lambda t: datetime.fromisoformat(t.replace("Z", "+00:00"))
d = sorted(int((p(b) - p(a)).total_seconds() * 1e6) for a, b in (l.strip().split("|") for l in sys.stdin if l.strip()))
print("\n".join(map(str, d)))' >"$2"
}
# quantiles FILE: p50 p99 max (ms) and the count.
quantiles() {
    python3 - "$1" <<'EOF2'
import sys
d = [int(x) for x in open(sys.argv[1]) if x.strip()]
q = lambda p: d[min(len(d) - 1, int(round(p * (len(d) - 1))))]
print(f"{q(0.5)/1000:.2f} {q(0.99)/1000:.2f} {d[-1]/1000:.2f} {len(d)}")
EOF2
}
fire_root() { # root, schedules
    mkdir -p "$1/jobs" "$1/schedules"
    {
        echo "schedules:"
        for i in $(seq -w 1 "$2"); do
            printf 'steps:\n  tick:\n    argv: [/bin/true]\n' >"$1/jobs/tick-$i.yaml"
            printf '  - job: tick-%s\n    cron: "* * * * * *"\n    overlap: allow\n' "$i"
        done
    } >"$1/schedules/ticks.yaml"
}
fire="$work/fire"
fire_root "$fire" 100
log "fire latency: 100 schedules every second for ${SECONDS_TO_RUN}s"
start_daemon "$fire" "$work/fire.log"
sleep "$SECONDS_TO_RUN"
stop_daemon
db="$fire/var/unyo.db"
delays "$fire" "$work/delays.txt"
slots=$(sqlite3 "$db" "SELECT count(*) FROM slots")
started=$(sqlite3 "$db" "SELECT count(*) FROM slots WHERE outcome = 'started'")
failed=$(sqlite3 "$db" "SELECT count(*) FROM runs WHERE status <> 'succeeded'")
read -r p50 p99 max n < <(quantiles "$work/delays.txt")

# The same with one schedule: the timer's own precision, without a queue of 100 spawns.
single="$work/single"
fire_root "$single" 1
log "fire latency: 1 schedule every second for 20s"
start_daemon "$single" "$work/single.log"
sleep 20
stop_daemon
delays "$single" "$work/single.txt"
read -r s50 s99 smax sn < <(quantiles "$work/single.txt")

# Baseline: the machine's own cost of starting 100 processes back to back (posix_spawn of
# /bin/true from one thread, then waiting for them): the floor under the 100th start.
floor_ms=$(python3 -c '
import os, time
ts = []
for _ in range(5):
    t = time.perf_counter()
    pids = [os.posix_spawn("/bin/true", ["/bin/true"], os.environ) for _ in range(100)]
    ts.append((time.perf_counter() - t) * 1000)
    for p in pids: os.waitpid(p, 0)
print(f"{sorted(ts)[2]:.1f}")')

# --- load and validate 1,000 jobs -----------------------------------------------------------
big="$work/big"
mkdir -p "$big/jobs" "$big/schedules"
{
    echo "calendars:"
    echo "  city: { weekends: [sat, sun], holidays: japan, closed: [\"12-29..01-03\"] }"
    echo "schedules:"
    for i in $(seq -w 1 1000); do
        cat >"$big/jobs/job-$i.yaml" <<EOF
description: Generated job $i
params:
  month: { type: string, default: "2026-11" }
steps:
  extract:
    argv: [/bin/echo, "{{params.month}}"]
    timeout: 10m
  load:
    needs: [extract]
    run: echo load {{params.month}}
  report:
    needs: [load]
    argv: [/bin/true]
EOF
        printf '  - job: job-%s\n    cron: "0 3 1 1 *"\n    calendar: city\n    closed_day: next_business_day\n' "$i"
    done
} >"$big/schedules/all.yaml"
log "load: unyo validate on 1,000 jobs"
hyperfine --style basic --warmup 2 --runs "$RUNS" --export-json "$work/load.json" \
    -n cat "cat $big/jobs/*.yaml $big/schedules/all.yaml" \
    -n validate "$UNYO --root $big validate" >&2
read -r cat_ms validate_ms < <(python3 - "$work/load.json" <<'EOF'
import json, sys
r = {x["command"]: x["mean"] * 1000 for x in json.load(open(sys.argv[1]))["results"]}
print(f"{r['cat']:.1f} {r['validate']:.1f}")
EOF
)

# --- idle RSS -----------------------------------------------------------------------------
rss_of() { # root
    start_daemon "$1" "$work/idle.log"
    sleep 5
    local rss
    rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$daemon_pid/status")
    stop_daemon
    echo "$rss"
}
log "idle RSS"
empty="$work/empty"
mkdir -p "$empty"
rss_empty=$(rss_of "$empty")
rss_big=$(rss_of "$big")

load_end="$(cut -d' ' -f1-3 /proc/loadavg)"
verdict() { python3 -c "import sys; print('PASS' if float(sys.argv[1]) <= float(sys.argv[2]) else 'FAIL')" "$1" "$2"; }
cat <<EOF

unyo daemon benchmark ($(nproc) cores, $(uname -r), unyo $("$UNYO" --version | cut -d' ' -f2))
fire latency, 100 schedules x ${SECONDS_TO_RUN}s: $n starts of $slots slots ($started started, $failed runs not succeeded)
  p50 ${p50} ms   p99 ${p99} ms   max ${max} ms      target p99 <= 10 ms: $(verdict "$p99" 10)
  baseline: 100 back-to-back posix_spawn of /bin/true take ${floor_ms} ms on this machine
fire latency, 1 schedule x 20s: $sn starts
  p50 ${s50} ms   p99 ${s99} ms   max ${smax} ms
load + validate, 1,000 jobs + 1,000 schedules: ${validate_ms} ms (cat of the same files: ${cat_ms} ms)
                                                  target <= 300 ms: $(verdict "$validate_ms" 300)
idle daemon RSS: $((rss_big / 1024)) MiB with 1,000 jobs ($((rss_empty / 1024)) MiB with none)
                                                  target <= 30 MiB: $(verdict "$((rss_big / 1024))" 30)
load average (1/5/15 min) before: $load_start, after: $load_end
EOF
