#!/usr/bin/env bash
# Benchmark: several daemons on one PostgreSQL against one daemon on SQLite, side by side.
#
#   fire latency : 100 schedules firing every second for BENCH_SECONDS (default 60) seconds;
#                  the delay from each slot's instant to its step's recorded start
#                  (attempts.started_at): p50, p99, max. On SQLite with one daemon, then on
#                  PostgreSQL with three. Target: PostgreSQL's p99 within 2x SQLite's.
#   claims       : BENCH_QUEUED (default 300) runs queued with `unyo run --detach` before the
#                  daemons start; runs started per second from the first start to the last,
#                  with one daemon on SQLite, then three on PostgreSQL.
#   failover     : BENCH_KILLS (default 20) times, the planner's daemon is killed (`kill -9`)
#                  while three daemons fire a per-second schedule; the time from the kill to
#                  the first slot recorded by the next planner: min, median, max, and the
#                  slots (none doubled or missing). Target median <= 10 s.
#
# Usage: bash bench/nodes.sh
# Environment: BENCH_SECONDS, BENCH_QUEUED, BENCH_KILLS, UNYO_BIN (a binary to measure),
# BENCH_PG (the PostgreSQL server, default postgres://postgres@127.0.0.1:5432/postgres; a
# database `unyo_bench_nodes` is made there and dropped).
set -euo pipefail

SECONDS_TO_RUN="${BENCH_SECONDS:-60}"
QUEUED="${BENCH_QUEUED:-300}"
KILLS="${BENCH_KILLS:-20}"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432/postgres}"
DB_NAME=unyo_bench_nodes
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tools sqlite3=sqlite3 psql=postgresql-client
build_unyo
work="$(mktemp -d "${TMPDIR:-/tmp}/unyo-bench-nodes.XXXXXX")"
pids=()
DB_URL="${PG%/*}/$DB_NAME"
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    psql "$PG" -qc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"

fresh_pg() {
    psql "$PG" -qc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null
    psql "$PG" -qc "CREATE DATABASE $DB_NAME" >/dev/null
}

# root DIR DATABASE [NODE]: a root with 100 per-second schedules (fire latency) or none.
root() {
    local dir=$1 database=$2 node=${3:-}
    mkdir -p "$dir/jobs" "$dir/schedules"
    {
        echo "database: $database"
        [[ -n $node ]] && printf 'node:\n  name: %s\n  timeout: 6s\n' "$node"
    } >"$dir/unyo.yaml"
    printf 'steps:\n  a:\n    argv: ["true"]\n' >"$dir/jobs/q.yaml"
}

with_schedules() { # DIR N
    local dir=$1 n=$2 i
    : >"$dir/schedules/all.yaml"
    echo "schedules:" >>"$dir/schedules/all.yaml"
    for i in $(seq -w 0 $((n - 1))); do
        printf 'steps:\n  a:\n    argv: ["true"]\n' >"$dir/jobs/t$i.yaml"
        printf '  - job: t%s\n    cron: "* * * * * *"\n    overlap: allow\n' "$i" >>"$dir/schedules/all.yaml"
    done
}

start() { # DIR LOG
    "$UNYO" --root "$1" daemon 2>"$2" &
    pids+=($!)
    for _ in $(seq 200); do
        grep -q "unyo daemon" "$2" 2>/dev/null && return 0
        sleep 0.05
    done
    die "the daemon did not start: $(cat "$2")"
}

stop_all() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
}

# percentiles: reads microseconds, one a line; prints p50 p99 max in ms.
percentiles() {
    python3 -c '
import sys
d = sorted(int(l) for l in sys.stdin if l.strip())
if not d: print("n/a n/a n/a"); sys.exit()
q = lambda p: d[min(len(d) - 1, int(p * len(d)))] / 1000
print(f"{q(0.50):.2f} {q(0.99):.2f} {d[-1] / 1000:.2f} {len(d)}")'
}

