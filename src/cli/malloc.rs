//! The daemon's malloc. glibc gives every thread that allocates an arena of its own (up to
//! eight per core) and keeps what each freed for that thread; a daemon whose reads and
//! renders hop between the runtime's threads ends up holding megabytes no thread uses (the
//! `/metrics` endpoint's first scrapes added 4.3 MiB in six arenas). The daemon therefore
//! runs with two arenas (`exec::MALLOC_TUNING`), and gives back the free pages of the bursts
//! that leave them (`daemon::memory`). One arena would hold less, but a hundred steps
//! starting in the same second then wait for each other's allocations (the median fire delay
//! three times longer, BENCHMARKS.md).
//!
//! glibc also raises its threshold for giving a large block pages of its own (`mmap`, 128
//! KiB at first) to the largest such block freed so far, and its threshold for trimming
//! with it: after a scrape's first 130 KiB buffer, every later one lands among the arena's
//! small blocks and leaves free pages behind that are never trimmed. The daemon keeps the
//! threshold where it starts (`MALLOC_MMAP_THRESHOLD_`, which also stops the raising).
//!
//! glibc reads these only when a process starts, so `unyo daemon`, when `MALLOC_ARENA_MAX`
//! is not set, executes itself again at once with them set (the same process id, arguments
//! and everything else). When the operator set `MALLOC_ARENA_MAX`, all are left as they are.
//! Steps never see them (`exec::spawn` leaves them out of their environment when unyo set
//! them).

use std::os::unix::process::CommandExt;

/// Executes this `unyo daemon` again with glibc's settings (`exec::MALLOC_TUNING`) set,
/// unless `MALLOC_ARENA_MAX` is set already; returns only when that is not possible (the
/// binary replaced meanwhile, say): the daemon then goes on as it is.
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
        .envs(crate::exec::MALLOC_TUNING.iter().copied())
        .env(crate::exec::MALLOC_SET_BY_UNYO, "1")
        .exec();
    eprintln!(
        "warning: cannot restart with glibc's settings for the daemon ({failed}); it goes on \
         with glibc's defaults"
    );
}
