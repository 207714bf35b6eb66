#!/usr/bin/env bash
# Benchmark: `unyo run` against GNU make on the same DAGs of /bin/true commands.
#
# Three workloads, each generated both as a unyo job and as a Makefile with the same DAG:
#   W1 fan-out : 1,000 independent steps
#   W2 chain   : 200 steps, each needing the one before
#   W3 layered : 20 layers x 50 steps, each step needing every step of the layer before
# Both tools run with 2 at once (`unyo run --parallel 2`, `make -j2`).
#
# unyo runs against one root per workload and its database is KEPT between runs (it grows
# with every run: durable recording is what is being measured). After the timed runs the
# script checks in SQLite that every run recorded every attempt as succeeded.
#
# Usage: bash bench/dag-vs-make.sh
# Environment:
#   BENCH_RUNS   timed runs per command (default 10; hyperfine also does 1 warmup run)
#   BENCH_OUT    directory for hyperfine JSON exports and the summary (default: a temp dir,
#                removed at exit)
#   BENCH_TARGET ratio unyo/make that counts as PASS (default 1.5)
#   UNYO_BIN     the unyo binary to measure (default: this tree's release build, built now)
set -euo pipefail

RUNS="${BENCH_RUNS:-10}"
TARGET="${BENCH_TARGET:-1.5}"
PARALLEL=2

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

load_start="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- tools -------------------------------------------------------------------------------
[[ -x /usr/bin/time ]] || need_tools /usr/bin/time=time
need_tools hyperfine=hyperfine make=make python3=python3
[[ -n ${UNYO_BIN:-} ]] || command -v cargo >/dev/null 2>&1 || die "cargo not found (needed to build unyo)"

# --- build -------------------------------------------------------------------------------
build_unyo

# --- work area ---------------------------------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/unyo-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
out="${BENCH_OUT:-$work/results}"
mkdir -p "$out"

# --- workloads ---------------------------------------------------------------------------
# gen.py KIND DIR: writes DIR/root/jobs/KIND.yaml and DIR/Makefile, prints the step count.
cat >"$work/gen.py" <<'PY'
import os, sys

kind, base = sys.argv[1], sys.argv[2]

def dag(kind):
    """[(name, [needs...])] in declaration order."""
    if kind == "fanout":
        return [(f"s{i:04d}", []) for i in range(1, 1001)]
    if kind == "chain":
        names = [f"s{i:04d}" for i in range(1, 201)]
        return [(n, [names[i - 1]] if i else []) for i, n in enumerate(names)]
    if kind == "layered":
        layers = [[f"l{l:02d}s{s:02d}" for s in range(1, 51)] for l in range(1, 21)]
        steps = []
        for li, layer in enumerate(layers):
            for n in layer:
                steps.append((n, layers[li - 1] if li else []))
        return steps
    raise SystemExit(f"unknown workload {kind}")

steps = dag(kind)
root = os.path.join(base, "root")
os.makedirs(os.path.join(root, "jobs"), exist_ok=True)
with open(os.path.join(root, "jobs", f"{kind}.yaml"), "w") as f:
    f.write(f"description: benchmark workload {kind}, {len(steps)} steps of /bin/true\n")
    f.write("steps:\n")
    for name, needs in steps:
        f.write(f"  {name}:\n    argv: [/bin/true]\n")
        if needs:
            f.write(f"    needs: [{', '.join(needs)}]\n")
with open(os.path.join(base, "Makefile"), "w") as f:
    names = [n for n, _ in steps]
    f.write(f"# benchmark workload {kind}: the same DAG as jobs/{kind}.yaml\n")
    f.write(".PHONY: all " + " ".join(names) + "\n")
    f.write("all: " + " ".join(names) + "\n")
    for name, needs in steps:
        f.write(f"{name}: {' '.join(needs)}\n\t@/bin/true\n")
print(len(steps))
PY

workloads=(W1:fanout W2:chain W3:layered)
declare -A label=([W1]="W1 fan-out 1000" [W2]="W2 chain 200" [W3]="W3 layered 20x50")
declare -A nsteps

for w in "${workloads[@]}"; do
    id="${w%%:*}" kind="${w#*:}"
    nsteps[$id]="$(python3 "$work/gen.py" "$kind" "$work/$id")"
    "$UNYO" --root "$work/$id/root" validate >/dev/null
    # make must agree on the DAG too (dry run, no commands executed)
    make -r -n -f "$work/$id/Makefile" all >/dev/null
done