delays_sqlite() {
    sqlite3 "$1/var/unyo.db" "SELECT s.fire_time, a.started_at FROM slots s JOIN attempts a ON a.run_id = s.run_id" |
        python3 -c '
import sys
from datetime import datetime
p = lambda t: datetime.fromisoformat(t.replace("Z", "+00:00"))
for l in sys.stdin:
    if l.strip():
        a, b = l.strip().split("|")
        print(int((p(b) - p(a)).total_seconds() * 1e6))'
}

delays_pg() {
    psql "$DB_URL" -Atc "SELECT (extract(epoch FROM a.started_at - s.fire_time) * 1e6)::bigint FROM slots s JOIN attempts a ON a.run_id = s.run_id"
}

# --- fire latency ---------------------------------------------------------------------------
log "fire latency: 100 per-second schedules for ${SECONDS_TO_RUN}s on SQLite, one daemon"
root "$work/s" "sqlite:var/unyo.db"
with_schedules "$work/s" 100
start "$work/s" "$work/s.log"
sleep "$SECONDS_TO_RUN"
stop_all
read -r s50 s99 smax sn < <(delays_sqlite "$work/s" | percentiles)

log "fire latency: the same on PostgreSQL, three daemons"
fresh_pg
for n in 1 2 3; do
    root "$work/p$n" "$DB_URL" "n$n"
    with_schedules "$work/p$n" 100
    start "$work/p$n" "$work/p$n.log"
done
sleep "$SECONDS_TO_RUN"
stop_all
read -r p50 p99 pmax pn < <(delays_pg | percentiles)

# --- claims ---------------------------------------------------------------------------------
queue() { # DIR
    local i
    for i in $(seq "$QUEUED"); do "$UNYO" --root "$1" run q --detach >/dev/null 2>&1; done
}
# The queued runs' steps started: how many, and the seconds from the first to the last.
rate_sqlite() {
    sqlite3 "$1/var/unyo.db" "SELECT a.started_at FROM attempts a JOIN runs r ON r.id = a.run_id WHERE r.job = 'q'" |
        python3 -c '
import sys
from datetime import datetime
t = sorted(datetime.fromisoformat(l.strip().replace("Z", "+00:00")) for l in sys.stdin if l.strip())
print(f"{len(t)}|{(t[-1] - t[0]).total_seconds():.3f}")'
}
rate_pg() {
    psql "$DB_URL" -Atc "SELECT count(*), round(extract(epoch FROM max(a.started_at) - min(a.started_at))::numeric, 3) FROM attempts a JOIN runs r ON r.id = a.run_id WHERE r.job = 'q'"
}
wait_done() { # COUNT-COMMAND
    for _ in $(seq 600); do
        [[ $("$@") == 0 ]] && return 0
        sleep 0.2
    done
    die "queued runs did not all end"
}
log "claims: $QUEUED queued runs, one daemon on SQLite"
rm -rf "$work/cs" && root "$work/cs" "sqlite:var/unyo.db"
queue "$work/cs"
start "$work/cs" "$work/cs.log"
wait_done sqlite3 "$work/cs/var/unyo.db" "SELECT count(*) FROM runs WHERE status IN ('queued', 'running')"
stop_all
IFS='|' read -r cs_n cs_secs < <(rate_sqlite "$work/cs")

log "claims: $QUEUED queued runs, three daemons on PostgreSQL"
fresh_pg
for n in 1 2 3; do rm -rf "$work/c$n" && root "$work/c$n" "$DB_URL" "c$n"; done
queue "$work/c1"
for n in 1 2 3; do start "$work/c$n" "$work/c$n.log"; done
wait_done psql "$DB_URL" -Atc "SELECT count(*) FROM runs WHERE status IN ('queued', 'running')"
stop_all
IFS='|' read -r cp_n cp_secs < <(rate_pg)
by_node="$(psql "$DB_URL" -Atc "SELECT string_agg(n::text, ' ') FROM (SELECT count(*) AS n FROM runs GROUP BY split_part(owner, ':', 2) ORDER BY 1 DESC) x")"

