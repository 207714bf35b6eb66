#!/usr/bin/env bash
# Where does `unyo run` spend its time on W1 (1,000 independent /bin/true steps, parallel 2)?
# Companion of bench/dag-vs-make.sh; read-only analysis, changes nothing in the project.
#
# Measures: fixed costs (startup, catalog loading, a 1-step run), per-thread CPU split
# (perf record), syscall and context-switch counts (perf stat), SQLite busy-handler sleeps
# (perf trace), and the time SQLite itself spends per statement (UNYO_LOG=sqlx=debug).
# Needs perf (apt-get install linux-perf) with perf_event_paranoid <= 2 and tracefs, as root.
#
# Usage: bash bench/profile-w1.sh
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/.." && pwd)"
for t in hyperfine perf python3 make; do
    command -v "$t" >/dev/null 2>&1 || { echo "error: $t is required" >&2; exit 1; }
done

(cd "$repo_root" && cargo build --release --locked --quiet)
UNYO="$repo_root/target/release/unyo"
work="$(mktemp -d "${TMPDIR:-/tmp}/unyo-prof.XXXXXX")"
trap 'rm -rf "$work"' EXIT

gen() { # DIR N: N independent /bin/true steps as job `w`
    mkdir -p "$1/jobs"
    { echo "description: profile"; echo "steps:"
      for i in $(seq -f %04g 1 "$2"); do printf '  s%s:\n    argv: [/bin/true]\n' "$i"; done
    } >"$1/jobs/w.yaml"
}
gen "$work/w1" 1000
gen "$work/one" 1
names="$(seq -f 's%04g' 1 1000 | tr '\n' ' ')"
{ echo ".PHONY: all $names"; echo "all: $names"
  for n in $names; do printf '%s:\n\t@/bin/true\n' "$n"; done; } >"$work/w1.mk"
run_w1() { "$UNYO" --root "$work/w1" run w --parallel 2 >/dev/null 2>&1; }
run_w1 # create the database

echo "== fixed costs and totals (hyperfine, 10 runs)"
hyperfine -N --warmup 1 --runs 10 --style basic \
    -n "unyo --version" "$UNYO --version" \
    -n "validate (1000 steps)" "$UNYO --root $work/w1 validate" \
    -n "run, 1 step" "$UNYO --root $work/one run w --parallel 2" \
    -n "run W1" "$UNYO --root $work/w1 run w --parallel 2" \
    -n "make W1" "make -r -s -j2 -f $work/w1.mk all" 2>&1 | grep -E '^Benchmark|Time \(mean'

echo "== counters for one W1 run (perf stat)"
perf stat -x, -e 'task-clock,context-switches,syscalls:sys_enter_futex,syscalls:sys_enter_clock_nanosleep,syscalls:sys_enter_pread64,syscalls:sys_enter_pwrite64,syscalls:sys_enter_fsync,syscalls:sys_enter_clone3' \
    -o "$work/stat.csv" -- "$UNYO" --root "$work/w1" run w --parallel 2 >/dev/null 2>&1
awk -F, '/^[0-9]/ {printf "  %-40s %12.0f  (%.1f per step)\n", $3, $1, $1 / 1000}' "$work/stat.csv"

echo "== CPU samples by thread (perf record, cpu-clock)"
perf record -q -o "$work/perf.data" -F 4000 -g -- "$UNYO" --root "$work/w1" run w --parallel 2 \
    >/dev/null 2>&1
perf report -i "$work/perf.data" --no-children --sort comm --stdio -g none 2>/dev/null \
    | grep '%' | awk 'NR <= 6'
echo "  top symbols (excluding the /bin/true children):"
perf report -i "$work/perf.data" --no-children --sort comm,dso,sym --stdio -g none 2>/dev/null \
    | grep '%' | grep -v ' true ' | awk 'NR <= 12'

echo "== SQLite busy-handler sleeps (perf trace)"
perf trace -s -e clock_nanosleep -o "$work/trace.txt" -- \
    "$UNYO" --root "$work/w1" run w --parallel 2 >/dev/null 2>&1
awk '/clock_nanosleep/ {n += $2; ms += $4} END {printf "  %d sleeps, %.0f ms slept in all threads\n", n, ms}' \
    "$work/trace.txt"

echo "== time inside SQLite statements (UNYO_LOG=sqlx=debug)"
UNYO_LOG=sqlx=debug "$UNYO" --root "$work/w1" run w --parallel 2 2>"$work/sqlx.log" >/dev/null
sed 's/\x1b\[[0-9;]*m//g' "$work/sqlx.log" | python3 -c '
import collections, re, sys
d = collections.defaultdict(list)
for line in sys.stdin:
    m = re.search(r"summary=\"(\w+ \w+)[^\"]*\".*elapsed_secs=([0-9.e-]+)", line)
    if m:
        d[m.group(1)].append(float(m.group(2)))
total = 0.0
for k, v in sorted(d.items(), key=lambda kv: -sum(kv[1])):
    v.sort()
    total += sum(v)
    print(f"  {k:22s} n={len(v):5d} total={sum(v)*1000:7.1f} ms median={v[len(v)//2]*1e6:5.0f} us")
print(f"  all statements: {total*1000:.0f} ms (BEGIN/COMMIT are not logged)")'
