//! The daemon's malloc. glibc gives every thread that allocates an arena of its own (up to
//! eight per core) and keeps what each freed for that thread; a daemon whose reads and
//! renders hop between the runtime's threads ends up holding megabytes no thread uses (the
//! `/metrics` endpoint's first scrapes added 4.3 MiB in six arenas). The daemon therefore
//! runs with [`ARENAS`] arenas, and gives back the free pages of the bursts that leave them
//! (`daemon::memory`). One arena would hold less, but a hundred steps starting in the same
//! second then wait for each other's allocations (the median fire delay three times longer,
//! BENCHMARKS.md). glibc reads `MALLOC_ARENA_MAX` only when a process starts, so `unyo
//! daemon`, when it is not set, executes itself again at once with it set (the same process
//! id, arguments and everything else). Set by the operator, it is left as it is. Steps never
//! see it (`exec::spawn` leaves it out of their environment when unyo set it).

use std::os::unix::process::CommandExt;

/// The arenas the daemon's allocations share.
pub const ARENAS: &str = "2";

/// Executes this `unyo daemon` again with `MALLOC_ARENA_MAX` set, unless it is set already;
/// returns only when that is not possible (the binary replaced meanwhile, say): the daemon
/// then goes on as it is.
pub fn tune_for_the_daemon() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| exe.clone().into_os_string());
    let failed = std::process::Command::new(&exe)
        .arg0(arg0)
        .args(args)
        .env("MALLOC_ARENA_MAX", ARENAS)
        .env(crate::exec::MALLOC_SET_BY_UNYO, "1")
        .exec();
    eprintln!(
        "warning: cannot restart with MALLOC_ARENA_MAX={ARENAS} ({failed}); the daemon goes on \
         with glibc's default arenas"
    );
}
