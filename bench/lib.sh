# Shared by the benchmark scripts: `source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"`.
# Sets script_dir and repo_root; gives log, die, need_tools and build_unyo.

script_dir="$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)"
repo_root="$(cd "$script_dir/.." && pwd)"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# need_tools COMMAND=PACKAGE...: installs the missing packages with apt-get when root,
# else stops naming them.
need_tools() {
    local need=() spec
    for spec in "$@"; do
        command -v "${spec%%=*}" >/dev/null 2>&1 || need+=("${spec#*=}")
    done
    ((${#need[@]})) || return 0
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "installing ${need[*]} with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    else
        die "missing tools: ${need[*]}; install them first, e.g.
  sudo apt-get update && sudo apt-get install -y ${need[*]}"
    fi
}

# build_unyo: sets UNYO to the binary measured: UNYO_BIN when given (to measure another
# build side by side), else this tree's release build, built now.
build_unyo() {
    if [[ -n ${UNYO_BIN:-} ]]; then
        UNYO="$UNYO_BIN"
    else
        log "building unyo (release)"
        (cd "$repo_root" && cargo build --release --locked --quiet)
        UNYO="$repo_root/target/release/unyo"
    fi
    [[ -x $UNYO ]] || die "no binary at $UNYO"
}
