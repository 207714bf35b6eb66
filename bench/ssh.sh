#!/usr/bin/env bash
# Benchmark: the per-step overhead of a step on a host (ssh), side by side with `ssh HOST true`
# run by hand with the same options.
#
#   unyo remote : a job of BENCH_STEPS (default 50) steps `argv: [/bin/true]` in a chain, on a
#                 host served by an sshd on loopback; `unyo run` wall time / steps. The first
#                 step opens the shared connection; the others use it.
#   by hand     : the same number of `ssh ... HOST true`, one after the other, with unyo's
#                 options: over one shared connection (a master started by hand, as unyo
#                 does), and each on its own connection (no sharing).
#   unyo local  : the same job without `host:`, the floor of unyo's own per-step work.
#   first/next  : from the run's record, the first remote step's time (connection + login)
#                 and the median of the others.
# Each figure is the median of BENCH_RUNS (default 5) runs, interleaved in one sitting.
#
# Usage: bash bench/ssh.sh   (as root: it starts its own sshd, Debian's openssh-server)
set -euo pipefail

STEPS="${BENCH_STEPS:-50}"
RUNS="${BENCH_RUNS:-5}"
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/.." && pwd)"
log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (it starts an sshd on loopback)"
if [[ ! -x /usr/sbin/sshd ]]; then
    log "installing openssh-server with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null
fi
command -v python3 >/dev/null || die "python3 is needed to read the run's record"

log "building unyo (release)"
(cd "$repo_root" && cargo build --release --locked --quiet)
UNYO="$repo_root/target/release/unyo"
work="$(mktemp -d "${TMPDIR:-/tmp}/unyo-bench-ssh.XXXXXX")"
sshd_pid=""
master_pid=""
cleanup() {
    [[ -n $master_pid ]] && kill "$master_pid" 2>/dev/null || true
    [[ -n $sshd_pid ]] && kill "$sshd_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# --- the server -----------------------------------------------------------------------------
ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/client_key"
cp "$work/client_key.pub" "$work/authorized_keys"
mkdir -p /run/sshd
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $work/host_key
PidFile $work/sshd.pid
AuthorizedKeysFile $work/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
MaxSessions 100
MaxStartups 100
EOF
/usr/sbin/sshd -D -e -f "$work/sshd_config" 2>"$work/sshd.log" &
sshd_pid=$!
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.05
done
host_key="$(cut -d' ' -f1-2 "$work/host_key.pub")"

# --- the trees ------------------------------------------------------------------------------
make_tree() { # dir, host line
    mkdir -p "$1/jobs"
    printf 'hosts:\n  box:\n    address: 127.0.0.1\n    port: %s\n    user: root\n    identity: %s\n    host_key: "%s"\n' \
        "$port" "$work/client_key" "$host_key" >"$1/unyo.yaml"
    {
        printf '%ssteps:\n' "$2"
        printf '  s1: { argv: [/bin/true] }\n'
        for i in $(seq 2 "$STEPS"); do
            printf '  s%d: { argv: [/bin/true], needs: [s%d] }\n' "$i" "$((i - 1))"
        done
    } >"$1/jobs/chain.yaml"
    "$UNYO" --root "$1" validate >/dev/null
}
make_tree "$work/remote" "host: box
"
make_tree "$work/local" ""

# unyo's options, as `exec::remote` builds them.
printf '127.0.0.1 %s\n' "$host_key" | sed "s/^127.0.0.1/[127.0.0.1]:$port/" >"$work/known_hosts"
opts=(-F none -T -o BatchMode=yes -o StrictHostKeyChecking=yes -o "UserKnownHostsFile=$work/known_hosts"
    -o GlobalKnownHostsFile=none -o CheckHostIP=no -o UpdateHostKeys=no -o ConnectTimeout=10
    -o ServerAliveInterval=15 -o ServerAliveCountMax=3 -o LogLevel=ERROR -o IdentitiesOnly=yes
    -i "$work/client_key" -p "$port" -l root)

now() { date +%s%N; }
ms_per_step() { # start end
    python3 -c "print(f'{($2 - $1) / 1e6 / $STEPS:.2f}')"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

: >"$work/unyo-remote" >"$work/unyo-local" >"$work/hand-shared" >"$work/hand-fresh"
: >"$work/first" >"$work/next"
for r in $(seq "$RUNS"); do
    log "run $r of $RUNS"
    t0=$(now); "$UNYO" --root "$work/remote" run chain >/dev/null 2>&1 || die "remote run failed"; t1=$(now)
    ms_per_step "$t0" "$t1" >>"$work/unyo-remote"
    "$UNYO" --root "$work/remote" show "$r" --json | python3 -c '
import json, sys, statistics
from datetime import datetime
run = json.load(sys.stdin)
d = [(datetime.fromisoformat(a["ended_at"]) - datetime.fromisoformat(a["started_at"])).total_seconds() * 1000
     for a in sorted(run["attempts"], key=lambda a: a["id"])]
print(f"{d[0]:.2f}", file=open(sys.argv[1], "a"))
print(f"{statistics.median(d[1:]):.2f}", file=open(sys.argv[2], "a"))
' "$work/first" "$work/next"

    t0=$(now); "$UNYO" --root "$work/local" run chain >/dev/null 2>&1 || die "local run failed"; t1=$(now)
    ms_per_step "$t0" "$t1" >>"$work/unyo-local"

    sock="$work/hand.sock"
    t0=$(now)
    ssh "${opts[@]}" -M -N -S "$sock" -o ControlPersist=no -- 127.0.0.1 </dev/null >/dev/null 2>&1 &
    master_pid=$!
    while [[ ! -S $sock ]]; do sleep 0.001; done
    for _ in $(seq "$STEPS"); do
        ssh "${opts[@]}" -o ControlMaster=no -o "ControlPath=$sock" -- 127.0.0.1 true </dev/null
    done
    t1=$(now)
    kill "$master_pid"; wait "$master_pid" 2>/dev/null || true; master_pid=""; rm -f "$sock"
    ms_per_step "$t0" "$t1" >>"$work/hand-shared"

    t0=$(now)
    for _ in $(seq "$STEPS"); do
        ssh "${opts[@]}" -o ControlMaster=no -o ControlPath=none -- 127.0.0.1 true </dev/null
    done
    t1=$(now)
    ms_per_step "$t0" "$t1" >>"$work/hand-fresh"
done

printf '\nmachine: %s cores, %s, kernel %s; load before/after: see /proc/loadavg\n' \
    "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" "$(uname -r)"
printf 'commit: %s; %s steps in a chain, median of %s runs\n\n' \
    "$(git -C "$repo_root" rev-parse --short HEAD)" "$STEPS" "$RUNS"
printf '| measure | ms per step |\n|---|---|\n'
printf '| unyo, remote steps (one shared connection, opened by the first) | %s |\n' "$(median <"$work/unyo-remote")"
printf '| `ssh HOST true` by hand, same options, one shared connection | %s |\n' "$(median <"$work/hand-shared")"
printf '| `ssh HOST true` by hand, same options, a connection each | %s |\n' "$(median <"$work/hand-fresh")"
printf '| unyo, local steps (the floor) | %s |\n' "$(median <"$work/unyo-local")"
printf '| unyo, first remote step (connection and login), recorded | %s |\n' "$(median <"$work/first")"
printf '| unyo, the other remote steps (shared), recorded, median | %s |\n' "$(median <"$work/next")"