db_check() { # ROOT STEPS EXPECTED_RUNS
    python3 - "$1/var/unyo.db" "$2" "$3" <<'PY'
import sqlite3, sys
path, steps, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
last = con.execute("SELECT max(id) FROM runs").fetchone()[0]
ok_last = con.execute(
    "SELECT count(*) FROM attempts WHERE run_id = ? AND status = 'succeeded'", (last,)
).fetchone()[0]
n_runs, n_ok_runs = con.execute(
    "SELECT count(*), sum(status = 'succeeded') FROM runs").fetchone()
ok_all = con.execute("SELECT count(*) FROM attempts WHERE status = 'succeeded'").fetchone()[0]
steps_ok = con.execute(
    "SELECT count(*) FROM steps WHERE run_id = ? AND status = 'succeeded'", (last,)
).fetchone()[0]
print(f"  db: last run {last}: {ok_last}/{steps} attempts succeeded, {steps_ok}/{steps} steps "
      f"succeeded; {n_ok_runs}/{n_runs} runs succeeded, {ok_all} succeeded attempts in all")
errors = []
if ok_last != steps or steps_ok != steps:
    errors.append("the last run did not record every step")
if n_runs != runs or n_ok_runs != runs:
    errors.append(f"expected {runs} succeeded runs")
if ok_all != steps * runs:
    errors.append(f"expected {steps * runs} succeeded attempts")
if errors:
    sys.exit("db check FAILED: " + "; ".join(errors))
PY
}

peak_rss_kb() { # COMMAND... -> prints kB
    local f="$work/time.$$"
    /usr/bin/time -v -o "$f" "$@" >/dev/null 2>&1
    awk -F': ' '/Maximum resident set size/ {print $2}' "$f"
}

# --- runs --------------------------------------------------------------------------------
declare -A rss_unyo rss_make
for w in "${workloads[@]}"; do
    id="${w%%:*}" kind="${w#*:}"
    root="$work/$id/root"
    unyo_cmd="$UNYO --root $root run $kind --parallel $PARALLEL"
    make_cmd="make -r -s -j$PARALLEL -f $work/$id/Makefile all"
    log "$id ($kind, ${nsteps[$id]} steps): hyperfine, 1 warmup + $RUNS runs each"
    hyperfine --warmup 1 --runs "$RUNS" --style basic \
        --export-json "$out/$id.json" \
        -n "unyo" "$unyo_cmd" \
        -n "make" "$make_cmd" >&2
    db_check "$root" "${nsteps[$id]}" $((RUNS + 1)) >&2
    # shellcheck disable=SC2086 # word splitting of the command is intended
    rss_unyo[$id]="$(peak_rss_kb $unyo_cmd)"
    # shellcheck disable=SC2086
    rss_make[$id]="$(peak_rss_kb $make_cmd)"
    db_check "$root" "${nsteps[$id]}" $((RUNS + 2)) >/dev/null
done

# --- report ------------------------------------------------------------------------------
summary="$out/summary.txt"
{
    printf 'unyo vs GNU make, /bin/true steps, parallel %s, %s runs (+1 warmup), target unyo/make <= %sx\n' \
        "$PARALLEL" "$RUNS" "$TARGET"
    printf 'machine: %s cores, %s, kernel %s\n' "$(nproc)" \
        "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)" "$(uname -r)"
    printf 'unyo: %s (%s), %s, %s\n\n' "$("$UNYO" --version)" \
        "${UNYO_BIN:-git $(git -C "$repo_root" describe --always --dirty 2>/dev/null || echo unknown)}" \
        "$(hyperfine --version)" "$(make --version | sed -n 1p)"
    for w in "${workloads[@]}"; do
        id="${w%%:*}"
        printf '%s\t%s\t%s\t%s\t%s\n' "$id" "${label[$id]}" "${nsteps[$id]}" \
            "${rss_unyo[$id]}" "${rss_make[$id]}"
    done | python3 -c '
import json, sys
out, target = sys.argv[1], float(sys.argv[2])
rows = [l.rstrip("\n").split("\t") for l in sys.stdin if l.strip()]
hdr = ("workload", "steps", "unyo mean ± sd", "make mean ± sd", "unyo/make",
       "target", "result", "unyo ms/step", "unyo RSS", "make RSS")
table = [hdr]
for wid, name, steps, rss_u, rss_m in rows:
    res = {r["command"]: r for r in json.load(open(f"{out}/{wid}.json"))["results"]}
    u, m = res["unyo"], res["make"]
    um, us, mm, ms = (x * 1000 for x in (u["mean"], u["stddev"], m["mean"], m["stddev"]))
    ratio = um / mm
    table.append((name, steps, f"{um:.0f} ± {us:.0f} ms", f"{mm:.0f} ± {ms:.0f} ms",
                  f"{ratio:.2f}x", f"<= {target:g}x",
                  "PASS" if ratio <= target else "FAIL",
                  f"{um / int(steps):.2f}",
                  f"{int(rss_u)/1024:.1f} MiB", f"{int(rss_m)/1024:.1f} MiB"))
w = [max(len(r[i]) for r in table) for i in range(len(hdr))]
for r in table:
    print("  ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip())
' "$out" "$TARGET"
    printf '\nload average (1/5/15 min) before: %s, after: %s (another load on the machine skews the figures)\n' \
        "$load_start" "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf 'RSS = peak resident set size of one extra run (/usr/bin/time -v).\n'
    printf 'unyo databases were kept between runs; every run was checked in SQLite.\n'
} | tee "$summary"
if [[ -n ${BENCH_OUT:-} ]]; then
    log "hyperfine JSON and summary in $out"
fi
