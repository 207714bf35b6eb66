#!/usr/bin/env bash
# Soak benchmark: the daemon's memory under a steady per-second load.
#
#   BENCH_SCHEDULES (default 40) schedules of one one-step job (`echo tick`), each firing
#   every second (6-field cron, overlap allowed), for BENCH_MINUTES (default 10) minutes.
#   The daemon's VmRSS and VmHWM are read from /proc/PID/status every BENCH_EVERY (default
#   10) seconds. Printed: the samples, the RSS at minute 1 and at the end, their ratio, the
#   growth per run between them, and the runs recorded (all must have succeeded).
#   A daemon that keeps per-run state grows all the time (ratio well above 1); one that
#   does not levels off after its caches have warmed up (ratio near 1).
#
# Usage: bash bench/soak.sh
# Environment: UNYO_BIN (a unyo binary to measure; default: `cargo build --release` of this
# checkout), BENCH_MINUTES, BENCH_SCHEDULES, BENCH_EVERY, BENCH_OUT (a file for the samples).
set -euo pipefail

MINUTES="${BENCH_MINUTES:-10}"
SCHEDULES="${BENCH_SCHEDULES:-40}"
EVERY="${BENCH_EVERY:-10}"
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tools sqlite3=sqlite3
build_unyo
work="$(mktemp -d "${TMPDIR:-/tmp}/unyo-bench-soak.XXXXXX")"
daemon_pid=""
cleanup() {
    [[ -n $daemon_pid ]] && kill -9 "$daemon_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/jobs" "$work/schedules"
printf 'steps:\n  a:\n    run: echo tick\n' >"$work/jobs/tick.yaml"
{
    echo "schedules:"
    for i in $(seq "$SCHEDULES"); do
        printf '  - job: tick\n    name: tick-%03d\n    cron: "* * * * * *"\n    overlap: allow\n' "$i"
    done
} >"$work/schedules/tick.yaml"
"$UNYO" --root "$work" validate >/dev/null

rss() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
runs() { sqlite3 "$work/var/unyo.db" "SELECT count(*) FROM runs" 2>/dev/null || echo 0; }

log "unyo: $UNYO ($("$UNYO" --version))"
log "machine: nproc $(nproc), $(awk '/MemTotal/ {print $2, $3}' /proc/meminfo) memory, load $(cut -d' ' -f1-3 /proc/loadavg)"
log "$SCHEDULES schedules every second for $MINUTES min, RSS every ${EVERY}s"
UNYO_LOG=unyo=warn "$UNYO" --root "$work" daemon 2>"$work/daemon.log" &
daemon_pid=$!
for _ in $(seq 200); do
    grep -q "unyo daemon" "$work/daemon.log" 2>/dev/null && break
    sleep 0.05
done
grep -q "unyo daemon" "$work/daemon.log" || die "the daemon did not start: $(cat "$work/daemon.log")"

samples="${BENCH_OUT:-$work/samples.tsv}"
printf 'seconds\trss_kib\thwm_kib\tanon_kib\tfile_kib\truns\n' >"$samples"
start=$SECONDS
end=$((start + MINUTES * 60))
while ((SECONDS < end)); do
    sleep "$EVERY"
    kill -0 "$daemon_pid" 2>/dev/null || die "the daemon died: $(tail -5 "$work/daemon.log")"
    printf '%d\t%s\t%s\t%s\t%s\t%s\n' $((SECONDS - start)) "$(rss "$daemon_pid" VmRSS)" \
        "$(rss "$daemon_pid" VmHWM)" "$(rss "$daemon_pid" RssAnon)" "$(rss "$daemon_pid" RssFile)" \
        "$(runs)" | tee -a "$samples" >&2
done
kill -TERM "$daemon_pid"
wait "$daemon_pid" || die "the daemon exited with $?"
daemon_pid=""

failed=$(sqlite3 "$work/var/unyo.db" "SELECT count(*) FROM runs WHERE status NOT IN ('succeeded')")
python3 - "$samples" "$failed" <<'EOF2'
import sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().split("\n")[1:] if l.strip()]
rows = [(int(s), int(r), int(h), int(n), int(a), int(f)) for s, r, h, a, f, n in rows]
first = next(r for r in rows if r[0] >= 60)
last = rows[-1]
grow = (last[1] - first[1]) * 1024 / max(1, last[3] - first[3])
print(f"RSS at {first[0]} s: {first[1] / 1024:.1f} MiB ({first[3]} runs)")
print(f"RSS at {last[0]} s: {last[1] / 1024:.1f} MiB ({last[3]} runs), peak {last[2] / 1024:.1f} MiB")
print(f"of which heap and other anonymous memory: {first[4] / 1024:.1f} -> {last[4] / 1024:.1f} MiB, "
      f"file-backed: {first[5] / 1024:.1f} -> {last[5] / 1024:.1f} MiB")
print(f"ratio end/minute 1: {last[1] / first[1]:.2f}; growth per run after minute 1: {grow:.0f} bytes")
print(f"runs not succeeded: {sys.argv[2]}")
EOF2
