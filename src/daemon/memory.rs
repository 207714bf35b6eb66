//! Giving the system back what the daemon freed. glibc keeps freed memory for the next
//! allocations and returns by itself only what lies at the top of its heap; a burst of short
//! allocations interleaved with lasting ones (a `/metrics` scrape reading the history and
//! rendering a megabyte of text, every 15 s) leaves whole free pages resident for good.
//! `malloc_trim(0)` returns every whole free page of every arena (`madvise`), in about a
//! millisecond on the daemon's heap.
//!
//! This is the crate's one `unsafe` block: a call into glibc that takes no pointer and has no
//! precondition (glibc takes its own arena locks).

/// Returns the memory freed since the last call to the system; does nothing where the C
/// library is not glibc.
pub(super) fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    trim();
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[expect(unsafe_code, reason = "glibc's malloc_trim, which has no precondition")]
fn trim() {
    // SAFETY: `malloc_trim` takes a size, no pointer, and serializes itself with every other
    // allocator call through glibc's arena locks.
    unsafe {
        nix::libc::malloc_trim(0);
    }
}