# --- failover -------------------------------------------------------------------------------
log "failover: the planner killed $KILLS times, three daemons on PostgreSQL"
fresh_pg
pids=()
declare -A node_pid
for n in 1 2 3; do
    rm -rf "$work/f$n" && root "$work/f$n" "$DB_URL" "f$n"
    printf 'schedules:\n  - job: q\n    cron: "* * * * * *"\n    overlap: allow\n' >"$work/f$n/schedules/s.yaml"
    start "$work/f$n" "$work/f$n.log"
    node_pid[$n]=${pids[-1]}
done
planner_pid() {
    psql "$DB_URL" -Atc "SELECT d.pid FROM leases l JOIN daemons d ON d.id = l.daemon_id WHERE l.name = 'planner' AND l.expires_at > clock_timestamp()"
}
failovers=()
for k in $(seq "$KILLS"); do
    pp=""
    for _ in $(seq 200); do pp="$(planner_pid)"; [[ -n $pp ]] && break; sleep 0.1; done
    [[ -n $pp ]] || die "no planner"
    sleep 2
    killed_at="$(date +%s.%N)"
    kill -9 "$pp"
    wait "$pp" 2>/dev/null || true
    # The first slot recorded after the kill, by any daemon: planning resumed.
    for _ in $(seq 300); do
        got="$(psql "$DB_URL" -Atc "SELECT extract(epoch FROM min(decided_at)) FROM slots WHERE decided_at > to_timestamp($killed_at)")"
        [[ -n $got ]] && break
        sleep 0.1
    done
    [[ -n $got ]] || die "no slot after the kill"
    failovers+=("$(python3 -c "print(f'{$got - $killed_at:.2f}')")")
    for n in 1 2 3; do
        if [[ ${node_pid[$n]} == "$pp" ]]; then
            start "$work/f$n" "$work/f$n.$k.log"
            node_pid[$n]=${pids[-1]}
        fi
    done
done
stop_all
read -r fmin fmed fmax < <(printf '%s\n' "${failovers[@]}" | python3 -c '
import sys, statistics
d = sorted(float(l) for l in sys.stdin if l.strip())
print(f"{d[0]:.2f} {statistics.median(d):.2f} {d[-1]:.2f}")')
slots_check="$(psql "$DB_URL" -Atc "SELECT count(*), count(DISTINCT fire_time), extract(epoch FROM max(fire_time) - min(fire_time))::bigint + 1 FROM slots")"

load_end="$(cut -d' ' -f1-3 /proc/loadavg)"
cat <<EOF

unyo $("$UNYO" --version 2>/dev/null | head -1), $(nproc) cores, load $load_start -> $load_end

fire latency (ms), 100 per-second schedules, ${SECONDS_TO_RUN}s each
  SQLite, 1 daemon      p50 $s50  p99 $s99  max $smax  ($sn starts)
  PostgreSQL, 3 daemons p50 $p50  p99 $p99  max $pmax  ($pn starts)
  p99 ratio PostgreSQL / SQLite: $(python3 -c "print(f'{$p99 / $s99:.2f}')")x (target <= 2x)

claims, $QUEUED queued runs (their steps started, first to last)
  SQLite, 1 daemon      $cs_n steps in ${cs_secs}s: $(python3 -c "print(f'{$cs_n / max($cs_secs, 0.001):.0f}')") runs/s
  PostgreSQL, 3 daemons $cp_n steps in ${cp_secs}s: $(python3 -c "print(f'{$cp_n / max($cp_secs, 0.001):.0f}')") runs/s (runs per daemon: $by_node)

failover, $KILLS planner kills (kill to the next slot recorded)
  min ${fmin}s  median ${fmed}s  max ${fmax}s  (target median <= 10 s)
  slots: recorded, distinct fire times, seconds spanned: $slots_check
EOF
